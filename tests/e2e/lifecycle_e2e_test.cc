// End-to-end lifecycle with the real `vigil` binary on the credit data:
// version 1 learns from the young applicants, production traffic and its
// outcomes come from the older ones; drift and quality alerts fire; the
// quality alert's `action: retrain` starts a job on production data; the
// gate blesses its version 2; a canary steps it to 100% and promotes it;
// no request fails on the way. A candidate trained on shuffled labels is
// refused by the gate, and the same candidate forced into a canary is rolled
// back by the analysis. Alias history and the one-step rollback close it.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <thread>

#include "dataset/tabular_dataset.h"
#include "e2e/credit_request.h"
#include "e2e/http_client.h"
#include "e2e/server_process.h"
#include "repository/model_config.h"
#include "testing/test_repository.h"

namespace vigil::testing {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

class LifecycleE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto ds = TabularDataset::ReadCsv(CreditCsv());
    ASSERT_TRUE(ds.ok());
    data_ = std::make_unique<TabularDataset>(std::move(*ds));
    // The data's lines by age: young (< 30) and the rest.
    std::ifstream in(CreditCsv());
    std::getline(in, header_);
    std::string line;
    const Column& age = data_->columns()[data_->ColumnIndex("Age")];
    for (size_t r = 0; std::getline(in, line); ++r) {
      lines_.push_back(line);
      (age.numbers[r] < 30 ? young_ : older_).push_back(r);
    }
    ASSERT_EQ(lines_.size(), data_->rows());
  }

  // A CSV of `rows` (labels shuffled with `seed` if non-zero).
  fs::path WriteCsv(const std::string& name, const std::vector<size_t>& rows, uint64_t shuffle_seed = 0) {
    std::vector<std::string> labels, rest;
    for (size_t r : rows) {
      const std::string& l = lines_[r];
      labels.push_back(l.substr(0, l.find(',')));
      rest.push_back(l.substr(l.find(',')));
    }
    if (shuffle_seed) std::shuffle(labels.begin(), labels.end(), std::mt19937_64(shuffle_seed));
    std::string text = header_ + "\n";
    for (size_t i = 0; i < rows.size(); ++i) text += labels[i] + rest[i] + "\n";
    const fs::path path = dir_.path() / name;
    WriteFile(path, text);
    return path;
  }

  std::string Cli(const std::string& args, int* status) {
    std::string output;
    *status = RunCommand(std::string(VIGIL_BINARY) + " " + args, &output);
    return output;
  }

  // Trains version 1 from `csv` as champion and adds `extra` to its model.yaml.
  void TrainChampion(const fs::path& csv, const std::string& extra) {
    int status = 0;
    const std::string out = Cli("train --data " + csv.string() + " --repository " + repo_.path().string() +
                                    " --model credit --rounds 60 --store " + db_.string() + " --alias champion",
                                &status);
    ASSERT_EQ(status, 0) << out;
    const fs::path yaml = repo_.path() / "credit" / "model.yaml";
    WriteFile(yaml, ReadFile(yaml) + extra);
    auto config = LoadModelConfig(yaml, "credit");
    ASSERT_TRUE(config.ok()) << config.status().ToString();
    config_ = *config;
  }

  std::unique_ptr<ServerProcess> Serve() {
    auto server = std::make_unique<ServerProcess>(std::vector<std::string>{
        "--repository", repo_.path().string(), "--store", db_.string(), "--threads", "2", "--alert-interval", "1",
        "--window-rows", "200"});
    EXPECT_TRUE(server->Start()) << server->Output();
    return server;
  }

  // Sends `rows` as one request with id `id`, then their outcomes as
  // feedback; counts failures and which version answered.
  void SendWithFeedback(HttpClient& c, const std::vector<size_t>& rows, const std::string& id) {
    auto r = c.Post("/v2/models/credit/infer", CreditRequest(*data_, config_, rows, id));
    if (r.status != 200) {
      ++failures_;
      ADD_FAILURE() << "request " << id << ": " << r.status << " " << r.body;
      return;
    }
    ++answered_[json::parse(r.body)["model_version"].get<std::string>()];
    const Column& status = data_->columns()[data_->ColumnIndex("Status")];
    json feedback = json::array();
    for (size_t i = 0; i < rows.size(); ++i) {
      feedback.push_back({{"id", id}, {"row", i}, {"label", status.strings[rows[i]]}});
    }
    auto f = c.Post("/v2/models/credit/feedback", feedback.dump());
    if (f.status != 200) {
      ++failures_;
      ADD_FAILURE() << "feedback " << id << ": " << f.status << " " << f.body;
    }
  }

  // Live traffic from `rows` (10 per request, cycling) until `done()` or
  // 90 s.
  template <typename Done>
  bool Traffic(HttpClient& c, const std::vector<size_t>& rows, const std::string& prefix, Done done) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(90);
    for (size_t k = 0; std::chrono::steady_clock::now() < deadline; ++k) {
      if (k % 5 == 0 && done()) return true;
      std::vector<size_t> batch;
      for (size_t i = 0; i < 10; ++i) batch.push_back(rows[(k * 10 + i) % rows.size()]);
      SendWithFeedback(c, batch, prefix + std::to_string(k));
    }
    return done();
  }

  static json Get(HttpClient& c, const std::string& path) {
    auto r = c.Get(path);
    EXPECT_EQ(r.status / 100, 2) << path << ": " << r.body;
    return json::parse(r.body, nullptr, false);
  }

  static std::string Champion(HttpClient& c) {
    const json aliases = Get(c, "/api/models/credit/aliases")["aliases"];
    return aliases.contains("champion") ? std::to_string(aliases["champion"].get<int64_t>()) : "";
  }

  TempDir repo_, dir_;
  const fs::path db_ = dir_.path() / "vigil.db";
  std::unique_ptr<TabularDataset> data_;
  ModelConfig config_;
  std::string header_;
  std::vector<std::string> lines_;
  std::vector<size_t> young_, older_;
  int failures_ = 0;
  std::map<std::string, int> answered_;
};

// The model's lifecycle settings for both tests.
constexpr char kLifecycle[] = R"(gate:
  metric: auc
  max_drop: 0.02
rollout:
  mode: canary
  steps: [20, 50, 100]
  window: 3s
  interval: 1s
  min_requests: 20
  checks:
    max_prediction_psi: 0.5     # the retrained version measured 0.16 to 0.18; shuffled labels 8.3
    max_latency_ratio: 3
    latency_slack_ms: 250       # p99 of a few hundred requests on a shared 2-core machine
    max_quality_drop: 0.05
    min_feedback: 100
)";

TEST_F(LifecycleE2eTest, AlertsRetrainGateCanaryAndPromoteWithNoFailedRequest) {
  TrainChampion(WriteCsv("young.csv", young_), std::string(kLifecycle) + R"(training:
  retrain: {hours: 1, cooldown: 1h}
alerts:
  - name: age_drift
    metric: psi
    feature: Age
    threshold: 0.25
  - name: auc_low
    metric: roc_auc
    comparison: "<"
    threshold: 0.9
    min_samples: 600
    severity: critical
    action: retrain
)");
  auto server = Serve();
  HttpClient c(server->port());
  ASSERT_EQ(Champion(c), "1");

  // 1,500 older applicants in 30 requests, each followed by its outcomes.
  for (size_t b = 0; b < 30; ++b) {
    std::vector<size_t> rows(older_.begin() + b * 50, older_.begin() + b * 50 + 50);
    SendWithFeedback(c, rows, "batch-" + std::to_string(b));
  }
  // The drift alert fires on the first windows; the quality alert once 600
  // labels are in, and its action starts a retraining job.
  const std::vector<size_t> live(older_.begin() + 1500, older_.end());
  ASSERT_TRUE(Traffic(c, live, "live-", [&] { return Champion(c) == "2"; }))
      << "version 2 did not become champion; rollout: " << Get(c, "/api/models/credit/rollout").dump(2)
      << "\njobs: " << Get(c, "/api/jobs?model=credit").dump(2) << "\nalerts: " << Get(c, "/api/alerts").dump(2)
      << "\nmonitor: " << Get(c, "/v2/models/credit/monitor").dump(1).substr(0, 3000) << "\n"
      << server->Output();
  EXPECT_EQ(failures_, 0);
  EXPECT_GT(answered_["1"], 0);
  EXPECT_GT(answered_["2"], 0);

  // Both alerts fired, on version 1.
  std::set<std::string> fired;
  const json alerts = Get(c, "/api/alerts?limit=100");
  for (const json& a : alerts["alerts"]) {
    if (a.contains("fired_at")) fired.insert(a["rule"].get<std::string>());
  }
  EXPECT_TRUE(fired.count("age_drift")) << alerts.dump(2);
  EXPECT_TRUE(fired.count("auc_low"));

  // The chain, oldest first: alert -> job -> evaluation -> rollout steps -> promotion.
  const json events = Get(c, "/api/events?model=credit&limit=1000")["events"];
  std::vector<json> chain(events.rbegin(), events.rend());
  auto find = [&](size_t from, const std::function<bool(const json&)>& match) {
    for (size_t i = from; i < chain.size(); ++i) {
      if (match(chain[i])) return i;
    }
    ADD_FAILURE() << "not found after event " << from << " in:\n" << events.dump(1);
    return chain.size();
  };
  const size_t retrain = find(0, [](const json& e) {
    return e["kind"] == "retrain" && e["detail"]["action"] == "started" && e["detail"]["alertname"] == "auc_low";
  });
  const size_t evaluated = find(retrain, [](const json& e) {
    return e["kind"] == "evaluation" && e["version"] == 2 && e["detail"]["blessed"] == true;
  });
  const size_t job = find(evaluated, [](const json& e) { return e["kind"] == "job" && e["version"] == 2; });
  const size_t started = find(job, [](const json& e) { return e["kind"] == "rollout" && e["detail"]["action"] == "started"; });
  const size_t step2 = find(started, [](const json& e) {
    return e["kind"] == "rollout" && e["detail"]["action"] == "step" && e["detail"]["share"] == 50.0;
  });
  const size_t step3 = find(step2, [](const json& e) {
    return e["kind"] == "rollout" && e["detail"]["action"] == "step" && e["detail"]["share"] == 100.0;
  });
  const size_t moved = find(step3, [](const json& e) {
    return e["kind"] == "alias" && e["detail"]["alias"] == "champion" && e["detail"]["to"] == 2;
  });
  const size_t promoted = find(moved, [](const json& e) { return e["kind"] == "rollout" && e["detail"]["action"] == "promoted"; });
  ASSERT_LT(promoted, chain.size());
  EXPECT_EQ(chain[started]["detail"]["evaluation"], "blessed");
  EXPECT_EQ(chain[started]["detail"]["automatic"], true);
  EXPECT_EQ(chain[promoted]["detail"]["analysis"]["verdict"], "pass");
  EXPECT_EQ(chain[moved]["actor"], "vigil");

  // `vigil events` shows the same chain.
  int status = 0;
  const std::string listed = Cli("events --model credit --store " + db_.string(), &status);
  ASSERT_EQ(status, 0) << listed;
  EXPECT_NE(listed.find("promoted at step 3"), std::string::npos) << listed;
  // The figures docs/rollout.md quotes: run this test binary to see them.
  std::printf("vigil events:\n%s\ngate: %s\n", listed.c_str(), chain[evaluated]["detail"].dump().c_str());
  for (size_t i : {step2, step3, promoted}) {
    for (const json& check : chain[i]["detail"]["analysis"]["checks"]) {
      std::printf("event %zu %s: %s\n", i, check["name"].get<std::string>().c_str(), check["detail"].get<std::string>().c_str());
    }
  }
  EXPECT_NE(listed.find("job "), std::string::npos) << listed;

  // Alias history, and the one-step rollback to version 1.
  const json history = Get(c, "/api/models/credit/history?alias=champion")["history"];
  ASSERT_GE(history.size(), 2u);
  EXPECT_EQ(history[0]["detail"]["to"], 2);
  EXPECT_EQ(history[0]["detail"]["from"], 1);
  const std::string rolled = Cli("rollback credit --store " + db_.string() + " --repository " + repo_.path().string() +
                                     " --reason 'check v1 again'",
                                 &status);
  ASSERT_EQ(status, 0) << rolled;
  // Within a second the server sees the move, loads version 1 again (the
  // rollout had retired it) and sends it the traffic; version 2 serves meanwhile.
  answered_.clear();
  EXPECT_TRUE(Traffic(c, live, "after-", [&] { return answered_["1"] > 0; }));
  answered_.clear();
  Traffic(c, live, "v1-", [&] { return answered_["1"] >= 5; });
  EXPECT_EQ(answered_["2"], 0);
  EXPECT_EQ(failures_, 0);
  EXPECT_EQ(server->Stop(SIGTERM), 0);
}

TEST_F(LifecycleE2eTest, ShuffledLabelsAreRefusedByTheGateAndAForcedCanaryIsRolledBack) {
  // Version 1 learns from every applicant; the golden set keeps the gate honest.
  std::string lifecycle = kLifecycle;
  lifecycle.insert(lifecycle.find("rollout:"), "  golden: golden.csv\n");
  TrainChampion(WriteCsv("all.csv", RowRange(0, lines_.size())), lifecycle);
  std::vector<size_t> golden;
  for (size_t r = 0; r < lines_.size(); r += 5) golden.push_back(r);
  fs::copy_file(WriteCsv("golden.csv", golden), repo_.path() / "credit" / "golden.csv");
  auto server = Serve();
  HttpClient c(server->port());

  // A job on the applicants with their labels shuffled, asking to be rolled out.
  const fs::path shuffled = WriteCsv("shuffled.csv", RowRange(0, lines_.size()), /*seed=*/11);
  auto submitted = c.Post("/api/models/credit/jobs", json{{"source", "csv"},
                                                          {"data", shuffled.string()},
                                                          {"alias", "challenger"},
                                                          {"rollout", true},
                                                          {"by", "ana"}}
                                                         .dump());
  ASSERT_EQ(submitted.status, 202) << submitted.body;
  const std::string job_path = "/api/jobs/" + std::to_string(json::parse(submitted.body)["id"].get<int64_t>());
  json job;
  for (int i = 0; i < 600; ++i) {
    job = Get(c, job_path);
    if (job["state"] != "queued" && job["state"] != "running") break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_EQ(job["state"], "succeeded") << job.dump(2);
  const json evaluation = job["result"]["evaluation"];
  EXPECT_EQ(evaluation["blessed"], false) << evaluation.dump(2);
  EXPECT_LT(evaluation["challenger"].get<double>(), evaluation["champion"].get<double>() - 0.02) << evaluation.dump(2);
  std::this_thread::sleep_for(std::chrono::seconds(1));
  EXPECT_EQ(c.Get("/api/models/credit/rollout").status, 404);  // Not blessed: no rollout.

  // Forced into a canary by hand, it is rolled back by the analysis.
  int status = 0;
  const std::string forced = Cli("rollout start credit 2 --steps 50 100 --window 60s --by bo --reason 'see for "
                                 "ourselves' --server http://127.0.0.1:" + std::to_string(server->port()),
                                 &status);
  ASSERT_EQ(status, 0) << forced;
  EXPECT_NE(forced.find("version 2 against champion 1, canary, running"), std::string::npos) << forced;
  auto state = [&] { return Get(c, "/api/models/credit/rollout")["state"].get<std::string>(); };
  ASSERT_TRUE(Traffic(c, RowRange(0, lines_.size()), "canary-", [&] { return state() != "running"; }));
  const json rollout = Get(c, "/api/models/credit/rollout");
  EXPECT_EQ(rollout["state"], "rolled_back") << rollout.dump(2);
  EXPECT_EQ(rollout["analysis"]["verdict"], "fail") << rollout.dump(2);
  EXPECT_EQ(failures_, 0);
  EXPECT_GT(answered_["2"], 0);  // It did take traffic ...
  EXPECT_EQ(Champion(c), "1");   // ... and the champion never moved.
  answered_.clear();
  Traffic(c, RowRange(0, lines_.size()), "after-", [&] { return answered_["1"] >= 20; });
  EXPECT_EQ(answered_["2"], 0);

  const std::string status_text = Cli("rollout status credit --server http://127.0.0.1:" +
                                      std::to_string(server->port()), &status);
  ASSERT_EQ(status, 0) << status_text;
  EXPECT_NE(status_text.find("rolled_back"), std::string::npos) << status_text;
  EXPECT_NE(status_text.find(" fail "), std::string::npos) << status_text;
  std::printf("gate: %s\nvigil rollout status:\n%s\n", evaluation.dump().c_str(), status_text.c_str());
  EXPECT_EQ(server->Stop(SIGTERM), 0);
}

}  // namespace
}  // namespace vigil::testing
