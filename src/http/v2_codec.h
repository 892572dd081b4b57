// The Open Inference Protocol (KServe v2) JSON codec for inference.
//
// DecodeInferRequest parses a request body with simdjson into an
// InferenceRequest: inputs with name, shape, datatype and data (flat or
// nested arrays, null for a missing value), the optional id, parameters and
// requested outputs. Every error is INVALID_ARGUMENT and names the field
// ("inputs[1].data[4]: expected INT32, got a string").
// EncodeInferResponse writes the response body.
//
// Thread-safety: both functions are thread-safe (one parser per thread).
#ifndef VIGIL_HTTP_V2_CODEC_H_
#define VIGIL_HTTP_V2_CODEC_H_

#include <cstdint>
#include <string>

#include "common/status.h"
#include "serving/inference_request.h"

namespace vigil {

// `body` may be modified: it is padded for the SIMD parser.
Result<InferenceRequest> DecodeInferRequest(std::string& body);
std::string EncodeInferResponse(const InferenceResponse& response);

}  // namespace vigil

#endif  // VIGIL_HTTP_V2_CODEC_H_
