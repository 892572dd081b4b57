// Tabular input assembly: from the tensors a client sends to the one FP32
// [N, F] matrix that tree backends take.
//
// Clients send tabular rows in either of the two forms Triton (FIL) and
// MLServer users know:
//   - one input named as the model's declared input, shape [N, F], numeric,
//     columns in model.yaml feature order (categorical columns as codes);
//   - one input per feature, named after it, shape [N] or [N, 1]; numeric
//     features as numbers, categorical features as strings (BYTES) or codes.
// JSON null is a missing value (NaN for the model) unless the feature says
// allow_missing: false. A category the model has not seen is missing, as in
// XGBoost. Every error names the offending input and element.
//
// Thread-safety: a pure function.
#ifndef VIGIL_SERVING_TABULAR_INPUT_H_
#define VIGIL_SERVING_TABULAR_INPUT_H_

#include <vector>

#include "common/status.h"
#include "common/tensor.h"
#include "repository/model_config.h"

namespace vigil {

// INVALID_ARGUMENT for anything that does not fit `config`. A category the
// model does not know (a name not in its list, a code past its end) is sent
// to the model as missing; when `unseen` is given, each such cell's index in
// the [N, F] matrix (row * F + feature) is appended to it, in no particular
// order, so that monitoring can tell unseen categories from missing values.
Result<Tensor> AssembleTabularInput(const ModelConfig& config, const std::vector<Tensor>& inputs,
                                    std::vector<int64_t>* unseen = nullptr);

}  // namespace vigil

#endif  // VIGIL_SERVING_TABULAR_INPUT_H_
