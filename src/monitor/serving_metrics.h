// ServingMetrics: the Prometheus families that describe serving.
//
// One instance per server, created at start and shared by the HTTP edge, the
// inference path and the model manager. Per-version children are looked up
// once, when a version is loaded (VersionMetrics), so the request path only
// touches atomics. Names and buckets are documented in docs/metrics.md.
//
// A version's series leave /metrics a while after the last VersionMetrics of
// it is gone (the version unloaded): `unloaded_after` later, so that scrapes
// see their final values, ExpireUnloaded() folds their counts into the
// model's totals and removes them. Without it, a server that swaps versions
// for months would keep (and render) 58 series for every version it ever
// served.
//
// Thread-safety: thread-safe (see metrics.h).
#ifndef VIGIL_MONITOR_SERVING_METRICS_H_
#define VIGIL_MONITOR_SERVING_METRICS_H_

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "monitor/metrics.h"

namespace vigil {

class ServingMetrics;

// The children of one model version, resolved once. The pointers stay valid
// while any copy of this VersionMetrics (which shares `lease`) exists.
struct VersionMetrics {
  Counter* requests = nullptr;          // Successful inference requests.
  Histogram* request_latency = nullptr;  // Seconds, decode to encode.
  Histogram* compute_latency = nullptr;  // Seconds inside the backend.
  Histogram* batch_size = nullptr;      // Rows per request.
  Gauge* inflight = nullptr;            // Requests holding this version now.
  Histogram* queue_latency = nullptr;   // Seconds waiting for a dynamic batch.

  // Holds the series on /metrics; its last copy's end starts the countdown
  // to their removal.
  struct Lease;
  std::shared_ptr<const Lease> lease;
};

class ServingMetrics {
 public:
  using Clock = std::chrono::steady_clock;

  // `unloaded_after`: how long a version's series stay after it is unloaded.
  // It must outlive every VersionMetrics it hands out.
  explicit ServingMetrics(MetricsRegistry& registry,
                          Clock::duration unloaded_after = std::chrono::minutes(5));
  ~ServingMetrics();
  ServingMetrics(const ServingMetrics&) = delete;
  ServingMetrics& operator=(const ServingMetrics&) = delete;

  // The version's children, created on first use; a version that comes back
  // before its series are removed continues them.
  // With `batched`, also the queue-time histogram (dynamic batching).
  VersionMetrics ForVersion(const std::string& model, const std::string& version, bool batched = false);
  // Removes the series of versions whose last VersionMetrics went at least
  // `unloaded_after` before `now`, after adding their counts to the model's
  // totals (Totals() without a version). The model manager calls it
  // periodically.
  void ExpireUnloaded(Clock::time_point now = Clock::now());
  // Versions whose series /metrics still shows, held or counting down.
  size_t tracked_versions() const;

  // Counts a failed inference request of a known model; `version` is "" when
  // none could be chosen, or a version whose VersionMetrics the caller holds
  // (so that its series cannot be removed meanwhile). `reason` is a
  // StatusCode name in lower case.
  void CountFailure(const std::string& model, const std::string& version,
                    const std::string& reason);
  // Counts an HTTP request by route template (bounded cardinality) and status.
  // Lock-free once a (route, status) pair has been seen.
  void CountHttp(std::string_view route, int status);
  void CountLoad(const std::string& model, bool success, const std::string& reason,
                 double seconds);
  void CountUnload(const std::string& model);

  MetricsRegistry& registry() { return registry_; }

  // Totals of a model over all its versions (or of one `version`) since the
  // start, for alert rules on serving metrics and rollout analysis (which
  // take differences between two calls). A model's totals include the
  // versions whose series were removed; a removed version's own are zero.
  struct ModelTotals {
    double requests = 0;  // Answered successfully.
    double failures = 0;  // Failed on the server's side (not invalid_argument or not_found).
    std::vector<uint64_t> latency_buckets;  // Per bucket of LatencyBucketsSeconds(), +Inf last.
    std::vector<uint64_t> compute_buckets;  // The same for the time inside the backend.
  };
  ModelTotals Totals(const std::string& model, const std::string& version = "") const;

 private:
  friend struct VersionMetrics::Lease;
  using VersionKey = std::pair<std::string, std::string>;  // (model, version)
  // A version's holders (live VersionMetrics leases) and, once none is
  // left, since when.
  struct Tracked {
    int holders = 0;
    Clock::time_point released{};
  };
  void Release(const VersionKey& key);
  // Adds the counts of the model's series (one version's, or all if
  // `version` is "") to `into`.
  void AddTotals(const std::string& model, const std::string& version, ModelTotals& into) const;

  MetricsRegistry& registry_;
  const Clock::duration unloaded_after_;
  Family<Counter>& requests_;
  Family<Counter>& failures_;
  Family<Histogram>& request_latency_;
  Family<Histogram>& compute_latency_;
  Family<Histogram>& batch_size_;
  Family<Gauge>& inflight_;
  Family<Histogram>& queue_latency_;
  Family<Counter>& http_requests_;
  Family<Counter>& loads_;
  Family<Counter>& unloads_;
  Family<Histogram>& load_duration_;

  // An append-only list caching the counter of each (route, status) pair, so
  // the request path skips the family's mutex and map.
  struct HttpCounterNode {
    std::string route;
    int status;
    Counter* counter;
    HttpCounterNode* next;
  };
  std::atomic<HttpCounterNode*> http_counters_{nullptr};

  // Ordered before the families' own mutexes.
  mutable std::mutex mu_;
  std::map<VersionKey, Tracked> tracked_;           // Guarded by mu_.
  std::map<std::string, ModelTotals> removed_;      // Guarded by mu_: per model.
};

// Tells the ServingMetrics when the last copy of a VersionMetrics goes.
struct VersionMetrics::Lease {
  Lease(ServingMetrics* owner, std::pair<std::string, std::string> key) : owner(owner), key(std::move(key)) {}
  ~Lease() { owner->Release(key); }
  Lease(const Lease&) = delete;
  Lease& operator=(const Lease&) = delete;
  ServingMetrics* owner;
  std::pair<std::string, std::string> key;
};

}  // namespace vigil

#endif  // VIGIL_MONITOR_SERVING_METRICS_H_
