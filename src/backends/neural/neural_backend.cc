#include "backends/neural/neural_backend.h"

#include <algorithm>
#include <cmath>

#include "backends/tabular_outputs.h"

namespace vigil {
Result<std::optional<TabularPreprocessor>> VersionPreprocessor(const ModelConfig& config,
                                                                const std::filesystem::path& artifact_path) {
  if (!config.is_tabular()) return std::optional<TabularPreprocessor>();
  std::vector<PreprocessStep> steps = config.engine.preprocessing;
  const std::filesystem::path own = artifact_path.parent_path() / "preprocessing.yaml";
  std::error_code ec;
  if (std::filesystem::exists(own, ec)) {
    auto parsed = LoadPreprocessingFile(own, config.features);
    if (!parsed.ok()) return parsed.status();
    steps = std::move(*parsed);
  }
  return std::optional<TabularPreprocessor>(TabularPreprocessor(config, steps));
}

Result<int> IntraOpThreads(const ModelConfig& config) {
  auto it = config.parameters.find("intra_op_threads");
  if (it == config.parameters.end()) return 1;
  int threads = 0;
  try {
    threads = std::stoi(it->second);
  } catch (const std::exception&) {
  }
  if (threads < 1 || threads > 256) {
    return Status::InvalidArgument("parameters.intra_op_threads: expected 1 to 256, got '" + it->second + "'");
  }
  return threads;
}

Result<NeuralOutputs> NeuralOutputsOf(const ModelConfig& config) {
  NeuralOutputs out;
  out.groups = config.classes.size() >= 3 ? static_cast<int64_t>(config.classes.size()) : 1;
  auto it = config.parameters.find("network_output");
  if (it != config.parameters.end()) {
    if (it->second != "logits" && it->second != "probabilities") {
      return Status::InvalidArgument("parameters.network_output: expected logits or probabilities, got '" +
                                     it->second + "'");
    }
    out.probabilities = it->second == "probabilities";
  }
  return out;
}

NeuralBackend::NeuralBackend(const ModelConfig& config, std::optional<TabularPreprocessor> preprocessor,
                             std::vector<std::unique_ptr<NeuralEngine>> instances, NeuralOutputs outputs,
                             std::string description, std::vector<TensorSpec> artifact_inputs)
    : artifact_inputs_(std::move(artifact_inputs)),
      input_specs_(config.inputs.empty() ? artifact_inputs_ : config.inputs),
      engine_input_(config.inputs.empty() ? "input" : config.inputs[0].name),
      preprocessor_(std::move(preprocessor)),
      pool_(std::move(instances), config.engine.max_queue),
      outputs_(outputs),
      classes_(config.classes),
      label_threshold_(config.label_threshold),
      description_(std::move(description) + ", " + std::to_string(pool_.size()) +
                   (pool_.size() == 1 ? " instance" : " instances")) {}

Status NeuralBackend::CheckInputs(const std::vector<Tensor>& inputs) const {
  if (inputs.size() != input_specs_.size()) {
    return Status::InvalidArgument("inputs: the model takes " + std::to_string(input_specs_.size()) +
                                   " inputs, got " + std::to_string(inputs.size()));
  }
  int64_t rows = -1;
  for (size_t i = 0; i < inputs.size(); ++i) {
    const TensorSpec& spec = input_specs_[i];
    const Tensor& t = inputs[i];
    const std::string where = "inputs[" + std::to_string(i) + "]";
    if (t.name() != spec.name) return Status::InvalidArgument(where + ".name: expected '" + spec.name + "'");
    if (t.type() != DataType::kFp32) return Status::InvalidArgument(where + ".datatype: the network takes FP32");
    bool fits = t.shape().size() == spec.shape.size() && !t.shape().empty();
    for (size_t d = 0; fits && d < spec.shape.size(); ++d) fits = spec.shape[d] < 0 || spec.shape[d] == t.shape()[d];
    if (!fits) {
      return Status::InvalidArgument(where + ".shape: expected " + ShapeToString(spec.shape) + " (-1: any), got " +
                                     ShapeToString(t.shape()));
    }
    if (rows >= 0 && t.shape()[0] != rows) {
      return Status::InvalidArgument(where + ".shape: every input needs the same batch size (" +
                                     std::to_string(rows) + ")");
    }
    rows = t.shape()[0];
  }
  return Status::Ok();
}

Status NeuralBackend::Infer(const std::vector<Tensor>& inputs, const std::vector<const OutputSpec*>& requested,
                            std::vector<Tensor>* outputs) const {
  VIGIL_RETURN_IF_ERROR(CheckInputs(inputs));
  const int64_t rows = inputs[0].shape()[0];
  std::vector<Tensor> prepared;
  if (preprocessor_) {
    prepared.emplace_back();
    VIGIL_RETURN_IF_ERROR(preprocessor_->Apply(inputs[0], engine_input_, &prepared[0]));
  }
  std::vector<float> scores;
  std::vector<int64_t> shape;
  VIGIL_RETURN_IF_ERROR(pool_.Run([&](NeuralEngine& engine) {
    return engine.Forward(preprocessor_ ? prepared : inputs, &scores, &shape);
  }));
  const int64_t g = outputs_.groups;
  const bool fits = !shape.empty() && shape[0] == rows &&
                    (g == 1 ? shape.size() == 1 || (shape.size() == 2 && shape[1] == 1)
                            : shape.size() == 2 && shape[1] == g);
  if (!fits) {
    return Status::Internal("the network's first output has shape " + ShapeToString(shape) + "; expected [" +
                            std::to_string(rows) + (g == 1 ? "] or [" + std::to_string(rows) + ", 1]" : ", " + std::to_string(g) + "]"));
  }
  // Margins (logits) and the objective's outputs (probabilities or the
  // regression value), derived from whichever the network gives.
  std::vector<float> margins = scores, transformed = scores;
  const bool classifier = !classes_.empty();
  if (classifier && g == 1) {
    for (size_t i = 0; i < scores.size(); ++i) {
      if (outputs_.probabilities) {
        const double p = std::clamp<double>(scores[i], 1e-12, 1 - 1e-12);
        margins[i] = static_cast<float>(std::log(p / (1 - p)));
      } else {
        transformed[i] = static_cast<float>(1 / (1 + std::exp(-static_cast<double>(scores[i]))));
      }
    }
  } else if (classifier) {
    if (outputs_.probabilities) {
      for (float& m : margins) m = static_cast<float>(std::log(std::max<double>(m, 1e-12)));
    } else {
      SoftmaxRows(transformed.data(), rows, g);
    }
  }
  MakeTabularOutputs(rows, g, margins.data(), transformed.data(), requested, classes_, label_threshold_, outputs);
  return Status::Ok();
}

}  // namespace vigil
