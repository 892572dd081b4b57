// The in-process ceiling of a neural model for bench/neural: the model's
// backend built exactly as the server builds it (BackendRegistry, its
// instances and preprocessing), called directly by THREADS threads for
// SECONDS seconds, every call with the rows of one v2 request body, decoded
// and assembled as the server does (DecodeInferRequest, and for a tabular
// model AssembleTabularInput).
//
//   build/neural_engine_bench MODEL_DIR VERSION BODY_JSON THREADS SECONDS
//
// Prints one JSON line: {"batch", "threads", "calls", "rows_per_s",
// "p50_ms", "p99_ms"}, batch being the body's rows.
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
#include "http/v2_codec.h"
#include "repository/model_config.h"
#include "serving/tabular_input.h"

namespace vigil {
namespace {

using Clock = std::chrono::steady_clock;

int Fail(const std::string& message) {
  std::fprintf(stderr, "neural_engine_bench: %s\n", message.c_str());
  return 1;
}

int Main(int argc, char** argv) {
  if (argc != 6) return Fail("usage: neural_engine_bench MODEL_DIR VERSION BODY_JSON THREADS SECONDS");
  const std::filesystem::path model_dir = argv[1];
  const int threads = std::stoi(argv[4]);
  const double seconds = std::stod(argv[5]);

  auto config = LoadModelConfig(model_dir / "model.yaml", model_dir.filename().string());
  if (!config.ok()) return Fail(config.status().ToString());
  auto backend = BackendRegistry::WithBuiltins().Create(*config, model_dir / argv[2]);
  if (!backend.ok()) return Fail(backend.status().ToString());

  std::ifstream in(argv[3]);
  std::stringstream text;
  text << in.rdbuf();
  std::string body = text.str();
  auto request = DecodeInferRequest(body);
  if (!request.ok()) return Fail(request.status().ToString());
  std::vector<Tensor> inputs = std::move(request->inputs);
  if (config->is_tabular()) {
    auto matrix = AssembleTabularInput(*config, inputs);
    if (!matrix.ok()) return Fail(matrix.status().ToString());
    inputs = {std::move(*matrix)};
  }
  const int64_t batch = inputs.at(0).shape().at(0);
  std::vector<const OutputSpec*> requested;
  for (const OutputSpec& o : config->outputs) requested.push_back(&o);

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
