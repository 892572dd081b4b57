// Drift windows on the credit data: no false alarms on the data itself,
// detection of a half-standard-deviation shift and of a 20-point swing in a
// category's share within two 1,000-row windows.
#include "monitor/drift_monitor.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <numeric>
#include <random>

#include "dataset/tabular_dataset.h"
#include "lifecycle/feature_matrix.h"
#include "monitor/learned_threshold.h"
#include "store/sqlite_store.h"
#include "testing/test_repository.h"

namespace vigil {
namespace {

class DriftMonitorTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    repo_ = new testing::TempDir();
    testing::TrainCreditModel(repo_->path(), "credit", 1);  // Writes credit/1/profile.json.
    auto config = LoadModelConfig(repo_->path() / "credit/model.yaml", "credit");
    ASSERT_TRUE(config.ok());
    config_ = new ModelConfig(*config);
    auto profile = ReadReferenceProfile(repo_->path() / "credit/1/profile.json");
    ASSERT_TRUE(profile.ok());
    profile_ = new ReferenceProfile(*profile);
    auto data = TabularDataset::ReadCsv(testing::CreditCsv());
    ASSERT_TRUE(data.ok());
    auto rows = FeatureMatrix(*data, *config_, "credit");
    ASSERT_TRUE(rows.ok());
    rows_ = new std::vector<float>(std::move(*rows));
  }
  static void TearDownTestSuite() {
    delete rows_;
    delete profile_;
    delete config_;
    delete repo_;
  }
  static size_t F() { return config_->features.size(); }
  static size_t N() { return rows_->size() / F(); }

  // Reports of consecutive 1,000-row windows over `order` (row indices),
  // each row passed through `change` first.
  template <typename Change>
  static std::vector<WindowReport> Windows(const std::vector<size_t>& order, Change change) {
    std::vector<WindowReport> out;
    DriftMonitor::Counts counts = DriftMonitor::EmptyCounts(*profile_);
    std::vector<float> row(F());
    for (size_t i = 0; i < order.size(); ++i) {
      std::copy(rows_->begin() + order[i] * F(), rows_->begin() + (order[i] + 1) * F(), row.begin());
      change(row.data(), i);
      DriftMonitor::Count(*profile_, row.data(), 1, F(), nullptr, &counts);
      if (counts.rows == 1000) {
        out.push_back(DriftMonitor::Report(*profile_, counts, DriftSettings{}));
        counts = DriftMonitor::EmptyCounts(*profile_);
      }
    }
    return out;
  }
  static std::vector<size_t> Shuffled(uint32_t seed) {
    std::vector<size_t> order(N());
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::mt19937 rng(seed);
    std::shuffle(order.begin(), order.end(), rng);
    return order;
  }

  static testing::TempDir* repo_;
  static ModelConfig* config_;
  static ReferenceProfile* profile_;
  static std::vector<float>* rows_;
};
testing::TempDir* DriftMonitorTest::repo_ = nullptr;
ModelConfig* DriftMonitorTest::config_ = nullptr;
ReferenceProfile* DriftMonitorTest::profile_ = nullptr;
std::vector<float>* DriftMonitorTest::rows_ = nullptr;

TEST_F(DriftMonitorTest, TheDataReplayedRaisesNoAlarmInMoreThanFivePercentOfWindows) {
  int windows = 0, alarms = 0;
  for (uint32_t seed = 1; seed <= 10; ++seed) {
    for (const WindowReport& w : Windows(Shuffled(seed), [](float*, size_t) {})) {
      ++windows;
      std::string drifted;
      for (const FeatureDrift& f : w.features) {
        if (f.drifted) drifted += f.name + " (" + f.test + " " + std::to_string(f.score) + ") ";
      }
      if (!drifted.empty()) {
        ++alarms;
        std::printf("window %d: %s\n", windows, drifted.c_str());
      }
    }
  }
  EXPECT_EQ(windows, 40);
  EXPECT_LE(alarms, windows / 20) << alarms << " of " << windows << " windows raised a drift alarm";
}

TEST_F(DriftMonitorTest, HalfAStandardDeviationShiftIsFlaggedWithinTwoWindows) {
  const size_t age = 3;
  ASSERT_EQ(config_->features[age].name, "Age");
  const float shift = 0.5f * static_cast<float>(std::sqrt(profile_->features[age].variance));
  const auto windows = Windows(Shuffled(99), [&](float* row, size_t) {
    if (!std::isnan(row[age])) row[age] += shift;
  });
  ASSERT_GE(windows.size(), 2u);
  EXPECT_TRUE(windows[0].features[age].drifted || windows[1].features[age].drifted)
      << "KS p " << windows[0].features[age].p_value << ", " << windows[1].features[age].p_value;
  EXPECT_GT(windows[0].features[age].psi, 0.1);
}

TEST_F(DriftMonitorTest, ATwentyPointSwingInACategoryShareIsFlaggedWithinTwoWindows) {
  const size_t home = 1;
  ASSERT_EQ(config_->features[home].name, "Home");
  const float owner = static_cast<float>(config_->features[home].CategoryCode("owner"));
  std::mt19937 rng(5);
  std::uniform_real_distribution<float> unit(0, 1);
  // One row in five that is not already an owner becomes one.
  const auto windows = Windows(Shuffled(7), [&](float* row, size_t) {
    if (row[home] != owner && unit(rng) < 0.2f) row[home] = owner;
  });
  ASSERT_GE(windows.size(), 2u);
  EXPECT_TRUE(windows[0].features[home].drifted || windows[1].features[home].drifted)
      << "chi-square p " << windows[0].features[home].p_value;
  EXPECT_EQ(windows[0].features[home].test, "chi_square");
}

TEST_F(DriftMonitorTest, ServerSideWindowsCloseByRowsAndByTimeAndExportMetrics) {
  MetricsRegistry registry;
  DriftMonitorOptions options;
  options.repository = repo_->path();
  options.window_rows = 1000;
  options.window_duration = std::chrono::minutes(10);
  DriftMonitor monitor(options, registry);
  std::vector<ClosedWindow> heard;
  monitor.SetWindowListener([&](const ClosedWindow& w) { heard.push_back(w); });
  const auto config = std::make_shared<const ModelConfig>(*config_);
  Tensor batch("input", DataType::kFp32, {1500, static_cast<int64_t>(F())});
  std::copy(rows_->begin(), rows_->begin() + 1500 * F(), batch.values<float>().begin());
  monitor.Observe(config, 1, 1'000'000, batch, std::vector<float>(1500, 0.3f));
  auto view = monitor.Snapshot("credit");
  ASSERT_EQ(view.size(), 1u);
  EXPECT_TRUE(view[0].has_profile);
  ASSERT_EQ(view[0].windows.size(), 1u);
  EXPECT_EQ(view[0].windows[0].rows, 1000);
  EXPECT_EQ(view[0].open_rows, 500);
  monitor.Tick(1'000'000 + 9 * 60 * 1000);  // Not yet ten minutes.
  EXPECT_EQ(monitor.Snapshot("credit")[0].windows.size(), 1u);
  monitor.Tick(1'000'000 + 10 * 60 * 1000);
  view = monitor.Snapshot("credit");
  ASSERT_EQ(view[0].windows.size(), 2u);
  EXPECT_EQ(view[0].windows[1].rows, 500);
  // The listener heard both windows, with what they were compared against.
  ASSERT_EQ(heard.size(), 2u);
  EXPECT_EQ(heard[0].version, 1);
  EXPECT_EQ(heard[0].config->name, "credit");
  EXPECT_EQ(heard[0].profile->features.size(), F());
  EXPECT_EQ(heard[1].report.rows, 500);
  const std::string metrics = registry.Render();
  EXPECT_NE(metrics.find("vigil_feature_drift{model=\"credit\",version=\"1\",feature=\"Age\",statistic=\"psi\"}"),
            std::string::npos);
  EXPECT_NE(metrics.find("vigil_monitor_windows_total{model=\"credit\",version=\"1\"} 2"), std::string::npos);
  // Every gauge holds the last window's value (they are looked up once per
  // version and set by position).
  auto sample = [&](const std::string& series) {
    const size_t at = metrics.find(series + " ");
    return at == std::string::npos ? NAN : std::stod(metrics.substr(at + series.size() + 1));
  };
  const WindowReport& last = heard[1].report;
  std::vector<FeatureDrift> columns = last.features;
  columns.push_back(last.prediction);
  for (const FeatureDrift& fd : columns) {
    const std::string labels = "{model=\"credit\",version=\"1\",feature=\"" + fd.name + "\"";
    auto statistic = [&](const char* name) {
      return sample("vigil_feature_drift" + labels + ",statistic=\"" + name + "\"}");
    };
    SCOPED_TRACE(fd.name);
    EXPECT_NEAR(statistic("psi"), fd.psi, 1e-9);
    EXPECT_NEAR(statistic("jensen_shannon"), fd.jensen_shannon, 1e-9);
    if (fd.categorical) {
      EXPECT_NEAR(statistic("chi_square"), fd.chi_square, 1e-6);
      EXPECT_NEAR(statistic("chi_square_p_value"), fd.chi_square_p_value, 1e-9);
    } else {
      EXPECT_NEAR(statistic("wasserstein"), fd.wasserstein, 1e-9);
      EXPECT_NEAR(statistic("ks"), fd.ks_statistic, 1e-9);
      EXPECT_NEAR(statistic("ks_p_value"), fd.ks_p_value, 1e-9);
    }
    if (fd.name == last.prediction.name) continue;
    EXPECT_EQ(sample("vigil_feature_drifted" + labels + "}"), fd.drifted ? 1 : 0);
    EXPECT_NEAR(sample("vigil_feature_missing_rate" + labels + "}"), fd.missing_rate, 1e-9);
    if (fd.categorical) {
      EXPECT_NEAR(sample("vigil_feature_unseen_category_rate" + labels + "}"), fd.unseen_rate, 1e-9);
    } else {
      EXPECT_NEAR(sample("vigil_feature_out_of_range_rate" + labels + "}"), fd.out_of_range_rate, 1e-9);
    }
  }
  EXPECT_NEAR(sample("vigil_dataset_drift_share{model=\"credit\",version=\"1\"}"), last.drift_share, 1e-9);

  // Data quality: unseen categories apart from missing values, and requests
  // refused for their inputs, as rates of the window.
  Tensor two("input", DataType::kFp32, {2, static_cast<int64_t>(F())});
  std::copy(rows_->begin(), rows_->begin() + 2 * F(), two.values<float>().begin());
  const size_t home = 1;
  two.values<float>()[home] = NAN;          // Row 0: an unseen category (the tap says so).
  two.values<float>()[F() + home] = NAN;    // Row 1: missing.
  for (int i = 0; i < 3; ++i) monitor.Observe(config, 1, 2'000'000, two, {0.1f, 0.2f}, {static_cast<int64_t>(home)});
  monitor.ObserveRejected(config, 1, 2'000'000);
  monitor.Tick(2'000'000 + 10 * 60 * 1000);
  const WindowReport quality = monitor.Snapshot("credit")[0].windows.back();
  EXPECT_EQ(quality.rows, 6);
  EXPECT_EQ(quality.requests, 3);
  EXPECT_EQ(quality.rejected, 1);
  EXPECT_DOUBLE_EQ(quality.schema_violation_rate, 0.25);
  EXPECT_DOUBLE_EQ(quality.features[home].unseen_rate, 0.5);
  EXPECT_DOUBLE_EQ(quality.features[home].missing_rate, 0.5);
  const std::string rendered = registry.Render();
  EXPECT_NE(rendered.find("vigil_feature_unseen_category_rate{model=\"credit\",version=\"1\",feature=\"Home\"} 0.5"),
            std::string::npos);
  EXPECT_NE(rendered.find("vigil_schema_violation_rate{model=\"credit\",version=\"1\"} 0.25"), std::string::npos);

  // A version without a profile is reported as such.
  monitor.Observe(config, 9, 0, batch, {});
  auto nine = monitor.Snapshot("credit");
  ASSERT_EQ(nine.size(), 2u);
  EXPECT_FALSE(nine[1].has_profile);
  EXPECT_NE(nine[1].profile_error.find("no reference profile"), std::string::npos);
}

}  // namespace
}  // namespace vigil

namespace vigil {
namespace {

// The log's writer counts a request's rows as a block, column by column; it
// must count exactly what counting them one at a time does, whatever the
// cells hold: missing values, values on an edge or outside the reference
// range, codes that are no category.
TEST_F(DriftMonitorTest, CountingABlockEqualsCountingRowByRow) {
  constexpr size_t kRows = 300;
  std::vector<float> block(rows_->begin(), rows_->begin() + kRows * F());
  std::vector<float> scores(kRows);
  for (size_t r = 0; r < kRows; ++r) {
    scores[r] = r % 7 == 0 ? NAN : static_cast<float>(r) / kRows;
    for (size_t j = 0; j < F(); ++j) {
      const ColumnProfile& col = profile_->features[j];
      float& cell = block[r * F() + j];
      switch ((r + j) % 6) {
        case 0: cell = NAN; break;
        case 1: cell = col.categorical ? 99.0f : static_cast<float>(col.edges.empty() ? 0.0 : col.edges.front()); break;
        case 2: cell = col.categorical ? -1.0f : static_cast<float>(col.min - 1); break;
        case 3: cell = col.categorical ? 1.5f : static_cast<float>(col.max + 1); break;
        default: break;  // The data's own value.
      }
    }
  }
  DriftMonitor::Counts by_row = DriftMonitor::EmptyCounts(*profile_), as_block = by_row, no_scores = by_row;
  for (size_t r = 0; r < kRows; ++r) {
    DriftMonitor::Count(*profile_, block.data() + r * F(), 1, F(), &scores[r], &by_row);
  }
  DriftMonitor::Count(*profile_, block.data(), kRows, F(), scores.data(), &as_block);
  EXPECT_EQ(as_block.rows, by_row.rows);
  EXPECT_EQ(as_block.bins, by_row.bins);
  EXPECT_EQ(as_block.missing, by_row.missing);
  EXPECT_EQ(as_block.out_of_range, by_row.out_of_range);
  // Every kind of cell above was counted somewhere.
  EXPECT_GT(by_row.missing[0], 0);
  EXPECT_GT(std::accumulate(by_row.out_of_range.begin(), by_row.out_of_range.end(), int64_t{0}), 0);
  // Without scores the prediction's cells are all missing.
  DriftMonitor::Count(*profile_, block.data(), kRows, F(), nullptr, &no_scores);
  EXPECT_EQ(no_scores.missing.back(), static_cast<int64_t>(kRows));
  EXPECT_EQ(no_scores.bins[0], by_row.bins[0]);
}

// The drift windows bin FP32 cells against float copies of the edges; the
// result must be the double edges' bin for every float, also for edges no
// float represents and for floats next to an edge.
TEST(ColumnProfileTest, BinningAFloatAgreesWithTheDoubleEdges) {
  const std::vector<std::vector<double>> cases = {
      {},
      {0.5},
      {0.1, 1.0 / 3, 2.0 / 3, 1e-8, 7.0},  // No float is exactly any of them.
      {-1e300, -2.5, 0, 3e38, 1e39, 1e300},  // Beyond the float range.
      {-std::numeric_limits<double>::infinity(), 1, std::numeric_limits<double>::infinity()},
  };
  std::vector<double> many;
  for (int i = 0; i < 37; ++i) many.push_back(i * 0.3 - 4);
  std::vector<std::vector<double>> all = cases;
  all.push_back(many);
  for (std::vector<double> edges : all) {
    std::sort(edges.begin(), edges.end());
    ColumnProfile col;
    col.edges = edges;
    EXPECT_FALSE(!edges.empty() && col.float_edges_ready());
    col.PrepareFloatEdges();
    ASSERT_TRUE(col.float_edges_ready());
    std::vector<float> values = {0.0f, -0.0f, std::numeric_limits<float>::infinity(),
                                 -std::numeric_limits<float>::infinity(), std::numeric_limits<float>::max(),
                                 -std::numeric_limits<float>::max(), std::numeric_limits<float>::denorm_min()};
    for (const double e : edges) {
      const float f = static_cast<float>(e);
      for (float v : {f, std::nextafter(f, -INFINITY), std::nextafter(f, INFINITY)}) values.push_back(v);
    }
    for (float v = -6; v <= 12; v += 0.0625f) values.push_back(v);
    for (const float v : values) {
      const auto expected = static_cast<size_t>(
          std::count_if(edges.begin(), edges.end(), [&](double e) { return e < static_cast<double>(v); }));
      ASSERT_EQ(col.Bin(v), expected) << "value " << v;
      ASSERT_EQ(col.BinOfFloat(v), expected) << edges.size() << " edges, value " << v;
    }
  }
}

// Windows are counts: two halves merged by addition give the same report as
// the whole, and saved windows come back after a restart.
TEST_F(DriftMonitorTest, WindowsMergeByAdditionAndSurviveARestart) {
  const auto order = Shuffled(3);
  DriftMonitor::Counts first = DriftMonitor::EmptyCounts(*profile_), second = first, whole = first;
  const float score = 0.3f;
  for (size_t i = 0; i < 1000; ++i) {
    const float* row = rows_->data() + order[i] * F();
    DriftMonitor::Count(*profile_, row, 1, F(), &score, i < 500 ? &first : &second);
    DriftMonitor::Count(*profile_, row, 1, F(), &score, &whole);
  }
  DriftMonitor::Merge(second, &first);
  const WindowReport merged = DriftMonitor::Report(*profile_, first, DriftSettings{});
  const WindowReport direct = DriftMonitor::Report(*profile_, whole, DriftSettings{});
  for (size_t j = 0; j < F(); ++j) {
    EXPECT_EQ(merged.features[j].psi, direct.features[j].psi);
    EXPECT_EQ(merged.features[j].p_value, direct.features[j].p_value);
  }
  DriftMonitor::Counts odd = whole;
  odd.bins[0][0] += 0.1;  // Not a whole number: it must come back exactly too.
  odd.unseen[1] = 3;
  auto round_trip = DriftMonitor::CountsFromJson(DriftMonitor::CountsToJson(odd), *profile_);
  ASSERT_TRUE(round_trip.ok()) << round_trip.status().ToString();
  EXPECT_EQ(round_trip->bins, odd.bins);
  EXPECT_EQ(round_trip->rows, odd.rows);
  EXPECT_EQ(round_trip->requests, odd.requests);
  EXPECT_EQ(round_trip->missing, odd.missing);
  EXPECT_EQ(round_trip->out_of_range, odd.out_of_range);
  EXPECT_EQ(round_trip->unseen, odd.unseen);
  EXPECT_FALSE(DriftMonitor::CountsFromJson(R"({"rows": 1})", *profile_).ok());

  auto store = SqliteStore::Open(repo_->path() / "windows.db");
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  DriftMonitorOptions options;
  options.repository = repo_->path();
  options.store = store->get();
  options.source = "127.0.0.1:8080";
  const auto config = std::make_shared<const ModelConfig>(*config_);
  Tensor batch("input", DataType::kFp32, {1500, static_cast<int64_t>(F())});
  std::copy(rows_->begin(), rows_->begin() + 1500 * F(), batch.values<float>().begin());
  WindowReport before;
  {
    MetricsRegistry registry;
    DriftMonitor monitor(options, registry);
    monitor.Observe(config, 1, 5'000'000, batch, std::vector<float>(1500, 0.3f));
    before = monitor.Snapshot("credit")[0].windows.at(0);
  }
  MetricsRegistry registry;
  DriftMonitor restarted(options, registry);
  EXPECT_TRUE(restarted.Snapshot("credit").empty());
  restarted.Track(config, 1);
  const auto view = restarted.Snapshot("credit");
  ASSERT_EQ(view.size(), 1u);
  ASSERT_EQ(view[0].windows.size(), 1u) << "the closed window, not the open one";
  const WindowReport& after = view[0].windows[0];
  EXPECT_EQ(after.rows, 1000);
  EXPECT_EQ(after.start_ms, before.start_ms);
  EXPECT_EQ(after.end_ms, before.end_ms);
  for (size_t j = 0; j < F(); ++j) EXPECT_EQ(after.features[j].psi, before.features[j].psi);
}

// model.yaml's `monitoring:` sets the model's window size and tests.
TEST_F(DriftMonitorTest, VersionsThatStopServingLeaveMemoryAndMetricsButNotTheStore) {
  auto store = SqliteStore::Open(repo_->path() / "retain.db");
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  MetricsRegistry registry;
  DriftMonitorOptions options;
  options.repository = repo_->path();
  options.store = store->get();
  DriftMonitor monitor(options, registry);
  const auto config = std::make_shared<const ModelConfig>(*config_);
  Tensor batch("input", DataType::kFp32, {1500, static_cast<int64_t>(F())});
  std::copy(rows_->begin(), rows_->begin() + 1500 * F(), batch.values<float>().begin());
  monitor.Observe(config, 1, 1'000'000, batch, std::vector<float>(1500, 0.3f));  // One window and 500 open.
  EXPECT_NE(registry.Render().find("version=\"1\""), std::string::npos);
  monitor.Retain({{"credit", 1}}, 2'000'000);  // Still serving: kept.
  ASSERT_EQ(monitor.Snapshot("credit").size(), 1u);
  monitor.Retain({}, 2'000'000);
  EXPECT_TRUE(monitor.Snapshot("credit").empty());
  EXPECT_EQ(registry.Render().find("version=\"1\""), std::string::npos) << "series of a retired version";
  // Its open window was closed and saved with the first: both come back.
  monitor.Track(config, 1);
  const auto view = monitor.Snapshot("credit");
  ASSERT_EQ(view.size(), 1u);
  ASSERT_EQ(view[0].windows.size(), 2u);
  EXPECT_EQ(view[0].windows[0].rows + view[0].windows[1].rows, 1500);
}

TEST_F(DriftMonitorTest, TheModelsMonitoringSettingsChooseWindowsAndTests) {
  MetricsRegistry registry;
  DriftMonitorOptions options;
  options.repository = repo_->path();
  DriftMonitor monitor(options, registry);
  ModelConfig custom = *config_;
  custom.monitoring.window_rows = 250;
  custom.monitoring.drift.features["Age"] = {"psi", 0.2};
  custom.monitoring.drift.test_rows = 100;  // Beyond 100 rows, distances decide.
  const auto config = std::make_shared<const ModelConfig>(custom);
  const size_t age = 3;
  Tensor batch("input", DataType::kFp32, {1000, static_cast<int64_t>(F())});
  std::copy(rows_->begin(), rows_->begin() + 1000 * F(), batch.values<float>().begin());
  const float sd = static_cast<float>(std::sqrt(profile_->features[age].variance));
  for (int64_t r = 0; r < 1000; ++r) batch.values<float>()[r * F() + age] += sd;
  monitor.Observe(config, 1, 0, batch, std::vector<float>(1000, 0.5f));
  const auto windows = monitor.Snapshot("credit")[0].windows;
  ASSERT_EQ(windows.size(), 4u) << "250-row windows";
  const FeatureDrift& a = windows[0].features[age];
  EXPECT_EQ(a.test, "psi");
  EXPECT_EQ(a.score, a.psi);
  EXPECT_TRUE(a.drifted) << a.psi;
  EXPECT_EQ(a.psi_level, "alarm");
  EXPECT_EQ(windows[0].features[0].test, "wasserstein") << "250 rows is beyond test_rows";
  EXPECT_EQ(windows[0].features[1].test, "jensen_shannon");
}

// Learned thresholds (learned_threshold.h) on the credit data. PSI is
// skewed (chi-square-like), so mean + 3 sd leaves about 1% of reference
// chunks above it per feature, and with 13 features some window often has
// one: the test prints that rate. A quantile is the threshold for a
// family of features: at q = 1 - 0.05 / 13 (Bonferroni) any of the 13
// crosses in at most 5% of replayed windows, and half a standard deviation
// of Age still crosses.
TEST_F(DriftMonitorTest, LearnedPsiThresholdsStayQuietOnReplayedDataAndFlagAShift) {
  const auto start = std::chrono::steady_clock::now();
  const auto chunks = ReferenceChunkReports(*profile_, 1000, 1000, DriftSettings{}, 1);
  const double elapsed_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  auto thresholds = [&](const AlertThreshold& t) {
    std::vector<double> out;
    for (size_t j = 0; j < F(); ++j) {
      std::vector<double> psi;
      for (const WindowReport& r : chunks) psi.push_back(*WindowMetricValue(r, "psi", static_cast<int>(j)));
      out.push_back(ThresholdFromSample(t, psi, true));
    }
    return out;
  };
  const auto quantile = thresholds({.kind = AlertThreshold::Kind::kQuantile, .quantile = 1 - 0.05 / 13});
  const auto mean_std = thresholds({.kind = AlertThreshold::Kind::kMeanStd, .k = 3});
  int windows = 0, quantile_alarms = 0, mean_std_alarms = 0;
  for (uint32_t seed = 1; seed <= 10; ++seed) {
    for (const WindowReport& w : Windows(Shuffled(seed), [](float*, size_t) {})) {
      ++windows;
      bool q = false, m = false;
      for (size_t j = 0; j < F(); ++j) {
        q = q || w.features[j].psi > quantile[j];
        m = m || w.features[j].psi > mean_std[j];
      }
      quantile_alarms += q ? 1 : 0;
      mean_std_alarms += m ? 1 : 0;
    }
  }
  std::printf("1,000 reference chunks of 1,000 rows in %.0f ms; windows with any of %zu features over its learned PSI "
              "threshold: quantile %.4f: %d of %d, mean + 3 sd: %d of %d\n",
              elapsed_ms, F(), 1 - 0.05 / 13, quantile_alarms, windows, mean_std_alarms, windows);
  EXPECT_LE(quantile_alarms, windows / 20);

  const size_t age = 3;
  const float shift = 0.5f * static_cast<float>(std::sqrt(profile_->features[age].variance));
  const auto shifted = Windows(Shuffled(99), [&](float* row, size_t) {
    if (!std::isnan(row[age])) row[age] += shift;
  });
  EXPECT_GT(shifted[0].features[age].psi, quantile[age]);
}

}  // namespace
}  // namespace vigil
