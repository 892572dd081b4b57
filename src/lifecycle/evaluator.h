// The evaluation gate: a challenger version and the champion scored on the
// same labelled rows (a holdout of the new data, plus the model's golden set
// when it has one), and held against the model's gate (`gate:` in
// model.yaml, repository/gate_config.h): an absolute floor and the largest
// allowed drop from the champion. The result, blessed or not with every
// number and the reasons, is recorded as the version's "evaluation" event;
// only a blessed version may be rolled out automatically.
//
// Both versions are loaded from the repository with the model's backend and
// score every row the same way serving would (the model's features and codes
// from model.yaml; labels by class name or 0/1). Binary classifiers are
// judged by AUC, accuracy, F1, precision, recall or log loss; regressors by
// MAE or RMSE.
//
// Thread-safety: a pure function of its inputs, the repository and the store.
#ifndef VIGIL_LIFECYCLE_EVALUATOR_H_
#define VIGIL_LIFECYCLE_EVALUATOR_H_

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "common/status.h"
#include "lifecycle/registry.h"

namespace vigil {

struct EvaluationSet {
  std::string name;  // "holdout", "golden", or the file's name.
  std::filesystem::path csv;
};

struct Evaluation {
  std::string model;
  int64_t challenger_version = 0;
  int64_t champion_version = 0;  // 0: there is no champion to compare with.
  std::string metric;
  bool higher_is_better = true;
  double challenger = 0, champion = 0;  // Over every set's rows together (champion NaN without one).
  int64_t rows = 0;
  struct PerSet {
    std::string name;
    int64_t rows = 0;
    double challenger = 0, champion = 0;
  };
  std::vector<PerSet> sets;
  bool has_bound = false;
  double bound = 0, max_drop = 0;
  bool blessed = false;
  std::vector<std::string> reasons;  // Why it was not blessed; empty when blessed.

  std::string ToJson() const;
};

struct EvaluateOptions {
  std::filesystem::path repository;
  std::string model;
  int64_t challenger = 0;
  int64_t champion = 0;  // 0: the model's champion alias (none: judged by the floor alone).
  std::vector<EvaluationSet> sets;  // The golden set (gate.golden) is added when the model has one.
  std::string target = "Status";    // The label column.
  std::string actor = "vigil";
};

// Scores, judges and records the evaluation (kind "evaluation", the
// challenger's version). INVALID_ARGUMENT for data that does not fit the
// model; FAILED_PRECONDITION for a model the gate cannot judge.
Result<Evaluation> EvaluateVersion(Registry& registry, Store& store, const EvaluateOptions& options);

// The newest evaluation recorded for a version; NOT_FOUND if none.
Result<ModelEvent> LatestEvaluation(Store& store, const std::string& model, int64_t version);

}  // namespace vigil

#endif  // VIGIL_LIFECYCLE_EVALUATOR_H_
