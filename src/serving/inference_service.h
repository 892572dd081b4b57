// InferenceService: the serving stage between the HTTP codec and a backend.
//
// It picks the model version a request goes to (an explicit version, or the
// model's default), turns the request's tensors into what the backend takes,
// calls the backend and returns the requested outputs. It counts compute time
// and batch size on the version's metrics; the HTTP edge, which also sees
// decoding and encoding, records the end-to-end latency and outcome.
//
// A running rollout (lifecycle/rollout.h) splits the requests that name no
// version: by a hash of the request id (XXH3), so that a retry with the same
// id lands on the same version, a share goes to the candidate (canary) or
// is copied to it (shadow; serving/shadow_runner.h runs the copies).
//
// Thread-safety: thread-safe; the manager must outlive it.
#ifndef VIGIL_SERVING_INFERENCE_SERVICE_H_
#define VIGIL_SERVING_INFERENCE_SERVICE_H_

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "manager/model_manager.h"
#include "serving/inference_request.h"

namespace vigil {

// Where one request goes.
struct Routed {
  std::shared_ptr<const Servable> servable;  // Answers it.
  std::shared_ptr<const Servable> shadow;    // Gets a copy, never answered (may be null).
  std::string_view route = "champion";       // As logged: "champion", "canary" (or "shadow" for copies).
};

// A request's version, before its id is known.
struct Resolution {
  std::shared_ptr<const Servable> servable;    // The named version, or the model's default.
  std::optional<TrafficSplit> split;           // A running rollout's, for requests that name no version.
  std::shared_ptr<const Servable> candidate;   // The split's candidate, when it is ready.

  // Where the request with `id` goes.
  Routed Route(std::string_view id) const;
};

// Whether `id` falls in the first `share` of the hash space (deterministic).
bool InShare(std::string_view id, double share);

class InferenceService {
 public:
  explicit InferenceService(const ModelManager& manager) : manager_(manager) {}

  // The version that serves `model` (at `version`, if given, as the URL's
  // decimal text). NOT_FOUND: no such model or version; UNAVAILABLE: the
  // model or version exists but is not ready (the message says why).
  Result<std::shared_ptr<const Servable>> Resolve(const std::string& model,
                                                  const std::optional<std::string>& version) const;
  // The same, with the model's rollout split for requests without a version.
  Result<Resolution> ResolveRequest(const std::string& model, const std::optional<std::string>& version) const;

  // Runs `request` on `servable`. INVALID_ARGUMENT: the request does not fit
  // the model (the message names the field); INTERNAL: the backend failed.
  // The response's id is the request's id; generating one is the caller's job.
  Result<InferenceResponse> Infer(const Servable& servable, const InferenceRequest& request) const;

  // Explains `request` on a tabular model: outputs "contributions" FP32
  // [N, F] (features in model.yaml order), "bias" FP32 [N] and "margin" FP32
  // [N], where contributions plus bias equal the margin. INVALID_ARGUMENT as
  // for Infer; FAILED_PRECONDITION when the model cannot be explained.
  Result<InferenceResponse> Explain(const Servable& servable, const InferenceRequest& request) const;

 private:
  const ModelManager& manager_;
};

}  // namespace vigil

#endif  // VIGIL_SERVING_INFERENCE_SERVICE_H_
