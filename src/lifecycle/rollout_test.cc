// Rollouts end to end inside one process: the real credit models, a real
// SQLite store and prediction log, the manager, the HTTP router and the
// controller, on the system clock (the prediction log stamps requests with
// it), with one-second windows.
#include "lifecycle/rollout.h"

#include <gtest/gtest.h>

#include <map>
#include <nlohmann/json.hpp>
#include <thread>

#include "http/api_router.h"
#include "lifecycle/closed_loop.h"
#include "lifecycle/job_runner.h"
#include "lifecycle/registry.h"
#include "monitor/prediction_log.h"
#include "serving/shadow_runner.h"
#include "store/sqlite_store.h"
#include "testing/test_repository.h"

namespace vigil {
namespace {

using nlohmann::json;
using testing::TempDir;

constexpr char kRow[] =
    R"({"id":"%s","inputs":[{"name":"input","datatype":"FP32","shape":[1,13],"data":[%d,5,60,30,1,0,1,%d,129,0,0,800,846]}]})";

class RolloutTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    trained_ = new TempDir();
    testing::TrainCreditModel(trained_->path(), "credit", 1);
    testing::TrainCreditModel(trained_->path(), "other", 1, /*seed=*/7, /*rounds=*/20);
  }
  static void TearDownTestSuite() { delete trained_; }

  void SetUp() override {
    std::filesystem::copy(trained_->path() / "credit", repo_.path() / "credit", std::filesystem::copy_options::recursive);
    auto store = SqliteStore::Open(dir_.path() / "vigil.db");
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = std::move(*store);
    registry_ = std::make_unique<Registry>(*store_, repo_.path(), backends_);
    ASSERT_TRUE(registry_->Adopt(1, Options("")).ok());
    ASSERT_TRUE(registry_->Register(Options(trained_->path() / "other" / "1" / "model.json")).ok());  // 2.
    ASSERT_TRUE(registry_->SetAlias("credit", "champion", 1, "ana", "first").ok());
    ModelManager::Options o;
    o.repository = repo_.path();
    o.mode = ModelControlMode::kNone;
    o.catalog = registry_.get();
    manager_ = std::make_unique<ModelManager>(o, backends_, metrics_);
    ASSERT_TRUE(manager_->Start().ok());
    PredictionLogOptions log_options;
    log_options.flush_interval = std::chrono::milliseconds(10);
    log_ = std::make_unique<PredictionLog>(*store_, log_options, metrics_registry_);
    inference_ = std::make_unique<InferenceService>(*manager_);
    shadow_ = std::make_unique<ShadowRunner>(*inference_, metrics_registry_, log_.get());
    rollouts_ = std::make_unique<RolloutController>(*store_, *manager_, metrics_, shadow_.get(),
                                                    RolloutController::Options{});
    ApiRouter::Services services;
    services.log = log_.get();
    services.store = store_.get();
    services.registry = registry_.get();
    services.rollouts = rollouts_.get();
    services.shadow = shadow_.get();
    router_ = std::make_unique<ApiRouter>(*manager_, *inference_, metrics_, services);
  }

  void TearDown() override {
    router_.reset();
    rollouts_.reset();
    shadow_.reset();
    log_.reset();
    manager_->Stop();
  }

  RegisterOptions Options(const std::filesystem::path& artifact) {
    RegisterOptions options;
    options.model = "credit";
    options.artifact_file = artifact;
    options.author = "ana";
    return options;
  }

  HttpResponse Call(const std::string& method, const std::string& path, std::string body = "") {
    HttpRequest r{method, path, "", std::move(body), ""};
    return router_->Handle(r);
  }

  // Sends `n` requests with ids prefix-0, prefix-1, ...; the versions that answered, by id.
  std::map<std::string, std::string> Send(int n, const std::string& prefix) {
    std::map<std::string, std::string> answered;
    for (int i = 0; i < n; ++i) {
      const std::string id = prefix + "-" + std::to_string(i);
      char body[512];
      std::snprintf(body, sizeof(body), kRow, id.c_str(), 6 + i % 30, 20 + i % 50);
      HttpResponse r = Call("POST", "/v2/models/credit/infer", body);
      EXPECT_EQ(r.status, 200) << r.body;
      answered[id] = json::parse(r.body)["model_version"].get<std::string>();
    }
    return answered;
  }

  static int Count(const std::map<std::string, std::string>& answered, const std::string& version) {
    int n = 0;
    for (const auto& [id, v] : answered) n += v == version ? 1 : 0;
    return n;
  }

  // Waits out a one-second window, with the log written.
  void PassWindow() {
    ASSERT_TRUE(log_->Flush(std::chrono::seconds(10)));
    std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  }

  std::vector<json> RolloutEvents() {
    ModelEventQuery q;
    q.model = "credit";
    q.kind = "rollout";
    auto events = store_->ModelEvents(q);
    EXPECT_TRUE(events.ok());
    std::vector<json> out;
    for (auto it = events->rbegin(); it != events->rend(); ++it) out.push_back(json::parse(it->detail));
    return out;  // Oldest first.
  }

  static RolloutConfig Plan(const std::string& mode, std::vector<double> steps) {
    RolloutConfig plan;
    plan.mode = mode;
    plan.steps = std::move(steps);
    plan.window_s = 1;
    plan.interval_s = 1;
    plan.min_requests = 20;
    plan.checks.max_prediction_psi = 50;  // Two seeds of the same model; judged in its own test.
    plan.checks.latency_slack_ms = 1000;  // A slow machine's hiccup is not the candidate's fault.
    return plan;
  }

  static TempDir* trained_;
  TempDir repo_, dir_;
  std::unique_ptr<SqliteStore> store_;
  BackendRegistry backends_ = BackendRegistry::WithBuiltins();
  std::unique_ptr<Registry> registry_;
  MetricsRegistry metrics_registry_;
  ServingMetrics metrics_{metrics_registry_};
  std::unique_ptr<ModelManager> manager_;
  std::unique_ptr<PredictionLog> log_;
  std::unique_ptr<InferenceService> inference_;
  std::unique_ptr<ShadowRunner> shadow_;
  std::unique_ptr<RolloutController> rollouts_;
  std::unique_ptr<ApiRouter> router_;
};
TempDir* RolloutTest::trained_ = nullptr;

TEST(InShareTest, DeterministicAndProportional) {
  int in = 0;
  for (int i = 0; i < 20000; ++i) {
    const std::string id = "request-" + std::to_string(i);
    const bool a = InShare(id, 0.25);
    EXPECT_EQ(a, InShare(id, 0.25));
    if (a) {
      EXPECT_TRUE(InShare(id, 0.5));  // A larger step keeps the requests of a smaller one.
    }
    in += a ? 1 : 0;
  }
  // Binomial(20000, 0.25): standard deviation 61; six of them either side.
  EXPECT_NEAR(in, 5000, 370);
  EXPECT_FALSE(InShare("x", 0));
  EXPECT_TRUE(InShare("x", 1));
}

TEST_F(RolloutTest, CanaryStepsBySharesOfRequestIdsThenPromotes) {
  RolloutRequest request;
  request.version = 2;
  request.plan = Plan("canary", {30, 100});
  request.actor = "ana";
  request.reason = "try the seed-7 model";
  auto started = rollouts_->Begin("credit", request);
  ASSERT_TRUE(started.ok()) << started.status().ToString();
  EXPECT_EQ(manager_->table()->models.at("credit").split->share, 0.3);

  const auto first = Send(500, "a");
  const int canary = Count(first, "2");
  EXPECT_GT(canary, 500 * 0.3 - 6 * 10.2);  // Binomial(500, 0.3): sd 10.2.
  EXPECT_LT(canary, 500 * 0.3 + 6 * 10.2);
  EXPECT_EQ(Send(500, "a"), first);  // A retry lands where the first try did (PSI needs 200 rows).

  PassWindow();
  rollouts_->Tick();
  auto r = rollouts_->List("credit", 1);
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->front().state, "running") << r->front().analysis;
  EXPECT_EQ(r->front().step, 1) << r->front().analysis;
  EXPECT_EQ(manager_->table()->models.at("credit").split->share, 1.0);

  EXPECT_EQ(Count(Send(250, "b"), "2"), 250);
  PassWindow();
  rollouts_->Tick();
  r = rollouts_->List("credit", 1);
  ASSERT_EQ(r->front().state, "promoted") << r->front().analysis;
  EXPECT_EQ(manager_->table()->models.at("credit").aliases.at("champion"), 2);
  EXPECT_FALSE(manager_->table()->models.at("credit").split);
  EXPECT_EQ(Count(Send(10, "c"), "2"), 10);

  const std::vector<json> events = RolloutEvents();
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[0]["action"], "started");
  EXPECT_EQ(events[0]["evaluation"], "not evaluated");
  EXPECT_EQ(events[1]["action"], "step");
  EXPECT_EQ(events[1]["share"], 100.0);
  EXPECT_EQ(events[1]["analysis"]["verdict"], "pass");
  EXPECT_EQ(events[2]["action"], "promoted");
  const json checks = events[1]["analysis"]["checks"];
  ASSERT_GE(checks.size(), 5u);
  EXPECT_EQ(checks[0]["name"], "traffic");
  EXPECT_GE(checks[0]["candidate"].get<double>(), canary);
  EXPECT_EQ(checks[1]["name"], "error_rate");
  EXPECT_EQ(checks[1]["candidate"], 0.0);
  auto history = registry_->History("credit", "champion", 1);
  ASSERT_TRUE(history.ok());
  EXPECT_EQ(history->front().actor, "vigil");
  EXPECT_NE(history->front().reason.find("passed every step"), std::string::npos);
}

TEST_F(RolloutTest, AFailingCheckRollsBackAtOnce) {
  RolloutRequest request;
  request.version = 2;
  request.plan = Plan("canary", {50, 100});
  request.plan->window_s = 600;                  // Never reached: the failure acts at once.
  request.plan->checks.max_prediction_psi = 1e-9;  // Two different models' scores always differ.
  ASSERT_TRUE(rollouts_->Begin("credit", request).ok());
  Send(500, "a");
  ASSERT_TRUE(log_->Flush(std::chrono::seconds(10)));
  rollouts_->Tick();
  auto r = rollouts_->List("credit", 1);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->front().state, "rolled_back") << r->front().analysis;
  EXPECT_FALSE(manager_->table()->models.at("credit").split);
  EXPECT_EQ(Count(Send(50, "a"), "1"), 50);  // Everything back on the champion.
  EXPECT_EQ(manager_->table()->models.at("credit").aliases.at("champion"), 1);
  const std::vector<json> events = RolloutEvents();
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[1]["action"], "rolled_back");
  EXPECT_EQ(events[1]["analysis"]["verdict"], "fail");
  bool psi_failed = false;
  for (const json& c : events[1]["analysis"]["checks"]) {
    if (c["name"] == "prediction_psi") psi_failed = c["outcome"] == "fail" && c["candidate"].get<double>() > 1e-9;
  }
  EXPECT_TRUE(psi_failed) << events[1].dump(2);
}

TEST_F(RolloutTest, ShadowCopiesAreComparedAndNeverAnswer) {
  RolloutRequest request;
  request.version = 2;
  request.plan = Plan("shadow", {100});
  request.plan->checks.min_agreement = 0.5;
  ASSERT_TRUE(rollouts_->Begin("credit", request).ok());
  EXPECT_EQ(Count(Send(250, "s"), "1"), 250);  // Every answer is the champion's.
  for (int i = 0; i < 1000 && shadow_->CountsOf("credit", 2).ok + shadow_->CountsOf("credit", 2).dropped < 250; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(shadow_->CountsOf("credit", 2).ok, 250);
  // The copies were logged as shadow under the same ids.
  PassWindow();
  auto logged = store_->Predictions("credit", 0, INT64_MAX, 1000);
  ASSERT_TRUE(logged.ok());
  int shadows = 0;
  for (const StoredPrediction& p : *logged) shadows += p.route == "shadow" && p.version == 2 ? 1 : 0;
  EXPECT_EQ(shadows, 250);
  // Feedback for a shadowed request labels the answered (champion's) prediction.
  auto fed = store_->RecordFeedback("credit", {{"s-3", 0, "\"bad\""}}, 1);
  ASSERT_TRUE(fed.ok());
  auto labelled = store_->LabeledPredictions("credit", 0, INT64_MAX, 10);
  ASSERT_TRUE(labelled.ok());
  ASSERT_EQ(labelled->size(), 1u);
  EXPECT_EQ(labelled->front().prediction->route, "champion");

  rollouts_->Tick();
  auto r = rollouts_->List("credit", 1);
  ASSERT_EQ(r->front().state, "promoted") << r->front().analysis;
  const json analysis = json::parse(r->front().analysis);
  EXPECT_EQ(analysis["shadow"]["pairs"], 250);
  EXPECT_GT(analysis["shadow"]["agreement"].get<double>(), 0.5);
  EXPECT_GE(analysis["shadow"]["score_difference"]["p99"].get<double>(),
            analysis["shadow"]["score_difference"]["p50"].get<double>());
}

TEST_F(RolloutTest, StartIsValidatedAndAbortReturnsTrafficToTheChampion) {
  RolloutRequest request;
  request.version = 2;
  request.automatic = true;
  auto refused = rollouts_->Begin("credit", request);
  EXPECT_EQ(refused.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(refused.status().message().find("not evaluated"), std::string::npos) << refused.status().message();
  request.automatic = false;
  request.version = 1;
  EXPECT_EQ(rollouts_->Begin("credit", request).status().code(), StatusCode::kFailedPrecondition);
  request.version = 9;
  EXPECT_EQ(rollouts_->Begin("credit", request).status().code(), StatusCode::kNotFound);
  request.version = 2;
  request.plan = Plan("canary", {100});
  ASSERT_TRUE(rollouts_->Begin("credit", request).ok());
  EXPECT_EQ(rollouts_->Begin("credit", request).status().code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(Count(Send(20, "x"), "2"), 20);

  // Over the API: status, then abort.
  HttpResponse status = Call("GET", "/api/models/credit/rollout");
  ASSERT_EQ(status.status, 200) << status.body;
  EXPECT_EQ(json::parse(status.body)["state"], "running");
  HttpResponse bad = Call("POST", "/api/models/credit/rollout", R"({"version": 2, "steps": [50, 10]})");
  EXPECT_EQ(bad.status, 400);
  EXPECT_NE(bad.body.find("steps[1]: steps must grow"), std::string::npos) << bad.body;
  HttpResponse aborted = Call("POST", "/api/models/credit/rollout/abort", R"({"by": "bo", "reason": "not today"})");
  ASSERT_EQ(aborted.status, 200) << aborted.body;
  EXPECT_EQ(json::parse(aborted.body)["state"], "aborted");
  EXPECT_EQ(Count(Send(20, "x"), "1"), 20);
  EXPECT_EQ(Call("POST", "/api/models/credit/rollout/promote", "").status, 404);
  HttpResponse champion = Call("POST", "/api/models/credit/rollout", R"({"version": 1})");
  EXPECT_EQ(champion.status, 409) << champion.body;
  HttpResponse unknown = Call("POST", "/api/models/credit/rollout", R"({"version": 2, "checks": {"p99": 1}})");
  EXPECT_EQ(unknown.status, 400);
  EXPECT_NE(unknown.body.find("checks.p99: unknown check"), std::string::npos) << unknown.body;
  HttpResponse range = Call("POST", "/api/models/credit/rollout", R"({"version": 2, "checks": {"min_feedback": 0}})");
  EXPECT_EQ(range.status, 400);
  EXPECT_NE(range.body.find("checks.min_feedback"), std::string::npos) << range.body;
}

TEST_F(RolloutTest, AStepStillWaitingAtItsDeadlineRollsBack) {
  RolloutRequest request;
  request.version = 2;
  request.plan = Plan("canary", {10, 100});
  request.plan->min_requests = 1000000;  // Never reached.
  request.plan->step_deadline_s = 1;
  ASSERT_TRUE(rollouts_->Begin("credit", request).ok());
  Send(20, "d");
  PassWindow();
  rollouts_->Tick();
  auto r = rollouts_->List("credit", 1);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->front().state, "rolled_back");
  const std::vector<json> events = RolloutEvents();
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[1]["action"], "rolled_back");
  ModelEventQuery q;
  q.model = "credit";
  q.kind = "rollout";
  EXPECT_NE(store_->ModelEvents(q)->front().reason.find("did not pass within its deadline of 1 s: traffic"),
            std::string::npos)
      << store_->ModelEvents(q)->front().reason;
}

TEST_F(RolloutTest, AnAlertWithActionRetrainStartsOneJobPerCooldown) {
  // The runner is not started: the job stays queued, as behind a running one.
  JobRunner jobs(*store_, *registry_, JobRunner::Options{repo_.path(), dir_.path() / "jobs", nullptr});
  ClosedLoop loop(*store_, *manager_, jobs, *rollouts_, repo_.path());
  AlertRule rule;
  rule.name = "auc_low";
  rule.metric = "roc_auc";
  AlertRecord alert;
  alert.id = 7;
  alert.model = "credit";
  alert.version = 1;
  alert.value = 0.61;
  alert.threshold = 0.7;
  loop.OnAlertFired(alert, rule);  // No action: nothing happens.
  EXPECT_TRUE(jobs.List("credit", 10)->empty());

  rule.action = "retrain";
  loop.OnAlertFired(alert, rule);
  auto listed = jobs.List("credit", 10);
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 1u);
  const json spec = json::parse(listed->front().spec);
  EXPECT_EQ(spec["source"], "production");
  EXPECT_EQ(spec["rollout"], true);
  EXPECT_EQ(spec["alias"], json::array({"challenger"}));
  EXPECT_NE(spec["reason"].get<std::string>().find("alert 'auc_low' (#7) fired"), std::string::npos);

  alert.id = 8;
  loop.OnAlertFired(alert, rule);  // Within the default six-hour cool-down.
  EXPECT_EQ(jobs.List("credit", 10)->size(), 1u);
  ModelEventQuery q;
  q.model = "credit";
  q.kind = "retrain";
  auto events = store_->ModelEvents(q);
  ASSERT_TRUE(events.ok());
  ASSERT_EQ(events->size(), 2u);
  const json skipped = json::parse(events->front().detail);
  EXPECT_EQ(skipped["action"], "skipped");
  EXPECT_EQ(skipped["alert"], 8);
  EXPECT_NE(events->front().reason.find("cool-down"), std::string::npos) << events->front().reason;
  const json started = json::parse(events->back().detail);
  EXPECT_EQ(started["action"], "started");
  EXPECT_EQ(started["job"], listed->front().id);
}

}  // namespace
}  // namespace vigil
