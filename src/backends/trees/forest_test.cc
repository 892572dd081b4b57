// The native engine against XGBoost itself: models of every supported
// objective are trained here with the XGBoost C API, read by the engine from
// JSON and UBJ, and both predict 100,000 random rows that include missing
// values, values outside the training range and invalid categories.
#include "backends/trees/forest.h"

#include <gtest/gtest.h>
#include <xgboost/c_api.h>

#include <cmath>
#include <limits>
#include <random>

#include "backends/trees/tree_shap.h"
#include "backends/trees/xgboost_model_reader.h"

namespace vigil {
namespace {

constexpr int kFeatures = 8;        // 6 numeric, then 2 categorical.
constexpr int kCategories = 6;
constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

struct Case {
  const char* objective;
  int num_class = 0;
  int max_cat_to_onehot = 1;  // 1: partition-based categorical splits.
  int parallel_trees = 1;
};

std::string CaseName(const ::testing::TestParamInfo<Case>& info) {
  std::string name = info.param.objective;
  for (char& c : name) {
    if (c == ':') c = '_';
  }
  if (info.param.max_cat_to_onehot > 1) name += "_onehot";
  if (info.param.parallel_trees > 1) name += "_forest";
  return name;
}

#define XGB(call) ASSERT_EQ((call), 0) << XGBGetLastError()

void CheckXGBoost(int rc) {
  if (rc != 0) {
    std::fprintf(stderr, "XGBoost: %s\n", XGBGetLastError());
    std::abort();
  }
}

// Training data: a signal from numeric and categorical features, 10% missing.
void MakeTrainingData(const Case& c, std::vector<float>* x, std::vector<float>* y, int rows) {
  std::mt19937 rng(7);
  std::normal_distribution<float> normal(0, 1);
  std::uniform_int_distribution<int> category(0, kCategories - 1);
  std::uniform_real_distribution<float> unit(0, 1);
  for (int r = 0; r < rows; ++r) {
    float row[kFeatures];
    for (int f = 0; f < 6; ++f) row[f] = normal(rng);
    row[6] = static_cast<float>(category(rng));
    row[7] = static_cast<float>(category(rng));
    const float signal = row[0] + 0.5f * row[1] * row[2] - row[3] + (row[6] == 2 || row[6] == 4 ? 1.5f : -0.5f) +
                         0.3f * row[7] + 0.3f * normal(rng);
    for (int f = 0; f < kFeatures; ++f) {
      if (unit(rng) < 0.1f) row[f] = kNaN;
      x->push_back(row[f]);
    }
    const std::string o = c.objective;
    if (o == "binary:logistic" || o == "binary:logitraw") {
      y->push_back(signal > 0.5f ? 1.0f : 0.0f);
    } else if (o == "reg:logistic") {
      y->push_back(1.0f / (1.0f + std::exp(-signal)));
    } else if (o == "count:poisson") {
      y->push_back(std::floor(std::exp(0.5f * signal) + unit(rng)));
    } else if (c.num_class > 0) {
      y->push_back(signal < 0 ? 0.0f : (signal < 1.5f ? 1.0f : 2.0f));
    } else {
      y->push_back(3.0f * signal + 10.0f);
    }
  }
}

// Rows to predict: wider than training, with NaN, negative, fractional,
// unseen and huge categories.
std::vector<float> MakeTestRows(int rows) {
  std::mt19937 rng(11);
  std::normal_distribution<float> wide(0, 3);
  std::uniform_real_distribution<float> unit(0, 1);
  const float odd_categories[] = {-1.0f, 2.5f, 7.0f, 31.0f, 32.0f, 1000.0f, 3.0e7f, -0.5f};
  std::vector<float> x;
  x.reserve(static_cast<size_t>(rows) * kFeatures);
  for (int r = 0; r < rows; ++r) {
    for (int f = 0; f < kFeatures; ++f) {
      float v;
      if (unit(rng) < 0.15f) {
        v = kNaN;
      } else if (f < 6) {
        v = wide(rng);
      } else if (unit(rng) < 0.2f) {
        v = odd_categories[static_cast<int>(unit(rng) * 8) % 8];
      } else {
        v = static_cast<float>(static_cast<int>(unit(rng) * kCategories));
      }
      x.push_back(v);
    }
  }
  return x;
}

class ForestExactnessTest : public ::testing::TestWithParam<Case> {};

// Trains a 25-round model of case `c` with the XGBoost C API.
BoosterHandle Train(const Case& c) {
  std::vector<float> x, y;
  MakeTrainingData(c, &x, &y, 3000);
  DMatrixHandle train;
  CheckXGBoost(XGDMatrixCreateFromMat(x.data(), y.size(), kFeatures, kNaN, &train));
  CheckXGBoost(XGDMatrixSetFloatInfo(train, "label", y.data(), y.size()));
  const char* types[kFeatures] = {"q", "q", "q", "q", "q", "q", "c", "c"};
  CheckXGBoost(XGDMatrixSetStrFeatureInfo(train, "feature_type", types, kFeatures));
  BoosterHandle booster;
  CheckXGBoost(XGBoosterCreate(&train, 1, &booster));
  std::vector<std::pair<std::string, std::string>> params = {
      {"objective", c.objective}, {"tree_method", "hist"}, {"max_depth", "6"}, {"seed", "3"},
      {"nthread", "2"}, {"max_cat_to_onehot", std::to_string(c.max_cat_to_onehot)}};
  if (c.num_class) params.push_back({"num_class", std::to_string(c.num_class)});
  if (c.parallel_trees > 1) {
    params.push_back({"num_parallel_tree", std::to_string(c.parallel_trees)});
    params.push_back({"subsample", "0.7"});
    params.push_back({"colsample_bynode", "0.7"});
  }
  for (const auto& [k, v] : params) CheckXGBoost(XGBoosterSetParam(booster, k.c_str(), v.c_str()));
  for (int i = 0; i < 25; ++i) CheckXGBoost(XGBoosterUpdateOneIter(booster, i, train));
  XGDMatrixFree(train);
  return booster;
}

TEST_P(ForestExactnessTest, MatchesXGBoostOn100kRows) {
  const Case& c = GetParam();
  BoosterHandle booster = Train(c);
  const int rows = 100000;
  const std::vector<float> test = MakeTestRows(rows);
  char array[200];
  std::snprintf(array, sizeof(array),
                R"({"data": [%llu, true], "shape": [%d, %d], "typestr": "<f4", "version": 3})",
                static_cast<unsigned long long>(reinterpret_cast<uintptr_t>(test.data())), rows, kFeatures);
  const int groups = std::max(1, c.num_class);
  auto xgb_predict = [&](int type) {
    std::string config = "{\"type\": " + std::to_string(type) +
                         ", \"training\": false, \"iteration_begin\": 0, \"iteration_end\": 0, "
                         "\"strict_shape\": true, \"missing\": NaN, \"cache_id\": 0}";
    const bst_ulong* shape;
    bst_ulong dim;
    const float* out;
    EXPECT_EQ(XGBoosterPredictFromDense(booster, array, config.c_str(), nullptr, &shape, &dim, &out), 0)
        << XGBGetLastError();
    bst_ulong n = 1;
    for (bst_ulong d = 0; d < dim; ++d) n *= shape[d];
    return std::vector<float>(out, out + n);
  };
  const std::vector<float> xgb_margin = xgb_predict(1);
  const std::vector<float> xgb_output = xgb_predict(0);

  for (const char* format : {"json", "ubj"}) {
    SCOPED_TRACE(format);
    bst_ulong len;
    const char* buffer;
    const std::string config = std::string(R"({"format": ")") + format + "\"}";
    XGB(XGBoosterSaveModelToBuffer(booster, config.c_str(), &len, &buffer));
    auto model = ParseXGBoostModel(std::string_view(buffer, len), std::string(format) == "ubj");
    ASSERT_TRUE(model.ok()) << model.status().ToString();
    const Forest& forest = model->forest;
    ASSERT_EQ(forest.num_groups(), groups);
    ASSERT_EQ(forest.num_iterations(), 25);

    std::vector<float> margin(static_cast<size_t>(rows) * groups);
    forest.PredictMargins(test.data(), rows, margin.data());
    ASSERT_EQ(margin.size(), xgb_margin.size());
    int bad = 0;
    for (size_t i = 0; i < margin.size() && bad < 5; ++i) {
      const float tolerance = 1e-5f * std::max(1.0f, std::abs(xgb_margin[i]));
      if (!(std::abs(margin[i] - xgb_margin[i]) <= tolerance)) {
        ADD_FAILURE() << "margin of row " << i / groups << ": native " << margin[i] << ", XGBoost " << xgb_margin[i];
        ++bad;
      }
    }
    // Every layout and path gives the same floats: the same leaves, summed in
    // the same order. The batch path above ran on perfect trees; here the
    // single-row path, the general layout, and the quantised forest in both.
    ASSERT_NE(forest.layout(), nullptr) << model->general_layout_reason;
    std::string why;
    auto expect_same = [&](const Forest& other, const char* what) {
      SCOPED_TRACE(what);
      std::vector<float> again(margin.size());
      other.PredictMargins(test.data(), rows, again.data());
      for (size_t i = 0; i < margin.size(); ++i) ASSERT_EQ(again[i], margin[i]) << "row " << i / groups;
      std::vector<float> one(groups);
      for (int r = 0; r < rows; r += 997) {
        other.PredictRowMargins(test.data() + static_cast<size_t>(r) * kFeatures, one.data());
        for (int g = 0; g < groups; ++g) ASSERT_EQ(one[g], margin[static_cast<size_t>(r) * groups + g]);
      }
    };
#if defined(__x86_64__)
    // On a processor with AVX-512 the vector kernel is the one compared here.
    EXPECT_EQ(forest.layout()->vectorized(), static_cast<bool>(__builtin_cpu_supports("avx512f")));
#endif
    expect_same(forest, "perfect trees");
    Forest scalar = forest;  // Without the AVX-512 single-row kernel, where the processor has it.
    ASSERT_TRUE(scalar.BuildLayout(&why, /*vector_kernels=*/false));
    EXPECT_FALSE(scalar.layout()->vectorized());
    expect_same(scalar, "perfect trees, scalar kernels");
    Forest general = forest;
    general.DropLayout();
    expect_same(general, "general layout");
    Forest quantized = forest;
    ASSERT_TRUE(quantized.Quantize(&why)) << why;
    ASSERT_NE(quantized.layout(), nullptr);
    EXPECT_TRUE(quantized.layout()->narrow());  // 16-bit slots: 6 categories, few thresholds.
    EXPECT_LT(quantized.layout()->memory_bytes(), forest.layout()->memory_bytes());
    expect_same(quantized, "quantised, perfect trees");
    quantized.DropLayout();
    expect_same(quantized, "quantised, general layout");
    std::vector<float> output = margin;
    forest.Transform(output.data(), rows);
    const bool softmax = std::string(c.objective) == "multi:softmax";
    const bool probability = std::string(c.objective) != "reg:squarederror" &&
                             std::string(c.objective) != "reg:pseudohubererror" &&
                             std::string(c.objective) != "count:poisson" &&
                             std::string(c.objective) != "binary:logitraw" && !softmax;
    for (int r = 0; r < rows && bad < 5; ++r) {
      for (int g = 0; g < (softmax ? 1 : groups); ++g) {
        const float native = output[static_cast<size_t>(r) * groups + g];
        const float reference = xgb_output[softmax ? r : static_cast<size_t>(r) * groups + g];
        const float tolerance = probability ? 1e-6f : 1e-5f * std::max(1.0f, std::abs(reference));
        if (!(std::abs(native - reference) <= tolerance)) {
          ADD_FAILURE() << "output of row " << r << " class " << g << ": native " << native << ", XGBoost " << reference;
          ++bad;
        }
      }
    }
  }
  XGBoosterFree(booster);
}

TEST_P(ForestExactnessTest, TreeShapMatchesXGBoostContributions) {
  const Case& c = GetParam();
  BoosterHandle booster = Train(c);
  const int rows = 2000;
  const std::vector<float> test = MakeTestRows(rows);
  DMatrixHandle d;
  XGB(XGDMatrixCreateFromMat(test.data(), rows, kFeatures, kNaN, &d));
  const char* types[kFeatures] = {"q", "q", "q", "q", "q", "q", "c", "c"};
  XGB(XGDMatrixSetStrFeatureInfo(d, "feature_type", types, kFeatures));
  const bst_ulong* shape;
  bst_ulong dim;
  const float* xgb;
  XGB(XGBoosterPredictFromDMatrix(
      booster, d,
      R"({"type": 2, "training": false, "iteration_begin": 0, "iteration_end": 0, "strict_shape": true})",
      &shape, &dim, &xgb));
  bst_ulong n = 1;
  for (bst_ulong i = 0; i < dim; ++i) n *= shape[i];
  const int groups = std::max(1, c.num_class);
  ASSERT_EQ(n, static_cast<bst_ulong>(rows) * groups * (kFeatures + 1));
  std::vector<float> reference(xgb, xgb + n);

  bst_ulong len;
  const char* buffer;
  XGB(XGBoosterSaveModelToBuffer(booster, R"({"format": "ubj"})", &len, &buffer));
  auto model = ParseXGBoostModel(std::string_view(buffer, len), true);
  ASSERT_TRUE(model.ok()) << model.status().ToString();
  std::vector<float> phi(n);
  TreeShap(model->forest, test.data(), rows, phi.data());
  std::vector<float> margins(static_cast<size_t>(rows) * groups);
  model->forest.PredictMargins(test.data(), rows, margins.data());
  Forest quantized = model->forest;
  std::string why;
  ASSERT_TRUE(quantized.Quantize(&why)) << why;
  std::vector<float> quantized_phi(n);
  TreeShap(quantized, test.data(), rows, quantized_phi.data());
  EXPECT_EQ(quantized_phi, phi) << "explanations of the quantised forest";
  int bad = 0;
  for (int r = 0; r < rows && bad < 5; ++r) {
    for (int g = 0; g < groups; ++g) {
      double sum = 0;
      for (int j = 0; j <= kFeatures; ++j) {
        const size_t i = (static_cast<size_t>(r) * groups + g) * (kFeatures + 1) + j;
        sum += phi[i];
        if (!(std::abs(phi[i] - reference[i]) <= 1e-4f * std::max(1.0f, std::abs(reference[i])))) {
          ADD_FAILURE() << "row " << r << " class " << g << " feature " << j << ": native " << phi[i]
                        << ", XGBoost " << reference[i];
          ++bad;
        }
      }
      const float margin = margins[static_cast<size_t>(r) * groups + g];
      // Exact in theory; covers are floats whose children do not always add
      // up to their parent exactly, which XGBoost's values share.
      EXPECT_NEAR(sum, margin, 5e-4 * std::max(1.0f, std::abs(margin))) << "row " << r;
    }
  }
  XGDMatrixFree(d);
  XGBoosterFree(booster);
}

INSTANTIATE_TEST_SUITE_P(
    Objectives, ForestExactnessTest,
    ::testing::Values(Case{"binary:logistic"}, Case{"binary:logistic", 0, 8}, Case{"binary:logitraw"},
                      Case{"reg:squarederror"}, Case{"reg:logistic"}, Case{"reg:pseudohubererror"},
                      Case{"count:poisson"}, Case{"multi:softprob", 3}, Case{"multi:softmax", 3},
                      Case{"reg:squarederror", 0, 1, 3}),
    CaseName);

TEST(XGBoostModelReaderTest, RefusesWhatItCannotReproduce) {
  auto dart = ParseXGBoostModel(R"({"learner": {"gradient_booster": {"name": "dart"}}})", false);
  ASSERT_FALSE(dart.ok());
  EXPECT_EQ(dart.status().message(), "booster 'dart' is not supported by the native engine (only gbtree)");
  auto linear = ParseXGBoostModel(R"({"learner": {"gradient_booster": {"name": "gblinear"}}})", false);
  EXPECT_NE(linear.status().message().find("'gblinear'"), std::string::npos);
  auto rank = ParseXGBoostModel(
      R"({"learner": {"gradient_booster": {"name": "gbtree"}, "objective": {"name": "rank:pairwise"}}})", false);
  EXPECT_EQ(rank.status().message(), "objective 'rank:pairwise' is not supported by the native engine");
  EXPECT_FALSE(ParseXGBoostModel("{\"learner\": ", false).ok());
}

}  // namespace
}  // namespace vigil

namespace vigil {
namespace {

// A chain of `depth` splits on feature 0 (x < 1, x < 2, ...): leaf value i
// for a row with i - 1 <= x < i.
Forest Chain(int depth) {
  Forest forest(1, 1, Objective::kRegSquaredError, 0.0f);
  std::vector<Forest::Node> nodes;
  for (int d = 0; d < depth; ++d) {
    const uint32_t left = static_cast<uint32_t>(nodes.size()) + 1;
    nodes.push_back({static_cast<float>(d + 1), 0u, left});
    // Left child: a leaf; right child: the next split (or the last leaf).
    nodes.push_back({static_cast<float>(d), Forest::kLeafFlag, left});
  }
  nodes.push_back({static_cast<float>(depth), Forest::kLeafFlag, static_cast<uint32_t>(nodes.size())});
  // Children must be adjacent: renumber so that right = left + 1.
  for (int d = 0; d < depth; ++d) nodes[2 * d].left = 2 * d + 1;
  forest.AddTree(0, std::move(nodes), {});
  return forest;
}

TEST(PerfectLayoutTest, DeepTreesKeepTheGeneralLayoutWithAReason) {
  Forest shallow = Chain(4);
  std::string why;
  ASSERT_TRUE(shallow.BuildLayout(&why)) << why;
  Forest deep = Chain(PerfectLayout::kMaxDepth + 1);
  EXPECT_FALSE(deep.BuildLayout(&why));
  EXPECT_NE(why.find("deeper than"), std::string::npos) << why;
  EXPECT_EQ(deep.layout(), nullptr);
  for (const Forest* forest : {&shallow, &deep}) {
    for (float x : {-1.0f, 0.5f, 1.0f, 2.5f, 3.0f, 100.0f}) {
      float margin;
      forest->PredictRowMargins(&x, &margin);
      const float expected = std::min(static_cast<float>(forest == &shallow ? 4 : PerfectLayout::kMaxDepth + 1),
                                      std::max(0.0f, std::floor(x)));
      EXPECT_EQ(margin, expected) << "x = " << x;
    }
  }
}

TEST(PerfectLayoutTest, QuantisedSlotsStayWideWhenAMaskNeedsMoreThan16Bits) {
  // x0 numeric, x1 categorical with category 20 going right.
  Forest forest(2, 1, Objective::kRegSquaredError, 0.0f);
  Forest::Node root{0.5f, 0u, 1};
  Forest::Node split = forest.CategoricalNode(1, true, {20});
  split.left = 3;
  forest.AddTree(0, {root, split, {1.0f, Forest::kLeafFlag, 2}, {2.0f, Forest::kLeafFlag, 3},
                     {3.0f, Forest::kLeafFlag, 4}}, {});
  std::string why;
  ASSERT_TRUE(forest.Quantize(&why)) << why;
  ASSERT_TRUE(forest.BuildLayout(&why)) << why;
  EXPECT_FALSE(forest.layout()->narrow());
  const float rows[][2] = {{0.0f, 20.0f}, {0.0f, 3.0f}, {0.0f, NAN}, {1.0f, 20.0f}, {NAN, 20.0f}};
  const float expected[] = {3.0f, 2.0f, 2.0f, 1.0f, 1.0f};
  for (int i = 0; i < 5; ++i) {
    float margin;
    forest.PredictRowMargins(rows[i], &margin);
    EXPECT_EQ(margin, expected[i]) << "row " << i;
  }
}

TEST(PerfectLayoutTest, WideCategoricalSetsKeepTheGeneralLayout) {
  Forest forest(1, 1, Objective::kRegSquaredError, 0.0f);
  Forest::Node split = forest.CategoricalNode(0, false, {3, 40});
  split.left = 1;
  forest.AddTree(0, {split, {1.0f, Forest::kLeafFlag, 1}, {2.0f, Forest::kLeafFlag, 2}}, {});
  std::string why;
  EXPECT_FALSE(forest.BuildLayout(&why));
  EXPECT_NE(why.find("category of 32 or more"), std::string::npos) << why;
  for (auto [x, expected] : {std::pair{3.0f, 2.0f}, {40.0f, 2.0f}, {4.0f, 1.0f}, {NAN, 2.0f}}) {
    float margin;
    forest.PredictRowMargins(&x, &margin);
    EXPECT_EQ(margin, expected) << "x = " << x;
  }
}

}  // namespace
}  // namespace vigil
