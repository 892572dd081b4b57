#include "manager/dynamic_batcher.h"

#include <algorithm>
#include <cstring>
#include <exception>
#include <string>

namespace vigil {
namespace {

// `parts` stacked along the first dimension (they agree on the others).
Tensor Stack(const std::vector<const Tensor*>& parts) {
  const Tensor& first = *parts[0];
  std::vector<int64_t> shape = first.shape();
  shape[0] = 0;
  for (const Tensor* t : parts) shape[0] += t->shape()[0];
  Tensor out(first.name(), first.type(), shape);
  if (first.type() == DataType::kBytes) {
    size_t at = 0;
    for (const Tensor* t : parts) {
      std::copy(t->strings().begin(), t->strings().end(), out.strings().begin() + static_cast<ptrdiff_t>(at));
      at += t->strings().size();
    }
  } else {
    size_t at = 0;
    for (const Tensor* t : parts) {
      std::memcpy(out.bytes().data() + at, t->bytes().data(), t->bytes().size());
      at += t->bytes().size();
    }
  }
  return out;
}

// Rows [from, from + rows) of `t`.
Tensor Slice(const Tensor& t, int64_t from, int64_t rows) {
  std::vector<int64_t> shape = t.shape();
  const int64_t per_row = shape[0] == 0 ? 0 : t.element_count() / shape[0];
  shape[0] = rows;
  Tensor out(t.name(), t.type(), shape);
  if (t.type() == DataType::kBytes) {
    std::copy(t.strings().begin() + from * per_row, t.strings().begin() + (from + rows) * per_row, out.strings().begin());
  } else {
    const size_t width = t.bytes().size() / static_cast<size_t>(std::max<int64_t>(1, t.shape()[0]));
    std::memcpy(out.bytes().data(), t.bytes().data() + static_cast<size_t>(from) * width, static_cast<size_t>(rows) * width);
  }
  return out;
}

}  // namespace

DynamicBatcher::DynamicBatcher(std::unique_ptr<Backend> inner, const ModelConfig& config, Histogram* queue_latency)
    : inner_(std::move(inner)),
      batching_(config.engine.batching),
      max_queue_(std::max<int64_t>(config.engine.max_queue, 1)),
      queue_latency_(queue_latency) {
  for (const OutputSpec& o : config.outputs) all_outputs_.push_back(&o);
}

std::string DynamicBatcher::Describe() const {
  return inner_->Describe() + ", dynamic batching up to " + std::to_string(batching_.max_batch_size) + " rows within " +
         std::to_string(batching_.max_queue_delay_us) + " us";
}

bool DynamicBatcher::Ready() const {
  if (queued_rows_ >= batching_.max_batch_size) return true;
  return std::binary_search(batching_.preferred_batch_sizes.begin(), batching_.preferred_batch_sizes.end(),
                            queued_rows_);
}

Status DynamicBatcher::Infer(const std::vector<Tensor>& inputs, const std::vector<const OutputSpec*>& requested,
                             std::vector<Tensor>* outputs) const {
  const int64_t rows = inputs.empty() || inputs[0].shape().empty() ? 0 : inputs[0].shape()[0];
  if (rows >= batching_.max_batch_size || rows == 0) {
    if (queue_latency_) queue_latency_->Observe(0);
    return inner_->Infer(inputs, requested, outputs);
  }
  Pending me(&inputs, &requested, outputs, rows);
  std::unique_lock lock(mu_);
  if (static_cast<int64_t>(queue_.size()) >= max_queue_) {
    return Status::Unavailable("the batch queue is full (" + std::to_string(queue_.size()) + " requests wait; max_queue)");
  }
  queue_.push_back(&me);
  queued_rows_ += rows;
  if (!leading_) {
    // The queue was empty: this request is its front, and leads.
    leading_ = true;
    me.lead = true;
  } else if (Ready()) {
    leader_cv_.notify_one();
  }
  // Each waiter is woken by its own condition variable, only when it is done
  // or handed the lead: a request costs O(1) wake-ups, not one per waiter.
  me.cv.wait(lock, [&] { return me.done || me.lead; });
  if (me.done) return me.status;

  // Lead: this request is the queue's front (the oldest waiting). Wait for a
  // full or preferred batch, or the front's delay, then take whole requests
  // from the front up to max_batch_size rows, and hand the lead to the new
  // front, which forms the next batch while this one runs.
  leader_cv_.wait_until(lock, me.arrived + std::chrono::microseconds(batching_.max_queue_delay_us),
                        [&] { return Ready(); });
  std::vector<Pending*> batch;
  int64_t batch_rows = 0;
  while (!queue_.empty() && (batch.empty() || batch_rows + queue_.front()->rows <= batching_.max_batch_size)) {
    batch.push_back(queue_.front());
    batch_rows += queue_.front()->rows;
    queue_.pop_front();
  }
  queued_rows_ -= batch_rows;
  if (queue_.empty()) {
    leading_ = false;
  } else {
    queue_.front()->lead = true;
    queue_.front()->cv.notify_one();
  }
  lock.unlock();
  try {
    RunBatch(batch);
  } catch (const std::exception& e) {
    // Every request of the batch must still be answered, or its waiter
    // would sleep for ever.
    for (Pending* p : batch) p->status = Status::Internal(std::string("the batch failed: ") + e.what());
  }
  lock.lock();
  // Notified under the lock: a waiter cannot return (and free its Pending)
  // before its notification is complete.
  for (Pending* p : batch) {
    p->done = true;
    if (p != &me) p->cv.notify_one();
  }
  return me.status;
}

void DynamicBatcher::RunBatch(const std::vector<Pending*>& batch) const {
  const auto start = Clock::now();
  if (queue_latency_) {
    for (const Pending* p : batch) queue_latency_->Observe(std::chrono::duration<double>(start - p->arrived).count());
  }
  auto alone = [&](Pending* p) { p->status = inner_->Infer(*p->inputs, *p->requested, p->outputs); };
  if (batch.size() == 1) return alone(batch[0]);
  // Requests whose inputs do not stack (names, types or trailing
  // dimensions differ) run alone.
  const std::vector<Tensor>& first = *batch[0]->inputs;
  std::vector<Pending*> stackable;
  for (Pending* p : batch) {
    bool same = p->inputs->size() == first.size();
    for (size_t i = 0; same && i < first.size(); ++i) {
      const Tensor& a = first[i];
      const Tensor& b = (*p->inputs)[i];
      same = a.name() == b.name() && a.type() == b.type() && a.shape().size() == b.shape().size() &&
             !a.shape().empty() && std::equal(a.shape().begin() + 1, a.shape().end(), b.shape().begin() + 1);
    }
    if (same) {
      stackable.push_back(p);
    } else {
      alone(p);
    }
  }
  if (stackable.size() == 1) return alone(stackable[0]);
  std::vector<Tensor> stacked;
  for (size_t i = 0; i < first.size(); ++i) {
    std::vector<const Tensor*> parts;
    for (const Pending* p : stackable) parts.push_back(&(*p->inputs)[i]);
    stacked.push_back(Stack(parts));
  }
  std::vector<Tensor> out;
  Status s = inner_->Infer(stacked, all_outputs_, &out);
  if (s.code() == StatusCode::kInvalidArgument) {
    // Some row the backend refuses: each request on its own, so that only
    // its own fails.
    for (Pending* p : stackable) alone(p);
    return;
  }
  int64_t from = 0;
  for (Pending* p : stackable) {
    p->status = s;
    if (s.ok()) {
      p->outputs->clear();
      for (const OutputSpec* want : *p->requested) {
        size_t k = 0;
        while (k + 1 < all_outputs_.size() && all_outputs_[k]->name != want->name) ++k;
        p->outputs->push_back(Slice(out[k], from, p->rows));
      }
    }
    from += p->rows;
  }
}

}  // namespace vigil
