#include "repository/rollout_config.h"

#include <gtest/gtest.h>

#include "repository/model_config.h"

namespace vigil {
namespace {

constexpr char kBase[] = R"(
backend: xgboost
features: [{name: Age}]
classes: [good, bad]
)";

Result<ModelConfig> With(const std::string& yaml) { return ParseModelConfig(std::string(kBase) + yaml, "credit"); }

TEST(RolloutConfigTest, DefaultsToATenFiftyHundredCanary) {
  auto c = ParseModelConfig(kBase, "credit");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->rollout.mode, "canary");
  EXPECT_EQ(c->rollout.steps, (std::vector<double>{10, 50, 100}));
  EXPECT_EQ(c->rollout.window_s, 600);
  EXPECT_EQ(c->rollout.min_requests, 100);
  EXPECT_EQ(c->rollout.StepDeadlineSeconds(), 6000);  // Ten windows.
  EXPECT_FALSE(c->rollout.checks.min_agreement);
}

TEST(RolloutConfigTest, ParsesEveryKeyAndRendersBack) {
  auto c = With(R"(rollout:
  mode: canary
  steps: [5, 25, 100]
  window: 90s
  min_requests: 40
  interval: 2s
  step_deadline: 15m
  checks:
    max_error_rate_increase: 0.02
    max_latency_ratio: 2
    latency_slack_ms: 10
    max_prediction_psi: 0.1
    max_quality_drop: 0.03
    min_feedback: 20
)");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  const RolloutConfig& r = c->rollout;
  EXPECT_EQ(r.steps, (std::vector<double>{5, 25, 100}));
  EXPECT_EQ(r.window_s, 90);
  EXPECT_EQ(r.interval_s, 2);
  EXPECT_EQ(r.step_deadline_s, 900);
  EXPECT_EQ(r.StepDeadlineSeconds(), 900);
  EXPECT_EQ(r.min_requests, 40);
  EXPECT_EQ(r.checks.max_error_rate_increase, 0.02);
  EXPECT_EQ(r.checks.max_latency_ratio, 2);
  EXPECT_EQ(r.checks.latency_slack_ms, 10);
  EXPECT_EQ(r.checks.max_prediction_psi, 0.1);
  EXPECT_EQ(r.checks.max_quality_drop, 0.03);
  EXPECT_EQ(r.checks.min_feedback, 20);
  auto again = ParseModelConfig(ModelConfigToYaml(*c), "credit");
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(again->rollout, r);
}

TEST(RolloutConfigTest, ShadowHasOneStepOfAllRequestsByDefault) {
  auto c = With("rollout:\n  mode: shadow\n  checks: {min_agreement: 0.9}\n");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->rollout.steps, (std::vector<double>{100}));
  EXPECT_EQ(c->rollout.checks.min_agreement, 0.9);
}

TEST(RolloutConfigTest, RefusesBadPlansNamingTheKey) {
  struct Case {
    const char* yaml;
    const char* message;
  } cases[] = {
      {"rollout:\n  mode: blue-green\n", "rollout.mode: expected canary or shadow"},
      {"rollout:\n  steps: [50, 10]\n", "rollout.steps[1]: steps must grow"},
      {"rollout:\n  steps: [0, 100]\n", "rollout.steps[0]: expected a percentage in (0, 100]"},
      {"rollout:\n  steps: [120]\n", "rollout.steps[0]: expected a number in"},
      {"rollout:\n  mode: shadow\n  steps: [10, 100]\n", "rollout.steps: a shadow rollout has one step"},
      {"rollout:\n  window: soon\n", "rollout.window:"},
      {"rollout:\n  checks: {max_latency_ratio: 0.5}\n", "rollout.checks.max_latency_ratio: expected a number in"},
      {"rollout:\n  checks: {min_agreement: 2}\n", "rollout.checks.min_agreement"},
      {"rollout:\n  checks: {p99: 1}\n", "rollout.checks.p99: unknown check"},
      {"rollout:\n  canary: yes\n", "rollout.canary: unknown key"},
      {"rollout:\n  window: 10m\n  step_deadline: 5m\n", "rollout.step_deadline: expected a duration at least"},
  };
  for (const Case& c : cases) {
    auto parsed = With(c.yaml);
    ASSERT_FALSE(parsed.ok()) << c.yaml;
    EXPECT_NE(parsed.status().message().find(c.message), std::string::npos)
        << c.yaml << " -> " << parsed.status().message();
  }
}

TEST(RolloutConfigTest, RetrainPolicyAndAlertActionParse) {
  auto c = With(R"(training:
  retrain: {hours: 48, data: train.csv, original_share: 0.25, cooldown: 2h}
alerts:
  - name: drifting
    metric: drift_share
    threshold: 0.5
    action: retrain
)");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->training.retrain.hours, 48);
  EXPECT_EQ(c->training.retrain.data, "train.csv");
  EXPECT_EQ(c->training.retrain.original_share, 0.25);
  EXPECT_EQ(c->training.retrain.cooldown_s, 7200);
  ASSERT_EQ(c->alerts.size(), 1u);
  EXPECT_EQ(c->alerts[0].action, "retrain");
  auto bad = With("alerts:\n  - {name: x, metric: drift_share, threshold: 0.5, action: page}\n");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("action: expected retrain"), std::string::npos) << bad.status().message();
  auto share = With("training:\n  retrain: {original_share: 0.5}\n");
  ASSERT_FALSE(share.ok());
  EXPECT_NE(share.status().message().find("needs `data`"), std::string::npos) << share.status().message();
}

}  // namespace
}  // namespace vigil
