// NeuralBackend: what the ONNX and TorchScript backends share around their
// engine call.
//
// A tabular model (model.yaml lists features) gets the raw feature matrix,
// prepares it (TabularPreprocessor: the version's preprocessing.yaml, else
// model.yaml's `preprocessing:`) and passes the engine one FP32 [N, D]
// matrix. A model without features gets its declared inputs, checked here
// by name, datatype (FP32) and shape, since the serving layer passes them
// through. The network's first output holds the scores: for a binary
// classifier one logit per row ([N] or [N, 1]); for K >= 3 classes the
// logits [N, K]; for a regressor the prediction. With `parameters:
// {network_output: probabilities}` a classifier's network ends in its own
// sigmoid or softmax instead. Margins, probabilities and labels follow as
// for tree models (backends/tabular_outputs.h).
//
// Calls go to a pool of `instances` engines (instance_pool.h), each used by
// one call at a time.
//
// Thread-safety: Infer() is thread-safe.
#ifndef VIGIL_BACKENDS_NEURAL_NEURAL_BACKEND_H_
#define VIGIL_BACKENDS_NEURAL_NEURAL_BACKEND_H_

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "backends/backend.h"
#include "backends/neural/instance_pool.h"
#include "backends/neural/tabular_preprocessor.h"

namespace vigil {

// One engine instance: runs the network on `inputs` (in config.inputs'
// order; for tabular models the prepared matrix) and returns its first
// output as floats with its shape.
class NeuralEngine {
 public:
  virtual ~NeuralEngine() = default;
  virtual Status Forward(const std::vector<Tensor>& inputs, std::vector<float>* scores,
                         std::vector<int64_t>* shape) = 0;
};

// How the network's scores read.
struct NeuralOutputs {
  int64_t groups = 1;           // Scores per row: 1, or the K >= 3 classes.
  bool probabilities = false;   // The network applies its own link function.
};

// The preprocessing for a version whose artifact is `artifact_path`: its
// directory's preprocessing.yaml if there is one, else model.yaml's steps.
Result<std::optional<TabularPreprocessor>> VersionPreprocessor(const ModelConfig& config,
                                                                const std::filesystem::path& artifact_path);
// `parameters.intra_op_threads` (1 to 256, default 1).
Result<int> IntraOpThreads(const ModelConfig& config);
// The outputs `config` asks of a neural network; INVALID_ARGUMENT for an
// unknown `network_output` parameter.
Result<NeuralOutputs> NeuralOutputsOf(const ModelConfig& config);

class NeuralBackend : public Backend {
 public:
  // `artifact_inputs`: the inputs the artifact declares, checked instead of
  // config.inputs when model.yaml leaves those out.
  NeuralBackend(const ModelConfig& config, std::optional<TabularPreprocessor> preprocessor,
                std::vector<std::unique_ptr<NeuralEngine>> instances, NeuralOutputs outputs, std::string description,
                std::vector<TensorSpec> artifact_inputs = {});

  Status Infer(const std::vector<Tensor>& inputs, const std::vector<const OutputSpec*>& requested,
               std::vector<Tensor>* outputs) const override;
  std::string Describe() const override { return description_; }
  std::vector<TensorSpec> ArtifactInputs() const override { return artifact_inputs_; }

 private:
  Status CheckInputs(const std::vector<Tensor>& inputs) const;

  const std::vector<TensorSpec> artifact_inputs_;
  const std::vector<TensorSpec> input_specs_;
  const std::string engine_input_;  // The prepared matrix's name (tabular models).
  const std::optional<TabularPreprocessor> preprocessor_;
  mutable InstancePool<NeuralEngine> pool_;
  const NeuralOutputs outputs_;
  const std::vector<std::string> classes_;
  const double label_threshold_;
  const std::string description_;
};

}  // namespace vigil

#endif  // VIGIL_BACKENDS_NEURAL_NEURAL_BACKEND_H_
