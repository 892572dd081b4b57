// Counting logged rows into the drift windows, as the log's writer does for
// every request: DriftMonitor::Count on 64-row blocks of the credit data
// against the version's reference profile, with the binning it uses (edges
// as floats, four compared at a time) against the reference, a binary
// search over the double edges (std::lower_bound; the same Count with the
// float edges not prepared).
//
//   build/drift_count_bench [--markdown FILE] [--reps N]
//
// Trains the credit model into a temporary directory for its profile; the
// rows are the CSV's, as the server's feature matrix encodes them. Prints
// the best time per 64-row block of each over `reps` interleaved
// repetitions, and their ratio; --markdown appends them to FILE.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "bench_report.h"
#include "dataset/tabular_dataset.h"
#include "lifecycle/feature_matrix.h"
#include "monitor/drift_monitor.h"
#include "repository/model_config.h"
#include "testing/test_repository.h"

namespace vigil {
namespace {

constexpr int64_t kBlock = 64;

// Nanoseconds per 64-row block, counting every block of `rows` once.
double TimeBlocks(const ReferenceProfile& profile, const std::vector<float>& rows, size_t features,
                  const std::vector<float>& scores) {
  const size_t blocks = scores.size() / kBlock;
  DriftMonitor::Counts counts = DriftMonitor::EmptyCounts(profile);
  const auto start = std::chrono::steady_clock::now();
  for (size_t b = 0; b < blocks; ++b) {
    DriftMonitor::Count(profile, rows.data() + b * kBlock * features, kBlock, features, scores.data() + b * kBlock,
                        &counts);
  }
  const double ns = std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - start).count();
  if (counts.rows != static_cast<int64_t>(blocks * kBlock)) std::abort();
  return ns / static_cast<double>(blocks);
}

int Main(int argc, char** argv) {
  std::string markdown;
  int reps = 15;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--markdown" && i + 1 < argc) {
      markdown = argv[++i];
    } else if (a == "--reps" && i + 1 < argc) {
      reps = std::max(1, std::stoi(argv[++i]));
    } else {
      std::fprintf(stderr, "usage: drift_count_bench [--markdown FILE] [--reps N]\n");
      return 2;
    }
  }
  testing::TempDir repo;
  testing::TrainCreditModel(repo.path(), "credit", 1);
  auto config = LoadModelConfig(repo.path() / "credit/model.yaml", "credit");
  auto profile = ReadReferenceProfile(repo.path() / "credit/1/profile.json");
  auto data = TabularDataset::ReadCsv(testing::CreditCsv());
  if (!config.ok() || !profile.ok() || !data.ok()) {
    std::fprintf(stderr, "drift_count_bench: cannot set up the credit model\n");
    return 1;
  }
  auto matrix = FeatureMatrix(*data, *config, "credit");
  if (!matrix.ok()) return 1;
  const size_t features = profile->features.size();
  // The data's rows, whole blocks of them, and a score per row spread over [0, 1).
  const size_t n = matrix->size() / features / kBlock * kBlock;
  std::vector<float> rows(matrix->begin(), matrix->begin() + static_cast<std::ptrdiff_t>(n * features));
  std::vector<float> scores(n);
  for (size_t r = 0; r < n; ++r) scores[r] = static_cast<float>((r * 7919) % 1000) / 1000.0f;

  ReferenceProfile reference = *profile;  // The binary search: no float edges.
  for (ColumnProfile& c : reference.features) c.float_edges.clear();
  reference.prediction.float_edges.clear();

  double fast = 1e300, slow = 1e300;
  for (int rep = 0; rep < reps; ++rep) {
    if (rep % 2 == 0) {
      fast = std::min(fast, TimeBlocks(*profile, rows, features, scores));
      slow = std::min(slow, TimeBlocks(reference, rows, features, scores));
    } else {
      slow = std::min(slow, TimeBlocks(reference, rows, features, scores));
      fast = std::min(fast, TimeBlocks(*profile, rows, features, scores));
    }
  }
  char table[1024];
  std::snprintf(table, sizeof table,
                "| binning of a 64-row block (%zu features and the score) | ns per block | ns per cell |\n"
                "|---|---:|---:|\n"
                "| float edges, 4 at a time (DriftMonitor::Count) | %.0f | %.2f |\n"
                "| binary search over the double edges (the reference) | %.0f | %.2f |\n\n"
                "binary search / float edges: **%.1fx**; best of %d repetitions each, interleaved, over the %zu "
                "rows of the credit data.\n",
                features, fast, fast / (kBlock * (features + 1.0)), slow, slow / (kBlock * (features + 1.0)),
                slow / fast, reps, n);
  std::fputs(table, stdout);
  if (!markdown.empty()) {
    AppendResultsSection(markdown, "counting logged rows into the drift windows", argc, argv,
                         std::string("One thread, the credit model's reference profile (10 quantile bins per numeric "
                                     "feature); both sides run the same DriftMonitor::Count, the reference with the "
                                     "float edges not prepared.\n\n") +
                             table);
  }
  return 0;
}

}  // namespace
}  // namespace vigil

int main(int argc, char** argv) { return vigil::Main(argc, argv); }
