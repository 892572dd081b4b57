#include "backends/tabular_outputs.h"

#include <algorithm>

namespace vigil {

Status CheckTabularMatrix(const std::vector<Tensor>& inputs, int64_t num_features, std::string_view backend) {
  if (inputs.size() != 1 || inputs[0].type() != DataType::kFp32 || inputs[0].shape().size() != 2 ||
      inputs[0].shape()[1] != num_features) {
    return Status::InvalidArgument("the " + std::string(backend) + " backend expects one FP32 [N, " +
                                   std::to_string(num_features) + "] matrix");
  }
  return Status::Ok();
}

Status CheckTabularOutputs(const ModelConfig& config, int64_t groups, bool binary, std::string_view objective) {
  const int64_t k = static_cast<int64_t>(config.classes.size());
  if (groups > 1) {
    if (k != groups) {
      return Status::InvalidArgument("the model scores " + std::to_string(groups) + " classes (objective " +
                                     std::string(objective) + ") but model.yaml lists " + std::to_string(k) +
                                     " in 'classes'");
    }
    return Status::Ok();
  }
  if (k > 2) {
    return Status::InvalidArgument("model.yaml lists " + std::to_string(k) +
                                   " classes but the model has one output per row (objective " +
                                   std::string(objective) + ")");
  }
  for (const OutputSpec& out : config.outputs) {
    if ((out.kind == OutputKind::kProbability || out.kind == OutputKind::kLabel) && !binary) {
      return Status::InvalidArgument("output '" + out.name + "' (" + std::string(OutputKindName(out.kind)) +
                                     ") needs a binary classifier, but the objective is " + std::string(objective));
    }
  }
  return Status::Ok();
}

void SplitContributions(const float* phi, int64_t rows, int64_t groups, int64_t num_features,
                        Tensor* contributions, Tensor* bias) {
  const int64_t f = num_features;
  *contributions = Tensor("contributions", DataType::kFp32,
                          groups > 1 ? std::vector<int64_t>{rows, groups, f} : std::vector<int64_t>{rows, f});
  *bias = Tensor("bias", DataType::kFp32, groups > 1 ? std::vector<int64_t>{rows, groups} : std::vector<int64_t>{rows});
  for (int64_t i = 0; i < rows * groups; ++i) {
    std::copy(phi + i * (f + 1), phi + i * (f + 1) + f, contributions->values<float>().begin() + i * f);
    bias->values<float>()[i] = phi[i * (f + 1) + f];
  }
}

bool NeedsTransformed(const std::vector<const OutputSpec*>& requested) {
  return std::any_of(requested.begin(), requested.end(),
                     [](const OutputSpec* s) { return s->kind != OutputKind::kMargin; });
}

void MakeTabularOutputs(int64_t rows, int64_t groups, const float* margins, const float* transformed,
                        const std::vector<const OutputSpec*>& requested,
                        const std::vector<std::string>& classes, double threshold,
                        std::vector<Tensor>* outputs) {
  outputs->clear();
  outputs->reserve(requested.size());
  const int64_t n = rows * groups;
  for (const OutputSpec* spec : requested) {
    const bool per_class = groups > 1 && spec->kind != OutputKind::kLabel;
    Tensor out(spec->name, spec->tensor.type, per_class ? std::vector<int64_t>{rows, groups} : std::vector<int64_t>{rows});
    switch (spec->kind) {
      case OutputKind::kMargin:
        std::copy(margins, margins + n, out.values<float>().begin());
        break;
      case OutputKind::kProbability:
      case OutputKind::kPrediction:
        std::copy(transformed, transformed + n, out.values<float>().begin());
        break;
      case OutputKind::kLabel:
        if (groups == 1) {
          for (int64_t i = 0; i < rows; ++i) out.strings()[i] = transformed[i] >= threshold ? classes[1] : classes[0];
        } else {
          // The first of equal margins wins, as in XGBoost's multi:softmax.
          for (int64_t i = 0; i < rows; ++i) {
            const float* m = margins + i * groups;
            out.strings()[i] = classes[std::max_element(m, m + groups) - m];
          }
        }
        break;
    }
    outputs->push_back(std::move(out));
  }
}

}  // namespace vigil
