// The `vigil monitor` report from a real store and a profile on disk.
#include "monitor/monitor_report.h"

#include <gtest/gtest.h>

#include <functional>

#include "monitor/prediction_log.h"
#include "monitor/reference_profile.h"
#include "store/sqlite_store.h"
#include "testing/test_repository.h"

namespace vigil {
namespace {

TEST(MonitorReportTest, ReplaysTheLogThroughWindowsAndReportsQuality) {
  testing::TempDir dir;
  testing::WriteFile(dir.path() / "m/model.yaml", R"(
backend: xgboost
features:
  - {name: x, type: numeric}
  - {name: c, type: categorical, categories: [a, b]}
classes: [good, bad]
)");
  auto config = LoadModelConfig(dir.path() / "m/model.yaml", "m");
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  // Reference: x uniform on 0..99, c half a, half b; scores 0.5.
  std::vector<float> ref;
  for (int i = 0; i < 1000; ++i) ref.insert(ref.end(), {static_cast<float>(i % 100), static_cast<float>(i % 2)});
  std::filesystem::create_directories(dir.path() / "m/1");
  ASSERT_TRUE(WriteReferenceProfile(BuildReferenceProfile(*config, ref, 1000, std::vector<float>(1000, 0.5f)),
                                    dir.path() / "m/1/profile.json")
                  .ok());
  // Two windows of 100 rows: the first like the reference, the second with
  // x shifted by 60 (drift), in requests of 10 rows. `log` writes the
  // requests `which` picks into `store`, with feedback for r0: its ten rows,
  // all "bad", five right (0.9) and five wrong.
  auto shared = std::make_shared<const ModelConfig>(*config);
  auto log = [&](Store& store, const std::function<bool(int)>& which) {
    MetricsRegistry registry;
    PredictionLogOptions options;
    options.flush_interval = std::chrono::hours(1);
    PredictionLog log(store, options, registry);
    for (int req = 0; req < 20; ++req) {
      if (!which(req)) continue;
      Tensor features("input", DataType::kFp32, {10, 2});
      Tensor p("probability", DataType::kFp32, {10});
      for (int i = 0; i < 10; ++i) {
        const int row = req * 10 + i;
        features.values<float>()[i * 2] = static_cast<float>((row * 37) % 100 + (req >= 10 ? 60 : 0));
        features.values<float>()[i * 2 + 1] = static_cast<float>(row % 2);
        p.values<float>()[i] = i < 5 ? 0.9f : 0.1f;
      }
      ASSERT_TRUE(log.Record(PredictionLog::MakeRecord(shared, 1, "r" + std::to_string(req), true, 1000 + req,
                                                       "champion", features, {}, {p})));
    }
    ASSERT_TRUE(log.Flush(std::chrono::seconds(10)));
    if (which(0)) {
      std::vector<FeedbackItem> feedback;
      for (int i = 0; i < 10; ++i) feedback.push_back({"r0", i, "\"bad\""});
      ASSERT_TRUE(store.RecordFeedback("m", feedback, 5000).ok());
    }
  };
  auto store = SqliteStore::Open(dir.path() / "vigil.db");
  ASSERT_TRUE(store.ok());
  log(**store, [](int) { return true; });

  auto report = MonitorReport({store->get()}, {dir.path(), "m", 0, 10000, 100});
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  const std::string& text = *report;
  EXPECT_NE(text.find("m version 1: 200 logged rows"), std::string::npos) << text;
  EXPECT_NE(text.find("window 1:   100 rows, drift share    0%"), std::string::npos) << text;
  EXPECT_NE(text.find("window 2:   100 rows, drift share   50%, drifted: x"), std::string::npos) << text;
  EXPECT_NE(text.find("10 labelled rows"), std::string::npos) << text;
  EXPECT_NE(text.find("accuracy  0.500"), std::string::npos) << text;
  EXPECT_NE(text.find("confusion: TP 5  FP 0  TN 0  FN 5"), std::string::npos) << text;

  EXPECT_NE(MonitorReport({store->get()}, {dir.path(), "m", 20000, 30000, 100})->find("no logged predictions"),
            std::string::npos);

  // Two replicas, each with every other request: reported on together, the
  // same windows and quality as one store with all of them.
  auto even = SqliteStore::Open(dir.path() / "even.db");
  auto odd = SqliteStore::Open(dir.path() / "odd.db");
  ASSERT_TRUE(even.ok() && odd.ok());
  log(**even, [](int req) { return req % 2 == 0; });
  log(**odd, [](int req) { return req % 2 == 1; });
  auto merged = MonitorReport({even->get(), odd->get()}, {dir.path(), "m", 0, 10000, 100});
  ASSERT_TRUE(merged.ok()) << merged.status().ToString();
  EXPECT_EQ(*merged, text);
}

}  // namespace
}  // namespace vigil

namespace vigil {
namespace {

// Multi-class quality from what the log stored: the probability output's
// [K] row of each labelled prediction against the label's class.
TEST(MonitorReportTest, MultiClassQualityFromLoggedProbabilities) {
  auto config = ParseModelConfig(R"(
backend: xgboost
features: [{name: x}]
classes: [low, mid, high]
outputs: [{name: probability, kind: probability}, {name: label, kind: label}]
)", "m");
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  const auto shared = std::make_shared<const ModelConfig>(*config);
  Tensor p("probability", DataType::kFp32, {3, 3});
  const float probabilities[] = {0.7f, 0.2f, 0.1f, 0.1f, 0.6f, 0.3f, 0.2f, 0.3f, 0.5f};
  std::copy(std::begin(probabilities), std::end(probabilities), p.values<float>().begin());
  const auto record = PredictionLog::MakeRecord(shared, 2, "batch", true, 1000, "champion",
                                                Tensor("input", DataType::kFp32, {3, 1}), {}, {p});
  auto decoded = std::make_shared<StoredPrediction>();
  ASSERT_TRUE(DecodeLogRecord(record->data, decoded.get()).ok());
  decoded->version = 2;
  const std::shared_ptr<const StoredPrediction> stored = decoded;
  std::vector<LabeledPrediction> labeled = {{stored, 0, "\"low\"", 2000},
                                            {stored, 1, "\"mid\"", 2000},
                                            {stored, 2, "\"mid\"", 2000},  // Predicted high.
                                            {stored, 2, "\"nonsense\"", 2000}};  // Not a class: ignored.
  const auto quality = QualityByVersion(*config, labeled);
  ASSERT_EQ(quality.size(), 1u);
  EXPECT_EQ(quality[0].version, 2);
  ASSERT_TRUE(quality[0].multiclass);
  EXPECT_EQ(quality[0].multi.n, 3);
  EXPECT_NEAR(quality[0].multi.accuracy.value, 2.0 / 3, 1e-12);
  EXPECT_EQ(quality[0].multi.confusion[1][2], 1);
}

}  // namespace
}  // namespace vigil
