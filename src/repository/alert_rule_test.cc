#include "repository/alert_rule.h"

#include <gtest/gtest.h>

#include "repository/model_config.h"

namespace vigil {
namespace {

constexpr char kBase[] = R"(
backend: xgboost
features:
  - {name: Age}
  - {name: Housing, type: categorical, categories: [own, rent]}
outputs: [{name: probability, kind: probability}]
classes: ["bad", "good"]
)";

Result<ModelConfig> WithAlerts(const std::string& alerts) {
  return ParseModelConfig(std::string(kBase) + "alerts:\n" + alerts, "credit");
}

TEST(AlertRuleTest, ParsesEveryField) {
  auto config = WithAlerts(R"(
  - name: age_shift
    metric: wasserstein
    feature: Age
    threshold: {learned: mean_std, k: 4, chunks: 50}
    for: 2
    severity: critical
    resolve_within: 6h
    labels: {team: risk}
    annotations: {summary: "Age moved"}
    notify: {webhooks: "http://127.0.0.1:9/hook", alertmanagers: ["http://127.0.0.1:9093"]}
  - name: auc_low
    metric: roc_auc
    threshold: 0.7
    lookback: 2d
    min_samples: 50
  - {name: slow, metric: latency_p99, comparison: ">=", threshold: 0.05}
  - {name: everything, metric: ks_p_value, threshold: {learned: quantile, q: 0.01}}
)");
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  ASSERT_EQ(config->alerts.size(), 4u);
  const AlertRule& a = config->alerts[0];
  EXPECT_EQ(a.kind, AlertMetricKind::kWindow);
  EXPECT_EQ(a.feature, "Age");
  EXPECT_EQ(a.comparison, Comparison::kGreater);
  EXPECT_EQ(a.threshold.kind, AlertThreshold::Kind::kMeanStd);
  EXPECT_EQ(a.threshold.k, 4);
  EXPECT_EQ(a.threshold.chunks, 50);
  EXPECT_EQ(a.for_count, 2);
  EXPECT_EQ(a.severity, "critical");
  EXPECT_EQ(a.resolve_within_s, 6 * 3600);
  EXPECT_EQ(a.labels.at("team"), "risk");
  EXPECT_EQ(a.annotations.at("summary"), "Age moved");
  EXPECT_EQ(a.webhooks, std::vector<std::string>{"http://127.0.0.1:9/hook"});
  EXPECT_EQ(a.alertmanagers, std::vector<std::string>{"http://127.0.0.1:9093"});
  const AlertRule& auc = config->alerts[1];
  EXPECT_EQ(auc.kind, AlertMetricKind::kQuality);
  EXPECT_EQ(auc.comparison, Comparison::kLess) << "quality that falls is the alarm";
  EXPECT_EQ(auc.lookback_s, 2 * 86400);
  EXPECT_EQ(auc.min_samples, 50);
  EXPECT_EQ(auc.resolve_within_s, 24 * 3600) << "the default deadline";
  EXPECT_FALSE(auc.per_feature());
  EXPECT_EQ(config->alerts[2].kind, AlertMetricKind::kServing);
  EXPECT_EQ(config->alerts[2].comparison, Comparison::kGreaterEqual);
  EXPECT_EQ(config->alerts[3].feature, "*") << "per-feature rules default to every feature";
  EXPECT_EQ(config->alerts[3].comparison, Comparison::kLess);
  EXPECT_EQ(config->alerts[3].threshold.quantile, 0.01);

  // The rules survive rendering the configuration back to YAML.
  auto again = ParseModelConfig(ModelConfigToYaml(*config), "credit");
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  ASSERT_EQ(again->alerts.size(), 4u);
  EXPECT_EQ(again->alerts[0].threshold.k, 4);
  EXPECT_EQ(again->alerts[1].min_samples, 50);
}

TEST(AlertRuleTest, RefusesWithTheKeyThatIsWrong) {
  struct Case {
    const char* yaml;
    const char* where;
  };
  const Case cases[] = {
      {"  - {name: a, metric: nonsense, threshold: 1}", "alerts[0].metric: unknown metric 'nonsense'"},
      {"  - {name: a, metric: psi, feature: Income, threshold: 1}", "alerts[0].feature: 'Income'"},
      {"  - {name: a, metric: drift_share, feature: Age, threshold: 1}", "alerts[0].feature"},
      {"  - {name: a, metric: roc_auc, threshold: {learned: mean_std}}", "alerts[0].threshold: a learned"},
      {"  - {name: a, metric: psi, threshold: {learned: quantile, q: 1.5}}", "alerts[0].threshold.q"},
      {"  - {name: a, metric: psi, threshold: {learned: median, k: 1}}", "alerts[0].threshold.learned"},
      {"  - {name: a, metric: psi, threshold: 0.2, for: 0}", "alerts[0].for"},
      {"  - {name: a, metric: psi, threshold: 0.2, severity: urgent}", "alerts[0].severity"},
      {"  - {name: a, metric: psi, threshold: 0.2, resolve_within: 3w}", "alerts[0].resolve_within"},
      {"  - {name: a, metric: psi, threshold: 0.2, labels: {model: x}}", "alerts[0].labels.model"},
      {"  - {name: a, metric: psi, threshold: 0.2, notify: {webhooks: https://x}}", "alerts[0].notify.webhooks"},
      {"  - {name: a, metric: psi, threshold: 0.2, colour: red}", "alerts[0].colour: unknown key"},
      {"  - {name: a, metric: psi}", "alerts[0].threshold: is required"},
      {"  - {name: a, metric: psi, threshold: 1}\n  - {name: a, metric: ks, threshold: 1}",
       "alerts[1].name: duplicate"},
  };
  for (const Case& c : cases) {
    auto config = WithAlerts(std::string(c.yaml) + "\n");
    ASSERT_FALSE(config.ok()) << c.yaml;
    EXPECT_NE(config.status().message().find(c.where), std::string::npos)
        << c.yaml << " -> " << config.status().message();
  }
}

TEST(AlertRuleTest, Durations) {
  EXPECT_EQ(*ParseDurationSeconds("90"), 90);
  EXPECT_EQ(*ParseDurationSeconds("90s"), 90);
  EXPECT_EQ(*ParseDurationSeconds("15m"), 900);
  EXPECT_EQ(*ParseDurationSeconds("24h"), 86400);
  EXPECT_EQ(*ParseDurationSeconds("7d"), 7 * 86400);
  EXPECT_FALSE(ParseDurationSeconds("").ok());
  EXPECT_FALSE(ParseDurationSeconds("-5m").ok());
  EXPECT_FALSE(ParseDurationSeconds("5 m").ok());
  EXPECT_FALSE(ParseDurationSeconds("99999999999999d").ok());
}

TEST(AlertRuleTest, Comparisons) {
  EXPECT_TRUE(Compare(Comparison::kGreater, 2, 1));
  EXPECT_FALSE(Compare(Comparison::kGreater, 1, 1));
  EXPECT_TRUE(Compare(Comparison::kGreaterEqual, 1, 1));
  EXPECT_TRUE(Compare(Comparison::kLess, 0, 1));
  EXPECT_TRUE(Compare(Comparison::kLessEqual, 1, 1));
  EXPECT_FALSE(Compare(Comparison::kLess, 1, 1));
}

}  // namespace
}  // namespace vigil
