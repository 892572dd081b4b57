#include "lifecycle/model_optimizer.h"

#include <gtest/gtest.h>
#include <xgboost/c_api.h>

#include <cmath>
#include <nlohmann/json.hpp>

#include "backends/trees/xgboost_model_reader.h"
#include "testing/test_repository.h"

namespace vigil {
namespace {

namespace fs = std::filesystem;

class ModelOptimizerTest : public ::testing::Test {
 protected:
  void SetUp() override { testing::TrainCreditModel(repo_.path(), "credit", 1, 42, 150); }
  OptimizeOptions Options() {
    OptimizeOptions o;
    o.repository = repo_.path();
    o.model_name = "credit";
    o.holdout = testing::CreditCsv();
    return o;
  }
  testing::TempDir repo_;
};

TEST_F(ModelOptimizerTest, DropsTreesWithinTheToleranceAndWritesALoadableVersion) {
  OptimizeOptions o = Options();
  o.drop_tolerance = 0.005;
  auto report = OptimizeModel(o, [](const std::string&) {});
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_EQ(report->metric, "auc");
  EXPECT_EQ(report->version, 2);
  EXPECT_LT(report->after.trees, report->before.trees);
  EXPECT_LT(report->after.nodes, report->before.nodes);
  EXPECT_LT(report->after.file_bytes, report->before.file_bytes);
  EXPECT_LE(report->before.quality - report->after.quality, 0.005 + 1e-9);
  EXPECT_GT(report->after.quality, 0.8);
  ASSERT_TRUE(fs::exists(repo_.path() / "credit/2/optimize_report.json"));
  auto saved = nlohmann::json::parse(testing::ReadFile(repo_.path() / "credit/2/optimize_report.json"));
  EXPECT_EQ(saved["after"]["trees"], report->after.trees);
  // The quantised forest is measured too, and its slots are half as wide.
  EXPECT_GT(report->after.quantized_microseconds_per_row, 0);
  EXPECT_GT(report->after.memory_bytes, 0u);
  EXPECT_LT(report->after.quantized_memory_bytes, report->after.memory_bytes);
  EXPECT_EQ(saved["after"]["quantized"]["memory_bytes"], report->after.quantized_memory_bytes);

  // XGBoost itself loads the pruned model and agrees with the native engine.
  BoosterHandle h;
  ASSERT_EQ(XGBoosterCreate(nullptr, 0, &h), 0);
  ASSERT_EQ(XGBoosterLoadModel(h, (repo_.path() / "credit/2/model.json").c_str()), 0) << XGBGetLastError();
  const float row[13] = {9, 5, 60, 30, 1, 0, 1, 73, 129, 0, 0, 800, NAN};
  DMatrixHandle d;
  ASSERT_EQ(XGDMatrixCreateFromMat(row, 1, 13, NAN, &d), 0);
  const bst_ulong* shape;
  bst_ulong dim;
  const float* out;
  ASSERT_EQ(XGBoosterPredictFromDMatrix(
                h, d, R"({"type": 1, "training": false, "iteration_begin": 0, "iteration_end": 0, "strict_shape": false})",
                &shape, &dim, &out), 0);
  auto native = ReadXGBoostModel(repo_.path() / "credit/2/model.json");
  ASSERT_TRUE(native.ok());
  float margin;
  native->forest.PredictRowMargins(row, &margin);
  EXPECT_NEAR(margin, out[0], 1e-5);
  EXPECT_EQ(native->forest.num_trees(), report->after.trees);
  XGDMatrixFree(d);
  XGBoosterFree(h);
}

TEST_F(ModelOptimizerTest, CutsToTheBestIteration) {
  BoosterHandle h;
  ASSERT_EQ(XGBoosterCreate(nullptr, 0, &h), 0);
  ASSERT_EQ(XGBoosterLoadModel(h, (repo_.path() / "credit/1/model.json").c_str()), 0);
  ASSERT_EQ(XGBoosterSetAttr(h, "best_iteration", "19"), 0);
  fs::create_directories(repo_.path() / "credit/3");
  ASSERT_EQ(XGBoosterSaveModel(h, (repo_.path() / "credit/3/model.json").c_str()), 0);
  XGBoosterFree(h);
  OptimizeOptions o = Options();
  o.version = 3;
  o.output_version = 7;
  auto report = OptimizeModel(o, [](const std::string&) {});
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_EQ(report->after.trees, 20);
  auto written = ReadXGBoostModel(repo_.path() / "credit/7/model.json");
  ASSERT_TRUE(written.ok());
  EXPECT_FALSE(written->best_iteration.has_value());
}

TEST_F(ModelOptimizerTest, RefusesAHoldoutWithoutTheFeatures) {
  testing::WriteFile(repo_.path() / "bad.csv", "Status,Age\ngood,30\nbad,40\n");
  OptimizeOptions o = Options();
  o.holdout = repo_.path() / "bad.csv";
  auto report = OptimizeModel(o, [](const std::string&) {});
  ASSERT_FALSE(report.ok());
  EXPECT_EQ(report.status().message(), "--holdout: no column for feature 'Seniority'");
}

}  // namespace
}  // namespace vigil
