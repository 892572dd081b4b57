// ModelConfig: what `REPO/<model>/model.yaml` says about a model.
//
// The configuration is the contract between the model and its callers: which
// backend runs it, which inputs it takes (for tabular models, the features in
// order, numeric or categorical), which outputs it returns and which versions
// should serve. It is parsed once per change of the file and shared, immutable,
// by every loaded version of the model. See docs/model-repository.md.
//
// Thread-safety: immutable after parsing; share it as shared_ptr<const>.
#ifndef VIGIL_REPOSITORY_MODEL_CONFIG_H_
#define VIGIL_REPOSITORY_MODEL_CONFIG_H_

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "common/data_type.h"
#include "common/tensor.h"
#include "common/status.h"
#include "repository/alert_rule.h"
#include "repository/engine_config.h"
#include "repository/gate_config.h"
#include "repository/rollout_config.h"
#include "repository/training_config.h"
#include "repository/monitoring_config.h"
#include "repository/version_policy.h"

namespace vigil {

enum class FeatureKind { kNumeric, kCategorical };

// One column of a tabular model, in the order the model was trained on.
struct FeatureSpec {
  std::string name;
  FeatureKind kind = FeatureKind::kNumeric;
  // For categorical features: the category strings; a category's code (what
  // the model sees) is its index in this list.
  std::vector<std::string> categories;
  // When false, a missing value (JSON null) is refused with 400.
  bool allow_missing = true;

  // The code of `category`, or -1 for a category not in the list.
  int CategoryCode(std::string_view category) const {
    auto it = category_codes.find(category);
    return it == category_codes.end() ? -1 : it->second;
  }
  // Derived from `categories` by the parser.
  std::map<std::string, int, std::less<>> category_codes;
};

// A declared input or output tensor. A dimension of -1 is variable (the batch).
struct TensorSpec {
  std::string name;
  DataType type = DataType::kFp32;
  std::vector<int64_t> shape;
};

// What an output of a model means.
enum class OutputKind {
  kProbability,  // Probability of the positive class, FP32 [N]; of each class, FP32 [N, K] (K >= 3 classes).
  kLabel,        // The predicted class name from `classes`, BYTES [N].
  kMargin,       // The raw score before the link function, FP32 [N]; [N, K] for K >= 3 classes.
  kPrediction,   // The objective's output (a regression value, a count, a probability), FP32 [N]; single-output models only.
};

struct OutputSpec {
  std::string name;
  OutputKind kind = OutputKind::kProbability;
  TensorSpec tensor;  // Name, datatype and shape as announced in metadata.
};

struct ModelConfig {
  std::string name;          // The model's directory name.
  std::string backend;       // "xgboost", "trees", "onnx" or "torchscript".
  // File name inside each version directory; empty: the backend's default
  // names, tried in order (xgboost: model.json, then model.ubj).
  std::string artifact;
  std::vector<TensorSpec> inputs;
  std::vector<FeatureSpec> features;  // Non-empty for tabular backends.
  std::vector<OutputSpec> outputs;
  std::vector<std::string> classes;   // Class names by class index (classifiers); K >= 3: multi-class.
  double label_threshold = 0.5;       // Probability at or above which the label is classes[1].
  VersionPolicy version_policy;
  // Free-form backend settings (`parameters:` in YAML), e.g. {"nthread": "1"}.
  std::map<std::string, std::string> parameters;
  // Alert rules (`alerts:`, see alert_rule.h), and their YAML as written, so
  // that ModelConfigToYaml renders them back unchanged.
  std::vector<AlertRule> alerts;
  std::string alerts_yaml;
  // Drift window settings (`monitoring:`, see monitoring_config.h), and their
  // YAML as written.
  MonitoringConfig monitoring;
  std::string monitoring_yaml;
  // The evaluation gate (`gate:`, see gate_config.h), and its YAML as written.
  GateConfig gate;
  std::string gate_yaml;
  // How training jobs train it (`training:`, see training_config.h).
  TrainingConfig training;
  std::string training_yaml;
  // How new versions roll out (`rollout:`, see rollout_config.h).
  RolloutConfig rollout;
  std::string rollout_yaml;
  // Instances, queue bound, dynamic batching and preprocessing (see
  // engine_config.h), and each key's YAML as written.
  EngineConfig engine;
  std::map<std::string, std::string> engine_yaml;

  bool is_tabular() const { return !features.empty(); }
  // Index of the feature named `name`, or -1.
  int FeatureIndex(std::string_view name) const;
};

// Parses model.yaml text for the model in directory `model_name`. Errors are
// INVALID_ARGUMENT and name the offending key, e.g. "features[3].type: ...".
Result<ModelConfig> ParseModelConfig(std::string_view yaml_text, std::string_view model_name);
// Reads and parses `path`.
Result<ModelConfig> LoadModelConfig(const std::filesystem::path& path,
                                    std::string_view model_name);
// Renders `config` as YAML that ParseModelConfig reads back to an equal config.
std::string ModelConfigToYaml(const ModelConfig& config);

std::string_view OutputKindName(OutputKind kind);
std::string_view FeatureKindName(FeatureKind kind);

}  // namespace vigil

#endif  // VIGIL_REPOSITORY_MODEL_CONFIG_H_
