// EngineConfig: how a model's engine runs (`instances:`, `max_queue:`,
// `batching:` in model.yaml) and how its features are prepared for it
// (`preprocessing:`, in model.yaml or per version in preprocessing.yaml).
//
//   instances: 2           # engine instances serving calls in parallel (onnx, torchscript)
//   max_queue: 64          # calls waiting for an instance (or a batch) at most; beyond, 503 at once
//   batching:              # dynamic batching: requests stacked into one engine call
//     max_batch_size: 64   # rows per call at most (0: off, the default)
//     max_queue_delay_us: 500   # how long the first request of a batch waits for more
//     preferred_batch_sizes: [16, 32, 64]  # a batch this size goes at once
//   preprocessing:         # per feature, applied in order fill, then standardize or min_max
//     - {feature: Income, fill: 120, standardize: {mean: 141.7, std: 80.5}}
//     - {feature: Age, min_max: {min: 18, max: 68}}
//     - {feature: Home, one_hot: [owner, rent, parents]}   # a column per listed category
//
// A network on tabular data sees, per feature in model.yaml's order, one
// column (numeric features, and categorical ones without one_hot: their
// code) or one column per one_hot category (1 for the row's category, 0 for
// the others, all 0 for a missing or unlisted one). A missing numeric value
// without `fill` is refused (400): a network has no notion of missing.
//
// Thread-safety: value types.
#ifndef VIGIL_REPOSITORY_ENGINE_CONFIG_H_
#define VIGIL_REPOSITORY_ENGINE_CONFIG_H_

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"

namespace YAML {
class Node;
}

namespace vigil {

struct FeatureSpec;

struct BatchingConfig {
  int64_t max_batch_size = 0;  // Rows; 0: batching off.
  int64_t max_queue_delay_us = 100;
  std::vector<int64_t> preferred_batch_sizes;  // Ascending.

  bool enabled() const { return max_batch_size > 0; }
};

struct PreprocessStep {
  std::string feature;
  int feature_index = -1;  // In the model's features.
  std::optional<double> fill;
  struct Scale {
    double offset = 0;  // Subtracted (the mean, or the minimum)...
    double divisor = 1;  // ...then divided by this (the standard deviation, or max - min).
  };
  std::optional<Scale> scale;
  bool standardize = false;  // Which of the two `scale` came from (for rendering).
  std::optional<std::vector<std::string>> one_hot;
};

struct EngineConfig {
  int instances = 1;
  int64_t max_queue = 64;
  BatchingConfig batching;
  std::vector<PreprocessStep> preprocessing;  // At most one per feature.
};

// Parses the engine keys of model.yaml's root (absent keys keep defaults).
Status ParseEngineConfig(const YAML::Node& root, const std::vector<FeatureSpec>& features, EngineConfig* config);
// Parses a `preprocessing:` list against the model's features; errors name
// the entry ("preprocessing[2].standardize.std: ...").
Result<std::vector<PreprocessStep>> ParsePreprocessing(const YAML::Node& node, const std::vector<FeatureSpec>& features);
// Reads a version's preprocessing.yaml (a mapping with `preprocessing:`).
Result<std::vector<PreprocessStep>> LoadPreprocessingFile(const std::filesystem::path& path,
                                                          const std::vector<FeatureSpec>& features);

}  // namespace vigil

#endif  // VIGIL_REPOSITORY_ENGINE_CONFIG_H_
