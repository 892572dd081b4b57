#include "backends/trees/trees_backend.h"

#include <gtest/gtest.h>
#include <xgboost/c_api.h>

#include <cmath>

#include "testing/test_repository.h"

namespace vigil {
namespace {

namespace fs = std::filesystem;

class EngineSelectionTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    repo_ = new testing::TempDir();
    testing::TrainCreditModel(repo_->path(), "credit", 1);
    auto config = LoadModelConfig(repo_->path() / "credit/model.yaml", "credit");
    ASSERT_TRUE(config.ok());
    config_ = new ModelConfig(*config);
    // A dart model over the same 13 features, which the native engine refuses.
    TrainSynthetic({{"booster", "dart"}, {"objective", "binary:logistic"}}, 3,
                   [](const float* row) { return row[0] > 5.0f ? 1.0f : 0.0f; }, "dart");
  }
  // Trains a model with the XGBoost C API on 500 synthetic rows of 13
  // numeric features, labelled by `label`, into repo/<dir>/model.json.
  static void TrainSynthetic(const std::vector<std::pair<std::string, std::string>>& params, int rounds,
                             float (*label)(const float*), const std::string& dir) {
    std::vector<float> x(500 * 13), y(500);
    for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>((i * 7919) % 101) / 10.0f;
    for (size_t r = 0; r < y.size(); ++r) y[r] = label(&x[r * 13]);
    DMatrixHandle d;
    ASSERT_EQ(XGDMatrixCreateFromMat(x.data(), 500, 13, NAN, &d), 0);
    ASSERT_EQ(XGDMatrixSetFloatInfo(d, "label", y.data(), y.size()), 0);
    BoosterHandle h;
    ASSERT_EQ(XGBoosterCreate(&d, 1, &h), 0);
    for (const auto& [k, v] : params) ASSERT_EQ(XGBoosterSetParam(h, k.c_str(), v.c_str()), 0);
    for (int i = 0; i < rounds; ++i) ASSERT_EQ(XGBoosterUpdateOneIter(h, i, d), 0);
    fs::create_directories(repo_->path() / dir);
    ASSERT_EQ(XGBoosterSaveModel(h, (repo_->path() / dir / "model.json").c_str()), 0);
    XGBoosterFree(h);
    XGDMatrixFree(d);
  }
  // Two credit applications as the model sees them, the second with missing values.
  static Tensor TwoCreditRows() {
    Tensor rows("input", DataType::kFp32, {2, 13});
    const float data[26] = {9, 5, 60, 30, 1, 0, 1, 73, 129, 0, 0, 800, 846,
                            0, NAN, 48, 37, 3, 0, NAN, 35, NAN, NAN, NAN, 1500, 1850};
    std::copy(data, data + 26, rows.values<float>().begin());
    return rows;
  }
  static void TearDownTestSuite() {
    delete config_;
    delete repo_;
  }
  static Result<std::unique_ptr<Backend>> Create(const std::string& engine, const std::string& dir) {
    ModelConfig config = *config_;
    config.artifact = "";
    if (!engine.empty()) config.parameters["engine"] = engine;
    return BackendRegistry::WithBuiltins().Create(config, repo_->path() / dir);
  }
  static testing::TempDir* repo_;
  static ModelConfig* config_;
};
testing::TempDir* EngineSelectionTest::repo_ = nullptr;
ModelConfig* EngineSelectionTest::config_ = nullptr;

TEST_F(EngineSelectionTest, XGBoostModelsRunNativeByDefault) {
  auto backend = Create("", "credit/1");
  ASSERT_TRUE(backend.ok()) << backend.status().ToString();
  EXPECT_EQ((*backend)->Describe().rfind("native trees", 0), 0u) << (*backend)->Describe();
  auto forced = Create("xgboost", "credit/1");
  ASSERT_TRUE(forced.ok());
  EXPECT_EQ((*forced)->Describe().rfind("xgboost", 0), 0u) << (*forced)->Describe();
  EXPECT_EQ(Create("fastest", "credit/1").status().message(),
            "parameters.engine: expected auto, native or xgboost, got 'fastest'");
}

TEST_F(EngineSelectionTest, QuantisedEngineAnswersTheSame) {
  auto plain = Create("native", "credit/1");
  ModelConfig config = *config_;
  config.artifact = "";
  config.parameters["quantize"] = "true";
  auto quantized = BackendRegistry::WithBuiltins().Create(config, repo_->path() / "credit/1");
  ASSERT_TRUE(plain.ok() && quantized.ok()) << quantized.status().ToString();
  EXPECT_EQ((*quantized)->Describe().rfind("native trees (quantised)", 0), 0u);
  const Tensor rows = TwoCreditRows();
  std::vector<const OutputSpec*> outputs = {&config_->outputs[2]};
  std::vector<Tensor> a, b;
  ASSERT_TRUE((*plain)->Infer({rows}, outputs, &a).ok());
  ASSERT_TRUE((*quantized)->Infer({rows}, outputs, &b).ok());
  EXPECT_EQ(a[0].values<float>()[0], b[0].values<float>()[0]);
  EXPECT_EQ(a[0].values<float>()[1], b[0].values<float>()[1]);
}

TEST_F(EngineSelectionTest, UnsupportedModelsFallBackToXGBoostUnlessNativeIsRequired) {
  auto fallback = Create("", "dart");
  ASSERT_TRUE(fallback.ok()) << fallback.status().ToString();
  EXPECT_EQ((*fallback)->Describe().rfind("xgboost", 0), 0u);
  auto native = Create("native", "dart");
  ASSERT_FALSE(native.ok());
  EXPECT_NE(native.status().message().find("booster 'dart' is not supported by the native engine"),
            std::string::npos)
      << native.status().message();
}

TEST_F(EngineSelectionTest, BothEnginesAnswerTheSame) {
  auto native = Create("native", "credit/1");
  auto reference = Create("xgboost", "credit/1");
  ASSERT_TRUE(native.ok() && reference.ok());
  const Tensor rows = TwoCreditRows();
  std::vector<const OutputSpec*> outputs;
  for (const OutputSpec& o : config_->outputs) outputs.push_back(&o);
  std::vector<Tensor> a, b;
  ASSERT_TRUE((*native)->Infer({rows}, outputs, &a).ok());
  ASSERT_TRUE((*reference)->Infer({rows}, outputs, &b).ok());
  for (int i = 0; i < 2; ++i) {
    EXPECT_NEAR(a[0].values<float>()[i], b[0].values<float>()[i], 1e-6);  // probability
    EXPECT_EQ(a[1].strings()[i], b[1].strings()[i]);                      // label
    EXPECT_NEAR(a[2].values<float>()[i], b[2].values<float>()[i], 1e-5);  // margin
  }
}

TEST_F(EngineSelectionTest, BothEnginesExplainTheSame) {
  auto native = Create("native", "credit/1");
  auto reference = Create("xgboost", "credit/1");
  ASSERT_TRUE(native.ok() && reference.ok());
  const Tensor rows = TwoCreditRows();
  Tensor c1, b1, c2, b2;
  ASSERT_TRUE((*native)->Explain({rows}, &c1, &b1).ok());
  ASSERT_TRUE((*reference)->Explain({rows}, &c2, &b2).ok());
  ASSERT_EQ(c1.shape(), (std::vector<int64_t>{2, 13}));
  ASSERT_EQ(c2.shape(), c1.shape());
  for (int i = 0; i < 26; ++i) EXPECT_NEAR(c1.values<float>()[i], c2.values<float>()[i], 1e-4) << i;
  for (int r = 0; r < 2; ++r) EXPECT_NEAR(b1.values<float>()[r], b2.values<float>()[r], 1e-4);
}

TEST_F(EngineSelectionTest, RegressorsServeTheirPredictionOnBothEngines) {
  // A count:poisson model over 13 numeric features: `prediction` is exp(margin).
  TrainSynthetic({{"objective", "count:poisson"}}, 10, [](const float* row) { return std::floor(row[0] / 2.0f); },
                 "poisson");
  ModelConfig config = *config_;
  config.artifact = "";
  config.classes.clear();
  config.outputs = {{"count", OutputKind::kPrediction, {"count", DataType::kFp32, {-1}}},
                    {"margin", OutputKind::kMargin, {"margin", DataType::kFp32, {-1}}}};
  for (FeatureSpec& f : config.features) f.kind = FeatureKind::kNumeric;
  auto registry = BackendRegistry::WithBuiltins();
  auto native = registry.Create(config, repo_->path() / "poisson");
  config.parameters["engine"] = "xgboost";
  auto reference = registry.Create(config, repo_->path() / "poisson");
  ASSERT_TRUE(native.ok()) << native.status().ToString();
  ASSERT_TRUE(reference.ok()) << reference.status().ToString();
  EXPECT_EQ((*native)->Describe().rfind("native trees", 0), 0u);
  Tensor rows("input", DataType::kFp32, {3, 13});
  for (int i = 0; i < 39; ++i) rows.values<float>()[i] = static_cast<float>(i % 11);
  std::vector<const OutputSpec*> outputs = {&config.outputs[0], &config.outputs[1]};
  std::vector<Tensor> a, b;
  ASSERT_TRUE((*native)->Infer({rows}, outputs, &a).ok());
  ASSERT_TRUE((*reference)->Infer({rows}, outputs, &b).ok());
  for (int r = 0; r < 3; ++r) {
    EXPECT_NEAR(a[0].values<float>()[r], b[0].values<float>()[r], 1e-5 * std::max(1.0f, b[0].values<float>()[r]));
    EXPECT_NEAR(a[0].values<float>()[r], std::exp(a[1].values<float>()[r]), 1e-4);
  }
  // A probability output makes no sense for a regressor and is refused.
  config.outputs.push_back({"p", OutputKind::kProbability, {"p", DataType::kFp32, {-1}}});
  config.parameters["engine"] = "native";
  EXPECT_NE(registry.Create(config, repo_->path() / "poisson").status().message().find(
                "needs a binary classifier, but the objective is count:poisson"),
            std::string::npos);
}

TEST_F(EngineSelectionTest, LargeBatchesGiveTheSameAnswerOnSeveralThreads) {
  auto native = Create("native", "credit/1");
  ASSERT_TRUE(native.ok());
  const int64_t rows = TreesBackend::kParallelRows * 2 + 17;
  Tensor batch("input", DataType::kFp32, {rows, 13});
  for (int64_t i = 0; i < rows * 13; ++i) batch.values<float>()[i] = static_cast<float>((i * 2654435761u) % 997) / 10.0f;
  std::vector<const OutputSpec*> margin = {&config_->outputs[2]};
  std::vector<Tensor> out;
  ASSERT_TRUE((*native)->Infer({batch}, margin, &out).ok());
  const auto& forest = static_cast<const TreesBackend&>(**native).forest();
  float expected;
  for (int64_t r = 0; r < rows; r += 101) {
    forest.PredictRowMargins(batch.values<float>().data() + r * 13, &expected);
    ASSERT_EQ(out[0].values<float>()[r], expected) << "row " << r;
  }
}

TEST_F(EngineSelectionTest, MultiClassModelsServeClassProbabilitiesOnBothEngines) {
  // Three classes over 13 numeric features, for each multi-class objective.
  for (const char* objective : {"multi:softprob", "multi:softmax"}) {
    SCOPED_TRACE(objective);
    const std::string dir = std::string(objective) == "multi:softprob" ? "softprob" : "softmax";
    TrainSynthetic({{"objective", objective}, {"num_class", "3"}}, 8,
                   [](const float* row) { return row[0] < 3.0f ? 0.0f : row[1] < 5.0f ? 1.0f : 2.0f; }, dir);
    ModelConfig config = *config_;
    config.artifact = "";
    config.classes = {"low", "mid", "high"};
    config.outputs = {{"probability", OutputKind::kProbability, {"probability", DataType::kFp32, {-1, 3}}},
                      {"label", OutputKind::kLabel, {"label", DataType::kBytes, {-1}}},
                      {"margin", OutputKind::kMargin, {"margin", DataType::kFp32, {-1, 3}}}};
    for (FeatureSpec& f : config.features) f.kind = FeatureKind::kNumeric;
    auto registry = BackendRegistry::WithBuiltins();
    auto native = registry.Create(config, repo_->path() / dir);
    config.parameters["engine"] = "xgboost";
    auto reference = registry.Create(config, repo_->path() / dir);
    ASSERT_TRUE(native.ok()) << native.status().ToString();
    ASSERT_TRUE(reference.ok()) << reference.status().ToString();
    EXPECT_EQ((*native)->Describe().rfind("native trees", 0), 0u);

    const int64_t n = 40;
    Tensor rows("input", DataType::kFp32, {n, 13});
    for (int64_t i = 0; i < n * 13; ++i) {
      rows.values<float>()[i] = i % 17 == 0 ? NAN : static_cast<float>((i * 37) % 101) / 10.0f;
    }
    std::vector<const OutputSpec*> outputs = {&config.outputs[0], &config.outputs[1], &config.outputs[2]};
    std::vector<Tensor> a, b;
    ASSERT_TRUE((*native)->Infer({rows}, outputs, &a).ok());
    ASSERT_TRUE((*reference)->Infer({rows}, outputs, &b).ok());
    ASSERT_EQ(a[0].shape(), (std::vector<int64_t>{n, 3}));
    ASSERT_EQ(a[2].shape(), (std::vector<int64_t>{n, 3}));
    ASSERT_EQ(a[1].shape(), (std::vector<int64_t>{n}));

    // XGBoost's own class probabilities (multi:softprob's output), the
    // reference for both engines.
    BoosterHandle h;
    ASSERT_EQ(XGBoosterCreate(nullptr, 0, &h), 0);
    ASSERT_EQ(XGBoosterLoadModel(h, (repo_->path() / dir / "model.json").c_str()), 0);
    ASSERT_EQ(XGBoosterSetParam(h, "objective", "multi:softprob"), 0);
    DMatrixHandle d;
    ASSERT_EQ(XGDMatrixCreateFromMat(rows.values<float>().data(), n, 13, NAN, &d), 0);
    const bst_ulong* shape;
    bst_ulong dim;
    const float* probabilities;
    ASSERT_EQ(XGBoosterPredictFromDMatrix(h, d, R"({"type": 0, "training": false, "iteration_begin": 0,
        "iteration_end": 0, "strict_shape": true})", &shape, &dim, &probabilities), 0) << XGBGetLastError();
    ASSERT_EQ(dim, 2u);
    for (int64_t r = 0; r < n; ++r) {
      int best = 0;
      for (int k = 0; k < 3; ++k) {
        const float p = probabilities[r * 3 + k];
        EXPECT_NEAR(a[0].values<float>()[r * 3 + k], p, 1e-6) << "row " << r;
        EXPECT_NEAR(b[0].values<float>()[r * 3 + k], p, 1e-6) << "row " << r;
        EXPECT_NEAR(a[2].values<float>()[r * 3 + k], b[2].values<float>()[r * 3 + k], 1e-5);
        if (p > probabilities[r * 3 + best]) best = k;
      }
      EXPECT_EQ(a[1].strings()[r], config.classes[best]) << "row " << r;
      EXPECT_EQ(b[1].strings()[r], config.classes[best]) << "row " << r;
    }
    XGDMatrixFree(d);
    XGBoosterFree(h);

    // Explanations: per class, contributions [N, K, F] and bias [N, K].
    Tensor c1, b1, c2, b2;
    ASSERT_TRUE((*native)->Explain({rows}, &c1, &b1).ok());
    ASSERT_TRUE((*reference)->Explain({rows}, &c2, &b2).ok());
    ASSERT_EQ(c1.shape(), (std::vector<int64_t>{n, 3, 13}));
    ASSERT_EQ(c2.shape(), c1.shape());
    ASSERT_EQ(b1.shape(), (std::vector<int64_t>{n, 3}));
    for (int64_t i = 0; i < n * 3 * 13; ++i) EXPECT_NEAR(c1.values<float>()[i], c2.values<float>()[i], 1e-4) << i;
    for (int64_t i = 0; i < n * 3; ++i) EXPECT_NEAR(b1.values<float>()[i], b2.values<float>()[i], 1e-4) << i;

    // The classes must be the model's.
    config.classes = {"low", "high"};
    config.outputs.pop_back();
    config.outputs.erase(config.outputs.begin());
    for (const char* engine : {"native", "xgboost"}) {
      config.parameters["engine"] = engine;
      EXPECT_EQ(registry.Create(config, repo_->path() / dir).status().message(),
                std::string("the model scores 3 classes (objective ") + objective +
                    ") but model.yaml lists 2 in 'classes'");
    }
  }
}

}  // namespace
}  // namespace vigil
