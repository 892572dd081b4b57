// ModelOptimizer: `vigil optimize`, pruning a tree model before deployment.
//
// Two steps, both measured on a labelled holdout file:
//   1. cut the ensemble to its best iteration (the `best_iteration` that
//      early stopping recorded in the model), when it has one;
//   2. optionally drop trees whose removal costs less quality than a
//      tolerance the user gives: trees are tried from the least important
//      (smallest cover-weighted mean absolute leaf value) and dropped while
//      the holdout AUC (classifiers) or RMSE (regressors) stays within the
//      tolerance of the unpruned model's.
// The result is an XGBoost JSON model (readable by both engines) written as a
// new version beside the original, with optimize_report.json: trees, nodes,
// file size, native-engine memory and time per row and quality, before and
// after; and for both, the same measured with threshold quantisation
// (`parameters.quantize: true` in model.yaml), which gives the same
// predictions, so that the user can see whether it pays for this model.
//
// Thread-safety: a pure function of its inputs and the filesystem.
#ifndef VIGIL_LIFECYCLE_MODEL_OPTIMIZER_H_
#define VIGIL_LIFECYCLE_MODEL_OPTIMIZER_H_

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>

#include "common/status.h"

namespace vigil {

struct OptimizeOptions {
  std::filesystem::path repository;
  std::string model_name;
  int64_t version = 0;            // The version to optimise; 0: the highest.
  std::filesystem::path holdout;  // CSV with the model's features and the target.
  std::string target = "Status";
  bool prune_to_best_iteration = true;
  double drop_tolerance = 0;      // Quality that dropping trees may cost; 0: drop none.
  int64_t output_version = 0;     // 0: one above the highest existing.
};

struct OptimizeSide {
  int trees = 0;
  size_t nodes = 0;
  uintmax_t file_bytes = 0;
  size_t memory_bytes = 0;          // What the native engine walks to predict.
  double microseconds_per_row = 0;  // Native engine, single-row path.
  double quality = 0;               // AUC or RMSE on the holdout.
  // Quantised (exactly the same predictions); 0 when it cannot be.
  size_t quantized_memory_bytes = 0;
  double quantized_microseconds_per_row = 0;
};

struct OptimizeReport {
  std::string metric;  // "auc" or "rmse".
  OptimizeSide before, after;
  int64_t version = 0;
  std::filesystem::path artifact;
  std::string ToJson() const;
};

Result<OptimizeReport> OptimizeModel(const OptimizeOptions& options,
                                     const std::function<void(const std::string&)>& progress);

}  // namespace vigil

#endif  // VIGIL_LIFECYCLE_MODEL_OPTIMIZER_H_
