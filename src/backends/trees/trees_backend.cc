#include "backends/trees/trees_backend.h"

#include <atomic>
#include <cmath>
#include <thread>

#include "backends/tabular_outputs.h"
#include "backends/trees/tree_shap.h"
#include "backends/trees/xgboost_model_reader.h"

namespace vigil {

Result<std::unique_ptr<Backend>> TreesBackend::Create(const ModelConfig& config, const Artifact& artifact) {
  auto model = ParseXGBoostModel(artifact.bytes, artifact.path.extension() == ".ubj");
  if (!model.ok()) return model.status().WithContext(artifact.path.filename().string());
  const Forest& forest = model->forest;
  if (config.is_tabular() && forest.num_features() != static_cast<int>(config.features.size())) {
    return Status::InvalidArgument("model.yaml lists " + std::to_string(config.features.size()) +
                                   " features but " + artifact.path.filename().string() +
                                   " was trained on " + std::to_string(forest.num_features()));
  }
  const Objective objective = forest.objective();
  const bool binary = objective == Objective::kBinaryLogistic || objective == Objective::kRegLogistic;
  VIGIL_RETURN_IF_ERROR(CheckTabularOutputs(config, forest.num_groups(), binary, ObjectiveName(objective)));
  if (auto q = config.parameters.find("quantize"); q != config.parameters.end() && q->second == "true") {
    std::string why;
    if (!model->forest.Quantize(&why)) {
      return Status::InvalidArgument("parameters.quantize: this model cannot be quantised: " + why);
    }
  }
  std::string layout = model->forest.layout() != nullptr
                           ? "perfect-tree layout"
                           : "general layout (no perfect trees: " + model->general_layout_reason + ")";
  return std::unique_ptr<Backend>(new TreesBackend(std::move(model->forest), config, std::move(layout)));
}

TreesBackend::TreesBackend(Forest forest, const ModelConfig& config, std::string layout)
    : forest_(std::move(forest)),
      layout_(std::move(layout)),
      classes_(config.classes),
      label_threshold_(config.label_threshold) {}

std::string TreesBackend::Describe() const {
  return std::string(forest_.quantized() ? "native trees (quantised), " : "native trees, ") + layout_ + ", " +
         std::to_string(forest_.num_trees()) + " trees, " +
         std::to_string(forest_.num_nodes()) + " nodes, objective " + ObjectiveName(forest_.objective());
}

namespace {
// Predictions running now in this process, across all tree backends.
std::atomic<int> active_predictions{0};
}  // namespace

void TreesBackend::Margins(const float* data, int64_t rows, float* margins) const {
  struct Active {
    Active() { active_predictions.fetch_add(1, std::memory_order_relaxed); }
    ~Active() { active_predictions.fetch_sub(1, std::memory_order_relaxed); }
  } active;
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  const bool alone = active_predictions.load(std::memory_order_relaxed) == 1;
  if (rows < kParallelRows || cores == 1 || !alone) {
    forest_.PredictMargins(data, rows, margins);
    return;
  }
  // Rows are independent, so chunks give the same floats as one pass.
  const int64_t f = forest_.num_features(), g = forest_.num_groups();
  const int64_t chunk = (rows + cores - 1) / cores;
  std::vector<std::thread> helpers;
  for (int64_t begin = chunk; begin < rows; begin += chunk) {
    const int64_t n = std::min(chunk, rows - begin);
    helpers.emplace_back([this, data, margins, begin, n, f, g] {
      forest_.PredictMargins(data + begin * f, n, margins + begin * g);
    });
  }
  forest_.PredictMargins(data, std::min(chunk, rows), margins);
  for (std::thread& t : helpers) t.join();
}

Status TreesBackend::Explain(const std::vector<Tensor>& inputs, Tensor* contributions, Tensor* bias) const {
  VIGIL_RETURN_IF_ERROR(CheckTabularMatrix(inputs, forest_.num_features(), "trees"));
  const int64_t f = forest_.num_features();
  const int64_t rows = inputs[0].shape()[0];
  const int64_t groups = forest_.num_groups();
  std::vector<float> phi(rows * groups * (f + 1));
  TreeShap(forest_, inputs[0].values<float>().data(), rows, phi.data());
  SplitContributions(phi.data(), rows, groups, f, contributions, bias);
  return Status::Ok();
}

Status TreesBackend::Infer(const std::vector<Tensor>& inputs,
                           const std::vector<const OutputSpec*>& requested,
                           std::vector<Tensor>* outputs) const {
  VIGIL_RETURN_IF_ERROR(CheckTabularMatrix(inputs, forest_.num_features(), "trees"));
  const int64_t rows = inputs[0].shape()[0];
  const int64_t groups = forest_.num_groups();
  const float* data = inputs[0].values<float>().data();
  std::vector<float> margins(rows * groups);
  if (rows == 1) {
    forest_.PredictRowMargins(data, margins.data());
  } else {
    Margins(data, rows, margins.data());
  }
  std::vector<float> transformed;
  if (NeedsTransformed(requested)) {
    transformed = margins;
    if (groups > 1) {
      SoftmaxRows(transformed.data(), rows, groups);  // Probabilities, whichever multi: objective.
    } else {
      forest_.Transform(transformed.data(), rows);
    }
  }
  MakeTabularOutputs(rows, groups, margins.data(), transformed.data(), requested, classes_, label_threshold_,
                     outputs);
  return Status::Ok();
}

}  // namespace vigil
