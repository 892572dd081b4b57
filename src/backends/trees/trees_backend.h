// TreesBackend: serves tree ensembles with Vigil's native engine (forest.h).
//
// It is the default engine for `backend: xgboost` models: the registry tries
// it first and falls back to the XGBoost backend, with a log line, when the
// model uses something the engine does not reproduce (a dart or gblinear
// booster, another objective). `backend: trees` asks for the native engine
// only; `parameters: {engine: xgboost}` asks for the XGBoost backend only.
//
// A batch of at least kParallelRows rows is split across the machine's cores
// when it is the only prediction running in the process (the server is idle
// enough to spare them); otherwise it runs on the caller's thread, so that
// concurrent requests are never slowed by one large one.
//
// Thread-safety: Infer() is thread-safe (the forest is immutable).
#ifndef VIGIL_BACKENDS_TREES_TREES_BACKEND_H_
#define VIGIL_BACKENDS_TREES_TREES_BACKEND_H_

#include <filesystem>
#include <memory>

#include "backends/backend.h"
#include "backends/trees/forest.h"

namespace vigil {

class TreesBackend : public Backend {
 public:
  // Reads `artifact` (XGBoost JSON or UBJ). INVALID_ARGUMENT for a model the
  // engine cannot reproduce (the message names what) or that does not match
  // the configuration.
  static Result<std::unique_ptr<Backend>> Create(const ModelConfig& config, const Artifact& artifact);

  Status Infer(const std::vector<Tensor>& inputs, const std::vector<const OutputSpec*>& requested,
               std::vector<Tensor>* outputs) const override;
  std::string Describe() const override;
  // TreeSHAP (tree_shap.h).
  Status Explain(const std::vector<Tensor>& inputs, Tensor* contributions, Tensor* bias) const override;

  const Forest& forest() const { return forest_; }

  static constexpr int64_t kParallelRows = 8192;

 private:
  TreesBackend(Forest forest, const ModelConfig& config, std::string layout);
  // Margins of `rows` rows, on several threads when worth it and allowed.
  void Margins(const float* data, int64_t rows, float* margins) const;

  Forest forest_;
  std::string layout_;  // Which prediction layout, and why not perfect trees.
  std::vector<std::string> classes_;
  double label_threshold_;
};

}  // namespace vigil

#endif  // VIGIL_BACKENDS_TREES_TREES_BACKEND_H_
