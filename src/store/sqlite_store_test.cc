// The SQLite store on a real database file.
#include "store/sqlite_store.h"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include "testing/test_repository.h"

namespace vigil {
namespace {

// A logged request of `rows` rows.
StoredPrediction Prediction(const std::string& id, int64_t rows, int64_t time_ms, const std::string& model = "credit") {
  return {model, id, 1, time_ms, "champion", rows, R"({"Age": [30]})", R"({"probability": [0.25]})"};
}

TEST(SqliteStoreTest, LogsPredictionsAndJoinsFeedback) {
  testing::TempDir dir;
  auto store = SqliteStore::Open(dir.path() / "vigil.db");
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  SqliteStore& s = **store;
  ASSERT_TRUE(s.AppendPredictions({Prediction("a", 2, 1000), Prediction("b", 1, 2000), Prediction("a", 1, 1000, "churn")})
                  .ok());
  // A request logged twice is kept once, as first logged, and counted.
  auto ignored = s.AppendPredictions({Prediction("b", 1, 9999), Prediction("c", 1, 9999)});
  ASSERT_TRUE(ignored.ok());
  EXPECT_EQ(*ignored, 1);
  EXPECT_EQ(*s.CountPredictions("credit"), 3);
  EXPECT_EQ(*s.CountPredictions("churn"), 1);

  auto outcomes = s.RecordFeedback("credit", {{"a", 0, "\"bad\""}, {"a", 1, "\"good\""}, {"zzz", 0, "\"bad\""},
                                              {"a", 2, "\"bad\""}},
                                   5000);
  ASSERT_TRUE(outcomes.ok()) << outcomes.status().ToString();
  EXPECT_EQ(*outcomes, (std::vector<FeedbackOutcome>{FeedbackOutcome::kRecorded, FeedbackOutcome::kRecorded,
                                                     FeedbackOutcome::kUnknownId, FeedbackOutcome::kUnknownId}));
  // Idempotent: the same label again changes nothing; a different one is a conflict.
  outcomes = s.RecordFeedback("credit", {{"a", 0, "\"bad\""}, {"a", 1, "\"bad\""}}, 6000);
  ASSERT_TRUE(outcomes.ok());
  EXPECT_EQ(*outcomes, (std::vector<FeedbackOutcome>{FeedbackOutcome::kDuplicate, FeedbackOutcome::kConflict}));
  // Feedback is per model: churn's "a" is another prediction.
  EXPECT_EQ(s.RecordFeedback("churn", {{"a", 0, "1"}}, 6000)->at(0), FeedbackOutcome::kRecorded);

  auto labeled = s.LabeledPredictions("credit", 0, 10000, 100);
  ASSERT_TRUE(labeled.ok());
  ASSERT_EQ(labeled->size(), 2u);
  EXPECT_EQ((*labeled)[0].prediction.request_id, "a");
  EXPECT_EQ((*labeled)[0].row, 0);
  EXPECT_EQ((*labeled)[0].label, "\"bad\"");
  EXPECT_EQ((*labeled)[1].row, 1);
  EXPECT_EQ((*labeled)[1].prediction.rows, 2);
  EXPECT_EQ((*labeled)[1].label, "\"good\"");  // The first label stands.
  EXPECT_EQ((*labeled)[1].feedback_time_ms, 5000);
  auto window = s.Predictions("credit", 1500, 2500, 100);
  ASSERT_TRUE(window.ok());
  ASSERT_EQ(window->size(), 1u);
  EXPECT_EQ((*window)[0].time_ms, 2000);
  EXPECT_EQ((*window)[0].inputs, R"({"Age": [30]})");
}

TEST(SqliteStoreTest, RetentionDeletesOldAndExcessRequestsWithTheirFeedback) {
  testing::TempDir dir;
  auto store = SqliteStore::Open(dir.path() / "vigil.db");
  ASSERT_TRUE(store.ok());
  SqliteStore& s = **store;
  std::vector<StoredPrediction> batch;
  for (int i = 0; i < 10; ++i) batch.push_back(Prediction("r" + std::to_string(i), 1, 1000 * i));
  ASSERT_TRUE(s.AppendPredictions(batch).ok());
  ASSERT_TRUE(s.RecordFeedback("credit", {{"r1", 0, "1"}, {"r5", 0, "0"}}, 20000).ok());
  // Older than 3000 ms: r0, r1, r2; then beyond 4 rows: r3, r4, r5.
  auto deleted = s.PrunePredictions(3000, 4);
  ASSERT_TRUE(deleted.ok()) << deleted.status().ToString();
  EXPECT_EQ(*deleted, 6);
  EXPECT_EQ(*s.CountPredictions("credit"), 4);
  EXPECT_EQ(s.LabeledPredictions("credit", 0, 100000, 100)->size(), 0u);
  EXPECT_EQ(s.Predictions("credit", 0, 100000, 100)->front().request_id, "r6");
}

TEST(SqliteStoreTest, RetentionDeletesManyRequestsInChunks) {
  testing::TempDir dir;
  auto store = SqliteStore::Open(dir.path() / "vigil.db");
  ASSERT_TRUE(store.ok());
  std::vector<StoredPrediction> batch;
  for (int i = 0; i < 25000; ++i) batch.push_back(Prediction("r" + std::to_string(i), 1, i));
  ASSERT_TRUE((*store)->AppendPredictions(batch).ok());
  // 22,000 are older than 22,000 ms: more than two chunks of 10,000.
  auto deleted = (*store)->PrunePredictions(22000, 0);
  ASSERT_TRUE(deleted.ok()) << deleted.status().ToString();
  EXPECT_EQ(*deleted, 22000);
  EXPECT_EQ(*(*store)->CountPredictions("credit"), 3000);
  EXPECT_EQ((*store)->Predictions("credit", 0, 100000, 1)->front().request_id, "r22000");
}

TEST(SqliteStoreTest, SurvivesReopeningAndRefusesANewerSchema) {
  testing::TempDir dir;
  const auto path = dir.path() / "vigil.db";
  {
    auto store = SqliteStore::Open(path);
    ASSERT_TRUE(store.ok());
    ASSERT_TRUE((*store)->AppendPredictions({Prediction("kept", 1, 1)}).ok());
  }
  {
    auto store = SqliteStore::Open(path);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    EXPECT_EQ(*(*store)->CountPredictions("credit"), 1);
  }
  sqlite3* db;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "PRAGMA user_version = 99", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);
  auto newer = SqliteStore::Open(path);
  ASSERT_FALSE(newer.ok());
  EXPECT_NE(newer.status().message().find("schema version 99 is newer"), std::string::npos) << newer.status().message();

  testing::WriteFile(dir.path() / "not.db", "this is not a database, just text long enough to have a header......");
  EXPECT_FALSE(SqliteStore::Open(dir.path() / "not.db").ok());
}

}  // namespace
}  // namespace vigil
