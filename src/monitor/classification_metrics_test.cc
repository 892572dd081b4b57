#include "monitor/classification_metrics.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

namespace vigil {
namespace {

TEST(RocAucTest, MatchesHandComputedPairs) {
  // Pairs (positive, negative): (0.35 vs 0.1) win, (0.35 vs 0.4) loss,
  // (0.8 vs 0.1) win, (0.8 vs 0.4) win: 3 of 4.
  std::vector<float> scores = {0.1f, 0.4f, 0.35f, 0.8f};
  std::vector<float> labels = {0, 0, 1, 1};
  EXPECT_DOUBLE_EQ(RocAuc(scores, labels), 0.75);
}

TEST(RocAucTest, TiesCountHalf) {
  std::vector<float> scores = {0.5f, 0.5f, 0.9f};
  std::vector<float> labels = {0, 1, 1};
  // (0.5 vs 0.5) tie = 0.5, (0.9 vs 0.5) win = 1: 1.5 of 2.
  EXPECT_DOUBLE_EQ(RocAuc(scores, labels), 0.75);
}

TEST(RocAucTest, PerfectAndInvertedAndUndefined) {
  std::vector<float> scores = {0.1f, 0.2f, 0.8f, 0.9f};
  EXPECT_DOUBLE_EQ(RocAuc(scores, std::vector<float>{0, 0, 1, 1}), 1.0);
  EXPECT_DOUBLE_EQ(RocAuc(scores, std::vector<float>{1, 1, 0, 0}), 0.0);
  EXPECT_TRUE(std::isnan(RocAuc(scores, std::vector<float>{1, 1, 1, 1})));
}

}  // namespace
}  // namespace vigil
