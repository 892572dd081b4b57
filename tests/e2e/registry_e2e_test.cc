// End-to-end registry: the real `vigil` binary with its store registers an
// artifact over the admin API, serves the champion, follows alias moves made
// over the API and by the CLI in another process, rolls back in one step, and
// refuses an artifact changed after registration.
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <nlohmann/json.hpp>
#include <thread>

#include "dataset/tabular_dataset.h"
#include "e2e/credit_request.h"
#include "e2e/http_client.h"
#include "lifecycle/feature_matrix.h"
#include "repository/model_config.h"
#include "e2e/server_process.h"
#include "testing/test_repository.h"

namespace vigil::testing {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

class RegistryE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    TrainCreditModel(repo_.path(), "credit", 1);
    TrainCreditModel(other_.path(), "credit", 1, /*seed=*/7);
  }
  std::unique_ptr<ServerProcess> StartServer() {
    auto server = std::make_unique<ServerProcess>(std::vector<std::string>{
        "--repository", repo_.path().string(), "--store", db_.string(), "--poll-interval-ms", "200"});
    EXPECT_TRUE(server->Start()) << server->Output();
    return server;
  }
  // The version that answers a request without one.
  static std::string Served(HttpClient& c, const std::string& path = "/v2/models/credit/infer") {
    auto r = c.Post(path, kCreditRow);
    EXPECT_EQ(r.status, 200) << r.body;
    return r.status == 200 ? json::parse(r.body)["model_version"].get<std::string>() : "";
  }
  // Waits (bounded) until `Served` returns `version`.
  static bool WaitServed(HttpClient& c, const std::string& version) {
    for (int i = 0; i < 100; ++i) {
      if (Served(c) == version) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return false;
  }
  std::string Cli(const std::string& args, int* status = nullptr) {
    std::string output;
    const int rc = RunCommand(std::string(VIGIL_BINARY) + " " + args + " --store " + db_.string(), &output);
    if (status) *status = rc;
    return output;
  }

  TempDir repo_, other_, data_;
  const fs::path db_ = data_.path() / "vigil.db";
};

TEST_F(RegistryE2eTest, RegisterPromoteRollBackAndRefuseATamperedArtifact) {
  auto server = StartServer();
  HttpClient c(server->port());

  // Version 1 was on disk: recorded as discovered when it loaded.
  auto listed = c.Get("/api/models/credit/versions");
  ASSERT_EQ(listed.status, 200) << listed.body;
  ASSERT_EQ(json::parse(listed.body)["versions"].size(), 1u);
  EXPECT_EQ(json::parse(listed.body)["versions"][0]["origin"], "discovered");

  // Register the other artifact over the API as the challenger.
  const std::string artifact = ReadFile(other_.path() / "credit" / "1" / "model.json");
  auto registered = c.Post("/api/models/credit/versions?by=ana&description=seed%207&alias=challenger", artifact);
  ASSERT_EQ(registered.status, 201) << registered.body;
  const json record = json::parse(registered.body);
  EXPECT_EQ(record["version"], 2);
  EXPECT_EQ(record["author"], "ana");
  EXPECT_EQ(record["description"], "seed 7");
  EXPECT_EQ(record["aliases"], json::array({"challenger"}));
  EXPECT_EQ(record["sha256"].get<std::string>().size(), 64u);
  EXPECT_EQ(Served(c, "/v2/models/credit/versions/challenger/infer"), "2");

  // Something that is not a model is refused, and nothing is left of it.
  auto refused = c.Post("/api/models/credit/versions", R"({"learner": "no"})");
  EXPECT_EQ(refused.status, 400) << refused.body;
  EXPECT_NE(json::parse(refused.body)["error"].get<std::string>().find("does not load"), std::string::npos);
  EXPECT_FALSE(fs::exists(repo_.path() / "credit" / "3"));
  EXPECT_EQ(c.Post("/api/models/nope/versions", artifact).status, 404);

  // The champion takes the traffic, and moves at once.
  auto promoted = c.Put("/api/models/credit/aliases/champion", R"({"version": 1, "by": "ana", "reason": "first"})");
  ASSERT_EQ(promoted.status, 200) << promoted.body;
  EXPECT_EQ(Served(c), "1");
  promoted = c.Put("/api/models/credit/aliases/champion", R"({"version": 2, "by": "bo", "reason": "better"})");
  ASSERT_EQ(promoted.status, 200) << promoted.body;
  EXPECT_EQ(json::parse(promoted.body)["from"], 1);
  EXPECT_EQ(Served(c), "2");
  EXPECT_EQ(c.Put("/api/models/credit/aliases/champion", R"({"version": 9})").status, 404);
  EXPECT_EQ(c.Put("/api/models/credit/aliases/Champ", R"({"version": 1})").status, 400);
  EXPECT_EQ(c.Put("/api/models/credit/aliases/champion", R"({"version": 1, "who": "x"})").status, 400);

  // One-step rollback.
  auto rolled = c.Post("/api/models/credit/rollback", R"({"by": "cy", "reason": "complaints"})");
  ASSERT_EQ(rolled.status, 200) << rolled.body;
  EXPECT_EQ(json::parse(rolled.body)["to"], 1);
  EXPECT_EQ(Served(c), "1");

  // The CLI, another process, moves it; the server follows within a second.
  int status = 0;
  const std::string moved = Cli("alias credit champion 2 --repository " + repo_.path().string() +
                                " --by dee --reason 'night release'", &status);
  ASSERT_EQ(status, 0) << moved;
  EXPECT_TRUE(WaitServed(c, "2"));

  // The history: who, when, why, from which version.
  auto history = c.Get("/api/models/credit/history?alias=champion");
  ASSERT_EQ(history.status, 200) << history.body;
  const json moves = json::parse(history.body)["history"];
  ASSERT_EQ(moves.size(), 4u);
  EXPECT_EQ(moves[0]["actor"], "dee");
  EXPECT_EQ(moves[0]["reason"], "night release");
  EXPECT_EQ(moves[1]["actor"], "cy");
  EXPECT_EQ(moves[1]["detail"], json::parse(R"({"alias":"champion","from":2,"to":1})"));
  const std::string table = Cli("history credit --alias champion");
  EXPECT_NE(table.find("champion: 1 -> 2"), std::string::npos) << table;
  EXPECT_NE(table.find("night release"), std::string::npos) << table;
  auto events = c.Get("/api/events?model=credit&kind=registered");
  ASSERT_EQ(events.status, 200);
  EXPECT_EQ(json::parse(events.body)["events"].size(), 2u);

  // Someone overwrites version 2's artifact: it is refused at its reload,
  // and the previous version takes over.
  fs::copy_file(repo_.path() / "credit" / "1" / "model.json", repo_.path() / "credit" / "2" / "model.json",
                fs::copy_options::overwrite_existing);
  EXPECT_TRUE(WaitServed(c, "1"));
  auto metadata = c.Get("/v2/models/credit/versions/2/ready");
  EXPECT_NE(metadata.status, 200);
  auto infer2 = c.Post("/v2/models/credit/versions/2/infer", kCreditRow);
  EXPECT_EQ(infer2.status, 503);
  EXPECT_NE(infer2.body.find("is not the one registered"), std::string::npos) << infer2.body;
  EXPECT_EQ(server->Stop(SIGTERM), 0);
}

// A retraining job from production on the running server, started and
// followed by `vigil retrain`: the new version is registered as the
// challenger while the champion keeps serving.
TEST_F(RegistryE2eTest, RetrainFromProductionWhileServing) {
  auto server = StartServer();
  HttpClient c(server->port());
  ASSERT_EQ(c.Put("/api/models/credit/aliases/champion", R"({"version": 1})").status, 200);

  // 600 applicants in 12 requests, then their outcomes as feedback.
  auto data = TabularDataset::ReadCsv(CreditCsv());
  auto config = LoadModelConfig(repo_.path() / "credit" / "model.yaml", "credit");
  ASSERT_TRUE(data.ok() && config.ok());
  auto matrix = FeatureMatrix(*data, *config, "credit");
  ASSERT_TRUE(matrix.ok());
  const Column& status = data->columns()[data->ColumnIndex("Status")];
  json feedback = json::array();
  for (int req = 0; req < 12; ++req) {
    json values = json::array();
    for (int r = req * 50; r < req * 50 + 50; ++r) {
      for (int j = 0; j < 13; ++j) {
        const float v = (*matrix)[static_cast<size_t>(r) * 13 + j];
        values.push_back(std::isnan(v) ? json(nullptr) : json(v));
      }
      feedback.push_back({{"id", "app-" + std::to_string(req)}, {"row", r - req * 50}, {"label", status.strings[r]}});
    }
    const json body = {{"id", "app-" + std::to_string(req)},
                       {"inputs", {{{"name", "input"}, {"datatype", "FP32"}, {"shape", {50, 13}}, {"data", values}}}}};
    ASSERT_EQ(c.Post("/v2/models/credit/infer", body.dump()).status, 200);
  }
  auto labelled = c.Post("/v2/models/credit/feedback", feedback.dump());
  ASSERT_EQ(labelled.status, 200) << labelled.body;

  std::string output;
  const int rc = RunCommand(std::string(VIGIL_BINARY) + " retrain credit --server http://127.0.0.1:" +
                                std::to_string(server->port()) + " --hours 1 --rounds 30 --alias challenger --by ana",
                            &output);
  ASSERT_EQ(rc, 0) << output;
  EXPECT_NE(output.find("succeeded: credit version 2"), std::string::npos) << output;
  EXPECT_NE(output.find("480 rows"), std::string::npos) << output;  // 120 held out for the gate.

  auto version = c.Get("/api/models/credit/versions/2");
  ASSERT_EQ(version.status, 200) << version.body;
  const json record = json::parse(version.body);
  EXPECT_EQ(record["origin"], "trained");
  EXPECT_EQ(record["parent_version"], 1);
  EXPECT_EQ(record["data_rows"], 480);
  EXPECT_EQ(record["author"], "ana");
  EXPECT_EQ(record["aliases"], json::array({"challenger"}));
  EXPECT_FALSE(record["profile"].is_null());
  EXPECT_EQ(Served(c), "1");
  EXPECT_EQ(Served(c, "/v2/models/credit/versions/challenger/infer"), "2");

  auto jobs = c.Get("/api/jobs?model=credit");
  ASSERT_EQ(jobs.status, 200);
  const json job = json::parse(jobs.body)["jobs"][0];
  EXPECT_EQ(job["state"], "succeeded");
  EXPECT_EQ(job["result"]["data"]["production_rows"], 600);
  EXPECT_EQ(job["result"]["evaluation"]["rows"], 120);
  EXPECT_EQ(job["result"]["evaluation"]["champion_version"], 1);
  EXPECT_EQ(c.Post("/api/jobs/" + std::to_string(job["id"].get<int64_t>()) + "/cancel", "").status, 409);
  auto events = c.Get("/api/events?model=credit&kind=job");
  EXPECT_EQ(json::parse(events.body)["events"].size(), 1u);
  // Bad job requests name what is wrong.
  auto bad = c.Post("/api/models/credit/jobs", R"({"source": "production", "parameters": {"depth": 2}})");
  EXPECT_EQ(bad.status, 400);
  EXPECT_NE(bad.body.find("parameters.depth"), std::string::npos) << bad.body;
  EXPECT_EQ(server->Stop(SIGTERM), 0);
}

}  // namespace
}  // namespace vigil::testing
