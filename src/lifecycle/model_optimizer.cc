#include "lifecycle/model_optimizer.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <numeric>

#include "backends/trees/xgboost_model_reader.h"
#include "dataset/tabular_dataset.h"
#include "lifecycle/feature_matrix.h"
#include "monitor/classification_metrics.h"
#include "repository/model_config.h"
#include "repository/model_repository.h"

namespace vigil {
namespace {

namespace fs = std::filesystem;

// The holdout as the model sees it: rows in feature order and the labels.
struct Holdout {
  std::vector<float> rows;
  std::vector<float> labels;
  size_t n = 0;
};

Result<Holdout> ReadHoldout(const OptimizeOptions& options, const ModelConfig& config, bool classifier) {
  auto ds = TabularDataset::ReadCsv(options.holdout);
  if (!ds.ok()) return ds.status();
  const int target = ds->ColumnIndex(options.target);
  if (target < 0) return Status::InvalidArgument("--target: no column '" + options.target + "' in the holdout");
  Holdout h;
  h.n = ds->rows();
  auto rows = FeatureMatrix(*ds, config, "--holdout");
  if (!rows.ok()) return rows.status();
  h.rows = std::move(*rows);
  for (size_t r = 0; r < h.n; ++r) {
    const Column& label = ds->columns()[target];
    if (classifier) {
      if (label.numeric) return Status::InvalidArgument("--target: expected class names in '" + options.target + "'");
      h.labels.push_back(label.strings[r] == config.classes[1] ? 1.0f : 0.0f);
    } else {
      if (!label.numeric) return Status::InvalidArgument("--target: expected numbers in '" + options.target + "'");
      h.labels.push_back(static_cast<float>(label.numbers[r]));
    }
  }
  return h;
}

// AUC for classifiers (higher is better), RMSE of the prediction otherwise.
double Quality(const Forest& forest, const std::vector<float>& margins, const std::vector<float>& labels,
               bool classifier) {
  if (classifier) return RocAuc(margins, labels);  // The logistic is monotonic.
  std::vector<float> p = margins;
  forest.Transform(p.data(), static_cast<int64_t>(p.size()));
  double sum = 0;
  for (size_t i = 0; i < p.size(); ++i) sum += (p[i] - labels[i]) * (p[i] - labels[i]);
  return std::sqrt(sum / static_cast<double>(p.size()));
}

// How much worse `q` is than `reference` (positive: worse).
double Loss(double reference, double q, bool classifier) { return classifier ? reference - q : q - reference; }

double MicrosecondsPerRow(const Forest& forest, const Holdout& h) {
  std::vector<float> out(forest.num_groups());
  const int f = forest.num_features();
  size_t calls = 0;
  const auto start = std::chrono::steady_clock::now();
  std::chrono::duration<double> elapsed{};
  do {
    for (size_t r = 0; r < h.n; ++r) forest.PredictRowMargins(h.rows.data() + r * f, out.data());
    calls += h.n;
    elapsed = std::chrono::steady_clock::now() - start;
  } while (elapsed.count() < 0.2);
  return elapsed.count() * 1e6 / static_cast<double>(calls);
}

// Size, speed and quality of `forest`, plain and quantised, on the holdout.
OptimizeSide Measure(const Forest& forest, uintmax_t file_bytes, const Holdout& h, bool classifier) {
  std::vector<float> margins(h.n);
  forest.PredictMargins(h.rows.data(), static_cast<int64_t>(h.n), margins.data());
  OptimizeSide side{forest.num_trees(), forest.num_nodes(), file_bytes, forest.prediction_bytes(),
                    MicrosecondsPerRow(forest, h), Quality(forest, margins, h.labels, classifier), 0, 0};
  Forest quantized = forest;
  std::string why;
  if (quantized.Quantize(&why)) {
    side.quantized_memory_bytes = quantized.prediction_bytes();
    side.quantized_microseconds_per_row = MicrosecondsPerRow(quantized, h);
  }
  return side;
}

// Cover-weighted mean absolute leaf value: how much a tree moves predictions.
double Importance(const Forest& forest, int tree) {
  const uint32_t root = forest.tree_roots()[tree];
  const uint32_t end = tree + 1 < forest.num_trees() ? forest.tree_roots()[tree + 1]
                                                      : static_cast<uint32_t>(forest.num_nodes());
  double sum = 0;
  for (uint32_t i = root; i < end; ++i) {
    if (Forest::IsLeaf(forest.nodes()[i])) sum += forest.covers()[i] * std::abs(forest.nodes()[i].value);
  }
  return forest.covers()[root] > 0 ? sum / forest.covers()[root] : sum;
}

std::string Fixed(double v, int digits) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.*f", digits, v);
  return buf;
}

}  // namespace

std::string OptimizeReport::ToJson() const {
  auto side = [](const OptimizeSide& s) {
    return nlohmann::json{{"trees", s.trees},
                          {"nodes", s.nodes},
                          {"file_bytes", s.file_bytes},
                          {"memory_bytes", s.memory_bytes},
                          {"microseconds_per_row", s.microseconds_per_row},
                          {"quality", s.quality},
                          {"quantized", {{"memory_bytes", s.quantized_memory_bytes},
                                         {"microseconds_per_row", s.quantized_microseconds_per_row}}}};
  };
  return nlohmann::json{{"metric", metric}, {"before", side(before)}, {"after", side(after)}, {"version", version}}
             .dump(2) + "\n";
}

Result<OptimizeReport> OptimizeModel(const OptimizeOptions& options,
                                     const std::function<void(const std::string&)>& progress) {
  ModelRepository repository(options.repository);
  auto dir = repository.ScanModel(options.model_name);
  if (!dir.ok()) return dir.status();
  auto found = dir->Version(options.version);
  if (!found.ok()) return found.status();
  const VersionDirectory* source = *found;
  auto config = LoadModelConfig(dir->path / "model.yaml", options.model_name);
  if (!config.ok()) return config.status();
  if (config->backend != "xgboost" && config->backend != "trees") {
    return Status::FailedPrecondition("vigil optimize works on tree models (backend xgboost or trees)");
  }
  fs::path artifact;
  for (const std::string& name : {config->artifact, std::string("model.json"), std::string("model.ubj")}) {
    if (!name.empty() && fs::is_regular_file(source->path / name)) {
      artifact = source->path / name;
      break;
    }
  }
  if (artifact.empty()) return Status::NotFound("no model artifact in " + source->path.string());
  auto model = ReadXGBoostModel(artifact);
  if (!model.ok()) return model.status();
  const Forest& full = model->forest;
  if (full.num_groups() != 1) {
    return Status::FailedPrecondition("vigil optimize handles single-output models (binary classifiers, regressors)");
  }
  const bool classifier = config->classes.size() == 2;
  auto holdout = ReadHoldout(options, *config, classifier);
  if (!holdout.ok()) return holdout.status();
  const Holdout& h = *holdout;
  const int f = full.num_features();

  OptimizeReport report;
  report.metric = classifier ? "auc" : "rmse";
  std::vector<float> margins(h.n);
  full.PredictMargins(h.rows.data(), static_cast<int64_t>(h.n), margins.data());
  report.before = Measure(full, fs::file_size(artifact), h, classifier);
  progress("before: " + std::to_string(full.num_trees()) + " trees, " + std::to_string(full.num_nodes()) +
           " nodes, holdout " + report.metric + " " + Fixed(report.before.quality, 5));

  // Step 1: the best iteration.
  int kept_trees = full.num_trees();
  if (options.prune_to_best_iteration && model->best_iteration) {
    kept_trees = std::min(kept_trees, (*model->best_iteration + 1) * full.trees_per_iteration());
    progress("cut to the best iteration " + std::to_string(*model->best_iteration) + ": " +
             std::to_string(kept_trees) + " trees");
  }
  std::vector<char> keep(full.num_trees(), 0);
  std::fill(keep.begin(), keep.begin() + kept_trees, 1);

  // Per-tree contributions to each holdout row's margin.
  std::vector<std::vector<float>> leaf(kept_trees, std::vector<float>(h.n));
  std::vector<float> margin(h.n, full.base_margin());
  for (int t = 0; t < kept_trees; ++t) {
    for (size_t r = 0; r < h.n; ++r) {
      leaf[t][r] = full.nodes()[full.LeafIndex(t, h.rows.data() + r * f)].value;
      margin[r] += leaf[t][r];
    }
  }
  const double reference = Quality(full, margin, h.labels, classifier);

  // Step 2: drop the least important trees while the loss stays in bounds.
  if (options.drop_tolerance > 0) {
    std::vector<int> order(kept_trees);
    std::iota(order.begin(), order.end(), 0);
    std::vector<double> importance(kept_trees);
    for (int t = 0; t < kept_trees; ++t) importance[t] = Importance(full, t);
    std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return importance[a] < importance[b]; });
    int dropped = 0;
    std::vector<float> trial(h.n);
    for (int t : order) {
      for (size_t r = 0; r < h.n; ++r) trial[r] = margin[r] - leaf[t][r];
      if (Loss(reference, Quality(full, trial, h.labels, classifier), classifier) <= options.drop_tolerance) {
        margin.swap(trial);
        keep[t] = 0;
        ++dropped;
      }
    }
    progress("dropped " + std::to_string(dropped) + " trees within a " + report.metric + " tolerance of " +
             Fixed(options.drop_tolerance, 5));
  }
  std::vector<int> kept;
  for (int t = 0; t < full.num_trees(); ++t) {
    if (keep[t]) kept.push_back(t);
  }
  if (kept.empty()) return Status::FailedPrecondition("pruning would leave no tree; lower --drop-tolerance");

  // Write the new version next to the original, staged and renamed.
  int64_t version = options.output_version ? options.output_version : dir->versions.back().version + 1;
  const fs::path final_dir = dir->path / std::to_string(version);
  if (fs::exists(final_dir)) return Status::FailedPrecondition(final_dir.string() + " already exists");
  const fs::path staging = dir->path / (".optimize-" + std::to_string(version));
  std::error_code ec;
  fs::remove_all(staging, ec);
  fs::create_directories(staging, ec);
  if (ec) return Status::Internal("cannot create " + staging.string() + ": " + ec.message());
  const fs::path out_name = config->artifact.empty() || config->artifact == "model.json" ? "model.json" : config->artifact;
  if (out_name.extension() != ".json") {
    return Status::FailedPrecondition("the optimised model is written as JSON; set artifact: model.json or leave it unset");
  }
  VIGIL_RETURN_IF_ERROR(WriteXGBoostModelSubset(artifact, kept, staging / out_name));

  // Measure the written model, read back as the server will read it.
  auto written = ReadXGBoostModel(staging / out_name);
  if (!written.ok()) return written.status().WithContext("the pruned model does not read back");
  report.after = Measure(written->forest, fs::file_size(staging / out_name), h, classifier);
  report.version = version;
  report.artifact = final_dir / out_name;
  {
    std::ofstream out(staging / "optimize_report.json");
    out << report.ToJson();
  }
  fs::rename(staging, final_dir, ec);
  if (ec) return Status::Internal("cannot move the new version into place: " + ec.message());
  progress("after: " + std::to_string(report.after.trees) + " trees, " + std::to_string(report.after.nodes) +
           " nodes, holdout " + report.metric + " " + Fixed(report.after.quality, 5) + "; " +
           Fixed(report.before.microseconds_per_row, 2) + " -> " + Fixed(report.after.microseconds_per_row, 2) +
           " us per row, " + std::to_string(report.before.file_bytes) + " -> " +
           std::to_string(report.after.file_bytes) + " bytes");
  if (report.after.quantized_microseconds_per_row > 0) {
    const bool pays = report.after.quantized_microseconds_per_row < 0.95 * report.after.microseconds_per_row;
    progress("quantised (parameters.quantize: true, same predictions): " +
             Fixed(report.after.quantized_microseconds_per_row, 2) + " us per row, " +
             std::to_string(report.after.memory_bytes) + " -> " + std::to_string(report.after.quantized_memory_bytes) +
             " bytes in memory; " + (pays ? "faster here" : "not faster here"));
  }
  return report;
}

}  // namespace vigil
