// The evaluation gate on real models: the credit model, another seed, and
// one trained on shuffled labels, scored on the credit data.
#include "lifecycle/evaluator.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <random>
#include <sstream>

#include "lifecycle/xgboost_trainer.h"
#include "store/sqlite_store.h"
#include "testing/test_repository.h"

namespace vigil {
namespace {

using nlohmann::json;
using testing::TempDir;

class EvaluatorTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    trained_ = new TempDir();
    testing::TrainCreditModel(trained_->path(), "credit", 1);
    testing::TrainCreditModel(trained_->path(), "credit", 2, /*seed=*/7);
    // Version 3 learns from labels shuffled across rows: no signal.
    std::istringstream csv(testing::ReadFile(testing::CreditCsv()));
    std::vector<std::string> lines, labels;
    for (std::string line; std::getline(csv, line);) lines.push_back(line);
    for (size_t i = 1; i < lines.size(); ++i) labels.push_back(lines[i].substr(0, lines[i].find(',')));
    std::mt19937_64 rng(5);
    std::shuffle(labels.begin(), labels.end(), rng);
    std::string shuffled = lines[0] + "\n";
    for (size_t i = 1; i < lines.size(); ++i) shuffled += labels[i - 1] + lines[i].substr(lines[i].find(',')) + "\n";
    testing::WriteFile(trained_->path() / "shuffled.csv", shuffled);
    TrainOptions o;
    o.data = trained_->path() / "shuffled.csv";
    o.repository = trained_->path();
    o.model_name = "credit";
    o.version = 3;
    o.rounds = 60;
    ASSERT_TRUE(TrainXGBoostClassifier(o, [](const std::string&) {}).ok());
  }
  static void TearDownTestSuite() { delete trained_; }

  void SetUp() override {
    std::filesystem::copy(trained_->path() / "credit", repo_.path() / "credit",
                          std::filesystem::copy_options::recursive);
    auto store = SqliteStore::Open(dir_.path() / "vigil.db");
    ASSERT_TRUE(store.ok());
    store_ = std::move(*store);
    registry_ = std::make_unique<Registry>(*store_, repo_.path(), backends_);
    for (int64_t v : {1, 2, 3}) {
      RegisterOptions r;
      r.model = "credit";
      ASSERT_TRUE(registry_->Adopt(v, r).ok());
    }
    ASSERT_TRUE(registry_->SetAlias("credit", "champion", 1, "ana", "").ok());
  }

  // model.yaml as trained, with `gate`.
  void SetGate(const std::string& gate) {
    testing::WriteFile(repo_.path() / "credit" / "model.yaml",
                       testing::ReadFile(trained_->path() / "credit" / "model.yaml") + "gate:\n" + gate);
  }

  Result<Evaluation> Evaluate(int64_t challenger) {
    EvaluateOptions e;
    e.repository = repo_.path();
    e.model = "credit";
    e.challenger = challenger;
    e.sets = {{"holdout", testing::CreditCsv()}};
    return EvaluateVersion(*registry_, *store_, e);
  }

  static TempDir* trained_;
  TempDir repo_, dir_;
  std::unique_ptr<SqliteStore> store_;
  BackendRegistry backends_ = BackendRegistry::WithBuiltins();
  std::unique_ptr<Registry> registry_;
};
TempDir* EvaluatorTest::trained_ = nullptr;

TEST_F(EvaluatorTest, AModelTrainedOnShuffledLabelsIsRefusedAgainstTheChampion) {
  auto e = Evaluate(3);
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  EXPECT_FALSE(e->blessed);
  EXPECT_EQ(e->metric, "auc");
  EXPECT_EQ(e->champion_version, 1);
  EXPECT_EQ(e->rows, 4454);
  EXPECT_GT(e->champion, 0.8);
  EXPECT_LT(e->challenger, 0.7);  // It learned the rows, not the signal.
  ASSERT_EQ(e->reasons.size(), 1u);
  EXPECT_NE(e->reasons[0].find("worse than champion version 1's"), std::string::npos) << e->reasons[0];

  // Recorded as the version's evaluation.
  auto recorded = LatestEvaluation(*store_, "credit", 3);
  ASSERT_TRUE(recorded.ok());
  const json detail = json::parse(recorded->detail);
  EXPECT_EQ(detail["blessed"], false);
  EXPECT_EQ(detail["champion_version"], 1);
  EXPECT_EQ(detail["sets"][0]["rows"], 4454);
  EXPECT_EQ(LatestEvaluation(*store_, "credit", 2).status().code(), StatusCode::kNotFound);
}

TEST_F(EvaluatorTest, TheFloorAndTheAllowedDropDecide) {
  // Another seed of the same model: within a small drop either way.
  SetGate("  metric: auc\n  min: 0.75\n  max_drop: 0.05\n");
  auto close = Evaluate(2);
  ASSERT_TRUE(close.ok()) << close.status().ToString();
  EXPECT_TRUE(close->blessed) << close->ToJson();
  EXPECT_LT(std::abs(close->challenger - close->champion), 0.05);

  // A floor above what it reaches.
  SetGate("  metric: auc\n  min: 0.99\n  max_drop: 0.05\n");
  auto floor = Evaluate(2);
  ASSERT_TRUE(floor.ok());
  EXPECT_FALSE(floor->blessed);
  ASSERT_EQ(floor->reasons.size(), 1u);
  EXPECT_NE(floor->reasons[0].find("below the gate's floor 0.9900"), std::string::npos) << floor->reasons[0];

  // Lower-is-better: log loss, with the champion's own value as the bar.
  SetGate("  metric: log_loss\n  max: 10\n  max_drop: 0\n");
  auto self = Evaluate(1);  // The champion against itself: no comparison, only the ceiling.
  ASSERT_TRUE(self.ok());
  EXPECT_EQ(self->champion_version, 0);
  EXPECT_TRUE(self->blessed);
  EXPECT_FALSE(self->higher_is_better);
  auto shuffled = Evaluate(3);
  ASSERT_TRUE(shuffled.ok());
  EXPECT_GT(shuffled->challenger, shuffled->champion);
  EXPECT_FALSE(shuffled->blessed);
}

TEST_F(EvaluatorTest, TheGoldenSetIsScoredTooAndBadRowsAreNamed) {
  // The golden set: the first 500 applicants, kept beside model.yaml.
  std::istringstream csv(testing::ReadFile(testing::CreditCsv()));
  std::string golden, line;
  for (int i = 0; i < 501 && std::getline(csv, line); ++i) golden += line + "\n";
  testing::WriteFile(repo_.path() / "credit" / "golden.csv", golden);
  SetGate("  golden: golden.csv\n  max_drop: 1\n");
  auto e = Evaluate(2);
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  ASSERT_EQ(e->sets.size(), 2u);
  EXPECT_EQ(e->sets[1].name, "golden");
  EXPECT_EQ(e->sets[1].rows, 500);
  EXPECT_EQ(e->rows, 4954);

  testing::WriteFile(repo_.path() / "credit" / "golden.csv", golden.substr(0, golden.find('\n') + 1) + "maybe" +
                                                                 golden.substr(golden.find(',', golden.find('\n'))));
  auto bad = Evaluate(2);
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("golden: row 1 has no usable label"), std::string::npos)
      << bad.status().message();
}

}  // namespace
}  // namespace vigil
