// The prediction log with a real SQLite store.
#include "monitor/prediction_log.h"

#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <thread>

#include "common/request_id.h"
#include "store/sqlite_store.h"
#include "testing/test_repository.h"

namespace vigil {
namespace {

std::shared_ptr<const ModelConfig> Config() {
  auto config = ParseModelConfig(R"(
backend: xgboost
features:
  - {name: Age, type: numeric}
  - {name: Home, type: categorical, categories: [owner, "rent \"x\""]}
classes: [good, bad]
)",
                                 "credit");
  EXPECT_TRUE(config.ok()) << config.status().ToString();
  return std::make_shared<const ModelConfig>(*config);
}

std::unique_ptr<PredictionRecord> Record(const std::shared_ptr<const ModelConfig>& config, const std::string& id,
                                         int64_t time_ms, bool client_id = true, int64_t version = 3) {
  Tensor features("input", DataType::kFp32, {2, 2});
  const float x[4] = {42.5f, 1.0f, NAN, NAN};
  std::copy(x, x + 4, features.values<float>().begin());
  Tensor p("probability", DataType::kFp32, {2});
  p.values<float>()[0] = 0.25f;
  p.values<float>()[1] = 0.75f;
  Tensor label("label", DataType::kBytes, {2});
  label.strings()[0] = "good";
  label.strings()[1] = "bad";
  const std::vector<int64_t> unseen = {3};  // Row 1's Home.
  return PredictionLog::MakeRecord(config, version, id, client_id, time_ms, "champion", features, unseen,
                                   {std::move(p), std::move(label)});
}

int64_t Now() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// A real SQLite store in a temporary directory, and the metrics.
class PredictionLogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = SqliteStore::Open(dir_.path() / "vigil.db");
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = std::move(*store);
  }
  // Options under which only Flush() (and stopping) writes.
  static PredictionLogOptions FlushOnly() {
    PredictionLogOptions options;
    options.flush_interval = std::chrono::hours(1);
    return options;
  }
  testing::TempDir dir_;
  std::unique_ptr<SqliteStore> store_;
  MetricsRegistry registry_;
};

TEST_F(PredictionLogTest, RequestsReadBackAsJsonWithRawValuesByName) {
  PredictionLog log(*store_, PredictionLogOptions{}, registry_);
  const auto config = Config();
  ASSERT_TRUE(log.Record(Record(config, "req-1", 1234)));
  // Per-class outputs are an array per row.
  Tensor features("input", DataType::kFp32, {2, 2});
  Tensor p3("probability", DataType::kFp32, {2, 3});
  for (int i = 0; i < 6; ++i) p3.values<float>()[i] = 0.125f * static_cast<float>(i);
  ASSERT_TRUE(log.Record(PredictionLog::MakeRecord(config, 3, "req-2", true, 1235, "champion", features, {}, {p3})));
  ASSERT_TRUE(log.Flush(std::chrono::seconds(10)));
  auto logged = store_->Predictions("credit", 0, 10000, 10);
  ASSERT_TRUE(logged.ok()) << logged.status().ToString();
  ASSERT_EQ(logged->size(), 2u);
  EXPECT_EQ(PredictionLog::ToJson((*logged)[0]),
            R"({"id":"req-1","model":"credit","version":3,"time":"1970-01-01T00:00:01.234Z","route":"champion",)"
            R"("inputs":{"Age":[42.5,null],"Home":["rent \"x\"",null]},)"
            R"("outputs":{"probability":[0.25,0.75],"label":["good","bad"]},"unseen_categories":[[1,"Home"]]})");
  EXPECT_NE(PredictionLog::ToJson((*logged)[1]).find(R"("outputs":{"probability":[[0,0.125,0.25],[0.375,0.5,0.625]]})"),
            std::string::npos);
}

// Record() fills records the writer has finished with: a record that
// carried a large request and then a small one holds only the small one.
TEST_F(PredictionLogTest, ReusedRecordsHoldOnlyTheirOwnRequest) {
  PredictionLog log(*store_, FlushOnly(), registry_);
  const auto config = Config();
  for (int64_t rows : {300, 1, 7, 1}) {
    Tensor features("input", DataType::kFp32, {rows, 2});
    Tensor p("probability", DataType::kFp32, {rows});
    for (int64_t r = 0; r < rows; ++r) {
      features.values<float>()[2 * r] = static_cast<float>(rows * 1000 + r);
      features.values<float>()[2 * r + 1] = 0.0f;
      p.values<float>()[r] = 1.0f / static_cast<float>(rows + r);
    }
    const std::string id = "rows-" + std::to_string(rows) + "-" + std::to_string(Now());
    ASSERT_TRUE(log.Record(config, 3, id, true, 1000 + rows, "champion", features, {}, {p}));
    // Written before the next request, so its record is back for reuse.
    ASSERT_TRUE(log.Flush(std::chrono::seconds(10)));
  }
  auto logged = store_->Predictions("credit", 0, 10000, 10);
  ASSERT_TRUE(logged.ok()) << logged.status().ToString();
  ASSERT_EQ(logged->size(), 4u);
  for (const StoredPrediction& stored : *logged) {
    const int64_t rows = stored.rows;
    EXPECT_EQ(stored.time_ms, 1000 + rows);
    ASSERT_EQ(stored.features.shape(), (std::vector<int64_t>{rows, 2}));
    ASSERT_EQ(stored.scores.size(), static_cast<size_t>(rows));
    for (int64_t r = 0; r < rows; ++r) {
      EXPECT_EQ(stored.features.values<float>()[2 * r], static_cast<float>(rows * 1000 + r));
      EXPECT_EQ(stored.scores[r], 1.0f / static_cast<float>(rows + r));
    }
    ASSERT_EQ(stored.outputs.size(), 1u);
    EXPECT_EQ(stored.outputs[0].shape(), (std::vector<int64_t>{rows}));
  }
}

TEST_F(PredictionLogTest, ReadsBackInTheCurrentConfigurationsOrderAndCodes) {
  {
    PredictionLog log(*store_, PredictionLogOptions{}, registry_);
    ASSERT_TRUE(log.Record(Record(Config(), "req-1", 1234)));
  }
  // A later configuration: the features swapped, a category added first.
  auto later = ParseModelConfig(R"(
backend: xgboost
features:
  - {name: Home, type: categorical, categories: [other, owner, "rent \"x\""]}
  - {name: Age, type: numeric}
classes: [good, bad]
)",
                                "credit");
  ASSERT_TRUE(later.ok()) << later.status().ToString();
  auto logged = store_->Predictions("credit", 0, 10000, 10);
  ASSERT_TRUE(logged.ok());
  ASSERT_EQ(logged->size(), 1u);
  Tensor features;
  std::vector<float> scores;
  PredictionLog::FromStored(*later, (*logged)[0], &features, &scores);
  ASSERT_EQ(features.shape(), (std::vector<int64_t>{2, 2}));
  EXPECT_EQ(features.values<float>()[0], 2.0f);  // "rent \"x\"": code 1 then, 2 now.
  EXPECT_EQ(features.values<float>()[1], 42.5f);
  EXPECT_TRUE(std::isnan(features.values<float>()[2]));
  EXPECT_EQ(scores, (std::vector<float>{0.25f, 0.75f}));
}

TEST_F(PredictionLogTest, OneSegmentPerVersionAndClientIdsIndexed) {
  PredictionLog log(*store_, FlushOnly(), registry_);
  const auto config = Config();
  const int64_t now = Now();
  ASSERT_TRUE(log.Record(Record(config, "client-a", now, true, 3)));
  ASSERT_TRUE(log.Record(Record(config, "client-b", now, true, 4)));
  ASSERT_TRUE(log.Record(Record(config, "client-a", now + 1, true, 3)));  // The same id again.
  ASSERT_TRUE(log.Flush(std::chrono::seconds(10)));
  auto logged = store_->Predictions("credit", 0, now + 10, 10);
  ASSERT_TRUE(logged.ok());
  ASSERT_EQ(logged->size(), 3u);
  EXPECT_EQ((*logged)[0].version, 3);
  EXPECT_EQ((*logged)[1].version, 3);
  EXPECT_EQ((*logged)[2].version, 4);
  EXPECT_NE(registry_.Render().find("vigil_prediction_log_duplicate_ids_total 1"), std::string::npos);
  auto outcomes = store_->RecordFeedback("credit", {{"client-a", 1, "\"bad\""}, {"client-b", 0, "\"bad\""}}, now);
  ASSERT_TRUE(outcomes.ok());
  EXPECT_EQ(*outcomes, (std::vector<FeedbackOutcome>{FeedbackOutcome::kRecorded, FeedbackOutcome::kRecorded}));
  auto labeled = store_->LabeledPredictions("credit", 0, now + 10, 10);
  ASSERT_EQ(labeled->size(), 2u);
  EXPECT_EQ((*labeled)[0].prediction->time_ms, now);  // The first "client-a".
}

// Requests of one drain that arrived far apart go to segments that each
// span at most a minute, so that feedback finds Vigil's ids by their time.
TEST_F(PredictionLogTest, SegmentsSpanAtMostAMinuteAndVigilsIdsAreFoundByTheirTime) {
  PredictionLog log(*store_, FlushOnly(), registry_);
  const auto config = Config();
  const int64_t t = Now() - 10 * 60'000;
  // Queued out of order, as slow requests finish after later ones.
  std::map<int64_t, std::string> ids;  // By offset from t.
  for (int64_t offset : {70'000, 0, 30'000, 130'000}) {
    ids[offset] = NewRequestId(t + offset);
    ASSERT_TRUE(log.Record(Record(config, ids[offset], t + offset, false)));
  }
  ASSERT_TRUE(log.Flush(std::chrono::seconds(10)));
  std::vector<FeedbackItem> items;
  for (const auto& [offset, id] : ids) items.push_back({id, 1, "\"bad\""});
  items.push_back({NewRequestId(t + 30'000), 0, "\"bad\""});  // Never logged.
  auto outcomes = store_->RecordFeedback("credit", items, Now());
  ASSERT_TRUE(outcomes.ok()) << outcomes.status().ToString();
  EXPECT_EQ(*outcomes, (std::vector<FeedbackOutcome>{FeedbackOutcome::kRecorded, FeedbackOutcome::kRecorded,
                                                     FeedbackOutcome::kRecorded, FeedbackOutcome::kRecorded,
                                                     FeedbackOutcome::kUnknownId}));
  auto logged = store_->Predictions("credit", 0, Now(), 10);
  ASSERT_TRUE(logged.ok());
  ASSERT_EQ(logged->size(), 4u);
  EXPECT_EQ((*logged)[0].time_ms, t);  // In time order.
  EXPECT_EQ((*logged)[3].time_ms, t + 130'000);
}

TEST_F(PredictionLogTest, FlushMakesQueuedRecordsVisible) {
  PredictionLog log(*store_, FlushOnly(), registry_);
  const auto config = Config();
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(log.Record(Record(config, "r" + std::to_string(i), Now())));
  ASSERT_TRUE(log.Flush(std::chrono::seconds(10)));
  EXPECT_EQ(*store_->CountPredictions("credit"), 10);
  EXPECT_NE(registry_.Render().find("vigil_prediction_log_written_total 10"), std::string::npos) << registry_.Render();
}

// Without a flush, a segment is appended once it has been open for the
// flush interval: requests reach the store within about two intervals.
TEST_F(PredictionLogTest, OpenSegmentsAreAppendedAfterAnIntervalWithoutAFlush) {
  PredictionLogOptions options;
  options.flush_interval = std::chrono::milliseconds(50);
  PredictionLog log(*store_, options, registry_);
  const auto config = Config();
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(log.Record(Record(config, "r" + std::to_string(i), Now())));
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (*store_->CountPredictions("credit") < 5 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(*store_->CountPredictions("credit"), 5);
}

TEST_F(PredictionLogTest, AFullQueueDropsAndCountsWithoutBlocking) {
  PredictionLogOptions options = FlushOnly();
  options.queue_capacity = 8;
  PredictionLog log(*store_, options, registry_);
  const auto config = Config();
  int accepted = 0;
  for (int i = 0; i < 20; ++i) accepted += log.Record(Record(config, "r" + std::to_string(i), Now()));
  EXPECT_EQ(accepted, 8);
  EXPECT_NE(registry_.Render().find("vigil_prediction_log_dropped_total 12"), std::string::npos) << registry_.Render();
  EXPECT_NE(registry_.Render().find("vigil_prediction_log_queue_depth 8"), std::string::npos);
  ASSERT_TRUE(log.Flush(std::chrono::seconds(10)));
  EXPECT_EQ(*store_->CountPredictions("credit"), 8);
  EXPECT_NE(registry_.Render().find("vigil_prediction_log_queue_depth 0"), std::string::npos);
}

TEST_F(PredictionLogTest, RetentionAndShutdownWrites) {
  const auto config = Config();
  {
    PredictionLogOptions options;
    options.flush_interval = std::chrono::milliseconds(10);
    options.retention = std::chrono::hours(1);
    options.prune_interval = std::chrono::seconds(0);
    PredictionLog log(*store_, options, registry_);
    ASSERT_TRUE(log.Record(Record(config, "old", Now() - 2 * 3600 * 1000)));
    ASSERT_TRUE(log.Flush(std::chrono::seconds(10)));
    // The next rounds prune the two-hour-old rows.
    for (int i = 0; i < 500 && *store_->CountPredictions("credit") > 0; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    EXPECT_EQ(*store_->CountPredictions("credit"), 0);
    ASSERT_TRUE(log.Record(Record(config, "new", Now())));
  }  // Stopping writes what is queued.
  EXPECT_EQ(*store_->CountPredictions("credit"), 1);
}

TEST_F(PredictionLogTest, SampleRateLogsTheGivenShare) {
  PredictionLogOptions options;
  options.sample_rate = 0.2;
  PredictionLog log(*store_, options, registry_);
  int sampled = 0;
  for (int i = 0; i < 20000; ++i) sampled += log.Sampled();
  // Binomial(20000, 0.2): mean 4000, standard deviation about 57.
  EXPECT_NEAR(sampled, 4000, 400);
}

}  // namespace
}  // namespace vigil
