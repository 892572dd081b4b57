#include "lifecycle/xgboost_trainer.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

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

// A new version of an existing model keeps that model's codes, even when the
// new data lacks a category (which shifts the codes of those after it).
TEST(XGBoostTrainerTest, ANewVersionUsesTheExistingModelsCodesAndClasses) {
  testing::TempDir repo, data;
  ASSERT_TRUE(TrainXGBoostClassifier(Options(repo.path(), 42), [](const std::string&) {}).ok());
  auto base = LoadModelConfig(repo.path() / "credit/model.yaml", "credit");
  ASSERT_TRUE(base.ok());
  // The credit data without its home owners, labels as 0/1.
  const std::string csv = testing::ReadFile(testing::CreditCsv());
  std::string filtered;
  size_t start = 0, kept = 0;
  while (start < csv.size()) {
    size_t end = csv.find('\n', start);
    if (end == std::string::npos) end = csv.size();
    std::string line = csv.substr(start, end - start);
    start = end + 1;
    if (line.find("\"owner\"") != std::string::npos) continue;
    if (kept++ > 0) {
      // Status is the first column: good -> 0, bad -> 1.
      const size_t comma = line.find(',');
      const std::string status = line.substr(0, comma);
      line = (status.find("bad") != std::string::npos ? "1" : "0") + line.substr(comma);
    }
    filtered += line + "\n";
  }
  ASSERT_LT(kept, 4454u);
  testing::WriteFile(data.path() / "noowner.csv", filtered);

  TrainOptions o = Options(repo.path(), 42);
  o.data = data.path() / "noowner.csv";
  o.base = &*base;
  int rounds_seen = 0;
  o.on_iteration = [&](int, int, double auc, double) {
    ++rounds_seen;
    EXPECT_GT(auc, 0.5);
    return true;
  };
  auto report = TrainXGBoostClassifier(o, [](const std::string&) {});
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_GT(rounds_seen, 0);
  EXPECT_GT(report->test_auc, 0.75);
  // The training rows were coded as model.yaml codes them: its profile
  // counts no owner (code 2) and the renters under rent's code (5).
  const auto profile =
      nlohmann::json::parse(testing::ReadFile(repo.path() / "credit" / std::to_string(report->version) / "profile.json"));
  const auto& home = profile["features"][1];
  ASSERT_EQ(home["name"], "Home");
  ASSERT_EQ(home["categories"], nlohmann::json(base->features[1].categories));
  EXPECT_EQ(home["counts"][2], 0.0);
  EXPECT_GT(home["counts"][5].get<double>(), 400.0);

  // Labels that are not the model's classes are refused with the row.
  testing::WriteFile(data.path() / "bad.csv", filtered.substr(0, filtered.find('\n') + 1) + "maybe" +
                                                  filtered.substr(filtered.find(',', filtered.find('\n'))));
  // A positive class other than model.yaml's is refused.
  o.positive_class = "good";
  EXPECT_EQ(TrainXGBoostClassifier(o, [](const std::string&) {}).status().message(),
            "--positive-class: model 'credit' has 'bad' as its positive class (the second of model.yaml's classes)");
  o.positive_class.clear();
  o.data = data.path() / "bad.csv";
  auto refused = TrainXGBoostClassifier(o, [](const std::string&) {});
  EXPECT_NE(refused.status().message().find("row 1 of"), std::string::npos) << refused.status().message();
}

TEST(XGBoostTrainerTest, OnIterationCancels) {
  testing::TempDir repo;
  TrainOptions o = Options(repo.path(), 42);
  o.on_iteration = [](int round, int, double, double) { return round < 3; };
  auto r = TrainXGBoostClassifier(o, [](const std::string&) {});
  EXPECT_EQ(r.status().code(), StatusCode::kCancelled);
  EXPECT_EQ(r.status().message(), "training cancelled at round 3");
  EXPECT_FALSE(std::filesystem::exists(repo.path() / "credit" / "1"));
}

}  // namespace
}  // namespace vigil
