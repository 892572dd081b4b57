// ShadowRunner: runs the copies of requests that a shadow rollout sends to
// its candidate (inference_service.h), off the request path.
//
// The request thread answers with the champion, then hands the decoded
// request to Submit(), which only queues it; one worker thread at a lower
// CPU priority (nice 10) runs the candidate on it, logs the answer with
// route "shadow" under the request's id (so that it joins the champion's
// record for comparison; monitor/prediction_log.h) and counts the outcome
// in vigil_shadow_requests_total{model, version, outcome} (ok, error, or
// dropped when the queue was full). A shadow answer is never returned to
// anyone, and a full queue drops the copy rather than slow a request.
//
// Thread-safety: thread-safe.
#ifndef VIGIL_SERVING_SHADOW_RUNNER_H_
#define VIGIL_SERVING_SHADOW_RUNNER_H_

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "monitor/metrics.h"
#include "monitor/prediction_log.h"
#include "serving/inference_service.h"

namespace vigil {

class ShadowRunner {
 public:
  // `log` may be null (copies are then run and counted, not logged).
  ShadowRunner(const InferenceService& inference, MetricsRegistry& registry, PredictionLog* log,
               size_t capacity = 1024);
  // Stop()s.
  ~ShadowRunner();
  ShadowRunner(const ShadowRunner&) = delete;
  ShadowRunner& operator=(const ShadowRunner&) = delete;

  // Queues a copy of `request` for `candidate`. `logged`: the champion's
  // answer was logged (the copy is logged only then, so that the two pair
  // up). False, counted as dropped, when the queue is full.
  bool Submit(std::shared_ptr<const Servable> candidate, InferenceRequest request, bool client_id,
              int64_t arrival_ms, bool logged);

  // Drops what is queued and stops the worker (no copy runs or is logged
  // after it returns; Submit then drops). CountsOf still answers.
  void Stop();

  // The outcomes of a version's copies so far (for rollout analysis).
  struct Counts {
    double ok = 0, errors = 0, dropped = 0;
  };
  Counts CountsOf(const std::string& model, int64_t version) const;

 private:
  struct Job {
    std::shared_ptr<const Servable> candidate;
    InferenceRequest request;
    bool client_id = false;
    int64_t arrival_ms = 0;
    bool logged = false;
  };
  void Work();
  void Count(const Servable& s, const char* outcome);

  const InferenceService& inference_;
  PredictionLog* log_;
  const size_t capacity_;
  Family<Counter>& requests_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Job> queue_;  // Guarded by mu_.
  bool stopping_ = false;  // Guarded by mu_.
  std::thread worker_;
};

}  // namespace vigil

#endif  // VIGIL_SERVING_SHADOW_RUNNER_H_
