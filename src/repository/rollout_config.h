// RolloutConfig: how a new version of a model is rolled out (`rollout:` in
// model.yaml; lifecycle/rollout.h runs it).
//
//   rollout:
//     mode: canary          # canary: a share of the requests goes to the candidate;
//                           # shadow: a copy of a share goes to it, never answered
//     steps: [10, 50, 100]  # percent of requests per step (shadow: one step, default 100)
//     window: 10m           # each step is analysed over this long before it passes
//     min_requests: 100     # candidate requests a step needs before it can pass
//     interval: 5s          # how often a running step is analysed
//     step_deadline: 100m   # a step still waiting (for traffic, say) this long rolls back;
//                           # default ten windows
//     checks:               # candidate against champion, over the step's requests
//       max_error_rate_increase: 0.01  # server-side error rate, absolute
//       max_latency_ratio: 1.5         # p99 latency, candidate / champion
//       latency_slack_ms: 5            # ... plus this much (histogram buckets are coarse)
//       max_prediction_psi: 0.25       # PSI of the candidate's scores against the champion's
//       min_agreement: 0.9             # shadow: same predicted class on the same request
//       max_quality_drop: 0.05         # the gate's metric on the feedback that has arrived
//       min_feedback: 100              # labelled rows per side before quality is judged
//
// Without a `rollout:` section: a canary of 10, 50 and 100 percent with
// ten-minute windows and the checks' defaults above (no agreement check).
//
// Thread-safety: a value type.
#ifndef VIGIL_REPOSITORY_ROLLOUT_CONFIG_H_
#define VIGIL_REPOSITORY_ROLLOUT_CONFIG_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"

namespace YAML {
class Node;
}

namespace vigil {

struct RolloutChecks {
  double max_error_rate_increase = 0.01;
  double max_latency_ratio = 1.5;
  double latency_slack_ms = 5;
  double max_prediction_psi = 0.25;
  std::optional<double> min_agreement;
  double max_quality_drop = 0.05;
  int64_t min_feedback = 100;
  bool operator==(const RolloutChecks&) const = default;
};

struct RolloutConfig {
  std::string mode = "canary";
  std::vector<double> steps = {10, 50, 100};
  int64_t window_s = 600;
  int64_t min_requests = 100;
  int64_t interval_s = 5;
  int64_t step_deadline_s = 0;  // 0: ten windows.
  RolloutChecks checks;

  int64_t StepDeadlineSeconds() const { return step_deadline_s > 0 ? step_deadline_s : 10 * window_s; }
  bool operator==(const RolloutConfig&) const = default;
};

Result<RolloutConfig> ParseRolloutConfig(const YAML::Node& node);
// Sets the check `name` (a key of `checks:`) of `checks` to `value`, for
// model.yaml and the API alike; INVALID_ARGUMENT for an unknown name (the
// caller adds where). Ranges are ValidateRolloutConfig's.
Status SetRolloutCheck(const std::string& name, double value, RolloutChecks* checks);
// Checks a plan given in parts (the API's overrides): mode, steps in (0,
// 100] and ascending (shadow: exactly one), positive window, interval and
// deadline (at least the window), and the checks' ranges.
// `where` prefixes the messages ("rollout" or "request body").
Status ValidateRolloutConfig(const RolloutConfig& config, const std::string& where);

}  // namespace vigil

#endif  // VIGIL_REPOSITORY_ROLLOUT_CONFIG_H_
