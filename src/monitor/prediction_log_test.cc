// The prediction log with a real SQLite store.
#include "monitor/prediction_log.h"

#include <gtest/gtest.h>

#include <cmath>

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
                                         int64_t time_ms) {
  auto r = std::make_unique<PredictionRecord>();
  r->config = config;
  r->version = 3;
  r->request_id = id;
  r->time_ms = time_ms;
  r->features = Tensor("input", DataType::kFp32, {2, 2});
  const float x[4] = {42.5f, 1.0f, NAN, NAN};
  std::copy(x, x + 4, r->features.values<float>().begin());
  Tensor p("probability", DataType::kFp32, {2});
  p.values<float>()[0] = 0.25f;
  p.values<float>()[1] = 0.75f;
  Tensor label("label", DataType::kBytes, {2});
  label.strings()[0] = "good";
  label.strings()[1] = "bad";
  r->outputs.push_back(std::move(p));
  r->outputs.push_back(std::move(label));
  return r;
}

int64_t Now() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

TEST(PredictionLogTest, RequestsKeepRawFeatureValuesByName) {
  const StoredPrediction p = PredictionLog::ToStored(*Record(Config(), "req-1", 1234));
  EXPECT_EQ(p.model, "credit");
  EXPECT_EQ(p.request_id, "req-1");
  EXPECT_EQ(p.rows, 2);
  EXPECT_EQ(p.version, 3);
  EXPECT_EQ(p.time_ms, 1234);
  EXPECT_EQ(p.route, "champion");
  EXPECT_EQ(p.inputs, R"({"Age":[42.5,null],"Home":["rent \"x\"",null]})");
  EXPECT_EQ(p.outputs, R"({"probability":[0.25,0.75],"label":["good","bad"]})");
  // Per-class outputs are an array per row.
  auto multi = Record(Config(), "req-2", 1);
  Tensor p3("probability", DataType::kFp32, {2, 3});
  for (int i = 0; i < 6; ++i) p3.values<float>()[i] = 0.125f * static_cast<float>(i);
  multi->outputs = {p3};
  EXPECT_EQ(PredictionLog::ToStored(*multi).outputs, R"({"probability":[[0,0.125,0.25],[0.375,0.5,0.625]]})");
}

TEST(PredictionLogTest, FlushMakesQueuedRecordsVisible) {
  testing::TempDir dir;
  auto store = SqliteStore::Open(dir.path() / "vigil.db");
  ASSERT_TRUE(store.ok());
  MetricsRegistry registry;
  PredictionLogOptions options;
  options.flush_interval = std::chrono::hours(1);  // Only Flush() writes.
  PredictionLog log(**store, options, registry);
  const auto config = Config();
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(log.Record(Record(config, "r" + std::to_string(i), Now())));
  ASSERT_TRUE(log.Flush(std::chrono::seconds(10)));
  EXPECT_EQ(*(*store)->CountPredictions("credit"), 10);
  EXPECT_NE(registry.Render().find("vigil_prediction_log_written_total 10"), std::string::npos) << registry.Render();
}

TEST(PredictionLogTest, AFullQueueDropsAndCountsWithoutBlocking) {
  testing::TempDir dir;
  auto store = SqliteStore::Open(dir.path() / "vigil.db");
  ASSERT_TRUE(store.ok());
  MetricsRegistry registry;
  PredictionLogOptions options;
  options.queue_capacity = 8;
  options.flush_interval = std::chrono::hours(1);
  PredictionLog log(**store, options, registry);
  const auto config = Config();
  int accepted = 0;
  for (int i = 0; i < 20; ++i) accepted += log.Record(Record(config, "r" + std::to_string(i), Now()));
  EXPECT_EQ(accepted, 8);
  EXPECT_NE(registry.Render().find("vigil_prediction_log_dropped_total 12"), std::string::npos) << registry.Render();
  EXPECT_NE(registry.Render().find("vigil_prediction_log_queue_depth 8"), std::string::npos);
  ASSERT_TRUE(log.Flush(std::chrono::seconds(10)));
  EXPECT_EQ(*(*store)->CountPredictions("credit"), 8);
  EXPECT_NE(registry.Render().find("vigil_prediction_log_queue_depth 0"), std::string::npos);
}

TEST(PredictionLogTest, RetentionAndShutdownWrites) {
  testing::TempDir dir;
  auto store = SqliteStore::Open(dir.path() / "vigil.db");
  ASSERT_TRUE(store.ok());
  const auto config = Config();
  {
    MetricsRegistry registry;
    PredictionLogOptions options;
    options.flush_interval = std::chrono::milliseconds(10);
    options.retention = std::chrono::hours(1);
    options.prune_interval = std::chrono::seconds(0);
    PredictionLog log(**store, options, registry);
    ASSERT_TRUE(log.Record(Record(config, "old", Now() - 2 * 3600 * 1000)));
    ASSERT_TRUE(log.Flush(std::chrono::seconds(10)));
    // The next rounds prune the two-hour-old rows.
    for (int i = 0; i < 500 && *(*store)->CountPredictions("credit") > 0; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    EXPECT_EQ(*(*store)->CountPredictions("credit"), 0);
    ASSERT_TRUE(log.Record(Record(config, "new", Now())));
  }  // Stopping writes what is queued.
  EXPECT_EQ(*(*store)->CountPredictions("credit"), 1);
}

TEST(PredictionLogTest, SampleRateLogsTheGivenShare) {
  testing::TempDir dir;
  auto store = SqliteStore::Open(dir.path() / "vigil.db");
  ASSERT_TRUE(store.ok());
  MetricsRegistry registry;
  PredictionLogOptions options;
  options.sample_rate = 0.2;
  PredictionLog log(**store, options, registry);
  int sampled = 0;
  for (int i = 0; i < 20000; ++i) sampled += log.Sampled();
  // Binomial(20000, 0.2): mean 4000, standard deviation about 57.
  EXPECT_NEAR(sampled, 4000, 400);
}

}  // namespace
}  // namespace vigil
