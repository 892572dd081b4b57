#include "monitor/serving_metrics.h"

namespace vigil {

ServingMetrics::ServingMetrics(MetricsRegistry& registry, Clock::duration unloaded_after)
    : registry_(registry),
      unloaded_after_(unloaded_after),
      requests_(registry.AddCounter("vigil_inference_requests_total",
                                    "Inference requests answered successfully.",
                                    {"model", "version"})),
      failures_(registry.AddCounter(
          "vigil_inference_request_failures_total",
          "Inference requests that failed, by reason (invalid_argument, not_found, unavailable, "
          "resource_exhausted, internal).",
          {"model", "version", "reason"})),
      request_latency_(registry.AddHistogram(
          "vigil_inference_request_duration_seconds",
          "End-to-end inference latency in seconds, from a fully read request to an encoded "
          "response.",
          {"model", "version"}, LatencyBucketsSeconds())),
      compute_latency_(registry.AddHistogram("vigil_inference_compute_duration_seconds",
                                             "Time spent inside the model backend in seconds.",
                                             {"model", "version"}, LatencyBucketsSeconds())),
      batch_size_(registry.AddHistogram("vigil_inference_batch_size",
                                        "Rows per inference request.", {"model", "version"},
                                        BatchSizeBuckets())),
      inflight_(registry.AddGauge("vigil_inference_inflight_requests",
                                  "Inference requests being processed now.",
                                  {"model", "version"})),
      queue_latency_(registry.AddHistogram(
          "vigil_inference_queue_duration_seconds",
          "Time requests of a dynamically batched model wait for their batch's backend call, in seconds.",
          {"model", "version"}, LatencyBucketsSeconds())),
      http_requests_(registry.AddCounter("vigil_http_requests_total",
                                         "HTTP requests by route template and status code.",
                                         {"route", "code"})),
      loads_(registry.AddCounter(
          "vigil_model_loads_total",
          "Model version loads by result (success, failure) and failure reason.",
          {"model", "result", "reason"})),
      unloads_(registry.AddCounter("vigil_model_unloads_total",
                                   "Model versions unloaded after draining.", {"model"})),
      load_duration_(registry.AddHistogram("vigil_model_load_duration_seconds",
                                           "Time to load and warm up a model version in seconds.",
                                           {"model"}, LatencyBucketsSeconds())) {}

VersionMetrics ServingMetrics::ForVersion(const std::string& model, const std::string& version, bool batched) {
  std::lock_guard lock(mu_);
  ++tracked_[{model, version}].holders;
  VersionMetrics m;
  m.requests = &requests_.WithLabels({model, version});
  m.request_latency = &request_latency_.WithLabels({model, version});
  m.compute_latency = &compute_latency_.WithLabels({model, version});
  m.batch_size = &batch_size_.WithLabels({model, version});
  m.inflight = &inflight_.WithLabels({model, version});
  if (batched) m.queue_latency = &queue_latency_.WithLabels({model, version});
  m.lease = std::make_shared<const VersionMetrics::Lease>(this, VersionKey{model, version});
  return m;
}

void ServingMetrics::Release(const VersionKey& key) {
  std::lock_guard lock(mu_);
  auto it = tracked_.find(key);
  if (it != tracked_.end() && --it->second.holders == 0) it->second.released = Clock::now();
}

void ServingMetrics::ExpireUnloaded(Clock::time_point now) {
  std::lock_guard lock(mu_);
  for (auto it = tracked_.begin(); it != tracked_.end();) {
    if (it->second.holders > 0 || now - it->second.released < unloaded_after_) {
      ++it;
      continue;
    }
    const auto& [model, version] = it->first;
    // Folded and removed under mu_, which Totals() holds too: no call sees
    // the counts twice or not at all.
    ModelTotals& removed = removed_[model];
    if (removed.latency_buckets.empty()) {
      removed.latency_buckets.assign(LatencyBucketsSeconds().size() + 1, 0);
      removed.compute_buckets.assign(LatencyBucketsSeconds().size() + 1, 0);
    }
    AddTotals(model, version, removed);
    const std::vector<std::string> labels{model, version};
    requests_.Remove(labels);
    request_latency_.Remove(labels);
    compute_latency_.Remove(labels);
    batch_size_.Remove(labels);
    inflight_.Remove(labels);
    queue_latency_.Remove(labels);
    // Compared through `labels`: clang 14 cannot capture structured bindings.
    failures_.RemoveIf([&labels](const std::vector<std::string>& l) { return l[0] == labels[0] && l[1] == labels[1]; });
    it = tracked_.erase(it);
  }
}

size_t ServingMetrics::tracked_versions() const {
  std::lock_guard lock(mu_);
  return tracked_.size();
}

void ServingMetrics::CountFailure(const std::string& model, const std::string& version,
                                  const std::string& reason) {
  failures_.WithLabels({model, version, reason}).Increment();
}

ServingMetrics::ModelTotals ServingMetrics::Totals(const std::string& model, const std::string& version) const {
  ModelTotals t;
  t.latency_buckets.assign(LatencyBucketsSeconds().size() + 1, 0);
  t.compute_buckets.assign(LatencyBucketsSeconds().size() + 1, 0);
  std::lock_guard lock(mu_);
  AddTotals(model, version, t);
  if (version.empty()) {
    auto it = removed_.find(model);
    if (it != removed_.end()) {
      const ModelTotals& r = it->second;
      t.requests += r.requests;
      t.failures += r.failures;
      for (size_t i = 0; i < t.latency_buckets.size(); ++i) t.latency_buckets[i] += r.latency_buckets[i];
      for (size_t i = 0; i < t.compute_buckets.size(); ++i) t.compute_buckets[i] += r.compute_buckets[i];
    }
  }
  return t;
}

void ServingMetrics::AddTotals(const std::string& model, const std::string& version, ModelTotals& t) const {
  auto mine = [&](const std::vector<std::string>& labels) {
    return labels[0] == model && (version.empty() || labels[1] == version);
  };
  requests_.ForEach([&](const std::vector<std::string>& labels, const Counter& c) {
    if (mine(labels)) t.requests += c.value();
  });
  failures_.ForEach([&](const std::vector<std::string>& labels, const Counter& c) {
    if (!mine(labels)) return;
    // The client's mistakes (bad input, unknown version) are not the
    // server's error rate; schema_violation_rate watches bad input.
    if (labels[2] == "invalid_argument" || labels[2] == "not_found") return;
    t.failures += c.value();
  });
  auto add = [&](const Family<Histogram>& family, std::vector<uint64_t>& into) {
    family.ForEach([&](const std::vector<std::string>& labels, const Histogram& h) {
      if (!mine(labels)) return;
      const std::vector<uint64_t> b = h.BucketCounts();
      for (size_t i = 0; i < b.size() && i < into.size(); ++i) into[i] += b[i];
    });
  };
  add(request_latency_, t.latency_buckets);
  add(compute_latency_, t.compute_buckets);
}

ServingMetrics::~ServingMetrics() {
  for (HttpCounterNode* n = http_counters_.load(); n != nullptr;) {
    HttpCounterNode* next = n->next;
    delete n;
    n = next;
  }
}

void ServingMetrics::CountHttp(std::string_view route, int status) {
  HttpCounterNode* head = http_counters_.load(std::memory_order_acquire);
  for (HttpCounterNode* n = head; n != nullptr; n = n->next) {
    if (n->status == status && n->route == route) {
      n->counter->Increment();
      return;
    }
  }
  // First time for this pair: resolve the child and publish it. Two threads
  // may race to add the same pair; both nodes point at the same counter.
  Counter* counter = &http_requests_.WithLabels({std::string(route), std::to_string(status)});
  auto* node = new HttpCounterNode{std::string(route), status, counter, head};
  while (!http_counters_.compare_exchange_weak(node->next, node, std::memory_order_acq_rel)) {
  }
  counter->Increment();
}

void ServingMetrics::CountLoad(const std::string& model, bool success, const std::string& reason,
                               double seconds) {
  loads_.WithLabels({model, success ? "success" : "failure", reason}).Increment();
  if (success) load_duration_.WithLabels({model}).Observe(seconds);
}

void ServingMetrics::CountUnload(const std::string& model) {
  unloads_.WithLabels({model}).Increment();
}

}  // namespace vigil
