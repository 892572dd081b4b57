// TrainingConfig: how training jobs train a model (`training:` in
// model.yaml). Today: the hyperparameter search space.
//
//   training:
//     search:
//       method: random       # random (every trial at full rounds) or halving
//                            # (successive halving: all trials at a few rounds, the best third
//                            # on to three times as many, and so on)
//       trials: 20           # the trial budget
//       space:               # [low, high] per parameter, inclusive
//         max_depth: [3, 8]          # integers
//         rounds: [100, 800]         # integers (halving: the last rung's rounds)
//         learning_rate: [0.01, 0.3] # log-uniform
//         subsample: [0.6, 1.0]
//         colsample_bytree: [0.6, 1.0]
//         reg_lambda: [0.1, 10]      # log-uniform
//         reg_alpha: [0, 1]
//
//     retrain:             # what a job started by an alert (action: retrain) trains on
//       hours: 168           # the logged requests with feedback of this recent period
//       data: train.csv      # the original training data to mix in (relative to the model's directory)
//       original_share: 0.3  # its share of the rows, in [0, 1)
//       target: Status       # the label column of `data`
//       cooldown: 6h         # at most one alert-started job per model in this period
//
//     external:            # another framework: a command instead of XGBoost
//       command: [python3, /srv/credit/train.py, --data, "{data}", --out, "{output}"]
//       artifact: model.json # what the command writes into {output}
//       timeout_seconds: 3600
//
// Without a search, a job trains once with its own parameters, else the
// champion's.
//
// Thread-safety: a value type.
#ifndef VIGIL_REPOSITORY_TRAINING_CONFIG_H_
#define VIGIL_REPOSITORY_TRAINING_CONFIG_H_

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "common/status.h"

namespace YAML {
class Node;
}

namespace vigil {

struct SearchSpace {
  std::string method;  // Empty: no search; "random" or "halving".
  int trials = 20;
  // Parameter -> [low, high].
  std::map<std::string, std::pair<double, double>> ranges;

  bool declared() const { return !method.empty(); }
  // Integer-valued parameters, and those sampled on a log scale.
  static bool IsInteger(const std::string& parameter);
  static bool IsLogScale(const std::string& parameter);
};

// An external trainer: argv, with {data} (the training CSV), {output} (an
// empty directory for the artifact) and {model} replaced in each argument.
struct ExternalTrainer {
  std::vector<std::string> command;
  std::string artifact;
  int64_t timeout_seconds = 3600;
  bool declared() const { return !command.empty(); }
};

// The closed loop's retraining (lifecycle/closed_loop.h).
struct RetrainPolicy {
  int64_t hours = 168;
  std::string data;
  double original_share = 0;
  std::string target = "Status";
  int64_t cooldown_s = 6 * 3600;
};

struct TrainingConfig {
  SearchSpace search;
  ExternalTrainer external;
  RetrainPolicy retrain;
};

Result<TrainingConfig> ParseTrainingConfig(const YAML::Node& node);

}  // namespace vigil

#endif  // VIGIL_REPOSITORY_TRAINING_CONFIG_H_
