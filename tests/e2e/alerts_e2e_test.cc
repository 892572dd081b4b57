// End-to-end alerting: the real `vigil` binary raises alerts from drift
// windows and from model quality on feedback, notifies a webhook (a real
// HTTP receiver in this test, which fails the first delivery) and a real
// Alertmanager through its v2 API, and takes acknowledgements and silences.
#include <gtest/gtest.h>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <signal.h>

#include <chrono>
#include <cmath>
#include <mutex>
#include <nlohmann/json.hpp>
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
namespace beast = boost::beast;
using boost::asio::ip::tcp;
using nlohmann::json;

// A webhook receiver on a loopback port: records every request, answers 503
// to the first `failures` and 200 after.
class WebhookReceiver {
 public:
  struct Received {
    std::string body, idempotency_key;
    int answered = 0;
  };
  explicit WebhookReceiver(int failures) : failures_(failures), acceptor_(io_, {boost::asio::ip::make_address("127.0.0.1"), 0}) {
    thread_ = std::thread([this] { Serve(); });
  }
  ~WebhookReceiver() {
    stop_ = true;
    boost::system::error_code ec;
    tcp::socket poke(io_);
    poke.connect(acceptor_.local_endpoint(), ec);  // Unblocks accept().
    thread_.join();
  }
  int port() const { return acceptor_.local_endpoint().port(); }
  std::vector<Received> received() {
    std::lock_guard lock(mu_);
    return received_;
  }

 private:
  void Serve() {
    while (!stop_) {
      tcp::socket socket(io_);
      boost::system::error_code ec;
      acceptor_.accept(socket, ec);
      if (ec || stop_) continue;
      beast::flat_buffer buffer;
      beast::http::request<beast::http::string_body> req;
      beast::http::read(socket, buffer, req, ec);
      if (ec) continue;
      Received r{req.body(), std::string(req["Idempotency-Key"]), 200};
      {
        std::lock_guard lock(mu_);
        if (static_cast<int>(received_.size()) < failures_) r.answered = 503;
        received_.push_back(r);
      }
      beast::http::response<beast::http::string_body> res{static_cast<beast::http::status>(r.answered), 11};
      res.body() = "{}";
      res.prepare_payload();
      beast::http::write(socket, res, ec);
    }
  }
  const int failures_;
  boost::asio::io_context io_;
  tcp::acceptor acceptor_;
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::vector<Received> received_;
  std::thread thread_;
};

// Rows [begin, end) of the credit data as one v2 request, with `age_shift`
// years added to every applicant's age.
std::string Request(const TabularDataset& ds, const ModelConfig& config, size_t begin, size_t end,
                    const std::string& id, double age_shift) {
  return CreditRequest(ds, config, RowRange(begin, end), id, age_shift);
}

// Polls `fetch` every 100 ms until `done` holds on its result (or 60 s pass).
template <typename Fetch, typename Done>
auto PollUntil(Fetch fetch, Done done) {
  auto value = fetch();
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (!done(value) && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    value = fetch();
  }
  return value;
}

class AlertsE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto ds = TabularDataset::ReadCsv(CreditCsv());
    ASSERT_TRUE(ds.ok());
    data_ = std::make_unique<TabularDataset>(std::move(*ds));
  }
  // Trains `versions` versions of the credit model and appends `alerts` and
  // `extra` to its model.yaml.
  ModelConfig Prepare(int versions, const std::string& extra) {
    for (int v = 1; v <= versions; ++v) TrainCreditModel(repo_.path(), "credit", v);
    const fs::path yaml = repo_.path() / "credit" / "model.yaml";
    std::string text = ReadFile(yaml);
    if (versions > 1) text = text.substr(0, text.find("version_policy:")) + "version_policy: all\n" +
                             text.substr(text.find('\n', text.find("version_policy:")) + 1);
    WriteFile(yaml, text + extra);
    auto config = LoadModelConfig(yaml, "credit");
    EXPECT_TRUE(config.ok()) << config.status().ToString() << "\n" << text + extra;
    return config.ok() ? *config : ModelConfig{};
  }
  std::unique_ptr<ServerProcess> Serve(std::vector<std::string> extra) {
    std::vector<std::string> args = {"--repository", repo_.path().string(), "--store", (dir_.path() / "vigil.db").string(),
                                     "--threads", "2", "--alert-interval", "1"};
    args.insert(args.end(), extra.begin(), extra.end());
    auto server = std::make_unique<ServerProcess>(args);
    EXPECT_TRUE(server->Start()) << server->Output();
    return server;
  }

  TempDir repo_;
  TempDir dir_;
  std::unique_ptr<TabularDataset> data_;
};

TEST_F(AlertsE2eTest, DriftAlertReachesAWebhookAndARealAlertmanagerAndIsAcknowledgedSilencedAndResolved) {
  const ModelConfig config = Prepare(1, R"(alerts:
  - name: age_shift
    metric: wasserstein
    feature: Age
    threshold: 0.1
    annotations: {summary: "Applicants' ages moved"}
)");
  // A real Alertmanager, alone (no cluster), routing to nowhere.
  const int am_port = FreePort();
  WriteFile(dir_.path() / "alertmanager.yml", "route:\n  receiver: quiet\nreceivers:\n  - name: quiet\n");
  ChildProcess alertmanager({"/usr/bin/prometheus-alertmanager",
                             "--config.file=" + (dir_.path() / "alertmanager.yml").string(),
                             "--storage.path=" + (dir_.path() / "am").string(),
                             "--web.listen-address=127.0.0.1:" + std::to_string(am_port), "--cluster.listen-address=",
                             "--log.level=warn"},
                            (dir_.path() / "alertmanager.log").string());
  ASSERT_TRUE(alertmanager.Start());
  WebhookReceiver hook(/*failures=*/1);
  auto server = Serve({"--window-rows", "500", "--alertmanager", "http://127.0.0.1:" + std::to_string(am_port),
                       "--alert-webhook", "http://127.0.0.1:" + std::to_string(hook.port()) + "/hook",
                       "--alert-resend", "1", "--external-url", "http://vigil.example"});
  HttpClient c(server->port());

  // 1,000 applicants fifteen years older than in training: two windows of 500.
  for (size_t b = 0; b < 10; ++b) {
    auto r = c.Post("/v2/models/credit/infer",
                    Request(*data_, config, b * 100, b * 100 + 100, "old-" + std::to_string(b), 15.0));
    ASSERT_EQ(r.status, 200) << r.body;
  }
  const json firing = PollUntil([&] { return json::parse(c.Get("/api/alerts?state=firing").body); },
                              [](const json& j) { return j["alerts"].size() == 1; });
  ASSERT_EQ(firing["alerts"].size(), 1u) << firing.dump() << server->Output();
  const json& alert = firing["alerts"][0];
  EXPECT_EQ(alert["rule"], "age_shift");
  EXPECT_EQ(alert["feature"], "Age");
  EXPECT_EQ(alert["version"], 1);
  EXPECT_GT(alert["value"].get<double>(), 0.1);
  EXPECT_TRUE(alert.contains("resolve_by"));
  const int64_t id = alert["id"];

  // Alertmanager lists it, with Vigil's labels.
  HttpClient am(am_port);
  const json listed = PollUntil([&] { return json::parse(am.Get("/api/v2/alerts").body, nullptr, false); },
                              [](const json& j) { return j.is_array() && !j.empty(); });
  ASSERT_TRUE(listed.is_array() && listed.size() == 1) << listed.dump() << alertmanager.Output();
  EXPECT_EQ(listed[0]["labels"]["alertname"], "age_shift");
  EXPECT_EQ(listed[0]["labels"]["model"], "credit");
  EXPECT_EQ(listed[0]["labels"]["feature"], "Age");
  EXPECT_EQ(listed[0]["labels"]["severity"], "warning");
  EXPECT_EQ(listed[0]["annotations"]["summary"], "Applicants' ages moved");
  EXPECT_EQ(listed[0]["status"]["state"], "active");
  EXPECT_EQ(listed[0]["generatorURL"], "http://vigil.example/api/alerts/" + std::to_string(id));

  // The webhook failed once and was retried with the same idempotency key.
  auto received = PollUntil([&] { return hook.received(); },
                          [](const auto& r) { return r.size() >= 2; });
  ASSERT_GE(received.size(), 2u) << server->Output();
  EXPECT_EQ(received[0].answered, 503);
  EXPECT_EQ(received[1].answered, 200);
  EXPECT_EQ(received[0].idempotency_key, received[1].idempotency_key);
  EXPECT_EQ(received[0].body, received[1].body);
  EXPECT_EQ(json::parse(received[1].body)["event"], "firing");
  EXPECT_EQ(json::parse(received[1].body)["alert"]["id"], id);

  // Acknowledgement, committed before the answer.
  EXPECT_EQ(c.Post("/api/alerts/" + std::to_string(id) + "/ack", R"({"note": "x"})").status, 400);
  EXPECT_EQ(c.Post("/api/alerts/" + std::to_string(id) + "/ack", "not json").status, 400);
  EXPECT_EQ(c.Post("/api/alerts/999/ack", R"({"by": "ana"})").status, 404);
  EXPECT_EQ(c.Get("/api/alerts/" + std::to_string(id) + "/ack").status, 405);
  auto ack = c.Post("/api/alerts/" + std::to_string(id) + "/ack", R"({"by": "ana", "note": "checking the age feed"})");
  ASSERT_EQ(ack.status, 200) << ack.body;
  EXPECT_EQ(json::parse(ack.body)["acknowledged"]["by"], "ana");
  const json one = json::parse(c.Get("/api/alerts/" + std::to_string(id)).body);
  std::vector<std::string> kinds;
  for (const json& e : one["events"]) kinds.push_back(e["kind"]);
  ASSERT_GE(kinds.size(), 3u) << one.dump();
  EXPECT_EQ(kinds[0], "pending");
  EXPECT_EQ(kinds[1], "firing");
  EXPECT_NE(std::find(kinds.begin(), kinds.end(), "acknowledged"), kinds.end());
  EXPECT_EQ(c.Get("/api/alerts?state=bogus").status, 400);
  EXPECT_EQ(c.Get("/api/alerts/abc").status, 400);
  EXPECT_EQ(c.Get("/api/alerts/12345").status, 404);

  // Silences: Alertmanager's form, listed, expired by DELETE.
  EXPECT_EQ(c.Post("/api/silences", R"({"matchers": [{"name": "alertname", "value": "age_shift"}], "createdBy": "ana"})").status,
            400) << "no end";
  EXPECT_EQ(c.Post("/api/silences", R"({"matchers": [], "duration": "1h", "createdBy": "ana"})").status, 400);
  auto silence = c.Post("/api/silences", R"({"matchers": [{"name": "alertname", "value": "age_shift"}],
      "duration": "1h", "createdBy": "ana", "comment": "age feed backfill"})");
  ASSERT_EQ(silence.status, 200) << silence.body;
  const int64_t silence_id = json::parse(silence.body)["silenceID"];
  const json silences = json::parse(c.Get("/api/silences").body);
  ASSERT_EQ(silences["silences"].size(), 1u);
  EXPECT_EQ(silences["silences"][0]["comment"], "age feed backfill");
  EXPECT_EQ(c.Delete("/api/silences/" + std::to_string(silence_id)).status, 200);
  EXPECT_EQ(c.Delete("/api/silences/" + std::to_string(silence_id)).status, 404);

  const std::string metrics = c.Get("/metrics").body;
  EXPECT_NE(metrics.find(R"(vigil_alerts{model="credit",rule="age_shift",state="firing",severity="warning"} 1)"),
            std::string::npos);
  EXPECT_NE(metrics.find(R"(vigil_alert_notifications_total{kind="webhook",result="retry"} 1)"), std::string::npos);

  // Applicants as in training again: the alert resolves, and the webhook hears it.
  for (size_t b = 0; b < 10; ++b) {
    ASSERT_EQ(c.Post("/v2/models/credit/infer",
                     Request(*data_, config, 1000 + b * 100, 1100 + b * 100, "new-" + std::to_string(b), 0.0))
                  .status,
              200);
  }
  const json resolved = PollUntil([&] { return json::parse(c.Get("/api/alerts/" + std::to_string(id)).body); },
                                [](const json& j) { return j["state"] == "resolved"; });
  EXPECT_EQ(resolved["state"], "resolved") << resolved.dump();
  received = PollUntil([&] { return hook.received(); }, [](const auto& r) {
    return !r.empty() && json::parse(r.back().body)["event"] == "resolved";
  });
  EXPECT_EQ(json::parse(received.back().body)["event"], "resolved");
  EXPECT_EQ(json::parse(c.Get("/api/alerts?state=active").body)["alerts"].size(), 0u);
  EXPECT_EQ(server->Stop(SIGTERM), 0) << "a clean stop, alert threads included\n" << server->Output();
}

TEST_F(AlertsE2eTest, FlippedLabelsRaiseTheQualityAlertOnceTheFeedbackArrives) {
  const ModelConfig config = Prepare(2, R"(alerts:
  - name: auc_drop
    metric: roc_auc
    threshold: 0.8
    min_samples: 500
    severity: critical
)");
  auto server = Serve({});
  HttpClient c(server->port());
  const Column& status = data_->columns()[data_->ColumnIndex("Status")];
  // The same 1,500 applicants to both versions; version 1 gets the true
  // labels, version 2 the labels with every fifth one flipped (20%).
  for (int version = 1; version <= 2; ++version) {
    for (size_t b = 0; b < 15; ++b) {
      const std::string id = "v" + std::to_string(version) + "-" + std::to_string(b);
      auto r = c.Post("/v2/models/credit/versions/" + std::to_string(version) + "/infer",
                      Request(*data_, config, b * 100, b * 100 + 100, id, 0.0));
      ASSERT_EQ(r.status, 200) << r.body;
    }
    // A couple of evaluations (--alert-interval 1) with predictions but no
    // labels: nothing to judge, nothing fires.
    std::this_thread::sleep_for(std::chrono::milliseconds(2500));
    json quiet = json::parse(c.Get("/api/alerts?state=firing").body);
    EXPECT_TRUE(quiet["alerts"].empty()) << "no labels yet: " << quiet.dump();
    for (size_t b = 0; b < 15; ++b) {
      json items = json::array();
      for (size_t row = 0; row < 100; ++row) {
        const size_t i = b * 100 + row;
        std::string label = status.strings[i];
        if (version == 2 && i % 5 == 0) label = label == "good" ? "bad" : "good";
        items.push_back({{"id", "v" + std::to_string(version) + "-" + std::to_string(b)}, {"row", row},
                         {"label", label}});
      }
      auto r = c.Post("/v2/models/credit/feedback", items.dump());
      ASSERT_EQ(r.status, 200) << r.body;
      ASSERT_EQ(json::parse(r.body)["recorded"], 100) << r.body;
    }
  }
  const json firing = PollUntil([&] { return json::parse(c.Get("/api/alerts?state=firing").body); },
                              [](const json& j) { return !j["alerts"].empty(); });
  ASSERT_EQ(firing["alerts"].size(), 1u) << firing.dump() << c.Get("/v2/models/credit/monitor").body;
  EXPECT_EQ(firing["alerts"][0]["rule"], "auc_drop");
  EXPECT_EQ(firing["alerts"][0]["version"], 2) << "only the version with degraded labels";
  EXPECT_EQ(firing["alerts"][0]["severity"], "critical");
  EXPECT_LT(firing["alerts"][0]["value"].get<double>(), 0.8);
  // A few more evaluations: version 1 stays quiet. Its whole band is above
  // the threshold, version 2's whole band below it.
  std::this_thread::sleep_for(std::chrono::seconds(3));
  const json all = json::parse(c.Get("/api/alerts").body);
  const json monitor = json::parse(c.Get("/v2/models/credit/monitor").body);
  EXPECT_EQ(all["alerts"].size(), 1u) << all.dump() << monitor.dump();
  ASSERT_EQ(monitor["versions"].size(), 2u);
  const json& auc1 = monitor["versions"][0]["quality"]["roc_auc"];
  const json& auc2 = monitor["versions"][1]["quality"]["roc_auc"];
  std::printf("ROC AUC, true labels: %.3f [%.3f, %.3f]; 20%% flipped: %.3f [%.3f, %.3f]\n", auc1["value"].get<double>(),
              auc1["lower"].get<double>(), auc1["upper"].get<double>(), auc2["value"].get<double>(),
              auc2["lower"].get<double>(), auc2["upper"].get<double>());
  EXPECT_GT(auc1["lower"].get<double>(), 0.8);
  EXPECT_LT(auc2["upper"].get<double>(), 0.8);
  // The same on /metrics, for Prometheus and the dashboard.
  const std::string metrics = c.Get("/metrics").body;
  EXPECT_NE(metrics.find(R"(vigil_model_quality_labelled_rows{model="credit",version="2"} 1500)"), std::string::npos);
  const std::string upper = R"(vigil_model_quality{model="credit",version="2",metric="roc_auc",bound="upper"} )";
  const size_t at = metrics.find(upper);
  ASSERT_NE(at, std::string::npos) << metrics;
  EXPECT_NEAR(std::stod(metrics.substr(at + upper.size())), auc2["upper"].get<double>(), 1e-9);
}

}  // namespace
}  // namespace vigil::testing
