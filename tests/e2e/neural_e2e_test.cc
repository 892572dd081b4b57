// End-to-end: the example neural network (examples/credit_nn/train.py, trained
// by the test with Debian's PyTorch) served by the real `vigil` binary as
// TorchScript and as ONNX, compared with PyTorch's own outputs for the same
// rows; ONNX graphs the engine cannot run, wrong shapes, a full instance
// pool, and an ONNX model whose inputs come from its graph.
// Built only when both neural backends are.
#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <nlohmann/json.hpp>
#include <sstream>
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

const fs::path kSource = VIGIL_SOURCE_DIR;
const std::string kPython = "/usr/bin/python3";

std::string Quote(const fs::path& p) { return "'" + p.string() + "'"; }

// Runs the fixture script; fails the test (and returns "") if it fails.
std::string Fixtures(const std::string& args) {
  std::string out;
  const int rc = RunCommand(kPython + " " + Quote(kSource / "tests/e2e/neural_fixtures.py") + " " + args, &out);
  EXPECT_EQ(rc, 0) << out;
  return rc == 0 ? out : "";
}

json Output(const json& response, const std::string& name) {
  for (const json& o : response["outputs"]) {
    if (o["name"] == name) return o["data"];
  }
  ADD_FAILURE() << "no output " << name << " in " << response.dump();
  return json::array();
}

// The reason the repository index gives for `model`'s version that failed
// to load, once it has one (within 20 s); "" if none came.
std::string LoadFailure(HttpClient& c, const std::string& model) {
  std::string reason;
  WaitFor([&] {
    for (const json& entry : json::parse(c.Post("/v2/repository/index", "{}").body)) {
      if (entry["name"] == model && entry.contains("reason")) reason = entry["reason"];
    }
    return !reason.empty();
  });
  EXPECT_FALSE(reason.empty()) << model << ": " << c.Post("/v2/repository/index", "{}").body;
  return reason;
}

class NeuralE2eTest : public ::testing::Test {
 protected:
  // Trains the example once: REPO/credit-torch and REPO/credit-onnx.
  static void SetUpTestSuite() {
    trained_ = new TempDir();
    std::string out;
    const int rc = RunCommand(kPython + " " + Quote(kSource / "examples/credit_nn/train.py") + " --data " +
                                  Quote(CreditCsv()) + " --repository " + Quote(trained_->path()) + " --epochs 150",
                              &out);
    ASSERT_EQ(rc, 0) << out;
  }
  static void TearDownTestSuite() { delete trained_; }

  void SetUp() override {
    ASSERT_TRUE(fs::exists(trained_->path() / "credit-torch/1/model.pt"));
    fs::copy(trained_->path(), repo_.path(), fs::copy_options::recursive);
    auto ds = TabularDataset::ReadCsv(CreditCsv());
    ASSERT_TRUE(ds.ok()) << ds.status().message();
    data_ = std::make_unique<TabularDataset>(std::move(*ds));
    auto config = LoadModelConfig(repo_.path() / "credit-torch/model.yaml", "credit-torch");
    ASSERT_TRUE(config.ok()) << config.status().message();
    config_ = *config;
  }

  std::unique_ptr<ServerProcess> StartServer(std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {"--repository", repo_.path().string(), "--poll-interval-ms", "100"};
    args.insert(args.end(), extra.begin(), extra.end());
    auto server = std::make_unique<ServerProcess>(args);
    EXPECT_TRUE(server->Start()) << server->Output();
    return server;
  }

  // A model directory NAME in the repository like credit-torch's, with
  // `backend`, `artifact` and `extra` keys in its model.yaml.
  fs::path AddModel(const std::string& name, const std::string& backend, const std::string& artifact,
                    const std::string& extra) {
    std::string yaml = ReadFile(repo_.path() / "credit-torch/model.yaml");
    auto replace = [&](const std::string& from, const std::string& to) {
      const size_t at = yaml.find(from);
      ASSERT_NE(at, std::string::npos) << from;
      yaml.replace(at, from.size(), to);
    };
    replace("backend: torchscript", "backend: " + backend);
    replace("artifact: model.pt", "artifact: " + artifact);
    replace("instances: 2", extra);
    WriteFile(repo_.path() / name / "model.yaml", yaml);
    fs::create_directories(repo_.path() / name / "1");
    fs::copy(repo_.path() / "credit-torch/1/preprocessing.yaml", repo_.path() / name / "1/preprocessing.yaml");
    return repo_.path() / name / "1";
  }

  // Sends rows (with missing values among them) to `repo`'s credit-torch and
  // credit-onnx, all in one request and then some one by one, and compares
  // the answers with PyTorch's for credit-torch's model.pt.
  void ExpectPyTorchsAnswers(const fs::path& repo) {
    std::vector<size_t> rows = RowRange(0, 48);
    size_t with_missing = 0;
    for (size_t r : rows) {
      for (const FeatureSpec& f : config_.features) {
        const Column& col = data_->columns()[data_->ColumnIndex(f.name)];
        if (col.numeric ? std::isnan(col.numbers[r]) : col.strings[r].empty()) {
          ++with_missing;
          break;
        }
      }
    }
    ASSERT_GE(with_missing, 1u);
    std::ostringstream indices;
    for (size_t r : rows) indices << " " << r;
    const json reference = json::parse(
        Fixtures("reference " + Quote(repo / "credit-torch/1") + " " + Quote(CreditCsv()) + indices.str()));
    ASSERT_EQ(reference["margin"].size(), rows.size());

    ServerProcess server({"--repository", repo.string(), "--poll-interval-ms", "100"});
    ASSERT_TRUE(server.Start()) << server.Output();
    HttpClient c(server.port());
    for (const std::string model : {"credit-torch", "credit-onnx"}) {
      SCOPED_TRACE(model);
      ASSERT_TRUE(WaitFor([&] { return c.Get("/v2/models/" + model + "/ready").status == 200; }))
          << c.Post("/v2/repository/index", "{}").body;
      auto all = c.Post("/v2/models/" + model + "/infer", CreditRequest(*data_, config_, rows, "all"));
      ASSERT_EQ(all.status, 200) << all.body;
      const json response = json::parse(all.body);
      const json margin = Output(response, "margin");
      const json probability = Output(response, "probability");
      const json label = Output(response, "label");
      ASSERT_EQ(margin.size(), rows.size());
      for (size_t i = 0; i < rows.size(); ++i) {
        EXPECT_NEAR(margin[i].get<double>(), reference["margin"][i].get<double>(), 1e-5) << "row " << rows[i];
        EXPECT_NEAR(probability[i].get<double>(), reference["probability"][i].get<double>(), 1e-5) << "row " << rows[i];
        EXPECT_EQ(label[i], reference["probability"][i].get<double>() >= 0.5 ? "bad" : "good") << "row " << rows[i];
      }
      for (size_t i = 0; i < rows.size(); i += 7) {
        auto one = c.Post("/v2/models/" + model + "/infer", CreditRequest(*data_, config_, {rows[i]}, "one"));
        ASSERT_EQ(one.status, 200) << one.body;
        EXPECT_NEAR(Output(json::parse(one.body), "margin")[0].get<double>(), reference["margin"][i].get<double>(),
                    1e-5)
            << "row " << rows[i];
      }
    }
  }

  static TempDir* trained_;
  TempDir repo_;
  std::unique_ptr<TabularDataset> data_;
  ModelConfig config_;
};
TempDir* NeuralE2eTest::trained_ = nullptr;

TEST_F(NeuralE2eTest, BothFormatsAnswerAsPyTorchDoes) { ExpectPyTorchsAnswers(repo_.path()); }

// The artifacts committed in examples/credit_nn/models (what the README
// serves) answer as PyTorch does too.
TEST_F(NeuralE2eTest, TheCommittedExampleAnswersAsPyTorchDoes) {
  TempDir copy;
  fs::copy(kSource / "examples/credit_nn/models", copy.path(), fs::copy_options::recursive);
  ExpectPyTorchsAnswers(copy.path());
}

TEST_F(NeuralE2eTest, AWrongShapeIsA400NamingIt) {
  auto server = StartServer();
  HttpClient c(server->port());
  const std::string twelve =
      R"({"inputs":[{"name":"input","datatype":"FP32","shape":[1,12],"data":[9,5,60,30,1,0,1,73,129,0,0,800]}]})";
  for (const std::string model : {"credit-torch", "credit-onnx"}) {
    SCOPED_TRACE(model);
    ASSERT_TRUE(WaitFor([&] { return c.Get("/v2/models/" + model + "/ready").status == 200; }));
    auto r = c.Post("/v2/models/" + model + "/infer", twelve);
    EXPECT_EQ(r.status, 400);
    EXPECT_EQ(json::parse(r.body)["error"], "inputs[0].shape: input 'input' must be [N, 13], got [1, 12]");
    // A feature missing from the columns form.
    json columns = json::parse(CreditRequest(*data_, config_, {0, 1}, "x"));
    columns["inputs"].erase(columns["inputs"].begin() + 2);  // Time
    r = c.Post("/v2/models/" + model + "/infer", columns.dump());
    EXPECT_EQ(r.status, 400) << r.body;
    EXPECT_NE(json::parse(r.body)["error"].get<std::string>().find("Time"), std::string::npos) << r.body;
    // The server keeps serving.
    EXPECT_EQ(c.Post("/v2/models/" + model + "/infer", CreditRequest(*data_, config_, {0}, "ok")).status, 200);
  }
}

TEST_F(NeuralE2eTest, OnnxGraphsTheEngineCannotRunAreRefusedAtLoadWithTheReason) {
  const fs::path dir = AddModel("unique", "onnx", "model.onnx", "instances: 1");
  Fixtures("unsupported " + Quote(dir / "model.onnx") + " 26");
  const fs::path fixed = AddModel("fixed", "onnx", "model.onnx",
                                  "instances: 1\nbatching: {max_batch_size: 8, max_queue_delay_us: 100}");
  Fixtures("fixed " + Quote(fixed / "model.onnx") + " 26");
  auto server = StartServer();
  HttpClient c(server->port());
  ASSERT_TRUE(WaitFor([&] { return c.Get("/v2/models/credit-onnx/ready").status == 200; }));
  const std::string unique = LoadFailure(c, "unique");
  EXPECT_NE(unique.find("the ONNX operator 'Unique' is not supported by OpenCV's DNN engine"), std::string::npos)
      << unique;
  // A graph with its batch dimension fixed cannot take stacked requests:
  // with batching on it is refused at load, saying so.
  const std::string fixed_batch = LoadFailure(c, "fixed");
  EXPECT_NE(fixed_batch.find("graph input 'input' has a fixed batch dimension (1)"), std::string::npos) << fixed_batch;
  EXPECT_NE(c.Get("/v2/models/unique/ready").status, 200);
  EXPECT_EQ(c.Post("/v2/models/credit-onnx/infer", CreditRequest(*data_, config_, {0}, "ok")).status, 200);
}

TEST_F(NeuralE2eTest, AnOnnxModelWithoutFeaturesTakesItsInputsFromTheGraph) {
  // model.yaml names no inputs: the graph's ('pixels', [batch, 2, 3]) serve.
  WriteFile(repo_.path() / "plain/model.yaml", "backend: onnx\noutputs: [{name: value, kind: prediction}]\n");
  fs::create_directories(repo_.path() / "plain/1");
  const json reference = json::parse(Fixtures("plain " + Quote(repo_.path() / "plain/1/model.onnx")));
  auto server = StartServer();
  HttpClient c(server->port());
  ASSERT_TRUE(WaitFor([&] { return c.Get("/v2/models/plain/ready").status == 200; }))
      << c.Post("/v2/repository/index", "{}").body;
  const json meta = json::parse(c.Get("/v2/models/plain").body);
  ASSERT_EQ(meta["inputs"].size(), 1u) << meta.dump();
  EXPECT_EQ(meta["inputs"][0]["name"], "pixels");
  EXPECT_EQ(meta["inputs"][0]["shape"], json({-1, 2, 3}));
  const json request = {{"inputs", {{{"name", "pixels"}, {"datatype", "FP32"}, {"shape", {2, 2, 3}},
                                     {"data", reference["pixels"]}}}}};
  auto r = c.Post("/v2/models/plain/infer", request.dump());
  ASSERT_EQ(r.status, 200) << r.body;
  const json value = Output(json::parse(r.body), "value");
  ASSERT_EQ(value.size(), 2u);
  for (size_t i = 0; i < 2; ++i) EXPECT_NEAR(value[i].get<double>(), reference["value"][i].get<double>(), 1e-5);
  json flat = request;
  flat["inputs"][0]["shape"] = {2, 6};
  r = c.Post("/v2/models/plain/infer", flat.dump());
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(json::parse(r.body)["error"].get<std::string>().find("inputs[0].shape: expected [-1, 2, 3]"),
            std::string::npos)
      << r.body;
  EXPECT_EQ(json::parse(c.Get("/v2/models/plain/versions/1").body)["inputs"][0]["name"], "pixels");
  // The version's own config (with the graph's inputs) does not read as a
  // changed model.yaml: ten polls later it was loaded once.
  std::this_thread::sleep_for(std::chrono::seconds(1));
  const std::string metrics = c.Get("/metrics").body;
  const std::string loads = "vigil_model_loads_total{model=\"plain\",result=\"success\"";
  const size_t at = metrics.find(loads);
  ASSERT_NE(at, std::string::npos) << metrics.substr(0, 2000);
  const std::string line = metrics.substr(at, metrics.find('\n', at) - at);
  EXPECT_EQ(line.substr(line.rfind(' ') + 1), "1") << line;
}

TEST_F(NeuralE2eTest, AFullInstancePoolAnswers503AtOnce) {
  // One instance, no waiting room, and a call that takes ~0.4 s: of six
  // requests sent at once (connected first, then released together), at
  // least one runs and the others that meet it running are refused.
  const fs::path dir = AddModel("slow", "torchscript", "model.pt", "instances: 1\nmax_queue: 0");
  Fixtures("slow " + Quote(dir / "model.pt") + " 26");
  auto server = StartServer({"--threads", "8"});
  HttpClient c(server->port());
  ASSERT_TRUE(WaitFor([&] { return c.Get("/v2/models/slow/ready").status == 200; }))
      << c.Post("/v2/repository/index", "{}").body;
  const std::string request = CreditRequest(*data_, config_, {0}, "slow");
  std::vector<HttpResult> results(6);
  std::atomic<int> connected{0};
  std::atomic<bool> go{false};
  std::vector<std::thread> clients;
  for (size_t i = 0; i < results.size(); ++i) {
    clients.emplace_back([&, i] {
      HttpClient own(server->port());
      own.Get("/v2/health/live");  // The connection is open before the release.
      ++connected;
      while (!go) std::this_thread::yield();
      results[i] = own.Post("/v2/models/slow/infer", request);
    });
  }
  while (connected < static_cast<int>(results.size())) std::this_thread::yield();
  go = true;
  for (auto& t : clients) t.join();
  int ok = 0, refused = 0;
  for (const HttpResult& r : results) {
    if (r.status == 200) ++ok;
    if (r.status == 503) {
      ++refused;
      EXPECT_NE(json::parse(r.body)["error"].get<std::string>().find("instances are busy"), std::string::npos)
          << r.body;
    }
  }
  EXPECT_GE(ok, 1);
  EXPECT_GE(refused, 1);
  EXPECT_EQ(ok + refused, 6);
  // Once the pool is free, it serves again.
  EXPECT_EQ(c.Post("/v2/models/slow/infer", request).status, 200);
}

}  // namespace
}  // namespace vigil::testing
