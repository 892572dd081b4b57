// Thresholds learned from a version's reference profile.
//
// A drift statistic has no natural scale that suits every feature: a PSI of
// 0.05 is noise for a feature with ten bins and 1,000 rows per window, and
// news for one with three. So a rule may let the reference decide: draw
// reference chunks of one window's size, compute the statistic of each
// against the reference, and put the threshold at mean ± k standard
// deviations, median ± k interquartile ranges, or a quantile of those
// values (the side of ± follows the rule's comparison: + for > and >=).
//
// The chunks are drawn from the profile's bins (a parametric bootstrap:
// each feature's bin and missingness sampled from its reference
// frequencies), not from the training rows, so learning needs no training
// data at serving time and works for reference sets smaller than a window.
// Each feature is drawn independently, which is exact for per-feature
// statistics and an approximation for the dataset drift share. The seed is
// fixed, so a threshold is the same on every replica and every restart.
//
// Thread-safety: pure functions.
#ifndef VIGIL_MONITOR_LEARNED_THRESHOLD_H_
#define VIGIL_MONITOR_LEARNED_THRESHOLD_H_

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "monitor/drift_monitor.h"
#include "monitor/reference_profile.h"
#include "repository/alert_rule.h"

namespace vigil {

// Summary of values by the threshold's method; `upper` picks the + side.
// Sample standard deviation (n - 1); quartiles and quantiles by linear
// interpolation between order statistics (type 7, as numpy and R default).
double ThresholdFromSample(const AlertThreshold& threshold, std::span<const double> values, bool upper);
double Quantile(std::vector<double> values, double q);

// Window reports of `chunks` reference chunks of `rows` rows each.
std::vector<WindowReport> ReferenceChunkReports(const ReferenceProfile& profile, int64_t rows, int chunks,
                                                const DriftSettings& settings, uint64_t seed);

// The value of a window metric (alert_rule.h) for feature `feature` (an
// index into the profile's features, -1 for the prediction, ignored for
// dataset metrics) in `report`; nullopt where the metric does not apply
// (a numeric statistic of a categorical feature, or no present values).
std::optional<double> WindowMetricValue(const WindowReport& report, const std::string& metric, int feature);

}  // namespace vigil

#endif  // VIGIL_MONITOR_LEARNED_THRESHOLD_H_
