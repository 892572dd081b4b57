#include "monitor/learned_threshold.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

namespace vigil {

double Quantile(std::vector<double> values, double q) {
  if (values.empty()) return NAN;
  std::sort(values.begin(), values.end());
  const double h = q * static_cast<double>(values.size() - 1);
  const size_t lo = static_cast<size_t>(std::floor(h));
  const size_t hi = std::min(lo + 1, values.size() - 1);
  return values[lo] + (h - static_cast<double>(lo)) * (values[hi] - values[lo]);
}

double ThresholdFromSample(const AlertThreshold& threshold, std::span<const double> values, bool upper) {
  if (values.empty()) return NAN;
  const double sign = upper ? 1.0 : -1.0;
  switch (threshold.kind) {
    case AlertThreshold::Kind::kFixed:
      return threshold.value;
    case AlertThreshold::Kind::kMeanStd: {
      const double n = static_cast<double>(values.size());
      const double mean = std::accumulate(values.begin(), values.end(), 0.0) / n;
      double ss = 0;
      for (double v : values) ss += (v - mean) * (v - mean);
      const double sd = values.size() > 1 ? std::sqrt(ss / (n - 1)) : 0.0;
      return mean + sign * threshold.k * sd;
    }
    case AlertThreshold::Kind::kMedianIqr: {
      std::vector<double> v(values.begin(), values.end());
      const double iqr = Quantile(v, 0.75) - Quantile(v, 0.25);
      return Quantile(v, 0.5) + sign * threshold.k * iqr;
    }
    case AlertThreshold::Kind::kQuantile:
      return Quantile(std::vector<double>(values.begin(), values.end()), threshold.quantile);
  }
  return NAN;
}

std::vector<WindowReport> ReferenceChunkReports(const ReferenceProfile& profile, int64_t rows, int chunks,
                                                const DriftSettings& settings, uint64_t seed) {
  // Per column (features, then the prediction): the distribution of its
  // bins, with missing values as one more outcome at the end.
  std::vector<const ColumnProfile*> columns;
  for (const ColumnProfile& c : profile.features) columns.push_back(&c);
  columns.push_back(&profile.prediction);
  std::vector<std::discrete_distribution<size_t>> draw;
  for (const ColumnProfile* c : columns) {
    std::vector<double> weights = c->counts;
    weights.push_back(static_cast<double>(c->missing));
    if (std::accumulate(weights.begin(), weights.end(), 0.0) <= 0) weights.back() = 1;  // Never seen: all missing.
    draw.emplace_back(weights.begin(), weights.end());
  }
  std::mt19937_64 rng(seed);
  std::vector<WindowReport> out;
  out.reserve(static_cast<size_t>(chunks));
  for (int c = 0; c < chunks; ++c) {
    DriftMonitor::Counts counts = DriftMonitor::EmptyCounts(profile);
    counts.rows = rows;
    for (size_t j = 0; j < columns.size(); ++j) {
      const size_t missing_outcome = columns[j]->counts.size();
      for (int64_t r = 0; r < rows; ++r) {
        const size_t b = draw[j](rng);
        if (b == missing_outcome) {
          ++counts.missing[j];
        } else {
          counts.bins[j][b] += 1;
        }
      }
    }
    out.push_back(DriftMonitor::Report(profile, counts, settings));
  }
  return out;
}

std::optional<double> WindowMetricValue(const WindowReport& report, const std::string& metric, int feature) {
  if (metric == "drift_share") return report.drift_share;
  if (metric == "schema_violation_rate") return report.schema_violation_rate;
  if (feature >= static_cast<int>(report.features.size())) return std::nullopt;
  const FeatureDrift& f = feature < 0 ? report.prediction : report.features[static_cast<size_t>(feature)];
  if (metric == "missing_rate") return f.missing_rate;
  if (metric == "unseen_category_rate") return f.categorical ? std::optional<double>(f.unseen_rate) : std::nullopt;
  if (f.test.empty()) return std::nullopt;  // No present values: no drift statistic.
  if (metric == "out_of_range_rate") return f.categorical ? std::nullopt : std::optional<double>(f.out_of_range_rate);
  if (metric == "psi") return f.psi;
  if (metric == "jensen_shannon") return f.jensen_shannon;
  if (metric == "drifted") return f.drifted ? 1.0 : 0.0;
  if (f.categorical) {
    if (metric == "chi_square") return f.chi_square;
    if (metric == "chi_square_p_value") return f.chi_square_p_value;
    return std::nullopt;
  }
  if (metric == "wasserstein") return f.wasserstein;
  if (metric == "ks") return f.ks_statistic;
  if (metric == "ks_p_value") return f.ks_p_value;
  return std::nullopt;
}

}  // namespace vigil
