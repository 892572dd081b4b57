#include "backends/backend.h"

#include <spdlog/spdlog.h>

#include <fstream>
#include <mutex>
#include <sstream>

#include "backends/onnx/onnx_backend.h"
#include "backends/torchscript/torchscript_backend.h"
#include "backends/trees/trees_backend.h"
#include "backends/xgboost/xgboost_backend.h"

namespace vigil {

void BackendRegistry::Register(std::string name, std::vector<std::string> default_artifacts,
                               Factory factory) {
  factories_[std::move(name)] = {std::move(default_artifacts), std::move(factory)};
}

namespace {

std::mutex process_key_mu;
std::optional<std::optional<ModelKey>> process_key;  // Outer: set or not.

}  // namespace

Result<Artifact> ReadArtifact(const std::filesystem::path& path, const std::optional<ModelKey>& key) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::NotFound("cannot open " + path.string());
  std::stringstream buffer;
  buffer << in.rdbuf();
  if (!in && !in.eof()) return Status::Internal("cannot read " + path.string());
  Artifact artifact{path, std::move(buffer).str()};
  if (!IsSealedArtifact(artifact.bytes)) return artifact;
  if (!key) {
    return Status::FailedPrecondition(path.filename().string() +
                                      " is encrypted and this process has no model key (--model-key-file, "
                                      "VIGIL_MODEL_KEY_FILE or VIGIL_MODEL_KEY)");
  }
  auto plain = OpenArtifact(artifact.bytes, *key);
  if (!plain.ok()) return plain.status().WithContext(path.filename().string());
  artifact.bytes = std::move(*plain);
  return artifact;
}

Result<std::unique_ptr<Backend>> BackendRegistry::Create(
    const ModelConfig& config, const std::filesystem::path& version_dir) const {
  auto path = ResolveArtifact(config, version_dir);
  if (!path.ok()) return path.status();
  auto artifact = ReadArtifact(*path, key_);
  if (!artifact.ok()) return artifact.status();
  return factories_.at(config.backend).factory(config, *artifact);
}

void BackendRegistry::SetProcessArtifactKey(std::optional<ModelKey> key) {
  std::lock_guard lock(process_key_mu);
  process_key = std::move(key);
}

Result<std::filesystem::path> BackendRegistry::ResolveArtifact(const ModelConfig& config,
                                                               const std::filesystem::path& version_dir) const {
  auto names = ArtifactNames(config);
  if (!names.ok()) return names.status();
  std::string tried;
  for (const std::string& name : *names) {
    std::error_code ec;
    if (std::filesystem::is_regular_file(version_dir / name, ec)) return version_dir / name;
    tried += (tried.empty() ? "" : " or ") + name;
  }
  return Status::NotFound("no artifact in " + version_dir.string() + " (looked for " + tried + ")");
}

Result<std::vector<std::string>> BackendRegistry::ArtifactNames(const ModelConfig& config) const {
  auto it = factories_.find(config.backend);
  if (it == factories_.end()) {
    return Status::Unavailable("backend '" + config.backend + "' is not available in this build");
  }
  if (!config.artifact.empty()) return std::vector<std::string>{config.artifact};
  return it->second.default_artifacts;
}

BackendRegistry BackendRegistry::WithBuiltins() {
  BackendRegistry registry;
  {
    std::lock_guard lock(process_key_mu);
    if (!process_key) {
      // The environment is read once per process, at the first registry.
      auto key = ModelKeyFromEnvironment();
      if (!key.ok()) spdlog::warn("no model key: {}", key.status().message());
      process_key = key.ok() ? *key : std::nullopt;
    }
    registry.key_ = *process_key;
  }
  // XGBoost models run on the native engine unless they ask otherwise
  // (parameters: {engine: xgboost}) or the engine cannot reproduce them.
  registry.Register("xgboost", {"model.json", "model.ubj"},
                    [](const ModelConfig& config, const Artifact& artifact)
                        -> Result<std::unique_ptr<Backend>> {
                      auto engine = config.parameters.find("engine");
                      const std::string choice = engine == config.parameters.end() ? "auto" : engine->second;
                      if (choice == "xgboost") return XGBoostBackend::Create(config, artifact);
                      if (choice != "auto" && choice != "native") {
                        return Status::InvalidArgument("parameters.engine: expected auto, native or xgboost, got '" +
                                                       choice + "'");
                      }
                      auto native = TreesBackend::Create(config, artifact);
                      if (native.ok() || choice == "native") return native;
                      auto fallback = XGBoostBackend::Create(config, artifact);
                      if (fallback.ok()) {
                        spdlog::warn("model {}: native engine declined ({}); serving with the XGBoost backend",
                                     config.name, native.status().message());
                      }
                      return fallback;
                    });
  registry.Register("trees", {"model.json", "model.ubj"}, &TreesBackend::Create);
#ifdef VIGIL_HAVE_TORCHSCRIPT
  registry.Register("torchscript", {"model.pt", "model.pth"}, &CreateTorchScriptBackend);
#endif
#ifdef VIGIL_HAVE_ONNX
  registry.Register("onnx", {"model.onnx"}, &CreateOnnxBackend);
#endif
  return registry;
}

}  // namespace vigil
