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

namespace vigil {
namespace {

// Five rows of three classes, worked by hand: confusion [actual][predicted]
// {1,0,0}, {0,1,1}, {0,1,1}; accuracy 3/5; per-class precision 1, 1/2, 1/2
// and recall 1, 1/2, 1/2, so macro precision, recall and F1 are 2/3; log
// loss the mean of -ln(0.7, 0.6, 0.3, 0.3, 0.8).
TEST(QualityMetricsTest, MultiClassByHand) {
  const std::vector<float> p = {0.7f, 0.2f, 0.1f,  0.1f, 0.6f, 0.3f,  0.2f, 0.3f, 0.5f,
                                0.3f, 0.4f, 0.3f,  0.1f, 0.1f, 0.8f};
  const std::vector<int> labels = {0, 1, 1, 2, 2};
  const MultiClassQuality q = MultiClassClassificationQuality(p, 3, labels);
  EXPECT_EQ(q.n, 5);
  EXPECT_EQ(q.confusion, (std::vector<std::vector<int64_t>>{{1, 0, 0}, {0, 1, 1}, {0, 1, 1}}));
  EXPECT_DOUBLE_EQ(q.accuracy.value, 0.6);
  EXPECT_NEAR(q.accuracy.standard_error, std::sqrt(5.0 / 9 * 4.0 / 9 / 9), 1e-12);
  EXPECT_NEAR(q.macro_precision, 2.0 / 3, 1e-12);
  EXPECT_NEAR(q.macro_recall, 2.0 / 3, 1e-12);
  EXPECT_NEAR(q.macro_f1, 2.0 / 3, 1e-12);
  EXPECT_NEAR(q.log_loss.value,
              -(std::log(0.7) + std::log(0.6) + std::log(0.3) + std::log(0.3) + std::log(0.8)) / 5, 1e-6);
  // A class that is never predicted and never the answer does not count in
  // the macro averages; an out-of-range label is ignored.
  const std::vector<float> p4 = {0.9f, 0.05f, 0.05f, 0.0f, 0.1f, 0.8f, 0.1f, 0.0f};
  const MultiClassQuality four = MultiClassClassificationQuality(p4, 4, std::vector<int>{0, 7});
  EXPECT_EQ(four.n, 1);
  EXPECT_DOUBLE_EQ(four.macro_f1, 1.0);
}

}  // namespace
}  // namespace vigil
