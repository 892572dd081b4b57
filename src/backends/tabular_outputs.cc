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

bool NeedsTransformed(const std::vector<const OutputSpec*>& requested) {
  return std::any_of(requested.begin(), requested.end(),
                     [](const OutputSpec* s) { return s->kind != OutputKind::kMargin; });
}

void MakeTabularOutputs(int64_t rows, const float* margins, const float* transformed,
                        const std::vector<const OutputSpec*>& requested,
                        const std::vector<std::string>& classes, double threshold,
                        std::vector<Tensor>* outputs) {
  outputs->clear();
  outputs->reserve(requested.size());
  for (const OutputSpec* spec : requested) {
    Tensor out(spec->name, spec->tensor.type, {rows});
    switch (spec->kind) {
      case OutputKind::kMargin:
        std::copy(margins, margins + rows, out.values<float>().begin());
        break;
      case OutputKind::kProbability:
      case OutputKind::kPrediction:
        std::copy(transformed, transformed + rows, out.values<float>().begin());
        break;
      case OutputKind::kLabel:
        for (int64_t i = 0; i < rows; ++i) out.strings()[i] = transformed[i] >= threshold ? classes[1] : classes[0];
        break;
    }
    outputs->push_back(std::move(out));
  }
}

}  // namespace vigil
