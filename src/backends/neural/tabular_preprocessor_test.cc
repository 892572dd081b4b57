#include "backends/neural/tabular_preprocessor.h"

#include <gtest/gtest.h>

#include <cmath>

namespace vigil {
namespace {

constexpr float kMissing = std::numeric_limits<float>::quiet_NaN();

ModelConfig Config() {
  auto config = ParseModelConfig(R"(
backend: onnx
features:
  - {name: Income}
  - {name: Home, type: categorical, categories: [owner, rent, parents]}
  - {name: Age}
  - {name: Job, type: categorical, categories: [fixed, freelance]}
preprocessing:
  - {feature: Income, fill: 100, standardize: {mean: 120, std: 40}}
  - {feature: Home, one_hot: [rent, owner]}
  - {feature: Age, min_max: {min: 20, max: 70}}
classes: [good, bad]
)", "credit");
  EXPECT_TRUE(config.ok()) << config.status().ToString();
  return *config;
}

TEST(TabularPreprocessorTest, StandardisesScalesOneHotEncodesAndFillsByHand) {
  const ModelConfig config = Config();
  TabularPreprocessor p(config, config.engine.preprocessing);
  // Income 1, Home 2 (rent, owner), Age 1, Job as its code 1.
  ASSERT_EQ(p.width(), 5);
  Tensor raw("input", DataType::kFp32, {3, 4});
  const float rows[] = {
      160, 1, 45, 0,               // rent
      kMissing, 0, 20, 1,          // owner; Income missing: filled with 100
      80, 2, 70, kMissing + 0.f,  // parents: not one-hot listed; Job missing
  };
  std::copy(std::begin(rows), std::end(rows), raw.values<float>().begin());
  // Job has no fill: the third row is refused, naming it.
  Tensor out;
  Status s = p.Apply(raw, "x", &out);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.message(), "row 2: feature 'Job' is missing and the model has no fill value for it");
  raw.values<float>()[11] = 0;
  ASSERT_TRUE(p.Apply(raw, "x", &out).ok());
  EXPECT_EQ(out.name(), "x");
  ASSERT_EQ(out.shape(), (std::vector<int64_t>{3, 5}));
  const std::vector<float> expected = {
      1.0f, 1, 0, 0.5f, 0,    // (160 - 120) / 40; rent; (45 - 20) / 50; Job code 0
      -0.5f, 0, 1, 0.0f, 1,   // (100 - 120) / 40; owner; Job code 1
      -1.0f, 0, 0, 1.0f, 0,   // (80 - 120) / 40; neither listed
  };
  for (size_t i = 0; i < expected.size(); ++i) EXPECT_FLOAT_EQ(out.values<float>()[i], expected[i]) << i;
}

}  // namespace
}  // namespace vigil
