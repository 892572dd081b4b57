// XGBoostTrainer: trains a binary classifier in-process with the XGBoost C API
// and writes it into a model repository as a new version.
//
// Used by `vigil train`. The data is split (seeded) into train, validation and
// test parts; boosting stops early when the validation AUC has not improved
// for `early_stopping_rounds`, the model is cut to its best iteration and the
// held-out test AUC is reported. Categorical columns use XGBoost's native
// categorical splits (codes in the order of model.yaml's category lists);
// missing values stay missing. With the same data, options and XGBoost build,
// the artifact is identical byte for byte.
//
// A new version of an existing model is trained against that model's
// configuration (`base`, else REPO/<model>/model.yaml when it exists): its
// features, category codes and classes, so that the artifact means the same
// codes as the model.yaml that will serve it.
// `on_iteration` sees each boosting round and can cancel the training.
//
// Thread-safety: one call at a time per options; the function itself keeps
// no state.
#ifndef VIGIL_LIFECYCLE_XGBOOST_TRAINER_H_
#define VIGIL_LIFECYCLE_XGBOOST_TRAINER_H_

#include <cstdint>
#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>

#include "common/status.h"
#include "repository/model_config.h"

namespace vigil {

struct TrainOptions {
  std::filesystem::path data;          // CSV with a header row.
  std::string target = "Status";       // The label column.
  std::string positive_class;          // Empty: the rarer class.
  std::filesystem::path repository;    // Model repository root.
  std::string model_name;              // Directory under the repository.
  int64_t version = 0;                 // 0: one above the highest existing version.
  int rounds = 500;                    // Upper bound on boosting rounds.
  int early_stopping_rounds = 30;
  int max_depth = 4;
  double learning_rate = 0.05;
  double subsample = 0.8;
  double colsample_bytree = 0.8;
  double reg_lambda = 1;  // L2 regularisation (XGBoost's default).
  double reg_alpha = 0;   // L1 regularisation (XGBoost's default).
  double validation_fraction = 0.15;
  double test_fraction = 0.15;
  uint64_t seed = 42;
  int nthread = 1;
  int report_every = 10;               // Progress line every N rounds.
  // The model's configuration, for a new version of an existing model (null:
  // its model.yaml in the repository if there is one, else derived from the
  // data, categories sorted).
  const ModelConfig* base = nullptr;
  // Called after every round with (round, rounds, validation AUC, best AUC);
  // returning false cancels the training (CANCELLED).
  std::function<bool(int, int, double, double)> on_iteration;
};

struct TrainReport {
  int64_t version = 0;
  std::filesystem::path artifact;
  int best_iteration = 0;   // 0-based.
  double validation_auc = 0;
  double test_auc = 0;
  size_t train_rows = 0, validation_rows = 0, test_rows = 0;
};

// What a trained version records in the registry: every option that shaped
// it with its best iteration, and its validation and test AUC with the split
// sizes (JSON objects).
nlohmann::json TrainedParameters(const TrainOptions& options, const TrainReport& report);
nlohmann::json TrainedMetrics(const TrainReport& report);

// `progress` receives one human-readable line at a time.
Result<TrainReport> TrainXGBoostClassifier(const TrainOptions& options,
                                           const std::function<void(const std::string&)>& progress);

}  // namespace vigil

#endif  // VIGIL_LIFECYCLE_XGBOOST_TRAINER_H_
