#include "repository/monitoring_config.h"

#include <gtest/gtest.h>

#include "repository/model_config.h"

namespace vigil {
namespace {

constexpr char kBase[] = R"(
backend: xgboost
features:
  - {name: Age}
  - {name: Home, type: categorical, categories: [own, rent]}
outputs: [{name: probability, kind: probability}]
)";

Result<ModelConfig> With(const std::string& monitoring) {
  return ParseModelConfig(std::string(kBase) + "monitoring:\n" + monitoring, "credit");
}

TEST(MonitoringConfigTest, DefaultsFollowTheFieldsConventions) {
  auto config = ParseModelConfig(kBase, "credit");
  ASSERT_TRUE(config.ok());
  const DriftSettings& d = config->monitoring.drift;
  EXPECT_EQ(config->monitoring.window_rows, 0) << "the server's default";
  EXPECT_EQ(d.p_value, 0.05);
  EXPECT_EQ(d.distance, 0.1);
  EXPECT_EQ(d.test_rows, 1000);
  EXPECT_EQ(d.psi_warning, 0.1);
  EXPECT_EQ(d.psi_alarm, 0.25);
  EXPECT_EQ(d.share, 0.5);
  EXPECT_TRUE(d.features.empty());
}

TEST(MonitoringConfigTest, EverySettingCanBeChangedPerModel) {
  auto config = With(R"(
  window_rows: 500
  window_seconds: 600
  drift:
    p_value: 0.01
    distance: 0.2
    test_rows: 5000
    psi_warning: 0.05
    psi_alarm: 0.2
    share: 0.3
    features:
      Age: {test: psi}
      Home: {test: jensen_shannon, threshold: 0.05}
      prediction: {test: ks, threshold: 0.001}
)");
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  const MonitoringConfig& m = config->monitoring;
  EXPECT_EQ(m.window_rows, 500);
  EXPECT_EQ(m.window_seconds, 600);
  EXPECT_EQ(m.drift.p_value, 0.01);
  EXPECT_EQ(m.drift.test_rows, 5000);
  EXPECT_EQ(m.drift.share, 0.3);
  EXPECT_EQ(m.drift.features.at("Age").test, "psi");
  EXPECT_EQ(m.drift.features.at("Age").threshold, 0.2) << "PSI's alarm level unless given";
  EXPECT_EQ(m.drift.features.at("Home").threshold, 0.05);
  EXPECT_EQ(m.drift.features.at("prediction").test, "ks");
  auto again = ParseModelConfig(ModelConfigToYaml(*config), "credit");
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(again->monitoring.drift.features.at("Home").threshold, 0.05);
  EXPECT_EQ(again->monitoring.window_rows, 500);
}

TEST(MonitoringConfigTest, RefusesWithTheKeyThatIsWrong) {
  const std::pair<const char*, const char*> cases[] = {
      {"  window_rows: 0\n", "monitoring.window_rows"},
      {"  windows: 3\n", "monitoring.windows: unknown key"},
      {"  drift: {p_value: 1.5}\n", "monitoring.drift.p_value"},
      {"  drift: {psi_warning: 0.3, psi_alarm: 0.2}\n", "monitoring.drift.psi_alarm: must be at least psi_warning"},
      {"  drift: {features: {Income: {test: ks}}}\n", "monitoring.drift.features.Income: 'Income' is not a feature"},
      {"  drift: {features: {Age: {test: chi_square}}}\n", "'chi_square' does not suit a numeric feature"},
      {"  drift: {features: {Home: {test: wasserstein}}}\n", "'wasserstein' does not suit a categorical feature"},
      {"  drift: {features: {Age: {test: t_test}}}\n", "monitoring.drift.features.Age.test: expected ks"},
      {"  drift: {features: {Age: {threshold: 0.1}}}\n", "monitoring.drift.features.Age.test: is required"},
  };
  for (const auto& [yaml, where] : cases) {
    auto config = With(yaml);
    ASSERT_FALSE(config.ok()) << yaml;
    EXPECT_NE(config.status().message().find(where), std::string::npos) << yaml << " -> " << config.status().message();
  }
}

}  // namespace
}  // namespace vigil
