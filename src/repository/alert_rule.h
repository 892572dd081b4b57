// AlertRule: one entry of `alerts:` in a model's model.yaml.
//
// A rule names a metric, a comparison and a threshold, and how long the
// condition must hold before the alert fires. Three kinds of metric exist,
// and the kind decides when the rule is evaluated:
//
//   window metrics   a closed monitoring window's drift or data-quality
//                    statistic, per feature (or the prediction) or for the
//                    dataset; evaluated when a window of a version closes,
//                    `for` counts consecutive windows.
//   quality metrics  model quality on the feedback joined to the predictions
//                    of the last `lookback`; evaluated every evaluation
//                    interval, and only once `min_samples` labels are there;
//                    the condition holds only when the whole ±3 standard
//                    error band is past the threshold.
//   serving metrics  error rate and p99 latency of the model over the last
//                    evaluation interval.
//
// A threshold is fixed, or learned from the version's reference profile:
// mean ± k standard deviations, or median ± k interquartile ranges, of the
// statistic over reference chunks of one window's size, or a quantile of it.
// Learned thresholds exist for window metrics only (quality and serving have
// no reference distribution). See docs/alerts.md.
//
// Thread-safety: immutable after parsing.
#ifndef VIGIL_REPOSITORY_ALERT_RULE_H_
#define VIGIL_REPOSITORY_ALERT_RULE_H_

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace YAML {
class Node;
}

namespace vigil {

enum class AlertMetricKind { kWindow, kQuality, kServing };

enum class Comparison { kGreater, kGreaterEqual, kLess, kLessEqual };
std::string_view ComparisonName(Comparison c);
// True when `value` compared with `threshold` by `c` holds.
bool Compare(Comparison c, double value, double threshold);

struct AlertThreshold {
  enum class Kind { kFixed, kMeanStd, kMedianIqr, kQuantile };
  Kind kind = Kind::kFixed;
  double value = 0;         // kFixed.
  double k = 3;             // kMeanStd, kMedianIqr: how many deviations from the centre.
  double quantile = 0.99;   // kQuantile, in (0, 1).
  int chunks = 200;         // Learned: reference chunks drawn.
  bool operator==(const AlertThreshold&) const = default;
};
std::string_view AlertThresholdKindName(AlertThreshold::Kind kind);

struct AlertRule {
  std::string name;      // Unique within the model; the alert's `alertname`.
  std::string metric;    // See kWindowMetrics, kQualityMetrics, kServingMetrics.
  AlertMetricKind kind = AlertMetricKind::kWindow;
  // Per-feature window metrics: a feature name, "prediction", or "*" (each
  // feature separately, one alert per feature). Empty for other metrics.
  std::string feature;
  Comparison comparison = Comparison::kGreater;
  AlertThreshold threshold;
  int for_count = 1;                 // Consecutive windows (or evaluations) before firing.
  std::string severity = "warning";  // info, warning or critical.
  int64_t resolve_within_s = 24 * 3600;  // Resolve-by deadline after firing; past it, escalate.
  int64_t lookback_s = 24 * 3600;        // Quality: predictions of this recent period.
  int64_t min_samples = 100;             // Quality: labelled rows needed to judge.
  std::map<std::string, std::string> labels;
  std::map<std::string, std::string> annotations;
  // Notification targets of this rule; empty: the server's global ones.
  std::vector<std::string> webhooks;
  std::vector<std::string> alertmanagers;
  // What Vigil does itself when the alert fires: "" (nothing) or "retrain"
  // (a retraining job from production data; lifecycle/closed_loop.h).
  std::string action;

  bool per_feature() const { return !feature.empty(); }
  bool operator==(const AlertRule&) const = default;
};

// Metric names by kind.
extern const std::vector<std::string_view> kWindowFeatureMetrics;  // Per feature.
extern const std::vector<std::string_view> kWindowDatasetMetrics;  // drift_share.
extern const std::vector<std::string_view> kQualityMetrics;
extern const std::vector<std::string_view> kServingMetrics;

// Parses the `alerts:` list. `feature_names` are the model's features (a
// per-feature rule must name one of them, "prediction" or "*"). Errors name
// the key, e.g. "alerts[2].threshold.k: ...".
Result<std::vector<AlertRule>> ParseAlertRules(const YAML::Node& node,
                                               const std::vector<std::string>& feature_names);

// "90s", "15m", "24h", "7d" or a number of seconds.
Result<int64_t> ParseDurationSeconds(std::string_view text);

}  // namespace vigil

#endif  // VIGIL_REPOSITORY_ALERT_RULE_H_
