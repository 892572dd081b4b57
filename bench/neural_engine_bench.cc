// The in-process ceiling of a neural model for bench/neural: the model's
// backend built exactly as the server builds it (BackendRegistry, its
// instances and preprocessing), called directly by THREADS threads for
// SECONDS seconds, each call BATCH rows taken from a v2 request body.
//
//   build/neural_engine_bench MODEL_DIR VERSION BODY_JSON BATCH THREADS SECONDS
//
// BODY_JSON is a tensor-form v2 request ({"inputs":[{"name","datatype":"FP32",
// "shape":[N, D],"data":[...]}]}, null for missing) with N >= BATCH; its
// first BATCH rows are sent on every call. Prints one JSON line:
// {"batch", "threads", "calls", "rows_per_s", "p50_ms", "p99_ms"}.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "backends/backend.h"
#include "repository/model_config.h"

namespace vigil {
namespace {

using Clock = std::chrono::steady_clock;

int Fail(const std::string& message) {
  std::fprintf(stderr, "neural_engine_bench: %s\n", message.c_str());
  return 1;
}

int Main(int argc, char** argv) {
  if (argc != 7) return Fail("usage: neural_engine_bench MODEL_DIR VERSION BODY_JSON BATCH THREADS SECONDS");
  const std::filesystem::path model_dir = argv[1];
  const int64_t batch = std::stoll(argv[4]);
  const int threads = std::stoi(argv[5]);
  const double seconds = std::stod(argv[6]);

  auto config = LoadModelConfig(model_dir / "model.yaml", model_dir.filename().string());
  if (!config.ok()) return Fail(config.status().ToString());
  auto backend = BackendRegistry::WithBuiltins().Create(*config, model_dir / argv[2]);
  if (!backend.ok()) return Fail(backend.status().ToString());

  std::ifstream in(argv[3]);
  std::stringstream text;
  text << in.rdbuf();
  const nlohmann::json body = nlohmann::json::parse(text.str());
  const nlohmann::json& input = body["inputs"][0];
  const int64_t rows = input["shape"][0], width = input["shape"][1];
  if (rows < batch) return Fail("the body holds fewer rows than the batch");
  Tensor tensor(input["name"].get<std::string>(), DataType::kFp32, {batch, width});
  for (int64_t i = 0; i < batch * width; ++i) {
    const nlohmann::json& v = input["data"][i];
    tensor.values<float>()[i] = v.is_null() ? NAN : v.get<float>();
  }
  std::vector<const OutputSpec*> requested;
  for (const OutputSpec& o : config->outputs) requested.push_back(&o);
  const std::vector<Tensor> inputs{tensor};

  // Half a second of unmeasured calls, then the measured run.
  std::atomic<bool> failed{false};
  std::vector<std::vector<double>> latencies(threads);
  const auto start_at = Clock::now() + std::chrono::milliseconds(500);
  const auto stop_at = start_at + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      std::vector<Tensor> outputs;
      while (Clock::now() < stop_at) {
        const auto begin = Clock::now();
        Status s = (*backend)->Infer(inputs, requested, &outputs);
        const auto end = Clock::now();
        if (!s.ok()) {
          std::fprintf(stderr, "neural_engine_bench: %s\n", s.ToString().c_str());
          failed = true;
          return;
        }
        if (begin >= start_at && end <= stop_at) {
          latencies[t].push_back(std::chrono::duration<double, std::milli>(end - begin).count());
        }
      }
    });
  }
  for (auto& t : pool) t.join();
  if (failed) return 1;
  std::vector<double> all;
  for (auto& l : latencies) all.insert(all.end(), l.begin(), l.end());
  if (all.empty()) return Fail("no call completed within the run");
  std::sort(all.begin(), all.end());
  auto quantile = [&](double q) { return all[std::min(all.size() - 1, static_cast<size_t>(q * all.size()))]; };
  nlohmann::json result = {{"batch", batch},
                           {"threads", threads},
                           {"calls", all.size()},
                           {"rows_per_s", std::round(static_cast<double>(all.size()) * batch / seconds)},
                           {"p50_ms", quantile(0.5)},
                           {"p99_ms", quantile(0.99)}};
  std::printf("%s\n", result.dump().c_str());
  return 0;
}

}  // namespace
}  // namespace vigil

int main(int argc, char** argv) { return vigil::Main(argc, argv); }
