// The metrics endpoint against the real Prometheus tools: promtool's checker
// and a prometheus server that scrapes Vigil and answers a query.
#include <gtest/gtest.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <thread>

#include "e2e/credit_request.h"
#include "e2e/http_client.h"
#include "e2e/server_process.h"
#include "testing/test_repository.h"

namespace vigil::testing {
namespace {

using nlohmann::json;

class PrometheusE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    TrainCreditModel(repo_.path(), "credit", 1);
    // With the prediction log and one-row drift windows, so that every
    // metric family is present.
    server_ = std::make_unique<ServerProcess>(std::vector<std::string>{
        "--repository", repo_.path().string(), "--store", (repo_.path() / "vigil.db").string(), "--window-rows", "1"});
    ASSERT_TRUE(server_->Start()) << server_->Output();
    HttpClient c(server_->port());
    ASSERT_EQ(c.Post("/v2/models/credit/infer", kCreditRow).status, 200);
    ASSERT_EQ(c.Post("/v2/models/credit/infer", "{").status, 400);
    ASSERT_EQ(c.Post("/v2/models/nope/infer", kCreditRow).status, 404);
    // The log's writer closes the window within its flush interval.
    for (int i = 0; i < 100 && c.Get("/metrics").body.find("vigil_feature_drift{") == std::string::npos; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }
  TempDir repo_;
  std::unique_ptr<ServerProcess> server_;
};

TEST_F(PrometheusE2eTest, PromtoolAcceptsTheExposition) {
  HttpClient c(server_->port());
  WriteFile(repo_.path() / "metrics.txt", c.Get("/metrics").body);
  std::string output;
  int rc = RunCommand("promtool check metrics < " + (repo_.path() / "metrics.txt").string(), &output);
  EXPECT_EQ(rc, 0) << output;
  EXPECT_EQ(output, "") << "promtool reported lint problems";
  EXPECT_NE(ReadFile(repo_.path() / "metrics.txt").find("vigil_feature_drift{"), std::string::npos);
}

TEST_F(PrometheusE2eTest, RealPrometheusScrapesAndQueriesAServingAndADriftSeries) {
  const int prom_port = FreePort();
  const auto config = repo_.path() / "prometheus.yml";
  WriteFile(config, "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
                    "scrape_configs:\n  - job_name: vigil\n    static_configs:\n"
                    "      - targets: ['127.0.0.1:" + std::to_string(server_->port()) + "']\n");
  ChildProcess prometheus({"/usr/bin/prometheus", "--config.file=" + config.string(),
                           "--storage.tsdb.path=" + (repo_.path() / "tsdb").string(),
                           "--web.listen-address=127.0.0.1:" + std::to_string(prom_port), "--log.level=warn"},
                          (repo_.path() / "prometheus.log").string());
  ASSERT_TRUE(prometheus.Start());

  // Polls Prometheus until `query` (URL-encoded) has a result.
  auto query = [&](const std::string& encoded) {
    json result;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(90);
    while (std::chrono::steady_clock::now() < deadline) {
      HttpClient q(prom_port);
      auto r = q.Get("/api/v1/query?query=" + encoded);
      if (r.status == 200) {
        result = json::parse(r.body);
        if (!result["data"]["result"].empty()) break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(250));
    }
    return result;
  };
  const json result = query("vigil_inference_requests_total%7Bmodel%3D%22credit%22%7D");
  // A drift series: the Age feature's PSI in the last window.
  const json drift = query("vigil_feature_drift%7Bfeature%3D%22Age%22%2Cstatistic%3D%22psi%22%7D");
  prometheus.Stop();
  ASSERT_FALSE(drift.is_null()) << prometheus.Output();
  ASSERT_EQ(drift["data"]["result"].size(), 1u) << drift.dump();
  EXPECT_EQ(drift["data"]["result"][0]["metric"]["model"], "credit");
  ASSERT_FALSE(result.is_null()) << prometheus.Output();
  ASSERT_EQ(result["status"], "success");
  ASSERT_EQ(result["data"]["result"].size(), 1u) << result.dump() << prometheus.Output();
  const json& series = result["data"]["result"][0];
  EXPECT_EQ(series["metric"]["job"], "vigil");
  EXPECT_EQ(series["metric"]["version"], "1");
  EXPECT_EQ(series["value"][1], "1");
}

}  // namespace
}  // namespace vigil::testing
