#include "repository/model_config.h"

#include <gtest/gtest.h>

namespace vigil {
namespace {

constexpr char kCredit[] = R"(
backend: xgboost
features:
  - {name: Seniority, type: numeric}
  - {name: Home, type: categorical, categories: [owner, rent]}
  - {name: Age, type: numeric, allow_missing: false}
classes: [good, bad]
outputs:
  - {name: probability, kind: probability}
  - {name: label, kind: label}
  - {name: score, kind: margin}
version_policy: {latest: 2}
parameters: {nthread: 2}
)";

TEST(ModelConfigTest, ParsesATabularModel) {
  auto config = ParseModelConfig(kCredit, "credit");
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  EXPECT_EQ(config->name, "credit");
  EXPECT_EQ(config->backend, "xgboost");
  EXPECT_EQ(config->artifact, "");  // The backend's default names.
  ASSERT_EQ(config->features.size(), 3u);
  EXPECT_EQ(config->features[1].kind, FeatureKind::kCategorical);
  EXPECT_EQ(config->features[1].CategoryCode("rent"), 1);
  EXPECT_EQ(config->features[1].CategoryCode("castle"), -1);
  EXPECT_FALSE(config->features[2].allow_missing);
  // The matrix input is derived from the features.
  ASSERT_EQ(config->inputs.size(), 1u);
  EXPECT_EQ(config->inputs[0].name, "input");
  EXPECT_EQ(config->inputs[0].shape, (std::vector<int64_t>{-1, 3}));
  ASSERT_EQ(config->outputs.size(), 3u);
  EXPECT_EQ(config->outputs[2].kind, OutputKind::kMargin);
  EXPECT_EQ(config->outputs[1].tensor.type, DataType::kBytes);
  EXPECT_EQ(config->version_policy.kind, VersionPolicy::Kind::kLatest);
  EXPECT_EQ(config->version_policy.latest, 2);
  EXPECT_EQ(config->parameters.at("nthread"), "2");
  EXPECT_EQ(config->FeatureIndex("Age"), 2);
}

TEST(ModelConfigTest, YamlRoundTripGivesTheSameConfig) {
  auto config = ParseModelConfig(kCredit, "credit");
  ASSERT_TRUE(config.ok());
  auto again = ParseModelConfig(ModelConfigToYaml(*config), "credit");
  ASSERT_TRUE(again.ok()) << again.status().ToString() << "\n" << ModelConfigToYaml(*config);
  EXPECT_EQ(ModelConfigToYaml(*again), ModelConfigToYaml(*config));
  EXPECT_EQ(again->version_policy, config->version_policy);
  EXPECT_EQ(again->features[1].categories, config->features[1].categories);
  // Category strings are quoted, so YAML 1.1 readers keep "no" and "yes" strings.
  EXPECT_NE(ModelConfigToYaml(*config).find(R"(categories: ["owner", "rent"])"), std::string::npos);
}

TEST(ModelConfigTest, MultiClassOutputsScoreEveryClass) {
  auto config = ParseModelConfig("backend: xgboost\nfeatures: [{name: a}]\nclasses: [low, mid, high]\n", "m");
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  ASSERT_EQ(config->outputs.size(), 2u);  // probability and label by default
  EXPECT_EQ(config->outputs[0].tensor.shape, (std::vector<int64_t>{-1, 3}));
  EXPECT_EQ(config->outputs[1].kind, OutputKind::kLabel);
  EXPECT_EQ(config->outputs[1].tensor.shape, (std::vector<int64_t>{-1}));
}

TEST(ModelConfigTest, AnOnnxModelMayLeaveItsInputsToTheGraph) {
  auto config = ParseModelConfig("backend: onnx\noutputs: [{name: value, kind: prediction}]\n", "m");
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  EXPECT_TRUE(config->inputs.empty());
  EXPECT_FALSE(config->is_tabular());
}

TEST(ModelConfigTest, VersionPolicyForms) {
  auto all = ParseModelConfig("backend: xgboost\nfeatures: [{name: a}]\nversion_policy: all\n", "m");
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->version_policy.kind, VersionPolicy::Kind::kAll);
  auto specific = ParseModelConfig(
      "backend: xgboost\nfeatures: [{name: a}]\nversion_policy: {specific: [3, 1]}\n", "m");
  ASSERT_TRUE(specific.ok());
  EXPECT_EQ(specific->version_policy.specific, (std::vector<int64_t>{3, 1}));
}

struct BadConfig {
  const char* yaml;
  const char* where;  // Expected at the start of the message.
};

class ModelConfigErrorTest : public ::testing::TestWithParam<BadConfig> {};

TEST_P(ModelConfigErrorTest, RefusesWithTheOffendingKey) {
  auto config = ParseModelConfig(GetParam().yaml, "m");
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(config.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(config.status().message().rfind(GetParam().where, 0), 0u) << config.status().message();
}

INSTANTIATE_TEST_SUITE_P(
    Cases, ModelConfigErrorTest,
    ::testing::Values(
        BadConfig{"features: [{name: a}]\n", "backend"},
        BadConfig{"backend: sklearn\nfeatures: [{name: a}]\n", "backend"},
        BadConfig{"backend: xgboost\n", "features"},
        BadConfig{"backend: xgboost\nfeatures: [{name: a}]\nbogus: 1\n", "bogus"},
        BadConfig{"backend: xgboost\nfeatures: [{name: a}, {name: a}]\n", "features[1].name"},
        BadConfig{"backend: xgboost\nfeatures: [{name: a, type: text}]\n", "features[0].type"},
        BadConfig{"backend: xgboost\nfeatures: [{name: a, type: categorical}]\n",
                  "features[0].categories"},
        BadConfig{"backend: xgboost\nfeatures: [{name: a}]\ninputs: [{name: x, shape: [-1, 2]}]\n",
                  "inputs[0].shape"},
        BadConfig{"backend: xgboost\nfeatures: [{name: a}]\noutputs: [{name: label}]\n",
                  "outputs[0]"},
        BadConfig{"backend: xgboost\nfeatures: [{name: a}]\noutputs: [{name: p, kind: odds}]\n",
                  "outputs[0].kind"},
        BadConfig{"backend: xgboost\nfeatures: [{name: a}]\nversion_policy: {latest: 0}\n",
                  "version_policy.latest"},
        BadConfig{"backend: xgboost\nfeatures: [{name: a}]\nversion_policy: newest\n",
                  "version_policy"},
        BadConfig{"backend: torchscript\n", "inputs"},
        BadConfig{"backend: xgboost\nfeatures: [{name: a}]\nclasses: [a, b, c]\noutputs: [{name: prediction}]\n",
                  "outputs[0]"},
        BadConfig{"backend: xgboost\nfeatures: [{name: a}]\nclasses: [only]\n", "classes"},
        BadConfig{"backend: xgboost\nname: other\nfeatures: [{name: a}]\n", "name"},
        BadConfig{"backend: [unclosed\n", "model.yaml"}));

}  // namespace
}  // namespace vigil
