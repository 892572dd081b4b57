// End-to-end monitoring: the real `vigil` binary with its SQLite store logs
// every inference and joins feedback to it, across restarts.
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <nlohmann/json.hpp>
#include <map>
#include <sstream>
#include <thread>

#include "e2e/http_client.h"
#include "e2e/server_process.h"
#include "testing/test_repository.h"

namespace vigil::testing {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// Two applications in one request: the second with missing values.
constexpr char kTwoRows[] = R"({"id": "batch-1", "inputs": [
  {"name": "Seniority", "datatype": "FP32", "shape": [2], "data": [9, 0]},
  {"name": "Home", "datatype": "BYTES", "shape": [2], "data": ["rent", null]},
  {"name": "Time", "datatype": "FP32", "shape": [2], "data": [60, 48]},
  {"name": "Age", "datatype": "FP32", "shape": [2], "data": [30, 37]},
  {"name": "Marital", "datatype": "BYTES", "shape": [2], "data": ["married", "single"]},
  {"name": "Records", "datatype": "BYTES", "shape": [2], "data": ["no", "no"]},
  {"name": "Job", "datatype": "BYTES", "shape": [2], "data": ["fixed", null]},
  {"name": "Expenses", "datatype": "FP32", "shape": [2], "data": [73, 35]},
  {"name": "Income", "datatype": "FP32", "shape": [2], "data": [129, null]},
  {"name": "Assets", "datatype": "FP32", "shape": [2], "data": [0, null]},
  {"name": "Debt", "datatype": "FP32", "shape": [2], "data": [0, null]},
  {"name": "Amount", "datatype": "FP32", "shape": [2], "data": [800, 1500]},
  {"name": "Price", "datatype": "FP32", "shape": [2], "data": [846, 1850]}]})";

std::string Row(const std::string& id) {
  return R"({"id": ")" + id +
         R"(", "inputs": [{"name": "input", "datatype": "FP32", "shape": [1, 13], "data": [9, 5, 60, 30, 1, 0, 1, 73, 129, 0, 0, 800, 846]}]})";
}

// The logged requests of `model`, as `vigil log` prints them, by id.
std::map<std::string, json> LoggedRequests(const fs::path& db_path, const std::string& model) {
  std::string output;
  EXPECT_EQ(RunCommand(std::string(VIGIL_BINARY) + " log --store " + db_path.string() + " --model " + model, &output), 0)
      << output;
  std::map<std::string, json> out;
  std::istringstream lines(output);
  for (std::string line; std::getline(lines, line);) {
    const json request = json::parse(line, nullptr, false);
    EXPECT_TRUE(request.is_object()) << line;
    if (request.is_object()) out[request["id"].get<std::string>()] = request;
  }
  return out;
}

class MonitoringE2eTest : public ::testing::Test {
 protected:
  void SetUp() override { TrainCreditModel(repo_.path(), "credit", 1); }
  std::unique_ptr<ServerProcess> StartServer(std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {"--repository", repo_.path().string(), "--threads", "2"};
    if (std::find(extra.begin(), extra.end(), "--store") == extra.end()) {
      args.insert(args.end(), {"--store", db_path_.string()});
    }
    args.insert(args.end(), extra.begin(), extra.end());
    auto server = std::make_unique<ServerProcess>(args);
    EXPECT_TRUE(server->Start()) << server->Output();
    return server;
  }
  TempDir repo_;
  TempDir data_;
  const fs::path db_path_ = data_.path() / "vigil.db";
};

TEST_F(MonitoringE2eTest, FeedbackJoinsLoggedPredictionsIdempotentlyAndSurvivesRestarts) {
  {
    auto server = StartServer();
    HttpClient c(server->port());
    ASSERT_EQ(c.Post("/v2/models/credit/infer", kTwoRows).status, 200);
    ASSERT_EQ(c.Post("/v2/models/credit/infer", Row("app-1")).status, 200);
    // The server names requests that come without an id.
    auto anonymous = c.Post("/v2/models/credit/infer", R"({"inputs": [{"name": "input", "datatype": "FP32",
        "shape": [1, 13], "data": [0, 1, 36, 26, 1, 0, 1, 35, 0, 0, 0, 1000, 1200]}]})");
    const std::string generated = json::parse(anonymous.body)["id"];

    // One item, right after the answer (the log is flushed first).
    auto one = c.Post("/v2/models/credit/feedback", R"({"id": "app-1", "label": "bad"})");
    ASSERT_EQ(one.status, 200) << one.body;
    EXPECT_EQ(json::parse(one.body)["results"][0]["outcome"], "recorded");

    // A batch: a row of a batch request, a class index, an unknown id, a
    // repeat, a conflicting label.
    auto batch = c.Post("/v2/models/credit/feedback", R"([
        {"id": "batch-1", "row": 1, "label": "good"},
        {"id": ")" + generated + R"(", "label": 1},
        {"id": "never-answered", "label": "good"},
        {"id": "app-1", "label": "bad"},
        {"id": "batch-1", "row": 1, "label": "bad"}])");
    ASSERT_EQ(batch.status, 200) << batch.body;
    const json b = json::parse(batch.body);
    std::vector<std::string> outcomes;
    for (const json& r : b["results"]) outcomes.push_back(r["outcome"]);
    EXPECT_EQ(outcomes, (std::vector<std::string>{"recorded", "recorded", "unknown_id", "duplicate", "conflict"}));
    EXPECT_EQ(b["recorded"], 2);
    EXPECT_EQ(b["unknown_id"], 1);
    EXPECT_NE(b["results"][2]["error"].get<std::string>().find("no logged prediction"), std::string::npos);

    // Bad feedback is refused whole, naming the item and field.
    auto bad = c.Post("/v2/models/credit/feedback", R"([{"id": "app-1", "label": "bad"}, {"id": "x", "label": "maybe"}])");
    EXPECT_EQ(bad.status, 400);
    EXPECT_EQ(json::parse(bad.body)["error"], "[1].label: \"maybe\" is not a class of model 'credit' (good, bad, or their index)");
    EXPECT_EQ(c.Post("/v2/models/credit/feedback", R"({"label": "bad"})").status, 400);
    EXPECT_EQ(c.Post("/v2/models/credit/feedback", R"({"id": "a", "label": "bad", "extra": 1})").status, 400);
    EXPECT_EQ(c.Post("/v2/models/credit/feedback", "not json").status, 400);
    EXPECT_EQ(c.Post("/v2/models/nosuch/feedback", R"({"id": "a", "label": "bad"})").status, 404);
    EXPECT_EQ(c.Get("/v2/models/credit/feedback").status, 405);

    // Model quality from the three labelled rows, each estimate with its band.
    const json monitor = json::parse(c.Get("/v2/models/credit/monitor").body);
    ASSERT_EQ(monitor["versions"].size(), 1u) << monitor.dump();
    const json& quality = monitor["versions"][0]["quality"];
    EXPECT_EQ(quality["labelled_rows"], 3) << monitor.dump();
    const json& cm = quality["confusion_matrix"];
    EXPECT_EQ(cm["true_positives"].get<int>() + cm["false_positives"].get<int>() + cm["true_negatives"].get<int>() +
                  cm["false_negatives"].get<int>(),
              3);
    // Three rows: accuracy is a third, two thirds, 0 or 1, and its band keeps a width.
    const double accuracy = quality["accuracy"]["value"].get<double>();
    EXPECT_NEAR(accuracy * 3, std::round(accuracy * 3), 1e-9);
    EXPECT_GT(quality["accuracy"]["standard_error"].get<double>(), 0.1);

    const std::string metrics = c.Get("/metrics").body;
    EXPECT_NE(metrics.find("vigil_feedback_items_total{model=\"credit\",outcome=\"recorded\"} 3"), std::string::npos)
        << metrics;
    EXPECT_NE(metrics.find("vigil_prediction_log_written_total 3"), std::string::npos);
    EXPECT_NE(metrics.find("vigil_prediction_log_dropped_total 0"), std::string::npos);
  }
  // `vigil log` reads the log back: raw values by feature name, a column per
  // feature (category names, null for missing), the outputs, the feedback.
  auto logged = LoggedRequests(db_path_, "credit");
  ASSERT_EQ(logged.size(), 3u);
  const json& batch = logged["batch-1"];
  EXPECT_EQ(batch["model"], "credit");
  EXPECT_EQ(batch["version"], 1);
  EXPECT_EQ(batch["inputs"]["Home"], json({"rent", nullptr}));
  EXPECT_EQ(batch["inputs"]["Seniority"], json({9, 0}));
  EXPECT_EQ(batch["inputs"]["Income"][1], nullptr);
  ASSERT_EQ(batch["outputs"]["probability"].size(), 2u);
  EXPECT_TRUE(batch["outputs"]["probability"][0].is_number());
  EXPECT_TRUE(batch["outputs"]["label"][1] == "good" || batch["outputs"]["label"][1] == "bad");
  EXPECT_EQ(batch["feedback"], json::parse(R"([{"row": 1, "label": "good"}])"));
  EXPECT_EQ(logged["app-1"]["feedback"], json::parse(R"([{"row": 0, "label": "bad"}])"));

  // After a restart, what was acknowledged is still there.
  auto server = StartServer();
  HttpClient c(server->port());
  auto again = c.Post("/v2/models/credit/feedback", R"([{"id": "app-1", "label": "bad"}, {"id": "batch-1", "label": "bad"}])");
  ASSERT_EQ(again.status, 200) << again.body;
  EXPECT_EQ(json::parse(again.body)["results"][0]["outcome"], "duplicate");
  EXPECT_EQ(json::parse(again.body)["results"][1]["outcome"], "recorded");
}

TEST_F(MonitoringE2eTest, DriftWindowsAgainstTheVersionsReferenceProfile) {
  auto server = StartServer({"--window-rows", "4"});
  HttpClient c(server->port());
  // A request with an input the model does not have is refused, and counts
  // as a schema violation; a category the model has never seen is sent to it
  // as missing, and counts as unseen.
  std::string extra = kTwoRows;
  extra.insert(extra.rfind(']'), R"(, {"name": "Colour", "datatype": "BYTES", "shape": [2], "data": ["red", "blue"]})");
  EXPECT_EQ(c.Post("/v2/models/credit/infer", extra).status, 400);
  std::string castle = kTwoRows;
  castle.replace(castle.find("\"rent\""), 6, "\"castle\"");
  ASSERT_EQ(c.Post("/v2/models/credit/infer", castle).status, 200);
  for (int i = 0; i < 2; ++i) ASSERT_EQ(c.Post("/v2/models/credit/infer", kTwoRows).status, 200);
  // Six rows: one window of four closed, two rows open. The log's writer
  // counts them within its flush interval.
  json monitor;
  for (int i = 0; i < 100; ++i) {
    monitor = json::parse(c.Get("/v2/models/credit/monitor").body);
    if (!monitor["versions"].empty() && monitor["versions"][0]["windows"].size() == 1) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_EQ(monitor["versions"].size(), 1u) << monitor.dump();
  const json& v = monitor["versions"][0];
  EXPECT_EQ(v["version"], "1");
  EXPECT_TRUE(v["reference_profile"].get<bool>());  // Written by vigil train.
  EXPECT_EQ(v["open_window_rows"], 2);
  ASSERT_EQ(v["windows"].size(), 1u);
  const json& w = v["windows"][0];
  EXPECT_EQ(w["rows"], 4);
  ASSERT_EQ(w["features"].size(), 13u);
  EXPECT_EQ(w["features"][0]["name"], "Seniority");
  EXPECT_EQ(w["features"][0]["test"], "ks");
  EXPECT_EQ(w["features"][1]["test"], "chi_square");
  EXPECT_DOUBLE_EQ(w["features"][8]["missing_rate"].get<double>(), 0.5);  // Income: one row of two.
  // Home: castle, null, rent, null.
  EXPECT_DOUBLE_EQ(w["features"][1]["unseen_category_rate"].get<double>(), 0.25);
  EXPECT_DOUBLE_EQ(w["features"][1]["missing_rate"].get<double>(), 0.5);
  EXPECT_EQ(w["requests"], 2);
  EXPECT_EQ(w["rejected_requests"], 1);
  EXPECT_NEAR(w["schema_violation_rate"].get<double>(), 1.0 / 3, 1e-12);
  EXPECT_TRUE(w["prediction"]["psi"].is_number());
  EXPECT_FALSE(w.contains("quality"));  // No feedback yet.
  // Feedback for the window's requests: its quality, from those rows only.
  // ("batch-1" names all three requests; feedback labels the first.)
  ASSERT_EQ(c.Post("/v2/models/credit/feedback",
                   R"([{"id": "batch-1", "row": 0, "label": "good"}, {"id": "batch-1", "row": 1, "label": "bad"}])")
                .status,
            200);
  monitor = json::parse(c.Get("/v2/models/credit/monitor").body);
  const json& labelled = monitor["versions"][0]["windows"][0];
  ASSERT_TRUE(labelled.contains("quality")) << labelled.dump();
  EXPECT_EQ(labelled["quality"]["labelled_rows"], 2);
  EXPECT_TRUE(labelled["quality"]["accuracy"]["value"].is_number());
  const std::string metrics = c.Get("/metrics").body;
  EXPECT_NE(metrics.find("vigil_feature_drift{model=\"credit\",version=\"1\",feature=\"Income\",statistic=\"psi\"}"),
            std::string::npos);
  EXPECT_NE(metrics.find("vigil_dataset_drift_share{model=\"credit\",version=\"1\"}"), std::string::npos);
  EXPECT_EQ(c.Get("/v2/models/nosuch/monitor").status, 404);
  EXPECT_EQ(c.Post("/v2/models/credit/monitor", "").status, 405);
}

TEST_F(MonitoringE2eTest, UnsampledAndUnloggedRequestsHaveNoFeedbackTarget) {
  {
    auto server = StartServer({"--log-sample-rate", "0"});
    HttpClient c(server->port());
    ASSERT_EQ(c.Post("/v2/models/credit/infer", Row("unsampled")).status, 200);
    auto fb = c.Post("/v2/models/credit/feedback", R"({"id": "unsampled", "label": "good"})");
    ASSERT_EQ(fb.status, 200);
    EXPECT_EQ(json::parse(fb.body)["results"][0]["outcome"], "unknown_id");
  }
  auto server = StartServer({"--store", "none"});
  HttpClient c(server->port());
  auto fb = c.Post("/v2/models/credit/feedback", R"({"id": "x", "label": "good"})");
  EXPECT_EQ(fb.status, 503);
  EXPECT_NE(fb.body.find("without one"), std::string::npos);
}

}  // namespace
}  // namespace vigil::testing
