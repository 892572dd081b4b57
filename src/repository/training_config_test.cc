#include "repository/training_config.h"

#include <gtest/gtest.h>

#include "repository/model_config.h"

namespace vigil {
namespace {

Result<ModelConfig> With(const std::string& training) {
  return ParseModelConfig("backend: xgboost\nfeatures: [{name: Age}]\nclasses: [good, bad]\ntraining:\n" + training,
                          "credit");
}

TEST(TrainingConfigTest, ParsesASearchSpaceAndRendersItBack) {
  auto config = With("  search:\n    method: halving\n    trials: 12\n    space:\n      max_depth: [3, 8]\n"
                     "      learning_rate: [0.01, 0.3]\n      reg_alpha: [0, 1]\n");
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  const SearchSpace& s = config->training.search;
  EXPECT_TRUE(s.declared());
  EXPECT_EQ(s.method, "halving");
  EXPECT_EQ(s.trials, 12);
  EXPECT_EQ(s.ranges.at("max_depth"), (std::pair<double, double>{3, 8}));
  EXPECT_EQ(s.ranges.at("reg_alpha"), (std::pair<double, double>{0, 1}));
  auto again = ParseModelConfig(ModelConfigToYaml(*config), "credit");
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(again->training.search.ranges.size(), 3u);
  EXPECT_FALSE(ParseModelConfig("backend: xgboost\nfeatures: [{name: Age}]\n", "credit")->training.search.declared());
}

TEST(TrainingConfigTest, NamesWhatIsWrong) {
  EXPECT_EQ(With("  search:\n    space:\n      depth: [1, 2]\n").status().message(),
            "training.search.space.depth: unknown parameter (expected max_depth, rounds, learning_rate, subsample, "
            "colsample_bytree, reg_lambda, reg_alpha)");
  EXPECT_EQ(With("  search:\n    space:\n      max_depth: [8, 3]\n").status().message(),
            "training.search.space.max_depth: expected low <= high");
  EXPECT_EQ(With("  search:\n    space:\n      learning_rate: [0, 0.3]\n").status().message(),
            "training.search.space.learning_rate: expected a positive range (sampled on a log scale)");
  EXPECT_EQ(With("  search:\n    space:\n      subsample: [0.5, 2]\n").status().message(),
            "training.search.space.subsample: expected a range within (0, 1]");
  EXPECT_EQ(With("  search:\n    method: grid\n    space:\n      max_depth: [3, 8]\n").status().message(),
            "training.search.method: expected random or halving, got 'grid'");
  EXPECT_EQ(With("  search:\n    trials: 20\n").status().message(),
            "training.search.space: name at least one parameter to search");
  EXPECT_EQ(With("  external:\n    command: [train.sh]\n").status().message(), "training.external.artifact: is required");
  EXPECT_EQ(With("  runner: x\n").status().message(), "training.runner: unknown key (expected search, external, retrain)");
}

}  // namespace
}  // namespace vigil
