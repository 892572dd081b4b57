#include "http/api_router.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "testing/test_repository.h"

namespace vigil {
namespace {

using nlohmann::json;

class ApiRouterTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    repo_ = new testing::TempDir();
    testing::TrainCreditModel(repo_->path(), "credit", 1);
  }
  static void TearDownTestSuite() { delete repo_; }

  void SetUp() override {
    ModelManager::Options options;
    options.repository = repo_->path();
    options.mode = mode_;
    manager_ = std::make_unique<ModelManager>(options, backends_, metrics_);
    ASSERT_TRUE(manager_->Start().ok());
    inference_ = std::make_unique<InferenceService>(*manager_);
    router_ = std::make_unique<ApiRouter>(*manager_, *inference_, metrics_);
  }

  HttpResponse Call(const std::string& method, const std::string& path, std::string body = "") {
    HttpRequest r{method, path, "", std::move(body), ""};
    return router_->Handle(r);
  }

  static testing::TempDir* repo_;
  ModelControlMode mode_ = ModelControlMode::kNone;
  MetricsRegistry registry_;
  ServingMetrics metrics_{registry_};
  BackendRegistry backends_ = BackendRegistry::WithBuiltins();
  std::unique_ptr<ModelManager> manager_;
  std::unique_ptr<InferenceService> inference_;
  std::unique_ptr<ApiRouter> router_;
};
testing::TempDir* ApiRouterTest::repo_ = nullptr;

constexpr char kRow[] =
    R"({"inputs":[{"name":"input","datatype":"FP32","shape":[1,13],"data":[9,5,60,30,1,0,1,73,129,0,0,800,846]}]})";

TEST_F(ApiRouterTest, HealthAndServerMetadata) {
  EXPECT_EQ(Call("GET", "/v2/health/live").body, R"({"live":true})");
  auto ready = Call("GET", "/v2/health/ready");
  EXPECT_EQ(ready.status, 200);
  EXPECT_EQ(ready.body, R"({"ready":true})");
  auto meta = json::parse(Call("GET", "/v2").body);
  EXPECT_EQ(meta["name"], "vigil");
  EXPECT_EQ(meta["extensions"], json({"model_repository"}));
  router_->SetShuttingDown();
  EXPECT_EQ(Call("GET", "/v2/health/ready").status, 503);
}

TEST_F(ApiRouterTest, ModelMetadataAndReadiness) {
  auto meta = json::parse(Call("GET", "/v2/models/credit").body);
  EXPECT_EQ(meta["name"], "credit");
  EXPECT_EQ(meta["versions"], json({"1"}));
  EXPECT_EQ(meta["platform"], "xgboost");
  EXPECT_EQ(meta["inputs"][0], json({{"name", "input"}, {"datatype", "FP32"}, {"shape", {-1, 13}}}));
  EXPECT_EQ(meta["features"].size(), 13u);
  EXPECT_EQ(meta["outputs"][1]["datatype"], "BYTES");
  EXPECT_EQ(Call("GET", "/v2/models/credit/versions/1").status, 200);
  EXPECT_EQ(Call("GET", "/v2/models/credit/versions/9").status, 404);
  EXPECT_EQ(Call("GET", "/v2/models/credit/ready").body, R"({"name":"credit","ready":true})");
  EXPECT_EQ(Call("GET", "/v2/models/credit/versions/1/ready").status, 200);
  EXPECT_EQ(Call("GET", "/v2/models/nope/ready").status, 404);
}

TEST_F(ApiRouterTest, InferAnswersAndCounts) {
  auto r = Call("POST", "/v2/models/credit/infer", kRow);
  ASSERT_EQ(r.status, 200) << r.body;
  auto body = json::parse(r.body);
  EXPECT_EQ(body["model_name"], "credit");
  EXPECT_EQ(body["model_version"], "1");
  EXPECT_EQ(body["id"].get<std::string>().size(), 36u);
  EXPECT_EQ(body["outputs"][0]["name"], "probability");
  EXPECT_EQ(body["outputs"][0]["shape"], json({1}));
  const std::string metrics = Call("GET", "/metrics").body;
  EXPECT_NE(metrics.find("vigil_inference_requests_total{model=\"credit\",version=\"1\"} 1\n"), std::string::npos);
  EXPECT_NE(metrics.find("vigil_inference_request_duration_seconds_count{model=\"credit\",version=\"1\"} 1\n"), std::string::npos);
  EXPECT_NE(metrics.find("vigil_inference_batch_size_bucket{model=\"credit\",version=\"1\",le=\"1\"} 1\n"), std::string::npos);
}

TEST_F(ApiRouterTest, ExplainReturnsContributionsThatAddUpToTheMargin) {
  auto r = Call("POST", "/v2/models/credit/explain", kRow);
  ASSERT_EQ(r.status, 200) << r.body;
  auto body = json::parse(r.body);
  EXPECT_EQ(body["parameters"]["feature_names"].size(), 13u);
  EXPECT_EQ(body["parameters"]["feature_names"][1], "Home");
  ASSERT_EQ(body["outputs"][0]["name"], "contributions");
  EXPECT_EQ(body["outputs"][0]["shape"], json({1, 13}));
  double sum = body["outputs"][1]["data"][0].get<double>();  // bias
  for (const auto& c : body["outputs"][0]["data"]) sum += c.get<double>();
  auto infer = json::parse(Call("POST", "/v2/models/credit/infer", kRow).body);
  EXPECT_NEAR(sum, infer["outputs"][2]["data"][0].get<double>(), 1e-4);
  EXPECT_NEAR(body["outputs"][2]["data"][0].get<double>(), infer["outputs"][2]["data"][0].get<double>(), 1e-4);
  EXPECT_EQ(Call("POST", "/v2/models/credit/versions/1/explain", kRow).status, 200);
  EXPECT_EQ(Call("POST", "/v2/models/credit/explain", "{}").status, 400);
  EXPECT_EQ(Call("GET", "/v2/models/credit/explain").status, 405);
}

TEST_F(ApiRouterTest, RequestedOutputsOnlyAndInTheirOrder) {
  std::string req = std::string(kRow);
  req.insert(req.size() - 1, R"(,"outputs":[{"name":"margin"},{"name":"label"}])");
  auto body = json::parse(Call("POST", "/v2/models/credit/infer", req).body);
  ASSERT_EQ(body["outputs"].size(), 2u);
  EXPECT_EQ(body["outputs"][0]["name"], "margin");
  EXPECT_EQ(body["outputs"][1]["name"], "label");
}

TEST_F(ApiRouterTest, ErrorsMapToStatusesWithJsonBodies) {
  struct Case {
    std::string method, path, body;
    int status;
    std::string error;
  };
  std::string unknown_output = std::string(kRow);
  unknown_output.insert(unknown_output.size() - 1, R"(,"outputs":[{"name":"odds"}])");
  std::vector<Case> cases = {
      {"POST", "/v2/models/credit/infer", "{", 400, ""},
      {"POST", "/v2/models/credit/infer", unknown_output, 400,
       "outputs[0].name: unknown output 'odds' (the model has probability, label, margin)"},
      {"POST", "/v2/models/nope/infer", kRow, 404, "model 'nope' is not in the repository"},
      {"POST", "/v2/models/credit/versions/7/infer", kRow, 404, "model 'credit' has no version 7 serving"},
      {"POST", "/v2/models/credit/versions/x/infer", kRow, 404, "model 'credit' has no version or alias 'x'"},
      {"GET", "/v2/models/credit/infer", "", 405, "method GET is not allowed here; use POST"},
      {"GET", "/v2/nothing", "", 404, "no endpoint at /v2/nothing (see GET /v2)"},
      {"POST", "/v2/repository/models/credit/unload", "", 403, ""},
      {"POST", "/v2/repository/index", "[1]", 400, "request body: expected a JSON object such as {\"ready\": true}"},
  };
  for (const Case& c : cases) {
    auto r = Call(c.method, c.path, c.body);
    EXPECT_EQ(r.status, c.status) << c.method << " " << c.path << ": " << r.body;
    auto body = json::parse(r.body);
    ASSERT_TRUE(body.contains("error")) << r.body;
    if (!c.error.empty()) {
      EXPECT_EQ(body["error"], c.error);
    }
  }
  // A failed request of a known model is counted by reason.
  EXPECT_NE(Call("GET", "/metrics").body.find(
                "vigil_inference_request_failures_total{model=\"credit\",version=\"1\",reason=\"invalid_argument\"} 2"),
            std::string::npos);
  // Versions that do not resolve are counted without one: what a client
  // names must not add series.
  const std::string metrics = Call("GET", "/metrics").body;
  EXPECT_NE(metrics.find("vigil_inference_request_failures_total{model=\"credit\",version=\"\",reason=\"not_found\"} 2"),
            std::string::npos) << metrics;
  EXPECT_EQ(metrics.find("version=\"7\""), std::string::npos);
  EXPECT_EQ(metrics.find("version=\"x\""), std::string::npos);
  // And the server still answers.
  EXPECT_EQ(Call("POST", "/v2/models/credit/infer", kRow).status, 200);
}

TEST_F(ApiRouterTest, RepositoryIndexListsVersions) {
  auto index = json::parse(Call("POST", "/v2/repository/index", "").body);
  EXPECT_EQ(index, json::parse(R"([{"name":"credit","version":"1","state":"READY"}])"));
  EXPECT_EQ(json::parse(Call("POST", "/v2/repository/index", R"({"ready":true})").body).size(), 1u);
}

class ExplicitApiRouterTest : public ApiRouterTest {
 protected:
  ExplicitApiRouterTest() { mode_ = ModelControlMode::kExplicit; }
};

TEST_F(ExplicitApiRouterTest, LoadAndUnloadOverTheApi) {
  EXPECT_EQ(Call("POST", "/v2/repository/models/credit/unload").status, 200);
  EXPECT_EQ(Call("POST", "/v2/models/credit/infer", kRow).status, 404);
  auto index = json::parse(Call("POST", "/v2/repository/index").body);
  EXPECT_EQ(index, json::parse(R"([{"name":"credit","state":"UNAVAILABLE","reason":"unloaded"}])"));
  EXPECT_EQ(Call("POST", "/v2/repository/models/credit/load").status, 200);
  EXPECT_EQ(Call("POST", "/v2/models/credit/infer", kRow).status, 200);
  EXPECT_EQ(Call("POST", "/v2/repository/models/ghost/load").status, 404);
}

}  // namespace
}  // namespace vigil
