#include "backends/backend.h"

#include "backends/xgboost/xgboost_backend.h"

namespace vigil {

void BackendRegistry::Register(std::string name, Factory factory) {
  factories_[std::move(name)] = std::move(factory);
}

Result<std::unique_ptr<Backend>> BackendRegistry::Create(
    const ModelConfig& config, const std::filesystem::path& version_dir) const {
  auto it = factories_.find(config.backend);
  if (it == factories_.end()) {
    return Status::Unavailable("backend '" + config.backend + "' is not available in this build");
  }
  std::error_code ec;
  if (!std::filesystem::is_regular_file(version_dir / config.artifact, ec)) {
    return Status::NotFound("artifact " + (version_dir / config.artifact).string() +
                            " does not exist");
  }
  return it->second(config, version_dir);
}

BackendRegistry BackendRegistry::WithBuiltins() {
  BackendRegistry registry;
  registry.Register("xgboost", &XGBoostBackend::Create);
  return registry;
}

}  // namespace vigil
