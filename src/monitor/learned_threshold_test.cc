#include "monitor/learned_threshold.h"

#include <gtest/gtest.h>

#include <cmath>
#include <numeric>

namespace vigil {
namespace {

TEST(LearnedThresholdTest, SummariesMatchHandComputedValues) {
  // Type-7 quantiles, as numpy.quantile computes them.
  EXPECT_DOUBLE_EQ(Quantile({4, 1, 3, 2}, 0.25), 1.75);
  EXPECT_DOUBLE_EQ(Quantile({4, 1, 3, 2}, 0.5), 2.5);
  EXPECT_DOUBLE_EQ(Quantile({1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, 0.9), 9.1);
  EXPECT_TRUE(std::isnan(Quantile({}, 0.5)));

  const std::vector<double> a = {2, 4, 4, 4, 5, 5, 7, 9};  // Mean 5, sum of squares 32.
  AlertThreshold mean_std{.kind = AlertThreshold::Kind::kMeanStd, .k = 2};
  EXPECT_NEAR(ThresholdFromSample(mean_std, a, true), 5 + 2 * std::sqrt(32.0 / 7), 1e-12);
  EXPECT_NEAR(ThresholdFromSample(mean_std, a, false), 5 - 2 * std::sqrt(32.0 / 7), 1e-12);

  const std::vector<double> b = {1, 2, 3, 4, 5, 6, 7, 8, 9};  // Median 5, quartiles 3 and 7.
  AlertThreshold iqr{.kind = AlertThreshold::Kind::kMedianIqr, .k = 1.5};
  EXPECT_DOUBLE_EQ(ThresholdFromSample(iqr, b, true), 11);
  EXPECT_DOUBLE_EQ(ThresholdFromSample(iqr, b, false), -1);

  AlertThreshold q{.kind = AlertThreshold::Kind::kQuantile, .quantile = 0.9};
  EXPECT_DOUBLE_EQ(ThresholdFromSample(q, std::vector<double>{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, true), 9.1);
  AlertThreshold fixed{.value = 0.2};
  EXPECT_DOUBLE_EQ(ThresholdFromSample(fixed, a, true), 0.2);
}

// Reference chunks behave as samples from the reference should, checked
// against closed forms: the chi-square statistic of a K-category feature has
// mean K - 1 (its degrees of freedom; the reference is large enough to count
// as exact), and the missing rate has mean p and variance p(1-p)/n.
TEST(LearnedThresholdTest, ReferenceChunksFollowTheReferenceDistribution) {
  ReferenceProfile profile;
  profile.rows = 1'100'000;
  ColumnProfile home;
  home.name = "Home";
  home.categorical = true;
  home.categories = {"own", "rent", "free", "other"};
  home.counts = {400'000, 300'000, 200'000, 100'000};
  home.missing = 100'000;
  home.count = 1'100'000;
  profile.features = {home};
  profile.prediction.name = "prediction";  // No reference scores: always missing.

  constexpr int kChunks = 400;
  constexpr int64_t kRows = 500;
  const auto reports = ReferenceChunkReports(profile, kRows, kChunks, DriftSettings{}, 7);
  ASSERT_EQ(reports.size(), static_cast<size_t>(kChunks));
  double chi_sum = 0, missing_sum = 0, missing_sq = 0;
  int rejected = 0;
  for (const WindowReport& r : reports) {
    EXPECT_EQ(r.rows, kRows);
    chi_sum += *WindowMetricValue(r, "chi_square", 0);
    const double m = *WindowMetricValue(r, "missing_rate", 0);
    missing_sum += m;
    missing_sq += m * m;
    rejected += *WindowMetricValue(r, "chi_square_p_value", 0) < 0.05 ? 1 : 0;
  }
  // chi2(3): mean 3, sd sqrt(6); the mean of 400 has sd sqrt(6 / 400).
  EXPECT_NEAR(chi_sum / kChunks, 3.0, 4 * std::sqrt(6.0 / kChunks));
  const double p = 1.0 / 11;
  const double mean = missing_sum / kChunks;
  EXPECT_NEAR(mean, p, 4 * std::sqrt(p * (1 - p) / kRows / kChunks));
  EXPECT_NEAR(missing_sq / kChunks - mean * mean, p * (1 - p) / kRows, 0.3 * p * (1 - p) / kRows);
  // p < 0.05 in about 5% of chunks drawn from the reference itself.
  EXPECT_NEAR(rejected / static_cast<double>(kChunks), 0.05, 4 * std::sqrt(0.05 * 0.95 / kChunks));

  // The same seed gives the same chunks.
  const auto again = ReferenceChunkReports(profile, kRows, 3, DriftSettings{}, 7);
  EXPECT_EQ(again[2].features[0].chi_square, reports[2].features[0].chi_square);
}

TEST(LearnedThresholdTest, MetricsApplyByFeatureType) {
  WindowReport r;
  FeatureDrift numeric;
  numeric.test = "ks";
  numeric.ks_p_value = 0.3;
  numeric.wasserstein = 0.2;
  numeric.out_of_range_rate = 0.1;
  FeatureDrift categorical;
  categorical.categorical = true;
  categorical.test = "chi_square";
  categorical.chi_square = 4;
  FeatureDrift empty;  // No present values.
  empty.missing_rate = 1;
  r.features = {numeric, categorical, empty};
  r.prediction.test = "ks";
  r.prediction.psi = 0.7;
  r.drift_share = 0.25;
  EXPECT_EQ(*WindowMetricValue(r, "wasserstein", 0), 0.2);
  EXPECT_EQ(*WindowMetricValue(r, "ks_p_value", 0), 0.3);
  EXPECT_EQ(*WindowMetricValue(r, "out_of_range_rate", 0), 0.1);
  EXPECT_FALSE(WindowMetricValue(r, "chi_square", 0));
  EXPECT_EQ(*WindowMetricValue(r, "chi_square", 1), 4);
  EXPECT_FALSE(WindowMetricValue(r, "wasserstein", 1));
  EXPECT_FALSE(WindowMetricValue(r, "out_of_range_rate", 1));
  EXPECT_EQ(*WindowMetricValue(r, "missing_rate", 2), 1);
  EXPECT_FALSE(WindowMetricValue(r, "psi", 2));
  EXPECT_EQ(*WindowMetricValue(r, "psi", -1), 0.7);
  EXPECT_EQ(*WindowMetricValue(r, "drift_share", 5), 0.25);
  EXPECT_FALSE(WindowMetricValue(r, "psi", 3));
}

}  // namespace
}  // namespace vigil
