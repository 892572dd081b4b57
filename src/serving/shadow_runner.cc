#include "serving/shadow_runner.h"

#include <pthread.h>
#include <sys/resource.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

namespace vigil {

ShadowRunner::ShadowRunner(const InferenceService& inference, MetricsRegistry& registry, PredictionLog* log,
                           size_t capacity)
    : inference_(inference),
      log_(log),
      capacity_(capacity),
      requests_(registry.AddCounter("vigil_shadow_requests_total",
                                    "Copies of requests run on a shadow rollout's candidate, by outcome (ok, "
                                    "error, dropped: the queue was full).",
                                    {"model", "version", "outcome"})) {
  worker_ = std::thread([this] { Work(); });
}

ShadowRunner::~ShadowRunner() { Stop(); }

void ShadowRunner::Stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    queue_.clear();
  }
  cv_.notify_all();
  if (worker_.joinable()) worker_.join();
}

void ShadowRunner::Count(const Servable& s, const char* outcome) {
  requests_.WithLabels({s.model_name(), s.version_label(), outcome}).Increment();
}

bool ShadowRunner::Submit(std::shared_ptr<const Servable> candidate, InferenceRequest request, bool client_id,
                          int64_t arrival_ms, bool logged) {
  {
    std::lock_guard lock(mu_);
    if (queue_.size() < capacity_ && !stopping_) {
      queue_.push_back({std::move(candidate), std::move(request), client_id, arrival_ms, logged});
      cv_.notify_one();
      return true;
    }
  }
  Count(*candidate, "dropped");
  return false;
}

ShadowRunner::Counts ShadowRunner::CountsOf(const std::string& model, int64_t version) const {
  Counts c;
  const std::string v = std::to_string(version);
  requests_.ForEach([&](const std::vector<std::string>& labels, const Counter& counter) {
    if (labels[0] != model || labels[1] != v) return;
    (labels[2] == "ok" ? c.ok : labels[2] == "error" ? c.errors : c.dropped) += counter.value();
  });
  return c;
}

void ShadowRunner::Work() {
  pthread_setname_np(pthread_self(), "vigil-shadow");
  // Copies yield to the request threads.
  setpriority(PRIO_PROCESS, static_cast<id_t>(gettid()), 10);
  std::unique_lock lock(mu_);
  for (;;) {
    cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
    if (stopping_) return;
    Job job = std::move(queue_.front());
    queue_.pop_front();
    lock.unlock();
    const Servable& s = *job.candidate;
    auto response = inference_.Infer(s, job.request);
    if (!response.ok()) {
      Count(s, "error");
      spdlog::debug("shadow: model {} version {} failed request {}: {}", s.model_name(), s.version_label(),
                    job.request.id, response.status().ToString());
    } else {
      Count(s, "ok");
      if (log_ && job.logged && response->features.element_count() > 0) {
        log_->Record(s.shared_config(), s.version(), response->id, job.client_id, job.arrival_ms, "shadow",
                     response->features, response->unseen_categories, response->outputs);
      }
    }
    job = Job();  // Releases the version before waiting.
    lock.lock();
  }
}

}  // namespace vigil
