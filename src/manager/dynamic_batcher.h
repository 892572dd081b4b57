// DynamicBatcher: stacks the requests of one model version that arrive
// within `batching.max_queue_delay_us` into one backend call and splits the
// answer back (Triton's dynamic batcher), for engines whose cost per call
// dwarfs their cost per row (neural networks).
//
// A request joins the queue; the queue's front leads: it waits until the
// queue holds max_batch_size rows, or a preferred batch size, or its own
// delay is over, takes whole requests from the front up to max_batch_size
// rows, hands the lead to the new front and runs the batch on the calling
// thread. So batches are formed while others run (on the backend's other
// instances), and no thread of its own is kept. Every waiter sleeps on its
// own condition variable and is woken once, when its batch is done or the
// lead comes to it. A request of max_batch_size rows or more runs alone.
//
// One batcher wraps one version's backend, so a batch never mixes models or
// versions. If the backend refuses a batch as bad input (INVALID_ARGUMENT),
// its requests run again one by one, so only the bad one fails. Queue time
// (arrival to the start of its batch's call) is observed per request; the
// HTTP edge's latency includes it. At most `max_queue` requests wait;
// beyond, UNAVAILABLE (503) at once.
//
// Thread-safety: Infer() is thread-safe.
#ifndef VIGIL_MANAGER_DYNAMIC_BATCHER_H_
#define VIGIL_MANAGER_DYNAMIC_BATCHER_H_

#include <chrono>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>

#include "backends/backend.h"
#include "monitor/metrics.h"

namespace vigil {

class DynamicBatcher : public Backend {
 public:
  // `queue_latency` (seconds) may be null.
  DynamicBatcher(std::unique_ptr<Backend> inner, const ModelConfig& config, Histogram* queue_latency);

  Status Infer(const std::vector<Tensor>& inputs, const std::vector<const OutputSpec*>& requested,
               std::vector<Tensor>* outputs) const override;
  std::string Describe() const override;
  std::vector<TensorSpec> ArtifactInputs() const override { return inner_->ArtifactInputs(); }
  // Requests waiting in the queue now (not those whose batch runs).
  int64_t waiting() const {
    std::lock_guard lock(mu_);
    return static_cast<int64_t>(queue_.size());
  }
  Status Explain(const std::vector<Tensor>& inputs, Tensor* contributions, Tensor* bias) const override {
    return inner_->Explain(inputs, contributions, bias);
  }

 private:
  using Clock = std::chrono::steady_clock;
  struct Pending {
    Pending(const std::vector<Tensor>* in, const std::vector<const OutputSpec*>* req, std::vector<Tensor>* out,
            int64_t n)
        : inputs(in), requested(req), outputs(out), rows(n), arrived(Clock::now()) {}
    const std::vector<Tensor>* inputs;
    const std::vector<const OutputSpec*>* requested;
    std::vector<Tensor>* outputs;
    int64_t rows;
    Clock::time_point arrived;
    Status status = Status::Ok();
    bool done = false;  // Guarded by mu_, as is lead.
    bool lead = false;  // It is the queue's front and forms the next batch.
    std::condition_variable cv;
  };
  // Whether the queue's rows make a batch worth running now.
  bool Ready() const;
  void RunBatch(const std::vector<Pending*>& batch) const;

  std::unique_ptr<Backend> inner_;
  const BatchingConfig batching_;
  const int64_t max_queue_;
  std::vector<const OutputSpec*> all_outputs_;  // Every output, asked of each batch.
  Histogram* queue_latency_;

  mutable std::mutex mu_;
  mutable std::condition_variable leader_cv_;  // The leader waits on it for a batch to fill.
  mutable std::deque<Pending*> queue_;  // Guarded by mu_.
  mutable int64_t queued_rows_ = 0;     // Guarded by mu_.
  mutable bool leading_ = false;        // Guarded by mu_: some waiter holds the lead.
};

}  // namespace vigil

#endif  // VIGIL_MANAGER_DYNAMIC_BATCHER_H_
