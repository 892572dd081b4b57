#include "serving/tabular_input.h"

#include <gtest/gtest.h>

#include <cmath>

namespace vigil {
namespace {

ModelConfig Config() {
  auto c = ParseModelConfig(R"(
backend: xgboost
features:
  - {name: Age, type: numeric, allow_missing: false}
  - {name: Home, type: categorical, categories: [owner, rent]}
  - {name: Income, type: numeric}
)", "m");
  EXPECT_TRUE(c.ok()) << c.status().ToString();
  return *c;
}

Tensor Floats(const std::string& name, std::vector<int64_t> shape, std::vector<float> values) {
  Tensor t(name, DataType::kFp32, std::move(shape));
  std::copy(values.begin(), values.end(), t.values<float>().begin());
  return t;
}

TEST(TabularInputTest, MatrixPassesThroughWithCodes) {
  auto m = AssembleTabularInput(Config(), {Floats("input", {2, 3}, {30, 1, 100, 40, 0, 50})});
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_EQ(m->shape(), (std::vector<int64_t>{2, 3}));
  auto v = m->values<float>();
  EXPECT_EQ(std::vector<float>(v.begin(), v.end()), (std::vector<float>{30, 1, 100, 40, 0, 50}));
}

TEST(TabularInputTest, UnseenCodeIsMissingAndFractionalCodeIsRefused) {
  std::vector<int64_t> unseen;
  auto m = AssembleTabularInput(Config(), {Floats("input", {2, 3}, {30, 7, 1, 31, 1, 2})}, &unseen);
  ASSERT_TRUE(m.ok());
  EXPECT_TRUE(std::isnan(m->values<float>()[1]));
  EXPECT_EQ(unseen, std::vector<int64_t>{1}) << "row 0, feature 1";
  auto bad = AssembleTabularInput(Config(), {Floats("input", {1, 3}, {30, 0.5f, 1})});
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message().rfind("inputs[0].data[1]: categorical feature 'Home'", 0), 0u)
      << bad.status().message();
}

TEST(TabularInputTest, ColumnsInAnyOrderWithStringsAndNulls) {
  Tensor home("Home", DataType::kBytes, {2});
  home.strings() = {"rent", "castle"};
  Tensor income("Income", DataType::kInt64, {2, 1});
  income.values<int64_t>()[0] = 120;
  income.set_missing(1);
  Tensor age("Age", DataType::kInt32, {2});
  age.values<int32_t>()[0] = 30;
  age.values<int32_t>()[1] = 51;
  std::vector<int64_t> unseen;
  auto m = AssembleTabularInput(Config(), {home, income, age}, &unseen);
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_EQ(unseen, std::vector<int64_t>{4}) << "row 1, feature 1: 'castle', not the null";
  auto v = m->values<float>();
  EXPECT_EQ(v[0], 30);
  EXPECT_EQ(v[1], 1);      // "rent"
  EXPECT_EQ(v[2], 120);
  EXPECT_EQ(v[3], 51);
  EXPECT_TRUE(std::isnan(v[4]));  // Unseen category.
  EXPECT_TRUE(std::isnan(v[5]));  // null.
}

TEST(TabularInputTest, ErrorsNameTheInput) {
  auto config = Config();
  Tensor age("Age", DataType::kFp32, {1});
  age.set_missing(0);
  Tensor home("Home", DataType::kBytes, {1});
  home.strings() = {"rent"};
  Tensor income = Floats("Income", {1}, {3});
  struct Case {
    std::vector<Tensor> inputs;
    std::string message;
  };
  std::vector<Case> cases = {
      {{age, home, income}, "inputs[0].data[0]: feature 'Age' may not be missing"},
      {{Floats("input", {2, 2}, {1, 2, 3, 4})}, "inputs[0].shape: input 'input' must be [N, 3], got [2, 2]"},
      {{Floats("Age", {1}, {1}), home}, "inputs: feature 'Income' is missing (send null values for unknown ones)"},
      {{Floats("Age", {1}, {1}), home, income, Floats("Zip", {1}, {1})},
       "inputs[3].name: unknown input 'Zip'; send 'input' [N, 3] or one input per feature"},
      {{Floats("Age", {2}, {1, 2}), home, income}, "inputs[1].shape: feature 'Home' has 1 rows, earlier inputs have 2"},
      {{Floats("Age", {1, 2}, {1, 2}), home, income}, "inputs[0].shape: feature 'Age' must be [N] or [N, 1], got [1, 2]"},
  };
  Tensor bytes_income("Income", DataType::kBytes, {1});
  bytes_income.strings() = {"lots"};
  cases.push_back({{Floats("Age", {1}, {1}), home, bytes_income},
                   "inputs[2]: numeric feature 'Income' cannot be BYTES"});
  for (const Case& c : cases) {
    auto m = AssembleTabularInput(config, c.inputs);
    ASSERT_FALSE(m.ok()) << c.message;
    EXPECT_EQ(m.status().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(m.status().message(), c.message);
  }
}

}  // namespace
}  // namespace vigil
