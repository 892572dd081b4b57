// Backend: the narrow boundary between Vigil and an inference engine.
//
// A Backend is one loaded model version: the manager creates it from a
// version directory (BackendRegistry::Create), warms it up, publishes it, and
// destroys it when the version retires. The serving layer hands it inputs that
// already match the model's configuration (for tabular models: one FP32
// [N, F] matrix, NaN for missing values, categories as codes), so a backend
// deals only with its engine.
//
// Thread-safety: Infer() must be safe to call from many threads at once; a
// backend whose engine is not serialises internally.
#ifndef VIGIL_BACKENDS_BACKEND_H_
#define VIGIL_BACKENDS_BACKEND_H_

#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "common/tensor.h"
#include "repository/model_config.h"
#include "security/artifact_cipher.h"

namespace vigil {

class Backend {
 public:
  virtual ~Backend() = default;

  // Runs the model on one batch. `inputs` follow config.inputs in order and
  // type. On success `outputs` holds one tensor per entry of `requested`, in
  // that order, each with the batch size as its first dimension.
  // INVALID_ARGUMENT: the inputs do not fit the model (the caller's fault);
  // INTERNAL: the engine failed.
  virtual Status Infer(const std::vector<Tensor>& inputs,
                       const std::vector<const OutputSpec*>& requested,
                       std::vector<Tensor>* outputs) const = 0;

  // A short description for logs and metadata, e.g. "xgboost 1.7.4, 120 trees".
  virtual std::string Describe() const = 0;

  // The inputs as the artifact itself declares them, for a model whose
  // model.yaml leaves them out (an ONNX graph's inputs); empty when the
  // backend takes config.inputs.
  virtual std::vector<TensorSpec> ArtifactInputs() const { return {}; }

  // Per-feature contributions to the raw margin (SHAP values) for a tabular
  // batch: `contributions` becomes FP32 [N, F] and `bias` FP32 [N], and for
  // each row the contributions plus the bias equal the margin.
  // FAILED_PRECONDITION: this backend cannot explain.
  virtual Status Explain(const std::vector<Tensor>& inputs, Tensor* contributions, Tensor* bias) const {
    (void)inputs, (void)contributions, (void)bias;
    return Status::FailedPrecondition("explanations are not available for this model's backend");
  }
};

// A version's artifact as a backend receives it: where it is (for names in
// messages and the format its extension says) and its bytes, decrypted in
// memory if it was stored encrypted.
struct Artifact {
  std::filesystem::path path;
  std::string bytes;
};

// Reads the artifact at `path`. A sealed (encrypted) file is opened with
// `key`: FAILED_PRECONDITION without one, PERMISSION_DENIED with the wrong one
// or when it was modified. Loading never executes anything from an artifact:
// every supported format is data (trees, weights), parsed by the engine.
Result<Artifact> ReadArtifact(const std::filesystem::path& path, const std::optional<ModelKey>& key);

// Knows which backends this build has and creates them by name.
//
// Thread-safety: Register() before use; Create() is then thread-safe.
class BackendRegistry {
 public:
  // Creates a backend for the version in `version_dir`, whose artifact is
  // `config.artifact` or, when that is empty, the first of the backend's
  // default names that exists. INVALID_ARGUMENT: the artifact is corrupt, of the wrong
  // format, or does not match the configuration; NOT_FOUND: no artifact;
  // UNAVAILABLE: this build has no such backend.
  // A factory receives the resolved artifact, read and decrypted.
  using Factory = std::function<Result<std::unique_ptr<Backend>>(const ModelConfig& config,
                                                                 const Artifact& artifact)>;

  void Register(std::string name, std::vector<std::string> default_artifacts, Factory factory);
  Result<std::unique_ptr<Backend>> Create(const ModelConfig& config,
                                          const std::filesystem::path& version_dir) const;
  // The artifact Create() would load from `version_dir`; NOT_FOUND names
  // the files it looked for.
  Result<std::filesystem::path> ResolveArtifact(const ModelConfig& config,
                                                const std::filesystem::path& version_dir) const;
  // The file names a version's artifact may have: `config.artifact`, or the
  // backend's defaults in order of preference. UNAVAILABLE: no such backend.
  Result<std::vector<std::string>> ArtifactNames(const ModelConfig& config) const;

  // The key that opens encrypted artifacts; the registry also encrypts new
  // artifacts with it (lifecycle/registry.h).
  void SetArtifactKey(std::optional<ModelKey> key) { key_ = std::move(key); }
  const std::optional<ModelKey>& artifact_key() const { return key_; }

  // A registry with every backend compiled into this build and the
  // process's artifact key: the one SetProcessArtifactKey set, else the
  // environment's (VIGIL_MODEL_KEY_FILE, VIGIL_MODEL_KEY, read at the first
  // call), else none.
  static BackendRegistry WithBuiltins();
  // Sets the process's artifact key; call at start, before registries are made.
  static void SetProcessArtifactKey(std::optional<ModelKey> key);

 private:
  struct Entry {
    std::vector<std::string> default_artifacts;
    Factory factory;
  };
  std::map<std::string, Entry> factories_;
  std::optional<ModelKey> key_;
};

}  // namespace vigil

#endif  // VIGIL_BACKENDS_BACKEND_H_
