// ServingMetrics: the Prometheus families that describe serving.
//
// One instance per server, created at start and shared by the HTTP edge, the
// inference path and the model manager. Per-version children are looked up
// once, when a version is loaded (VersionMetrics), so the request path only
// touches atomics. Names and buckets are documented in docs/metrics.md.
//
// Thread-safety: thread-safe (see metrics.h).
#ifndef VIGIL_MONITOR_SERVING_METRICS_H_
#define VIGIL_MONITOR_SERVING_METRICS_H_

#include <atomic>
#include <string>
#include <string_view>

#include "monitor/metrics.h"

namespace vigil {

// The children of one model version, resolved once.
struct VersionMetrics {
  Counter* requests = nullptr;          // Successful inference requests.
  Histogram* request_latency = nullptr;  // Seconds, decode to encode.
  Histogram* compute_latency = nullptr;  // Seconds inside the backend.
  Histogram* batch_size = nullptr;      // Rows per request.
  Gauge* inflight = nullptr;            // Requests holding this version now.
};

class ServingMetrics {
 public:
  explicit ServingMetrics(MetricsRegistry& registry);
  ~ServingMetrics();
  ServingMetrics(const ServingMetrics&) = delete;
  ServingMetrics& operator=(const ServingMetrics&) = delete;

  VersionMetrics ForVersion(const std::string& model, const std::string& version);
  // Counts a failed inference request of a known model; `version` may be ""
  // when none could be chosen. `reason` is a StatusCode name in lower case.
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
  // take differences between two calls).
  struct ModelTotals {
    double requests = 0;  // Answered successfully.
    double failures = 0;  // Failed on the server's side (not invalid_argument or not_found).
    std::vector<uint64_t> latency_buckets;  // Per bucket of LatencyBucketsSeconds(), +Inf last.
    std::vector<uint64_t> compute_buckets;  // The same for the time inside the backend.
  };
  ModelTotals Totals(const std::string& model, const std::string& version = "") const;

 private:
  MetricsRegistry& registry_;
  Family<Counter>& requests_;
  Family<Counter>& failures_;
  Family<Histogram>& request_latency_;
  Family<Histogram>& compute_latency_;
  Family<Histogram>& batch_size_;
  Family<Gauge>& inflight_;
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
};

}  // namespace vigil

#endif  // VIGIL_MONITOR_SERVING_METRICS_H_
