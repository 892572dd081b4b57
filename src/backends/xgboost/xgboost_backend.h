// XGBoostBackend: serves XGBoost models (JSON or UBJ) through the XGBoost C API.
//
// Prediction uses in-place prediction from a dense matrix, which XGBoost 1.7
// documents as thread-safe (each thread gets its own prediction buffer inside
// the Booster); the output is copied out before the call returns. One call
// per request computes raw margins; probabilities and labels are the logistic
// of the margin (binary classifiers only), as XGBoost computes them. The Booster
// is configured with nthread=1 by default (`parameters: {nthread: N}` in
// model.yaml) because Vigil's own worker pool already spreads requests across
// cores.
//
// Thread-safety: Infer() is thread-safe; construction and destruction are not.
#ifndef VIGIL_BACKENDS_XGBOOST_XGBOOST_BACKEND_H_
#define VIGIL_BACKENDS_XGBOOST_XGBOOST_BACKEND_H_

#include <filesystem>
#include <memory>
#include <string>

#include "backends/backend.h"

namespace vigil {

class XGBoostBackend : public Backend {
 public:
  // Loads `artifact` (JSON or UBJ, told apart by XGBoost from the name). Refuses (INVALID_ARGUMENT) a file
  // XGBoost cannot read, a feature count that differs from config.features,
  // and probability or label outputs for a model that is not a binary
  // classifier.
  static Result<std::unique_ptr<Backend>> Create(const ModelConfig& config, const Artifact& artifact);
  ~XGBoostBackend() override;

  Status Infer(const std::vector<Tensor>& inputs, const std::vector<const OutputSpec*>& requested,
               std::vector<Tensor>* outputs) const override;
  std::string Describe() const override;
  // XGBoost's own TreeSHAP (pred_contribs), through a DMatrix.
  Status Explain(const std::vector<Tensor>& inputs, Tensor* contributions, Tensor* bias) const override;

 private:
  XGBoostBackend(void* booster, const ModelConfig& config, std::string objective, int64_t groups);

  // Raw scores (or, with `transformed`, the objective's outputs) for every
  // row of `matrix`, one XGBoost call.
  Status PredictMargins(const Tensor& matrix, std::vector<float>* out, bool transformed) const;

  void* booster_;  // BoosterHandle; owned.
  int64_t num_features_;
  int64_t groups_;  // Values per row: 1, or the classes of a multi-class model.
  std::vector<std::string> classes_;
  std::vector<std::string> feature_types_;  // "q" or "c" per feature, for DMatrix.
  double label_threshold_;
  std::string objective_;
};

// XGBoost's last error message for the calling thread.
std::string XGBoostLastError();

}  // namespace vigil

#endif  // VIGIL_BACKENDS_XGBOOST_XGBOOST_BACKEND_H_
