// End-to-end: the real `vigil` binary on a loopback port, a real model
// trained by the test, real HTTP.
#include <gtest/gtest.h>
#include <signal.h>
#include <xgboost/c_api.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <limits>
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
using nlohmann::json;
using Clock = std::chrono::steady_clock;

class ServerE2eTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    trained_ = new TempDir();
    TrainCreditModel(trained_->path(), "credit", 1, /*seed=*/42);
    TrainCreditModel(trained_->path(), "credit", 2, /*seed=*/7);
  }
  static void TearDownTestSuite() { delete trained_; }

  // A repository with version 1 of credit.
  void SetUp() override {
    fs::create_directories(repo_.path() / "credit");
    fs::copy(trained_->path() / "credit/model.yaml", repo_.path() / "credit/model.yaml");
    fs::copy(trained_->path() / "credit/1", repo_.path() / "credit/1");
  }

  // Puts a version in place the way a deployment should: copy, then rename.
  void Deploy(const fs::path& from_version_dir, int64_t version) {
    const fs::path staging = repo_.path() / "credit" / ".incoming";
    fs::remove_all(staging);
    fs::copy(from_version_dir, staging, fs::copy_options::recursive);
    fs::rename(staging, repo_.path() / "credit" / std::to_string(version));
  }

  std::unique_ptr<ServerProcess> StartServer(std::vector<std::string> extra = {}) {
    // With the store and prediction log on, as in production.
    std::vector<std::string> args = {"--repository", repo_.path().string(), "--poll-interval-ms", "100",
                                     "--threads",    "2",   "--store", (data_.path() / "vigil.db").string()};
    args.insert(args.end(), extra.begin(), extra.end());
    auto server = std::make_unique<ServerProcess>(args);
    EXPECT_TRUE(server->Start()) << server->Output();
    return server;
  }

  static TempDir* trained_;
  TempDir repo_;
  TempDir data_;
};
TempDir* ServerE2eTest::trained_ = nullptr;

TEST_F(ServerE2eTest, EveryEndpointAnswers) {
  auto server = StartServer();
  HttpClient c(server->port());
  EXPECT_EQ(c.Get("/v2/health/live").body, R"({"live":true})");
  auto ready = c.Get("/v2/health/ready");
  EXPECT_EQ(ready.status, 200);
  EXPECT_EQ(ready.body, R"({"ready":true})");
  EXPECT_EQ(json::parse(c.Get("/v2").body)["name"], "vigil");
  auto meta = json::parse(c.Get("/v2/models/credit").body);
  EXPECT_EQ(meta["versions"], json({"1"}));
  EXPECT_EQ(meta["platform"], "xgboost");
  EXPECT_EQ(c.Get("/v2/models/credit/versions/1").status, 200);
  EXPECT_EQ(c.Get("/v2/models/credit/ready").status, 200);
  EXPECT_EQ(c.Get("/v2/models/credit/versions/1/ready").status, 200);
  auto infer = c.Post("/v2/models/credit/infer", kCreditRow);
  ASSERT_EQ(infer.status, 200) << infer.body;
  EXPECT_EQ(infer.content_type, "application/json");
  auto body = json::parse(infer.body);
  EXPECT_EQ(body["model_version"], "1");
  EXPECT_EQ(body["outputs"][1]["data"][0], "good");
  auto versioned = c.Post("/v2/models/credit/versions/1/infer",
                          R"({"id":"req-7","inputs":[{"name":"input","datatype":"FP32","shape":[1,13],"data":[9,5,60,30,1,0,1,73,129,0,0,800,846]}]})");
  EXPECT_EQ(json::parse(versioned.body)["id"], "req-7");
  auto explain = c.Post("/v2/models/credit/explain", kCreditRow);
  ASSERT_EQ(explain.status, 200) << explain.body;
  EXPECT_EQ(json::parse(explain.body)["outputs"][0]["shape"], json({1, 13}));
  EXPECT_EQ(json::parse(c.Post("/v2/repository/index", "").body)[0]["state"], "READY");
  EXPECT_EQ(c.Post("/v2/repository/models/credit/load", "").status, 403);
  EXPECT_EQ(c.Post("/v2/repository/models/credit/unload", "").status, 403);
  auto metrics = c.Get("/metrics");
  EXPECT_EQ(metrics.content_type, "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_NE(metrics.body.find("vigil_inference_requests_total{model=\"credit\",version=\"1\"} 3"), std::string::npos);
  EXPECT_NE(metrics.body.find("vigil_model_version_info{model=\"credit\",version=\"1\",backend=\"xgboost\"} 1"), std::string::npos);
  EXPECT_EQ(server->Stop(SIGTERM), 0) << server->Output();
}

// Rows of the credit CSV as the model sees them (codes, NaN for missing),
// plus the same rows as v2 JSON in both tabular forms.
struct Rows {
  std::vector<float> matrix;
  size_t n = 0;
  std::string matrix_request, columns_request;
};

Rows CreditRows(const ModelConfig& config, size_t n) {
  auto ds = TabularDataset::ReadCsv(CreditCsv());
  EXPECT_TRUE(ds.ok());
  Rows rows;
  rows.n = n;
  json matrix = json::array();
  json columns = json::array();
  for (const FeatureSpec& f : config.features) {
    const Column& col = ds->columns()[ds->ColumnIndex(f.name)];
    json data = json::array();
    for (size_t r = 0; r < n; ++r) {
      if (col.numeric) {
        data.push_back(std::isnan(col.numbers[r]) ? json(nullptr) : json(col.numbers[r]));
      } else {
        data.push_back(col.strings[r].empty() ? json(nullptr) : json(col.strings[r]));
      }
    }
    columns.push_back({{"name", f.name}, {"datatype", col.numeric ? "FP64" : "BYTES"},
                       {"shape", {n}}, {"data", data}});
  }
  for (size_t r = 0; r < n; ++r) {
    json row = json::array();
    for (const FeatureSpec& f : config.features) {
      const Column& col = ds->columns()[ds->ColumnIndex(f.name)];
      float v = col.numeric ? static_cast<float>(col.numbers[r])
                            : (f.CategoryCode(col.strings[r]) < 0 ? NAN : f.CategoryCode(col.strings[r]));
      rows.matrix.push_back(v);
      row.push_back(std::isnan(v) ? json(nullptr) : json(v));
    }
    matrix.push_back(row);
  }
  rows.matrix_request = json({{"inputs", {{{"name", "input"}, {"datatype", "FP32"},
                                            {"shape", {n, config.features.size()}}, {"data", matrix}}}}})
                            .dump();
  rows.columns_request = json({{"inputs", columns}}).dump();
  return rows;
}

// Predictions of the XGBoost C API itself (DMatrix path), the reference.
std::vector<float> XGBoostPredict(const fs::path& model, const ModelConfig& config,
                                  const Rows& rows, bool margin) {
  BoosterHandle booster;
  EXPECT_EQ(XGBoosterCreate(nullptr, 0, &booster), 0);
  EXPECT_EQ(XGBoosterLoadModel(booster, model.c_str()), 0) << XGBGetLastError();
  DMatrixHandle dmat;
  EXPECT_EQ(XGDMatrixCreateFromMat(rows.matrix.data(), rows.n, config.features.size(),
                                   std::numeric_limits<float>::quiet_NaN(), &dmat), 0);
  std::vector<const char*> types;
  for (const FeatureSpec& f : config.features) types.push_back(f.kind == FeatureKind::kNumeric ? "q" : "c");
  EXPECT_EQ(XGDMatrixSetStrFeatureInfo(dmat, "feature_type", types.data(), types.size()), 0);
  const bst_ulong* shape;
  bst_ulong dim;
  const float* out;
  std::string cfg = std::string(R"({"type": )") + (margin ? "1" : "0") +
                    R"(, "training": false, "iteration_begin": 0, "iteration_end": 0, "strict_shape": false})";
  EXPECT_EQ(XGBoosterPredictFromDMatrix(booster, dmat, cfg.c_str(), &shape, &dim, &out), 0)
      << XGBGetLastError();
  std::vector<float> result(out, out + rows.n);
  XGDMatrixFree(dmat);
  XGBoosterFree(booster);
  return result;
}

TEST_F(ServerE2eTest, PredictionsEqualTheXGBoostCApi) {
  auto config = LoadModelConfig(repo_.path() / "credit/model.yaml", "credit");
  ASSERT_TRUE(config.ok());
  const Rows rows = CreditRows(*config, 400);
  const auto probability = XGBoostPredict(repo_.path() / "credit/1/model.json", *config, rows, false);
  const auto margin = XGBoostPredict(repo_.path() / "credit/1/model.json", *config, rows, true);
  auto server = StartServer();
  HttpClient c(server->port());
  for (const std::string* request : {&rows.matrix_request, &rows.columns_request}) {
    auto r = c.Post("/v2/models/credit/infer", *request);
    ASSERT_EQ(r.status, 200) << r.body.substr(0, 500);
    auto body = json::parse(r.body);
    ASSERT_EQ(body["outputs"][0]["name"], "probability");
    ASSERT_EQ(body["outputs"][0]["data"].size(), rows.n);
    int missing_rows = 0;
    for (size_t i = 0; i < rows.n; ++i) {
      EXPECT_NEAR(body["outputs"][0]["data"][i].get<double>(), probability[i], 1e-6) << "row " << i;
      EXPECT_NEAR(body["outputs"][2]["data"][i].get<double>(), margin[i], 1e-6) << "row " << i;
      EXPECT_EQ(body["outputs"][1]["data"][i], probability[i] >= 0.5 ? "bad" : "good");
      for (size_t j = 0; j < config->features.size(); ++j) missing_rows += std::isnan(rows.matrix[i * 13 + j]);
    }
    EXPECT_GT(missing_rows, 0) << "the sample should exercise missing values";
  }
}

TEST_F(ServerE2eTest, BadRequestsGetClearErrorsAndTheServerKeepsServing) {
  // A model that refuses missing ages, and one whose only version is broken.
  std::string yaml = ReadFile(repo_.path() / "credit/model.yaml");
  const std::string age = "{name: Age, type: numeric}";
  yaml.replace(yaml.find(age), age.size(), "{name: Age, type: numeric, allow_missing: false}");
  WriteFile(repo_.path() / "strict/model.yaml", yaml);
  fs::copy(repo_.path() / "credit/1", repo_.path() / "strict/1");
  WriteFile(repo_.path() / "broken/model.yaml", ReadFile(repo_.path() / "credit/model.yaml"));
  WriteFile(repo_.path() / "broken/1/model.json", "not a model");
  auto server = StartServer({"--max-body-bytes", "1048576", "--header-timeout-ms", "500"});
  HttpClient c(server->port());

  struct Case {
    std::string path, body;
    int status;
    std::string error;  // Prefix of the error message.
  };
  const std::vector<Case> cases = {
      {"/v2/models/credit/infer", "{\"inputs\": [", 400, "request body is not valid JSON"},
      {"/v2/models/credit/infer", R"({"inputs":[{"name":"input","datatype":"BYTES","shape":[1,13],"data":["a","b","c","d","e","f","g","h","i","j","k","l","m"]}]})",
       400, "inputs[0].datatype: input 'input' must be numeric"},
      {"/v2/models/credit/infer", R"({"inputs":[{"name":"input","datatype":"INT32","shape":[1,13],"data":[1,2,3,4,5,6,7,8,9,10,11,12,"x"]}]})",
       400, "inputs[0].data[12]: expected INT32 value, got a string"},
      {"/v2/models/credit/infer", R"({"inputs":[{"name":"input","datatype":"FP32","shape":[2,13],"data":[1,2,3]}]})",
       400, "inputs[0]: shape [2, 13] needs 26 values, data has 3"},
      {"/v2/models/credit/infer", R"({"inputs":[{"name":"Zip","datatype":"FP32","shape":[1],"data":[1]}]})",
       400, "inputs[0].name: unknown input 'Zip'"},
      {"/v2/models/strict/infer", R"({"inputs":[{"name":"input","datatype":"FP32","shape":[1,13],"data":[9,5,60,null,1,0,1,73,129,0,0,800,846]}]})",
       400, "inputs[0].data[3]: feature 'Age' may not be missing"},
      {"/v2/models/nope/infer", kCreditRow, 404, "model 'nope' is not in the repository"},
      {"/v2/models/credit/versions/5/infer", kCreditRow, 404, "model 'credit' has no version 5"},
      {"/v2/models/broken/infer", kCreditRow, 503, "model 'broken' is not ready: version 1 failed to load"},
  };
  for (const Case& k : cases) {
    auto r = c.Post(k.path, k.body);
    EXPECT_EQ(r.status, k.status) << k.path << " " << r.body;
    auto body = json::parse(r.body, nullptr, false);
    ASSERT_TRUE(body.is_object() && body.contains("error")) << r.body;
    EXPECT_EQ(body["error"].get<std::string>().rfind(k.error, 0), 0u) << body["error"];
    EXPECT_EQ(c.Post("/v2/models/credit/infer", kCreditRow).status, 200) << "after " << k.error;
  }
  EXPECT_EQ(c.Get("/v2/models/broken/ready").status, 503);
  EXPECT_EQ(c.Get("/v2/health/ready").status, 503) << "a model with no ready version";

  // Over the body limit: refused from the Content-Length, before the body.
  std::string big = c.Raw("POST /v2/models/credit/infer HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                          "Content-Length: 2097152\r\n\r\n");
  EXPECT_EQ(big.rfind("HTTP/1.1 413", 0), 0u) << big;
  EXPECT_NE(big.find("{\"error\":\"request body exceeds the limit of 1048576 bytes\"}"), std::string::npos) << big;
  // A client that never finishes its header is cut off by the header timeout.
  const auto start = Clock::now();
  std::string slow = c.Raw("POST /v2/models/credit/infer HTTP/1.1\r\nHost: x\r\n");
  EXPECT_EQ(slow, "");
  EXPECT_LT(Clock::now() - start, std::chrono::seconds(5));
  // A header over --max-header-bytes (16 KiB by default).
  std::string huge = c.Raw("GET /v2 HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(20000, 'a') + "\r\n\r\n");
  EXPECT_EQ(huge.rfind("HTTP/1.1 431", 0), 0u) << huge.substr(0, 200);
  // HEAD answers like GET, without the body.
  std::string head = c.Raw("HEAD /v2/health/live HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(head.rfind("HTTP/1.1 200", 0), 0u) << head;
  EXPECT_NE(head.find("Content-Length: 13"), std::string::npos) << head;
  EXPECT_EQ(head.substr(head.find("\r\n\r\n") + 4), "");
  // "Expect: 100-continue" (curl sends it for large bodies) is answered at once.
  const std::string row = kCreditRow;
  std::string continued = c.TwoPart("POST /v2/models/credit/infer HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                                    "Content-Type: application/json\r\nExpect: 100-continue\r\nContent-Length: " +
                                        std::to_string(row.size()) + "\r\n\r\n",
                                    row);
  EXPECT_EQ(continued.rfind("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200", 0), 0u) << continued;
  // Garbage instead of HTTP.
  EXPECT_EQ(c.Raw("BLAH\r\n\r\n").rfind("HTTP/1.1 400", 0), 0u);
  // The idle keep-alive connection of `c` outlived the 500 ms header timeout
  // and was closed; a new connection is served.
  HttpClient fresh(server->port());
  EXPECT_EQ(fresh.Post("/v2/models/credit/infer", kCreditRow).status, 200);
  EXPECT_EQ(server->Stop(SIGTERM), 0);
}

TEST_F(ServerE2eTest, NewVersionTakesOverUnderLoadWithZeroFailedRequests) {
  auto server = StartServer();
  std::atomic<bool> stop{false};
  std::atomic<int> ok{0}, failed{0}, saw_v2{0}, went_back{0};
  std::vector<std::thread> clients;
  for (int t = 0; t < 4; ++t) {
    clients.emplace_back([&] {
      HttpClient c(server->port());
      bool mine_v2 = false;
      while (!stop) {
        auto r = c.Post("/v2/models/credit/infer", kCreditRow);
        if (r.status != 200) {
          ++failed;
          continue;
        }
        ++ok;
        const std::string version = json::parse(r.body)["model_version"];
        if (version == "2") {
          mine_v2 = true;
          ++saw_v2;
        } else if (mine_v2) {
          ++went_back;
        }
      }
    });
  }
  ASSERT_TRUE(WaitFor([&] { return ok > 200; }));
  Deploy(trained_->path() / "credit/2", 2);
  const bool switched = WaitFor([&] { return saw_v2 > 200; });
  stop = true;
  for (auto& t : clients) t.join();
  EXPECT_TRUE(switched);
  EXPECT_EQ(failed, 0);
  EXPECT_EQ(went_back, 0) << "a client saw version 1 after version 2";
  HttpClient c(server->port());
  EXPECT_EQ(json::parse(c.Get("/v2/models/credit").body)["versions"], json({"2"}));
  EXPECT_TRUE(WaitFor([&] {
    return c.Get("/metrics").body.find("vigil_model_unloads_total{model=\"credit\"} 1") != std::string::npos;
  })) << "version 1 should drain and unload";
  std::printf("hot swap under load: %d requests, %d failed\n", ok.load(), failed.load());
  EXPECT_EQ(server->Stop(SIGTERM), 0);
}

TEST_F(ServerE2eTest, CorruptNewVersionLeavesTheOldOneServing) {
  auto server = StartServer();
  HttpClient c(server->port());
  fs::create_directories(repo_.path() / "credit/.incoming");
  WriteFile(repo_.path() / "credit/.incoming/model.json", "{\"learner\": {\"truncated");
  fs::rename(repo_.path() / "credit/.incoming", repo_.path() / "credit/2");
  ASSERT_TRUE(WaitFor([&] {
    return c.Get("/v2/models/credit").body.find("\"FAILED\"") != std::string::npos;
  })) << server->Output();
  auto meta = json::parse(c.Get("/v2/models/credit").body);
  EXPECT_EQ(meta["versions"], json({"1"}));
  EXPECT_EQ(meta["version_status"][1]["version"], "2");
  EXPECT_NE(meta["version_status"][1]["reason"].get<std::string>().find("cannot load XGBoost model"), std::string::npos);
  EXPECT_EQ(json::parse(c.Post("/v2/models/credit/infer", kCreditRow).body)["model_version"], "1");
  EXPECT_EQ(c.Get("/v2/models/credit/ready").status, 200);
  EXPECT_EQ(c.Get("/v2/models/credit/versions/2/ready").status, 503);
  EXPECT_NE(c.Get("/metrics").body.find(
                "vigil_model_loads_total{model=\"credit\",result=\"failure\",reason=\"invalid_artifact\"} 1"),
            std::string::npos);
  EXPECT_NE(server->Output().find("model credit version 2: load failed, previous version keeps serving"),
            std::string::npos);
  // Removing the version drains nothing (it never served) and clears the failure.
  fs::remove_all(repo_.path() / "credit/2");
  EXPECT_TRUE(WaitFor([&] {
    return json::parse(c.Get("/v2/models/credit").body)["version_status"].size() == 1;
  }));
}

TEST_F(ServerE2eTest, ShutdownDoesNotWaitForIdleKeepAliveConnections) {
  auto server = StartServer();
  HttpClient idle(server->port());
  ASSERT_EQ(idle.Post("/v2/models/credit/infer", kCreditRow).status, 200);  // Connection stays open.
  const auto start = Clock::now();
  EXPECT_EQ(server->Stop(SIGTERM), 0) << server->Output();
  EXPECT_LT(Clock::now() - start, std::chrono::seconds(10));
}

TEST_F(ServerE2eTest, ExplicitModelControlLoadsAndUnloads) {
  auto server = StartServer({"--model-control", "explicit"});
  HttpClient c(server->port());
  EXPECT_EQ(c.Post("/v2/repository/models/credit/unload", "").status, 200);
  EXPECT_EQ(c.Post("/v2/models/credit/infer", kCreditRow).status, 404);
  Deploy(trained_->path() / "credit/2", 2);  // Not picked up without a load request.
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(c.Get("/v2/models/credit").status, 404);
  EXPECT_EQ(c.Post("/v2/repository/models/credit/load", "").status, 200);
  EXPECT_EQ(json::parse(c.Post("/v2/models/credit/infer", kCreditRow).body)["model_version"], "2");
}

}  // namespace
}  // namespace vigil::testing
