#include "backends/xgboost/xgboost_backend.h"

#include <gtest/gtest.h>
#include <xgboost/c_api.h>

#include <cmath>
#include <limits>
#include <thread>
#include <atomic>

#include "testing/test_repository.h"

namespace vigil {
namespace {

namespace fs = std::filesystem;

class XGBoostBackendTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    repo_ = new testing::TempDir();
    testing::TrainCreditModel(repo_->path(), "credit", 1);
    auto config = LoadModelConfig(repo_->path() / "credit/model.yaml", "credit");
    ASSERT_TRUE(config.ok());
    config_ = new ModelConfig(*config);
  }
  static void TearDownTestSuite() {
    delete config_;
    delete repo_;
  }

  static Tensor Rows() {
    Tensor t("input", DataType::kFp32, {3, 13});
    const float nan = std::numeric_limits<float>::quiet_NaN();
    const float rows[3][13] = {{9, 5, 60, 30, 1, 0, 1, 73, 129, 0, 0, 800, 846},
                               {0, nan, 48, 37, 3, 0, nan, 35, nan, nan, nan, 1500, 1850},
                               {1e9f, 99, -5, 200, 7, 3, 9, 0, 0, 0, 0, 0, 0}};  // Out of range.
    std::copy(&rows[0][0], &rows[0][0] + 39, t.values<float>().begin());
    return t;
  }

  static std::vector<float> Predict(const Backend& backend, OutputKind kind) {
    const OutputSpec* spec = nullptr;
    for (const OutputSpec& o : config_->outputs) {
      if (o.kind == kind) spec = &o;
    }
    std::vector<Tensor> out;
    Status s = backend.Infer({Rows()}, {spec}, &out);
    EXPECT_TRUE(s.ok()) << s.ToString();
    auto v = out[0].values<float>();
    return {v.begin(), v.end()};
  }

  static testing::TempDir* repo_;
  static ModelConfig* config_;
};
testing::TempDir* XGBoostBackendTest::repo_ = nullptr;
ModelConfig* XGBoostBackendTest::config_ = nullptr;

TEST_F(XGBoostBackendTest, UbjAndJsonArtifactsPredictTheSame) {
  auto json_backend = XGBoostBackend::Create(*config_, *ReadArtifact(repo_->path() / "credit/1/model.json", std::nullopt));
  ASSERT_TRUE(json_backend.ok()) << json_backend.status().ToString();
  BoosterHandle h;
  ASSERT_EQ(XGBoosterCreate(nullptr, 0, &h), 0);
  ASSERT_EQ(XGBoosterLoadModel(h, (repo_->path() / "credit/1/model.json").c_str()), 0);
  fs::create_directories(repo_->path() / "ubj");
  ASSERT_EQ(XGBoosterSaveModel(h, (repo_->path() / "ubj/model.ubj").c_str()), 0);
  XGBoosterFree(h);
  // Found by its default name through the registry.
  ModelConfig config = *config_;
  config.artifact = "";
  auto ubj_backend = BackendRegistry::WithBuiltins().Create(config, repo_->path() / "ubj");
  ASSERT_TRUE(ubj_backend.ok()) << ubj_backend.status().ToString();
  EXPECT_EQ(Predict(**json_backend, OutputKind::kProbability), Predict(**ubj_backend, OutputKind::kProbability));
  const auto p = Predict(**json_backend, OutputKind::kProbability);
  const auto m = Predict(**json_backend, OutputKind::kMargin);
  for (size_t i = 0; i < p.size(); ++i) {
    EXPECT_NEAR(p[i], 1.0 / (1.0 + std::exp(-m[i])), 1e-6) << "probability is the logistic of the margin";
    EXPECT_TRUE(std::isfinite(p[i]));
  }
}

TEST_F(XGBoostBackendTest, RefusesBrokenAndMismatchedArtifacts) {
  testing::WriteFile(repo_->path() / "bad/model.json", "{\"learner\": 1");
  auto bad = XGBoostBackend::Create(*config_, *ReadArtifact(repo_->path() / "bad/model.json", std::nullopt));
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(bad.status().message().find("Stack trace"), std::string::npos) << "native traces are trimmed";

  ModelConfig fewer = *config_;
  fewer.features.pop_back();
  auto mismatch = XGBoostBackend::Create(fewer, *ReadArtifact(repo_->path() / "credit/1/model.json", std::nullopt));
  ASSERT_FALSE(mismatch.ok());
  EXPECT_EQ(mismatch.status().message(), "model.yaml lists 12 features but model.json was trained on 13");

  ModelConfig config = *config_;
  config.artifact = "";
  auto missing = BackendRegistry::WithBuiltins().Create(config, repo_->path() / "nothing");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_NE(missing.status().message().find("looked for model.json or model.ubj"), std::string::npos);

  config.backend = "tensorflow";  // Never registered.
  EXPECT_EQ(BackendRegistry::WithBuiltins().Create(config, repo_->path()).status().code(),
            StatusCode::kUnavailable);
}

TEST_F(XGBoostBackendTest, ConcurrentCallsAgreeWithASingleCall) {
  auto backend = XGBoostBackend::Create(*config_, *ReadArtifact(repo_->path() / "credit/1/model.json", std::nullopt));
  ASSERT_TRUE(backend.ok());
  const auto expected = Predict(**backend, OutputKind::kProbability);
  std::vector<std::thread> threads;
  std::atomic<int> mismatches{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 200; ++i) {
        if (Predict(**backend, OutputKind::kProbability) != expected) ++mismatches;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(mismatches, 0);
}

}  // namespace
}  // namespace vigil
