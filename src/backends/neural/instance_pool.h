// InstancePool: several instances of an engine that is not safe for
// concurrent calls (Triton's instance groups). A call takes a free instance
// or waits for one in a bounded queue; when `max_queue` calls are already
// waiting it is refused at once (UNAVAILABLE, answered 503), so a slow
// engine sheds load instead of piling up requests.
//
// Thread-safety: thread-safe.
#ifndef VIGIL_BACKENDS_NEURAL_INSTANCE_POOL_H_
#define VIGIL_BACKENDS_NEURAL_INSTANCE_POOL_H_

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "common/status.h"

namespace vigil {

template <typename Engine>
class InstancePool {
 public:
  InstancePool(std::vector<std::unique_ptr<Engine>> instances, int64_t max_queue)
      : instances_(std::move(instances)), max_queue_(max_queue) {
    for (auto& e : instances_) free_.push_back(e.get());
  }

  size_t size() const { return instances_.size(); }
  // Calls waiting for an instance now.
  int64_t waiting() {
    std::lock_guard lock(mu_);
    return waiting_;
  }

  // Runs `fn(Engine&)` on a free instance and returns its Status.
  template <typename Fn>
  Status Run(Fn&& fn) {
    Engine* engine;
    {
      std::unique_lock lock(mu_);
      if (free_.empty()) {
        if (waiting_ >= max_queue_) {
          return Status::Unavailable("all " + std::to_string(instances_.size()) + " instances are busy and " +
                                     std::to_string(waiting_) + " requests wait for one (max_queue)");
        }
        ++waiting_;
        cv_.wait(lock, [&] { return !free_.empty(); });
        --waiting_;
      }
      engine = free_.back();
      free_.pop_back();
    }
    Status s = fn(*engine);
    {
      std::lock_guard lock(mu_);
      free_.push_back(engine);
    }
    cv_.notify_one();
    return s;
  }

  // The first instance, for set-up before any call (no other call may run).
  Engine& first() { return *instances_.front(); }

 private:
  std::vector<std::unique_ptr<Engine>> instances_;
  const int64_t max_queue_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Engine*> free_;  // Guarded by mu_.
  int64_t waiting_ = 0;        // Guarded by mu_.
};

}  // namespace vigil

#endif  // VIGIL_BACKENDS_NEURAL_INSTANCE_POOL_H_
