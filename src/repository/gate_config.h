// GateConfig: the evaluation gate of a model (`gate:` in model.yaml), which
// a new version must pass before it may be rolled out automatically
// (lifecycle/evaluator.h).
//
//   gate:
//     metric: auc          # binary classifiers: auc, accuracy, f1, precision, recall, log_loss;
//                          # regressors: mae, rmse
//     min: 0.70            # an absolute floor (for log_loss, mae, rmse: `max`, a ceiling)
//     max_drop: 0.005      # how much worse than the champion it may be (0: at least as good;
//                          # negative: must improve by that much)
//     golden: golden.csv   # a fixed golden set, relative to the model's directory, scored too
//     holdout_fraction: 0.2  # the share of a training job's data held out to score on
//
// Without a `gate:` section: AUC for binary classifiers (RMSE for
// regressors), no floor, and no drop allowed.
//
// Thread-safety: a value type.
#ifndef VIGIL_REPOSITORY_GATE_CONFIG_H_
#define VIGIL_REPOSITORY_GATE_CONFIG_H_

#include <optional>
#include <string>

#include "common/status.h"

namespace YAML {
class Node;
}

namespace vigil {

struct GateConfig {
  std::string metric;            // Empty: the default for the model's kind.
  std::optional<double> bound;   // `min` (higher is better) or `max` (lower is better).
  double max_drop = 0;
  std::string golden;
  double holdout_fraction = 0.2;

  // Whether a larger value of `metric` is better.
  static bool HigherIsBetter(const std::string& metric);
};

// `classifier`: the model has classes.
Result<GateConfig> ParseGateConfig(const YAML::Node& node, bool classifier);

}  // namespace vigil

#endif  // VIGIL_REPOSITORY_GATE_CONFIG_H_
