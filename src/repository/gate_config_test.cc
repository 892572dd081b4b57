#include "repository/gate_config.h"

#include <gtest/gtest.h>

#include "repository/model_config.h"

namespace vigil {
namespace {

constexpr char kClassifier[] = R"(
backend: xgboost
features: [{name: Age}]
classes: [good, bad]
)";

Result<ModelConfig> With(const std::string& gate, const char* base = kClassifier) {
  return ParseModelConfig(std::string(base) + "gate:\n" + gate, "credit");
}

TEST(GateConfigTest, DefaultsToNoWorseAucForClassifiersAndRmseForRegressors) {
  auto classifier = ParseModelConfig(kClassifier, "credit");
  ASSERT_TRUE(classifier.ok()) << classifier.status().ToString();
  EXPECT_EQ(classifier->gate.metric, "auc");
  EXPECT_FALSE(classifier->gate.bound);
  EXPECT_EQ(classifier->gate.max_drop, 0);
  EXPECT_EQ(classifier->gate.holdout_fraction, 0.2);
  auto regressor = ParseModelConfig("backend: xgboost\nfeatures: [{name: Age}]\n"
                                    "outputs: [{name: value, kind: prediction}]\n",
                                    "price");
  ASSERT_TRUE(regressor.ok()) << regressor.status().ToString();
  EXPECT_EQ(regressor->gate.metric, "rmse");
  EXPECT_FALSE(GateConfig::HigherIsBetter("rmse"));
  EXPECT_TRUE(GateConfig::HigherIsBetter("auc"));
}

TEST(GateConfigTest, ParsesAndRendersBackAndNamesWhatIsWrong) {
  auto config = With("  metric: f1\n  min: 0.6\n  max_drop: 0.01\n  golden: golden.csv\n  holdout_fraction: 0.3\n");
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  EXPECT_EQ(config->gate.metric, "f1");
  EXPECT_EQ(config->gate.bound, 0.6);
  EXPECT_EQ(config->gate.max_drop, 0.01);
  EXPECT_EQ(config->gate.golden, "golden.csv");
  EXPECT_EQ(config->gate.holdout_fraction, 0.3);
  auto again = ParseModelConfig(ModelConfigToYaml(*config), "credit");
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(again->gate.bound, 0.6);

  EXPECT_EQ(With("  metric: mae\n").status().message(),
            "gate.metric: unknown metric 'mae' (expected auc, accuracy, f1, precision, recall or log_loss)");
  EXPECT_EQ(With("  metric: log_loss\n  min: 0.3\n").status().message(),
            "gate.min: metric log_loss is lower-is-better: give its floor as max");
  EXPECT_EQ(With("  min: high\n").status().message(), "gate.min: expected a number, got 'high'");
  EXPECT_EQ(With("  holdout_fraction: 1\n").status().message(), "gate.holdout_fraction: expected a share in (0, 0.9)");
  EXPECT_EQ(With("  margin: 1\n").status().message(),
            "gate.margin: unknown key (expected metric, min, max, max_drop, golden, holdout_fraction)");
}

}  // namespace
}  // namespace vigil

namespace vigil {
namespace {

// A second gate: would otherwise be dropped without a word by the YAML parser.
TEST(GateConfigTest, AKeyGivenTwiceIsRefusedWithItsLine) {
  auto twice = ParseModelConfig(std::string(kClassifier) + "gate:\n  min: 0.7\ngate:\n  min: 0.99\n", "credit");
  EXPECT_EQ(twice.status().message(), "gate: given twice (line 7)");
}

}  // namespace
}  // namespace vigil
