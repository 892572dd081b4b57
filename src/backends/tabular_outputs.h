// Tabular outputs: what the tree backends (native and XGBoost) share between
// their engine call and their answer.
//
// Both run a model on one FP32 [N, F] matrix and turn its raw margins (one
// per row, or one per class and row for a multi-class model), and the
// objective's outputs derived from them, into the outputs a request asked for
// (model_config.h's OutputKind).
//
// Thread-safety: pure functions.
#ifndef VIGIL_BACKENDS_TABULAR_OUTPUTS_H_
#define VIGIL_BACKENDS_TABULAR_OUTPUTS_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "backends/trees/forest.h"  // SoftmaxRows, for multi-class probabilities.
#include "common/status.h"
#include "common/tensor.h"
#include "repository/model_config.h"

namespace vigil {

// INVALID_ARGUMENT unless `inputs` is one FP32 [N, num_features] matrix;
// `backend` names the backend in the message.
Status CheckTabularMatrix(const std::vector<Tensor>& inputs, int64_t num_features, std::string_view backend);

// INVALID_ARGUMENT unless the outputs and classes of `config` fit a model
// with `groups` values per row whose objective is `objective` (`binary`:
// a probability of the positive class).
Status CheckTabularOutputs(const ModelConfig& config, int64_t groups, bool binary, std::string_view objective);

// Splits SHAP values laid out as XGBoost's pred_contribs gives them (per row
// and class: F contributions, then the bias) into contributions FP32 [N, F]
// and bias [N], or [N, K, F] and [N, K] for K > 1 classes.
void SplitContributions(const float* phi, int64_t rows, int64_t groups, int64_t num_features,
                        Tensor* contributions, Tensor* bias);

// True if any requested output needs the objective's outputs (probability,
// label or prediction), not only the margins.
bool NeedsTransformed(const std::vector<const OutputSpec*>& requested);

// Fills `outputs`, one tensor per entry of `requested` in that order, from
// `groups` values per row (1, or the K classes of a multi-class model):
// margin from `margins`; probability and prediction from `transformed`
// (for K classes, their probabilities: SoftmaxRows); label from
// `transformed` at `threshold` (classes[1] at or above it), or for K classes
// the class of the largest margin. `transformed` may be null when
// NeedsTransformed() is false.
void MakeTabularOutputs(int64_t rows, int64_t groups, const float* margins, const float* transformed,
                        const std::vector<const OutputSpec*>& requested,
                        const std::vector<std::string>& classes, double threshold,
                        std::vector<Tensor>* outputs);

}  // namespace vigil

#endif  // VIGIL_BACKENDS_TABULAR_OUTPUTS_H_
