// Model quality against values worked out by hand.
#include "monitor/quality_metrics.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

namespace vigil {
namespace {

TEST(QualityMetricsTest, BinaryClassification) {
  // Predicted at 0.5: 1, 1, 0, 1, 0 against 1, 1, 1, 0, 0.
  const std::vector<float> p = {0.9f, 0.8f, 0.3f, 0.6f, 0.2f};
  const std::vector<float> y = {1, 1, 1, 0, 0};
  const BinaryQuality q = BinaryClassificationQuality(p, y, 0.5);
  EXPECT_EQ(q.n, 5);
  EXPECT_EQ(q.true_positives, 2);
  EXPECT_EQ(q.false_negatives, 1);
  EXPECT_EQ(q.false_positives, 1);
  EXPECT_EQ(q.true_negatives, 1);
  EXPECT_DOUBLE_EQ(q.accuracy.value, 0.6);
  // Agresti-Coull: (3 + 2) / (5 + 4) = 5/9, sqrt(5/9 * 4/9 / 9) = 0.1656347.
  EXPECT_NEAR(q.accuracy.standard_error, 0.1656347, 1e-6);
  EXPECT_NEAR(q.precision.value, 2.0 / 3.0, 1e-12);
  EXPECT_NEAR(q.recall.value, 2.0 / 3.0, 1e-12);
  EXPECT_NEAR(q.f1, 2.0 / 3.0, 1e-12);
  // -(ln 0.9 + ln 0.8 + ln 0.3 + ln 0.4 + ln 0.8) / 5.
  EXPECT_NEAR(q.log_loss.value, 0.5343826, 1e-6);
  // Five of the six positive-negative pairs are ordered: 5 / 6; Hanley and
  // McNeil's standard error with 3 positives and 2 negatives: 0.2007076.
  EXPECT_NEAR(q.roc_auc.value, 5.0 / 6.0, 1e-6);
  EXPECT_NEAR(q.roc_auc.standard_error, 0.2007076, 1e-6);
  // The band is value +- 3 standard errors.
  EXPECT_NEAR(q.accuracy.lower(), 0.6 - 3 * 0.1656347, 1e-6);
  // Two wrong answers of two: accuracy 0, and a band that is not zero wide.
  const BinaryQuality two = BinaryClassificationQuality(std::vector<float>{0.9f, 0.1f}, std::vector<float>{0, 1}, 0.5);
  EXPECT_DOUBLE_EQ(two.accuracy.value, 0.0);
  EXPECT_NEAR(two.accuracy.standard_error, std::sqrt(2.0 / 6.0 * 4.0 / 6.0 / 6.0), 1e-12);
}

TEST(QualityMetricsTest, Regression) {
  // Errors 1, 0, -2.
  const RegressionQuality q = RegressionQualityOf(std::vector<float>{2, 4, 6}, std::vector<float>{1, 4, 8});
  EXPECT_EQ(q.n, 3);
  EXPECT_DOUBLE_EQ(q.mae.value, 1.0);
  EXPECT_NEAR(q.mae.standard_error, 1.0 / std::sqrt(3.0), 1e-12);  // |e| = 1, 0, 2: standard deviation 1.
  EXPECT_NEAR(q.rmse.value, std::sqrt(5.0 / 3.0), 1e-12);
  EXPECT_NEAR(q.mape.value, (100.0 + 0.0 + 25.0) / 3.0, 1e-9);
}

TEST(QualityMetricsTest, EmptyWindowsAreUndefinedNotZero) {
  const BinaryQuality q = BinaryClassificationQuality({}, {}, 0.5);
  EXPECT_TRUE(std::isnan(q.accuracy.value));
  EXPECT_TRUE(std::isnan(q.roc_auc.value));
}

}  // namespace
}  // namespace vigil
