// Tabular outputs: what the tree backends (native and XGBoost) share between
// their engine call and their answer.
//
// Both run a single-output model on one FP32 [N, F] matrix and turn its raw
// margins, and the objective's outputs derived from them, into the outputs a
// request asked for (model_config.h's OutputKind).
//
// Thread-safety: pure functions.
#ifndef VIGIL_BACKENDS_TABULAR_OUTPUTS_H_
#define VIGIL_BACKENDS_TABULAR_OUTPUTS_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "common/tensor.h"
#include "repository/model_config.h"

namespace vigil {

// INVALID_ARGUMENT unless `inputs` is one FP32 [N, num_features] matrix;
// `backend` names the backend in the message.
Status CheckTabularMatrix(const std::vector<Tensor>& inputs, int64_t num_features, std::string_view backend);

// True if any requested output needs the objective's outputs (probability,
// label or prediction), not only the margins.
bool NeedsTransformed(const std::vector<const OutputSpec*>& requested);

// Fills `outputs`, one tensor per entry of `requested` in that order: margin
// from `margins`; probability and prediction from `transformed`; label from
// `transformed` at `threshold` (classes[1] at or above it). `transformed` may
// be null when NeedsTransformed() is false.
void MakeTabularOutputs(int64_t rows, const float* margins, const float* transformed,
                        const std::vector<const OutputSpec*>& requested,
                        const std::vector<std::string>& classes, double threshold,
                        std::vector<Tensor>* outputs);

}  // namespace vigil

#endif  // VIGIL_BACKENDS_TABULAR_OUTPUTS_H_
