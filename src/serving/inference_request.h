// InferenceRequest and InferenceResponse: one inference call, decoded.
//
// The HTTP codec (http/v2_codec.h) produces requests and consumes responses;
// the serving layer in between never sees JSON.
#ifndef VIGIL_SERVING_INFERENCE_REQUEST_H_
#define VIGIL_SERVING_INFERENCE_REQUEST_H_

#include <string>
#include <vector>

#include "common/tensor.h"

namespace vigil {

struct InferenceRequest {
  std::string id;                              // Empty: the server generates one.
  std::vector<Tensor> inputs;                  // As sent, in request order.
  std::vector<std::string> requested_outputs;  // Empty: every output of the model.
};

struct InferenceResponse {
  std::string model_name;
  std::string model_version;
  std::string id;
  std::vector<Tensor> outputs;
  // Tabular models: the FP32 [N, F] matrix the backend ran on (features in
  // model.yaml order, NaN for missing), for the prediction log.
  Tensor features;
  // Cells of `features` (row * F + feature) that held a category the model
  // does not know, sent to it as missing. Empty in the common case.
  std::vector<int64_t> unseen_categories;
  // Explanations: the names of the contributions' columns, sent as the
  // response's parameters.feature_names.
  std::vector<std::string> feature_names;
};

}  // namespace vigil

#endif  // VIGIL_SERVING_INFERENCE_REQUEST_H_
