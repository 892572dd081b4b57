// Native tree engine against XGBoost's own in-place prediction, on the same
// rows, single-threaded (nthread=1 and a reused proxy DMatrix: the way the
// server calls XGBoost). Two models: the credit example (trained by `vigil
// train`'s trainer) and a larger one (500 trees, depth 8, 50 features)
// trained here. Batch sizes 1, 16, 256 and 10,000.
//
//   build/tree_engine_bench [--markdown FILE] [google benchmark flags]
//
// Prints Google Benchmark's table and then one row per model and batch with
// the time per call of each engine (the fastest of five repetitions run in
// random order, unless --benchmark_repetitions is given) and their ratios;
// --markdown appends that summary to FILE.
#include <benchmark/benchmark.h>
#include <xgboost/c_api.h>

#include <cmath>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "backends/trees/xgboost_model_reader.h"
#include "bench_report.h"
#include "testing/test_repository.h"

namespace vigil {
namespace {

struct BenchModel {
  std::string name;
  BoosterHandle booster = nullptr;
  std::unique_ptr<Forest> forest;     // As the server runs it: perfect trees when they fit.
  std::unique_ptr<Forest> general;    // The general layout only.
  std::unique_ptr<Forest> quantized;  // Quantised, perfect trees when they fit.
  std::vector<float> rows;  // 10,000 rows, row-major.
  int features = 0;
};

std::map<std::string, BenchModel>& Models() {
  static std::map<std::string, BenchModel> models;
  return models;
}

void Check(int rc) {
  if (rc != 0) {
    std::fprintf(stderr, "XGBoost: %s\n", XGBGetLastError());
    std::exit(1);
  }
}

std::vector<float> RandomRows(int n, int features, uint32_t seed, float missing_rate) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0, 1);
  std::uniform_real_distribution<float> unit(0, 1);
  std::vector<float> x(static_cast<size_t>(n) * features);
  for (float& v : x) v = unit(rng) < missing_rate ? NAN : normal(rng);
  return x;
}

void LoadModel(const std::string& name, const std::filesystem::path& file, std::vector<float> rows, int features) {
  BenchModel m;
  m.name = name;
  m.features = features;
  m.rows = std::move(rows);
  Check(XGBoosterCreate(nullptr, 0, &m.booster));
  Check(XGBoosterLoadModel(m.booster, file.c_str()));
  Check(XGBoosterSetParam(m.booster, "nthread", "1"));
  auto model = ReadXGBoostModel(file);
  if (!model.ok()) {
    std::fprintf(stderr, "%s\n", model.status().ToString().c_str());
    std::exit(1);
  }
  m.forest = std::make_unique<Forest>(std::move(model->forest));
  if (m.forest->layout() == nullptr) {
    std::fprintf(stderr, "%s has no perfect-tree layout: %s\n", name.c_str(), model->general_layout_reason.c_str());
  }
  m.general = std::make_unique<Forest>(*m.forest);
  m.general->DropLayout();
  m.quantized = std::make_unique<Forest>(*m.forest);
  std::string why;
  if (!m.quantized->Quantize(&why)) {
    std::fprintf(stderr, "cannot quantise %s: %s\n", name.c_str(), why.c_str());
    std::exit(1);
  }
  Models()[name] = std::move(m);
}

void SetUp(const std::filesystem::path& dir) {
  // The credit example, with rows drawn from its own data's ranges.
  testing::TrainCreditModel(dir, "credit", 1, 42, 500);
  std::vector<float> credit = RandomRows(10000, 13, 1, 0.05f);
  const float scale[13] = {8, 1, 15, 10, 1, 0.5f, 1, 20, 80, 10000, 1000, 500, 600};
  const float shift[13] = {8, 3, 46, 37, 2, 0.5f, 1, 55, 140, 5000, 340, 1040, 1460};
  for (size_t i = 0; i < credit.size(); ++i) {
    const int f = static_cast<int>(i % 13);
    if (!std::isnan(credit[i])) credit[i] = std::max(0.0f, std::round(credit[i] * scale[f] + shift[f]));
  }
  LoadModel("credit", dir / "credit/1/model.json", credit, 13);

  // A larger model: 500 trees of depth 8 over 50 numeric features.
  const int n = 10000, f = 50;
  std::vector<float> x = RandomRows(n, f, 2, 0.02f), y(n);
  for (int r = 0; r < n; ++r) {
    const float* row = &x[static_cast<size_t>(r) * f];
    float s = 0;
    for (int j = 0; j < 10; ++j) s += std::isnan(row[j]) ? 0 : row[j] * (j % 3 - 1);
    y[r] = s + 0.5f * (std::isnan(row[11]) ? 0 : row[11] * row[12]) > 0 ? 1.0f : 0.0f;
  }
  DMatrixHandle d;
  Check(XGDMatrixCreateFromMat(x.data(), n, f, NAN, &d));
  Check(XGDMatrixSetFloatInfo(d, "label", y.data(), n));
  BoosterHandle b;
  Check(XGBoosterCreate(&d, 1, &b));
  for (auto [k, v] : {std::pair{"objective", "binary:logistic"}, {"tree_method", "hist"}, {"max_depth", "8"},
                      {"eta", "0.05"}, {"seed", "1"}, {"nthread", "2"}}) {
    Check(XGBoosterSetParam(b, k, v));
  }
  std::fprintf(stderr, "training the 500-tree model...\n");
  for (int i = 0; i < 500; ++i) Check(XGBoosterUpdateOneIter(b, i, d));
  std::filesystem::create_directories(dir / "large");
  Check(XGBoosterSaveModel(b, (dir / "large/model.json").c_str()));
  XGBoosterFree(b);
  XGDMatrixFree(d);
  LoadModel("large", dir / "large/model.json", RandomRows(10000, f, 3, 0.02f), f);
}

void BM_Forest(benchmark::State& state, const Forest& forest, const BenchModel& m);

void BM_Native(benchmark::State& state, const std::string& name) {
  BM_Forest(state, *Models().at(name).forest, Models().at(name));
}

void BM_General(benchmark::State& state, const std::string& name) {
  BM_Forest(state, *Models().at(name).general, Models().at(name));
}

void BM_Quantized(benchmark::State& state, const std::string& name) {
  BM_Forest(state, *Models().at(name).quantized, Models().at(name));
}

void BM_Forest(benchmark::State& state, const Forest& forest, const BenchModel& m) {
  const int64_t batch = state.range(0);
  std::vector<float> out(batch);
  int64_t offset = 0;
  for (auto _ : state) {
    const float* rows = m.rows.data() + offset * m.features;
    if (batch == 1) {
      forest.PredictRowMargins(rows, out.data());
    } else {
      forest.PredictMargins(rows, batch, out.data());
    }
    forest.Transform(out.data(), batch);
    benchmark::DoNotOptimize(out.data());
    offset = (offset + batch) % (10000 - batch + 1);
  }
  state.SetItemsProcessed(state.iterations() * batch);
}

void BM_XGBoost(benchmark::State& state, const std::string& name) {
  const BenchModel& m = Models().at(name);
  const int64_t batch = state.range(0);
  DMatrixHandle proxy;
  Check(XGProxyDMatrixCreate(&proxy));
  const char* config =
      R"({"type": 0, "training": false, "iteration_begin": 0, "iteration_end": 0, "strict_shape": false, "missing": NaN, "cache_id": 0})";
  int64_t offset = 0;
  char array[200];
  for (auto _ : state) {
    const float* rows = m.rows.data() + offset * m.features;
    std::snprintf(array, sizeof(array),
                  R"({"data": [%llu, true], "shape": [%lld, %d], "typestr": "<f4", "version": 3})",
                  static_cast<unsigned long long>(reinterpret_cast<uintptr_t>(rows)),
                  static_cast<long long>(batch), m.features);
    const bst_ulong* shape;
    bst_ulong dim;
    const float* out;
    Check(XGBoosterPredictFromDense(m.booster, array, config, proxy, &shape, &dim, &out));
    benchmark::DoNotOptimize(out);
    offset = (offset + batch) % (10000 - batch + 1);
  }
  XGDMatrixFree(proxy);
  state.SetItemsProcessed(state.iterations() * batch);
}

// Collects each case's fastest repetition (time per iteration) for the
// summary: on a shared machine, interference only ever adds time.
class Collector : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    for (const Run& r : runs) {
      if (r.run_type == Run::RT_Iteration && !r.error_occurred) {
        const std::string name = r.run_name.function_name + "/" + r.run_name.args;
        const double seconds = r.GetAdjustedRealTime() * 1e-9;  // Time unit: ns.
        auto [it, added] = seconds_.emplace(name, seconds);
        if (!added) it->second = std::min(it->second, seconds);
      }
    }
    ConsoleReporter::ReportRuns(runs);
  }
  std::map<std::string, double> seconds_;
};

}  // namespace
}  // namespace vigil

int main(int argc, char** argv) {
  using namespace vigil;
  std::string markdown;
  std::vector<char*> args;
  for (int i = 0; i < argc; ++i) {
    if (std::string(argv[i]) == "--markdown" && i + 1 < argc) {
      markdown = argv[++i];
    } else {
      args.push_back(argv[i]);
    }
  }
  // Unless told otherwise: five repetitions of every case, in random order,
  // so that the engines share the machine's quiet and noisy moments.
  std::string repetitions = "--benchmark_repetitions=5", interleave = "--benchmark_enable_random_interleaving=true";
  bool has_repetitions = false;
  for (char* a : args) has_repetitions |= std::string(a).rfind("--benchmark_repetitions", 0) == 0;
  if (!has_repetitions) {
    args.push_back(repetitions.data());
    args.push_back(interleave.data());
  }
  int n = static_cast<int>(args.size());
  benchmark::Initialize(&n, args.data());
  testing::TempDir dir;
  SetUp(dir.path());
  const std::vector<int64_t> batches = {1, 16, 256, 10000};
  for (const char* model : {"credit", "large"}) {
    for (int64_t b : batches) {
      benchmark::RegisterBenchmark(("native/" + std::string(model)).c_str(), BM_Native, model)
          ->Arg(b)->Unit(benchmark::kNanosecond);
      benchmark::RegisterBenchmark(("general/" + std::string(model)).c_str(), BM_General, model)
          ->Arg(b)->Unit(benchmark::kNanosecond);
      benchmark::RegisterBenchmark(("quantized/" + std::string(model)).c_str(), BM_Quantized, model)
          ->Arg(b)->Unit(benchmark::kNanosecond);
      benchmark::RegisterBenchmark(("xgboost/" + std::string(model)).c_str(), BM_XGBoost, model)
          ->Arg(b)->Unit(benchmark::kNanosecond);
    }
  }
  Collector collector;
  benchmark::RunSpecifiedBenchmarks(&collector);

  std::string summary =
      "| model | batch | native µs/call | general layout µs/call | quantised µs/call | XGBoost µs/call | native ns/row | "
      "speed-up | general layout speed-up | quantised speed-up |\n"
      "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n";
  for (const char* model : {"credit", "large"}) {
    const Forest& f = *Models().at(model).forest;
    for (int64_t b : batches) {
      const std::string suffix = std::string(model) + "/" + std::to_string(b);
      const double native = collector.seconds_["native/" + suffix];
      const double general = collector.seconds_["general/" + suffix];
      const double quantized = collector.seconds_["quantized/" + suffix];
      const double xgb = collector.seconds_["xgboost/" + suffix];
      char line[320];
      std::snprintf(line, sizeof(line),
                    "| %s (%d trees, %zu nodes) | %lld | %.2f | %.2f | %.2f | %.2f | %.1f | **%.1fx** | %.1fx | %.1fx |\n",
                    model, f.num_trees(), f.num_nodes(), static_cast<long long>(b), native * 1e6, general * 1e6,
                    quantized * 1e6, xgb * 1e6, native * 1e9 / b, native > 0 ? xgb / native : 0.0,
                    general > 0 ? xgb / general : 0.0, quantized > 0 ? xgb / quantized : 0.0);
      summary += line;
    }
  }
  std::printf("\n%s", summary.c_str());
  if (!markdown.empty()) {
    AppendResultsSection(markdown, "native tree engine vs XGBoost, single-threaded", argc, argv,
                         "Time per call: the fastest of Google Benchmark's repetitions (5 unless told otherwise, "
                         "cases in random order), all engines on the same 10,000 rows, XGBoost with nthread=1 and a "
                         "reused proxy DMatrix as in the server. \"native\" is the engine as the server runs it "
                         "(perfect-tree layout when the trees fit it), \"general layout\" the same without it, "
                         "\"quantised\" with parameters.quantize.\n\n" +
                             summary);
  }
  for (auto& [name, m] : Models()) XGBoosterFree(m.booster);
  return 0;
}
