#include "monitor/alert_engine.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "store/log_segment.h"
#include "store/sqlite_store.h"
#include "testing/test_repository.h"

namespace vigil {
namespace {

using nlohmann::json;

constexpr char kConfig[] = R"(
backend: xgboost
features:
  - {name: Age}
  - {name: Home, type: categorical, categories: [own, rent]}
outputs: [{name: probability, kind: probability}]
classes: ["bad", "good"]
alerts:
  - name: age_psi
    metric: psi
    feature: Age
    threshold: 0.25
    for: 2
    resolve_within: 1h
    labels: {team: risk}
    annotations: {summary: "Age moved"}
  - name: drifting
    metric: drift_share
    threshold: 0.5
    severity: info
)";

constexpr int64_t kStart = 1'800'000'000'000;

// The serving table as the alert thread passes it: the model with version 1 ready.
std::vector<ServedModel> Served(const std::shared_ptr<const ModelConfig>& config) {
  return {{config->name, config, {1}}};
}  // 2027-01-15T08:00:00Z.

// One closed window whose Age PSI and drift share are as given.
ClosedWindow Window(const std::shared_ptr<const ModelConfig>& config,
                    const std::shared_ptr<const ReferenceProfile>& profile, double age_psi, double share) {
  ClosedWindow w{config, 1, profile, {}, ""};
  w.report.rows = 1000;
  for (const ColumnProfile& c : profile->features) {
    FeatureDrift f;
    f.name = c.name;
    f.categorical = c.categorical;
    f.test = c.categorical ? "jensen_shannon" : "wasserstein";
    w.report.features.push_back(f);
  }
  w.report.features[0].psi = age_psi;
  w.report.drift_share = share;
  return w;
}

class AlertEngineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = SqliteStore::Open(dir_.path() / "vigil.db");
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = std::move(*store);
    auto config = ParseModelConfig(kConfig, "credit");
    ASSERT_TRUE(config.ok()) << config.status().ToString();
    config_ = std::make_shared<const ModelConfig>(*config);
    auto profile = std::make_shared<ReferenceProfile>();
    profile->rows = 100;
    ColumnProfile age;
    age.name = "Age";
    age.edges = {30, 50};
    age.centers = {25, 40, 60};
    age.counts = {30, 40, 30};
    ColumnProfile home;
    home.name = "Home";
    home.categorical = true;
    home.categories = {"own", "rent"};
    home.counts = {60, 40};
    profile->features = {age, home};
    profile->prediction.name = "prediction";
    profile->prediction.edges = {0.5};
    profile->prediction.centers = {0.25, 0.75};
    profile->prediction.counts = {50, 50};
    profile_ = profile;
    options_.webhooks = {"http://127.0.0.1:9/hook"};
    options_.alertmanagers = {"http://127.0.0.1:9/"};
    options_.resend_interval_ms = 60'000;
    options_.external_url = "http://vigil.test";
    engine_ = std::make_unique<AlertEngine>(options_, *store_, registry_, [this] { return now_; });
    ASSERT_TRUE(engine_->Start().ok());
  }

  std::vector<std::string> Events(int64_t alert_id) {
    std::vector<std::string> kinds;
    const auto events = store_->AlertEvents(alert_id);
    for (const AlertEvent& e : *events) kinds.push_back(e.kind);
    return kinds;
  }
  std::vector<Notification> Outbox() { return *store_->DueNotifications(INT64_MAX, 1000); }
  void DrainOutbox() {
    for (const Notification& n : Outbox()) ASSERT_TRUE(store_->FinishNotification(n, {0, n.alert_id, now_, "notified", 0, "{}"}).ok());
  }
  AlertRecord Only(const std::string& rule) {
    std::vector<AlertRecord> found;
    const auto alerts = store_->Alerts({});
    for (const AlertRecord& a : *alerts) {
      if (a.rule == rule) found.push_back(a);
    }
    EXPECT_EQ(found.size(), 1u);
    return found.empty() ? AlertRecord{} : found[0];
  }

  testing::TempDir dir_;
  std::unique_ptr<SqliteStore> store_;
  std::shared_ptr<const ModelConfig> config_;
  std::shared_ptr<const ReferenceProfile> profile_;
  MetricsRegistry registry_;
  AlertEngineOptions options_;
  int64_t now_ = kStart;
  std::unique_ptr<AlertEngine> engine_;
};

TEST_F(AlertEngineTest, PendingThenFiringThenResolvedWithEveryTransitionStoredAndNotified) {
  engine_->OnWindow(Window(config_, profile_, 0.30, 0.0));
  AlertRecord a = Only("age_psi");
  EXPECT_EQ(a.state, "pending") << "for: 2 needs a second window";
  EXPECT_TRUE(Outbox().empty()) << "pending alerts notify no one";

  now_ += 60'000;
  engine_->OnWindow(Window(config_, profile_, 0.40, 0.0));
  a = Only("age_psi");
  EXPECT_EQ(a.state, "firing");
  EXPECT_EQ(a.fired_ms, kStart + 60'000);
  EXPECT_EQ(a.resolve_by_ms, a.fired_ms + 3600'000);
  EXPECT_DOUBLE_EQ(a.value, 0.40);
  EXPECT_DOUBLE_EQ(a.threshold, 0.25);
  EXPECT_EQ(a.feature, "Age");
  const json labels = json::parse(a.labels);
  EXPECT_EQ(labels, json({{"alertname", "age_psi"}, {"model", "credit"}, {"version", "1"}, {"feature", "Age"},
                          {"severity", "warning"}, {"team", "risk"}}));
  const auto outbox = Outbox();
  ASSERT_EQ(outbox.size(), 2u);
  const Notification& hook = outbox[0].kind == "webhook" ? outbox[0] : outbox[1];
  const Notification& am = outbox[0].kind == "webhook" ? outbox[1] : outbox[0];
  EXPECT_EQ(hook.url, "http://127.0.0.1:9/hook");
  const json body = json::parse(hook.payload);
  EXPECT_EQ(body["event"], "firing");
  EXPECT_EQ(body["idempotency_key"], hook.idempotency_key);
  EXPECT_EQ(body["alert"]["id"], a.id);
  EXPECT_EQ(body["alert"]["resolve_by"], "2027-01-15T09:01:00.000Z");
  EXPECT_EQ(am.url, "http://127.0.0.1:9/api/v2/alerts");
  const json am_body = json::parse(am.payload);
  ASSERT_TRUE(am_body.is_array());
  EXPECT_EQ(am_body[0]["labels"]["alertname"], "age_psi");
  EXPECT_EQ(am_body[0]["annotations"]["summary"], "Age moved");
  EXPECT_EQ(am_body[0]["startsAt"], "2027-01-15T08:01:00.000Z");
  EXPECT_EQ(am_body[0]["endsAt"], "2027-01-15T08:05:00.000Z") << "four re-send intervals ahead";
  EXPECT_EQ(am_body[0]["generatorURL"], "http://vigil.test/api/alerts/" + std::to_string(a.id));
  DrainOutbox();

  // Still drifting: no new alert, no new event.
  now_ += 60'000;
  engine_->OnWindow(Window(config_, profile_, 0.35, 0.0));
  EXPECT_EQ(Events(a.id), (std::vector<std::string>{"pending", "firing", "notified", "notified"}));

  now_ += 60'000;
  engine_->OnWindow(Window(config_, profile_, 0.05, 0.0));
  a = Only("age_psi");
  EXPECT_EQ(a.state, "resolved");
  EXPECT_EQ(a.resolved_ms, now_);
  const auto resolved = Outbox();
  ASSERT_EQ(resolved.size(), 2u);
  for (const Notification& n : resolved) {
    if (n.kind == "alertmanager") {
      EXPECT_EQ(json::parse(n.payload)[0]["endsAt"], "2027-01-15T08:03:00.000Z") << "ends when it resolved";
    } else {
      EXPECT_EQ(json::parse(n.payload)["event"], "resolved");
    }
  }
  EXPECT_TRUE(store_->Alerts({.model = "", .state = "active"})->empty());

  // A new excursion is a new alert.
  now_ += 60'000;
  engine_->OnWindow(Window(config_, profile_, 0.9, 0.0));
  EXPECT_EQ(store_->Alerts({})->size(), 2u);
  // ... and one window back under clears it before it fires.
  now_ += 60'000;
  engine_->OnWindow(Window(config_, profile_, 0.1, 0.0));
  const auto all = *store_->Alerts({});
  EXPECT_EQ(all[0].state, "inactive");
  EXPECT_EQ(Events(all[0].id), (std::vector<std::string>{"pending", "cleared"}));
}

TEST_F(AlertEngineTest, ForOneFiresOnTheFirstWindowAndMetricsCountAlertsByState) {
  engine_->OnWindow(Window(config_, profile_, 0.0, 0.5));
  EXPECT_TRUE(store_->Alerts({})->empty()) << "0.5 is not above 0.5";
  engine_->OnWindow(Window(config_, profile_, 0.0, 0.6));
  const AlertRecord a = Only("drifting");
  EXPECT_EQ(a.state, "firing");
  EXPECT_EQ(a.feature, "");
  EXPECT_EQ(Events(a.id), (std::vector<std::string>{"pending", "firing"}));
  EXPECT_NE(registry_.Render().find(
                R"(vigil_alerts{model="credit",rule="drifting",state="firing",severity="info"} 1)"),
            std::string::npos)
      << registry_.Render();
}

TEST_F(AlertEngineTest, AcknowledgementIsStoredAndOnlyForFiringAlerts) {
  EXPECT_EQ(engine_->Acknowledge(99, "ana", "").status().code(), StatusCode::kNotFound);
  engine_->OnWindow(Window(config_, profile_, 0.3, 0.0));
  const int64_t id = Only("age_psi").id;
  EXPECT_EQ(engine_->Acknowledge(id, "ana", "").status().code(), StatusCode::kFailedPrecondition)
      << "a pending alert cannot be acknowledged";
  now_ += 60'000;
  engine_->OnWindow(Window(config_, profile_, 0.3, 0.0));
  DrainOutbox();
  now_ += 5'000;
  auto acked = engine_->Acknowledge(id, "ana", "looking at the Age pipeline");
  ASSERT_TRUE(acked.ok()) << acked.status().ToString();
  const AlertRecord stored = **store_->GetAlert(id);
  EXPECT_EQ(stored.acknowledged_by, "ana");
  EXPECT_EQ(stored.acknowledgement_note, "looking at the Age pipeline");
  EXPECT_EQ(stored.acknowledged_ms, now_);
  EXPECT_EQ(stored.state, "firing") << "acknowledging does not resolve";
  EXPECT_EQ(Events(id).back(), "acknowledged");
  const auto outbox = Outbox();
  ASSERT_EQ(outbox.size(), 1u) << "the webhook hears of it; Alertmanager has no acknowledgements";
  EXPECT_EQ(json::parse(outbox[0].payload)["alert"]["acknowledged"]["by"], "ana");
  DrainOutbox();
  now_ += 60'000;
  engine_->OnWindow(Window(config_, profile_, 0.0, 0.0));
  EXPECT_EQ(engine_->Acknowledge(id, "ana", "").status().code(), StatusCode::kFailedPrecondition);
}

TEST_F(AlertEngineTest, PastItsDeadlineAFiringAlertEscalatesOnceAndAcknowledgementDoesNotStopIt) {
  engine_->OnWindow(Window(config_, profile_, 0.3, 0.0));
  now_ += 1000;
  engine_->OnWindow(Window(config_, profile_, 0.3, 0.0));
  const int64_t id = Only("age_psi").id;
  ASSERT_TRUE(engine_->Acknowledge(id, "ana", "on it").ok());
  DrainOutbox();
  // Re-sends to Alertmanager keep it alive there, without events.
  now_ += 60'000;
  engine_->Evaluate(Served(config_), nullptr);
  auto outbox = Outbox();
  ASSERT_EQ(outbox.size(), 1u);
  EXPECT_EQ(outbox[0].kind, "alertmanager");
  DrainOutbox();
  now_ = Only("age_psi").resolve_by_ms - 1;
  engine_->Evaluate(Served(config_), nullptr);
  EXPECT_EQ(Only("age_psi").severity, "warning");
  DrainOutbox();
  now_ += 1;
  engine_->Evaluate(Served(config_), nullptr);
  const AlertRecord a = Only("age_psi");
  EXPECT_EQ(a.severity, "critical");
  EXPECT_EQ(a.escalated_ms, now_);
  EXPECT_EQ(Events(id).back(), "escalated");
  outbox = Outbox();
  ASSERT_EQ(outbox.size(), 2u);
  for (const Notification& n : outbox) {
    const json body = json::parse(n.payload);
    if (n.kind == "webhook") {
      EXPECT_EQ(body["event"], "escalated");
      EXPECT_EQ(body["alert"]["severity"], "critical");
    } else {
      EXPECT_EQ(body[0]["labels"]["severity"], "critical");
    }
  }
  DrainOutbox();
  now_ += 30'000;
  engine_->Evaluate(Served(config_), nullptr);
  EXPECT_TRUE(Outbox().empty()) << "escalation happens once";
}

TEST_F(AlertEngineTest, SilencesSuppressNotificationsUntilTheyEnd) {
  Silence bad;
  bad.matchers = R"([{"name": "feature"}])";
  bad.ends_ms = now_ + 1000;
  EXPECT_NE(engine_->AddSilence(bad).status().message().find("matchers[0].value"), std::string::npos);
  bad.matchers = R"([{"name": "feature", "value": "(", "isRegex": true}])";
  EXPECT_NE(engine_->AddSilence(bad).status().message().find("matchers[0].value: not a regular expression"),
            std::string::npos);
  bad.matchers = R"([{"name": "feature", "value": "Age"}])";
  bad.ends_ms = now_ - 1;
  EXPECT_EQ(engine_->AddSilence(bad).status().code(), StatusCode::kInvalidArgument);

  Silence s;
  s.matchers = R"([{"name": "feature", "value": "A.e", "isRegex": true}, {"name": "team", "value": "risk"}])";
  s.ends_ms = now_ + 10 * 60'000;
  s.created_by = "ana";
  s.comment = "planned Age backfill";
  auto id = engine_->AddSilence(s);
  ASSERT_TRUE(id.ok()) << id.status().ToString();
  // A silence that does not match (dataset alert has no team label) does not hide it.
  engine_->OnWindow(Window(config_, profile_, 0.3, 0.6));
  now_ += 1000;
  engine_->OnWindow(Window(config_, profile_, 0.3, 0.6));
  const AlertRecord age = Only("age_psi");
  EXPECT_EQ(age.state, "firing");
  for (const Notification& n : Outbox()) EXPECT_NE(n.alert_id, age.id) << "silenced";
  EXPECT_FALSE(Outbox().empty()) << "the drift_share alert is not silenced";
  const auto events = *store_->AlertEvents(age.id);
  EXPECT_EQ(json::parse(events.back().detail)["silenced_by"], *id);
  DrainOutbox();
  now_ += 60'000;
  engine_->Evaluate(Served(config_), nullptr);
  for (const Notification& n : Outbox()) EXPECT_NE(n.alert_id, age.id) << "no re-sends while silenced";
  DrainOutbox();

  // The silence ends; the alert still fires, so now it is told.
  now_ += 10 * 60'000;
  engine_->Evaluate(Served(config_), nullptr);
  bool told = false;
  for (const Notification& n : Outbox()) told = told || n.alert_id == age.id;
  EXPECT_TRUE(told);
  EXPECT_EQ(Events(age.id).back(), "notified");
  EXPECT_TRUE(engine_->ActiveSilences().empty());

  // Expiring by hand.
  s.ends_ms = now_ + 60'000;
  auto second = engine_->AddSilence(s);
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(engine_->ActiveSilences().size(), 1u);
  EXPECT_TRUE(*engine_->ExpireSilence(*second));
  EXPECT_FALSE(*engine_->ExpireSilence(*second)) << "already ended";
  EXPECT_TRUE(engine_->ActiveSilences().empty());
}

TEST_F(AlertEngineTest, ARestartedEngineCarriesOnWithTheAlertsItHad) {
  engine_->OnWindow(Window(config_, profile_, 0.3, 0.0));
  now_ += 1000;
  engine_->OnWindow(Window(config_, profile_, 0.3, 0.0));
  const int64_t id = Only("age_psi").id;
  DrainOutbox();
  MetricsRegistry registry;
  AlertEngine restarted(options_, *store_, registry, [this] { return now_; });
  ASSERT_TRUE(restarted.Start().ok());
  ASSERT_TRUE(restarted.Acknowledge(id, "bo", "").ok()) << "it knows the firing alert";
  now_ += 1000;
  restarted.OnWindow(Window(config_, profile_, 0.0, 0.0));
  EXPECT_EQ(Only("age_psi").state, "resolved");
}

TEST_F(AlertEngineTest, RemovingARuleResolvesItsAlerts) {
  engine_->OnWindow(Window(config_, profile_, 0.0, 0.9));
  ASSERT_EQ(Only("drifting").state, "firing");
  ModelConfig changed = *config_;
  changed.alerts.pop_back();
  now_ += 1000;
  engine_->Evaluate(Served(std::make_shared<const ModelConfig>(changed)), nullptr);
  EXPECT_EQ(Only("drifting").state, "resolved");
  EXPECT_NE(store_->AlertEvents(Only("drifting").id)->back().detail.find("rule removed"), std::string::npos);
}

TEST_F(AlertEngineTest, ServingRulesUseTheIntervalsErrorRateAndLatency) {
  auto config = ParseModelConfig(std::string(kConfig).substr(0, std::string(kConfig).find("alerts:")) +
                                     "alerts:\n  - {name: errors, metric: error_rate, threshold: 0.1}\n"
                                     "  - {name: slow, metric: latency_p99, threshold: 0.5}\n",
                                 "credit");
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  const auto shared = std::make_shared<const ModelConfig>(*config);
  MetricsRegistry registry;
  ServingMetrics serving(registry);
  VersionMetrics v = serving.ForVersion("credit", "1");
  engine_->Evaluate(Served(shared), &serving);  // The baseline.
  for (int i = 0; i < 95; ++i) {
    v.requests->Increment();
    v.request_latency->Observe(0.001);
  }
  for (int i = 0; i < 5; ++i) serving.CountFailure("credit", "1", "invalid_argument");
  now_ += 60'000;
  engine_->Evaluate(Served(shared), &serving);
  EXPECT_TRUE(store_->Alerts({})->empty()) << "5% errors, p99 in the 1 ms bucket";
  for (int i = 0; i < 80; ++i) v.requests->Increment();
  for (int i = 0; i < 20; ++i) serving.CountFailure("credit", "1", "internal");
  for (int i = 0; i < 80; ++i) v.request_latency->Observe(2.0);
  now_ += 60'000;
  engine_->Evaluate(Served(shared), &serving);
  const AlertRecord errors = Only("errors");
  EXPECT_EQ(errors.state, "firing");
  EXPECT_DOUBLE_EQ(errors.value, 0.2);
  EXPECT_EQ(errors.version, 0) << "serving rules watch the model";
  EXPECT_EQ(Only("slow").state, "firing");
  EXPECT_GT(Only("slow").value, 1.0);
}

}  // namespace
}  // namespace vigil

namespace vigil {
namespace {

TEST_F(AlertEngineTest, AWindowOfRefusedRequestsOnlyResolvesNothing) {
  engine_->OnWindow(Window(config_, profile_, 0.0, 0.9));
  ASSERT_EQ(Only("drifting").state, "firing");
  ClosedWindow empty = Window(config_, profile_, 0.0, 0.0);
  empty.report.rows = 0;  // Every request refused: no data to judge drift by.
  empty.report.rejected = 50;
  now_ += 1000;
  engine_->OnWindow(empty);
  EXPECT_EQ(Only("drifting").state, "firing");
}

TEST_F(AlertEngineTest, AlertsOfAVersionOrModelNoLongerServedResolve) {
  engine_->OnWindow(Window(config_, profile_, 0.0, 0.9));
  ASSERT_EQ(Only("drifting").state, "firing");
  now_ += 1000;
  engine_->Evaluate(Served(config_), nullptr);
  EXPECT_EQ(Only("drifting").state, "firing") << "version 1 still serves";
  now_ += 1000;
  engine_->Evaluate({{"credit", config_, {2}}}, nullptr);
  EXPECT_EQ(Only("drifting").state, "resolved");
  EXPECT_NE(store_->AlertEvents(Only("drifting").id)->back().detail.find("version no longer served"),
            std::string::npos);
}

// Logs 20 one-row requests of `version` at `time_ms` (probability of
// "good" i/20, client ids "<version>-<time_ms>-<i>") and feedback for each: "good"
// for the upper half, so every quality metric is defined.
void LogWithFeedback(Store& store, int64_t version, int64_t time_ms) {
  LogSchema schema;
  schema.features = {{"Age", false, {}}, {"Home", true, {"own", "rent"}}};
  std::string bytes;
  LogSegmentBuilder builder(schema, &bytes);
  LogSegment segment{"credit", version, time_ms, time_ms, 0, 0, {}, {}};
  std::vector<FeedbackItem> feedback;
  for (int i = 0; i < 20; ++i) {
    const std::string id = std::to_string(version) + "-" + std::to_string(time_ms) + "-" + std::to_string(i);
    Tensor features("input", DataType::kFp32, {1, 2});
    Tensor probability("probability", DataType::kFp32, {1});
    probability.values<float>()[0] = static_cast<float>(i) / 20;
    const float score = probability.values<float>()[0];
    segment.client_ids.push_back({id, builder.records(), 1});
    builder.Add(EncodeLogRecord(id, true, time_ms, "champion", features, {&score, 1}, {}, {probability}));
    ++segment.requests;
    ++segment.rows;
    feedback.push_back({id, 0, i >= 10 ? "\"good\"" : "\"bad\""});
  }
  segment.data = builder.Finish();
  ASSERT_TRUE(store.AppendLogSegment(segment).ok());
  ASSERT_TRUE(store.RecordFeedback("credit", feedback, time_ms).ok());
}

TEST_F(AlertEngineTest, QualityGaugesOfVersionsWithoutFeedbackInTheLastDayLeaveMetrics) {
  LogWithFeedback(*store_, 1, now_ - 1000);
  LogWithFeedback(*store_, 2, now_ - 1000);
  engine_->Evaluate({{"credit", config_, {1, 2}}}, nullptr);
  const std::string v1 = R"(vigil_model_quality{model="credit",version="1",metric="roc_auc",bound="value"} 1)";
  const std::string v2 = R"(vigil_model_quality_labelled_rows{model="credit",version="2"} 20)";
  ASSERT_NE(registry_.Render().find(v1), std::string::npos) << registry_.Render();
  ASSERT_NE(registry_.Render().find(v2), std::string::npos);
  // A day later only version 2 has new labelled predictions: version 1's
  // gauges go rather than keep a stale value.
  now_ += 24 * 3600'000 + 60'000;
  LogWithFeedback(*store_, 2, now_ - 1000);
  engine_->Evaluate({{"credit", config_, {1, 2}}}, nullptr);
  const std::string text = registry_.Render();
  EXPECT_EQ(text.find(R"(version="1")"), std::string::npos) << text;
  EXPECT_NE(text.find(v2), std::string::npos) << text;
}

TEST_F(AlertEngineTest, ASilenceDoesNotHideTheResolutionOfAnAlertReceiversWereToldOf) {
  engine_->OnWindow(Window(config_, profile_, 0.0, 0.9));
  DrainOutbox();  // "firing" went out.
  Silence s;
  s.matchers = R"([{"name": "alertname", "value": "drifting"}])";
  s.ends_ms = now_ + 3600'000;
  ASSERT_TRUE(engine_->AddSilence(s).ok());
  now_ += 1000;
  engine_->OnWindow(Window(config_, profile_, 0.0, 0.0));
  ASSERT_EQ(Only("drifting").state, "resolved");
  const auto outbox = Outbox();
  ASSERT_EQ(outbox.size(), 2u);
  for (const Notification& n : outbox) {
    if (n.kind == "webhook") {
      EXPECT_EQ(json::parse(n.payload)["event"], "resolved");
    }
  }
}

TEST_F(AlertEngineTest, SilenceRegularExpressionsRunInLinearTime) {
  // Exponential for a backtracking engine (std::regex takes minutes on a
  // label this long); RE2 answers at once.
  Silence s;
  s.matchers = R"([{"name": "alertname", "value": "((.*)*)*b", "isRegex": true}])";
  s.ends_ms = now_ + 3600'000;
  ASSERT_TRUE(engine_->AddSilence(s).ok());
  engine_->OnWindow(Window(config_, profile_, 0.0, 0.9));  // alertname "drifting": matched against the pattern.
  EXPECT_EQ(Only("drifting").state, "firing");
  EXPECT_FALSE(Outbox().empty()) << "not silenced: no 'b' at the end";
  Silence too_long = s;
  too_long.matchers = R"([{"name": "a", "value": ")" + std::string(2000, 'x') + R"(", "isRegex": true}])";
  EXPECT_EQ(engine_->AddSilence(too_long).status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace vigil

namespace vigil {
namespace {

TEST_F(AlertEngineTest, AlertsThatEndedAreDeletedAfterTheHistoryPeriod) {
  engine_->OnWindow(Window(config_, profile_, 0.0, 0.9));  // drifting fires...
  now_ += 1000;
  engine_->OnWindow(Window(config_, profile_, 0.0, 0.0));  // ...and resolves.
  now_ += 1000;
  engine_->OnWindow(Window(config_, profile_, 0.0, 0.9));  // A second one fires and stays.
  engine_->Evaluate(Served(config_), nullptr);
  ASSERT_EQ(store_->Alerts({})->size(), 2u);
  now_ += 31LL * 24 * 3600 * 1000;  // Past the 30-day default.
  engine_->OnWindow(Window(config_, profile_, 0.0, 0.9));  // Still drifting.
  engine_->Evaluate(Served(config_), nullptr);
  const auto left = *store_->Alerts({});
  ASSERT_EQ(left.size(), 1u) << "the resolved one is gone, the firing one stays";
  EXPECT_EQ(left[0].state, "firing");
}

}  // namespace
}  // namespace vigil

namespace vigil {
namespace {

TEST_F(AlertEngineTest, OneUndeliveredReSendPerAlertAndNoneOnceResolved) {
  engine_->OnWindow(Window(config_, profile_, 0.0, 0.9));
  DrainOutbox();
  for (int i = 0; i < 3; ++i) {  // Alertmanager is down: nothing is delivered.
    now_ += 60'000;
    engine_->Evaluate(Served(config_), nullptr);
  }
  auto outbox = Outbox();
  ASSERT_EQ(outbox.size(), 1u) << "each re-send replaced the last";
  EXPECT_TRUE(outbox[0].resend);
  EXPECT_EQ(json::parse(outbox[0].payload)[0]["endsAt"], "2027-01-15T08:07:00.000Z") << "the newest";
  now_ += 1000;
  engine_->OnWindow(Window(config_, profile_, 0.0, 0.0));
  outbox = Outbox();
  ASSERT_EQ(outbox.size(), 2u) << "the resolution only, to the webhook and Alertmanager";
  for (const Notification& n : outbox) EXPECT_FALSE(n.resend);
}

}  // namespace
}  // namespace vigil
