#include "lifecycle/xgboost_trainer.h"

#include <gtest/gtest.h>

#include "repository/model_config.h"
#include "testing/test_repository.h"

namespace vigil {
namespace {

TrainOptions Options(const std::filesystem::path& repo, uint64_t seed) {
  TrainOptions o;
  o.data = testing::CreditCsv();
  o.repository = repo;
  o.model_name = "credit";
  o.seed = seed;
  return o;
}

TEST(XGBoostTrainerTest, TrainsAUsefulModelAndWritesItsConfiguration) {
  testing::TempDir repo;
  std::vector<std::string> lines;
  auto report = TrainXGBoostClassifier(Options(repo.path(), 42),
                                       [&](const std::string& l) { lines.push_back(l); });
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_EQ(report->version, 1);
  EXPECT_GT(report->test_auc, 0.8);
  EXPECT_EQ(report->train_rows + report->validation_rows + report->test_rows, 4454u);
  EXPECT_EQ(lines.front().find("positive class 'bad'") != std::string::npos, true) << lines.front();
  EXPECT_NE(lines[1].find("iteration 0  train-auc"), std::string::npos);
  auto config = LoadModelConfig(repo.path() / "credit/model.yaml", "credit");
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  EXPECT_EQ(config->classes, (std::vector<std::string>{"good", "bad"}));
  EXPECT_EQ(config->features.size(), 13u);
  EXPECT_EQ(config->features[1].name, "Home");
  EXPECT_EQ(config->features[1].kind, FeatureKind::kCategorical);
  // The next run writes the next version.
  auto second = TrainXGBoostClassifier(Options(repo.path(), 42), [](const std::string&) {});
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(second->version, 2);
}

TEST(XGBoostTrainerTest, SameSeedSameBytesOtherSeedOtherModel) {
  testing::TempDir a, b, c;
  for (auto* dir : {&a, &b}) {
    ASSERT_TRUE(TrainXGBoostClassifier(Options(dir->path(), 42), [](const std::string&) {}).ok());
  }
  ASSERT_TRUE(TrainXGBoostClassifier(Options(c.path(), 7), [](const std::string&) {}).ok());
  const std::string model_a = testing::ReadFile(a.path() / "credit/1/model.json");
  EXPECT_FALSE(model_a.empty());
  EXPECT_EQ(model_a, testing::ReadFile(b.path() / "credit/1/model.json"));
  EXPECT_NE(model_a, testing::ReadFile(c.path() / "credit/1/model.json"));
}

TEST(XGBoostTrainerTest, RefusesABadTarget) {
  testing::TempDir repo;
  TrainOptions o = Options(repo.path(), 1);
  o.target = "Age";
  auto r = TrainXGBoostClassifier(o, [](const std::string&) {});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "--target: column 'Age' must hold exactly two classes");
  o.target = "Status";
  o.positive_class = "maybe";
  EXPECT_EQ(TrainXGBoostClassifier(o, [](const std::string&) {}).status().message(),
            "--positive-class: 'maybe' is not a class of 'Status'");
}

}  // namespace
}  // namespace vigil
