// Fuzzes the Open Inference Protocol (v2) request decoder, DecodeInferRequest
// (src/http/v2_codec.cc, simdjson), with arbitrary request bodies.
//
// A refusal (a Status error) is a correct answer. A crash, a sanitizer
// report, an uncaught exception, a timeout or a broken invariant below is a
// finding. On success the decoded tensors are also written back with
// EncodeInferResponse, whose output must be valid JSON: what a client sends
// must not make the server answer with malformed JSON.
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "fuzz_check.h"
#include "http/v2_codec.h"

using vigil::fuzz::Check;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string body(reinterpret_cast<const char*>(data), size);
  auto request = vigil::DecodeInferRequest(body);
  vigil::fuzz::Report(request.status());
  if (!request.ok()) {
    Check(!request.status().ok(), "an error result carries an error status");
    return 0;
  }
  Check(!request->inputs.empty(), "a decoded request has at least one input");
  vigil::InferenceResponse response;
  response.model_name = "m";
  response.model_version = "1";
  response.id = request->id;
  for (const vigil::Tensor& t : request->inputs) {
    Check(t.element_count() == vigil::ElementCount(t.shape()), "a tensor holds what its shape says");
    response.outputs.push_back(t);
  }
  const std::string encoded = vigil::EncodeInferResponse(response);
  // nlohmann-json checks RFC 8259 exactly. (simdjson, stricter, refuses an
  // integer beyond 64 bits, which an FP64 value of 2^64 or more may be
  // written as: docs/fuzzing.md.)
  Check(nlohmann::json::accept(encoded), "EncodeInferResponse writes valid JSON", encoded);
  return 0;
}
