// Metrics: counters, gauges and histograms, rendered in the Prometheus text
// exposition format (version 0.0.4).
//
// No packaged C++ Prometheus client exists in Debian 12, so Vigil keeps its
// own small one. A metric family has a name, help text, type and label names;
// each distinct label-value tuple is a child whose address stays valid for the
// registry's lifetime, so the request path looks a child up once (when a
// model version is published) and then only touches atomics.
//
// Thread-safety: everything here is thread-safe. Updating a child is lock-free
// (relaxed atomics); creating a child and rendering take the family's mutex.
#ifndef VIGIL_MONITOR_METRICS_H_
#define VIGIL_MONITOR_METRICS_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace vigil {

class Counter {
 public:
  void Increment(double by = 1.0) { value_.fetch_add(by, std::memory_order_relaxed); }
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0.0};
};

class Gauge {
 public:
  void Set(double v) { value_.store(v, std::memory_order_relaxed); }
  void Add(double by) { value_.fetch_add(by, std::memory_order_relaxed); }
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0.0};
};

// A histogram with fixed upper bounds (the "le" labels); +Inf is implied.
class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds);
  void Observe(double v);

  const std::vector<double>& bounds() const { return bounds_; }
  // Per-bucket (not cumulative) counts; the last entry is the +Inf bucket.
  std::vector<uint64_t> BucketCounts() const;
  uint64_t count() const { return count_.load(std::memory_order_relaxed); }
  double sum() const { return sum_.load(std::memory_order_relaxed); }

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> buckets_;
  std::atomic<uint64_t> count_{0};
  std::atomic<double> sum_{0.0};
};

// Bucket bounds used by Vigil's latency histograms, in seconds: 50 us to 10 s.
const std::vector<double>& LatencyBucketsSeconds();
// Prometheus's histogram_quantile over bucket counts (`counts` has one more
// entry than `bounds`: +Inf): linear within the bucket that holds the rank;
// the +Inf bucket answers with the largest finite bound. NaN without counts.
double HistogramQuantile(const std::vector<double>& bounds, const std::vector<uint64_t>& counts, double q);
// Bucket bounds for batch sizes: 1, 2, 4, ..., 1024, 4096, 16384.
const std::vector<double>& BatchSizeBuckets();

enum class MetricType { kCounter, kGauge, kHistogram };

// A named family of children of one type, keyed by label values.
template <typename T>
class Family {
 public:
  Family(std::string name, std::string help, std::vector<std::string> label_names,
         std::vector<double> bounds = {})
      : name_(std::move(name)), help_(std::move(help)),
        label_names_(std::move(label_names)), bounds_(std::move(bounds)) {}

  // The child for `label_values` (one per label name), created on first use.
  // The reference stays valid as long as the family.
  T& WithLabels(const std::vector<std::string>& label_values);
  // Drops a child, e.g. a version that no longer exists. References to it
  // held elsewhere become dangling: only call it for children nobody holds.
  void Remove(const std::vector<std::string>& label_values);
  // Drops every child whose label values satisfy `match`, with the same
  // caveat.
  void RemoveIf(const std::function<bool(const std::vector<std::string>&)>& match);

  const std::string& name() const { return name_; }
  void Render(std::string& out) const;
  // Calls `fn(label_values, child)` for every child, under the family's lock.
  void ForEach(const std::function<void(const std::vector<std::string>&, const T&)>& fn) const;

 private:
  std::string name_;
  std::string help_;
  std::vector<std::string> label_names_;
  std::vector<double> bounds_;
  mutable std::mutex mu_;
  // Guarded by mu_.
  std::map<std::vector<std::string>, std::unique_ptr<T>> children_;
};

// The registry owns families and renders them, followed by the output of
// collectors (functions that write whole families at scrape time, such as
// process metrics or the set of loaded versions).
class MetricsRegistry {
 public:
  using Collector = std::function<void(std::string& out)>;

  Family<Counter>& AddCounter(std::string name, std::string help,
                              std::vector<std::string> label_names);
  Family<Gauge>& AddGauge(std::string name, std::string help,
                          std::vector<std::string> label_names);
  Family<Histogram>& AddHistogram(std::string name, std::string help,
                                  std::vector<std::string> label_names,
                                  std::vector<double> bounds);
  void AddCollector(Collector collector);

  // The whole exposition text.
  std::string Render() const;

 private:
  mutable std::mutex mu_;
  // Guarded by mu_. Families are never removed.
  std::vector<std::unique_ptr<Family<Counter>>> counters_;
  std::vector<std::unique_ptr<Family<Gauge>>> gauges_;
  std::vector<std::unique_ptr<Family<Histogram>>> histograms_;
  std::vector<Collector> collectors_;
};

// Text-format helpers for collectors.
// Escapes a label value (backslash, double quote, newline).
std::string EscapeLabelValue(std::string_view value);
// "# HELP name help\n# TYPE name type\n".
void WriteFamilyHeader(std::string& out, std::string_view name, std::string_view help,
                       std::string_view type);
// `name{l1="v1",...} value\n`; no braces when there are no labels.
void WriteSample(std::string& out, std::string_view name,
                 const std::vector<std::string>& label_names,
                 const std::vector<std::string>& label_values, double value);
// A number as Prometheus expects it: shortest round-trip form, +Inf, -Inf, NaN.
std::string FormatValue(double value);

// Adds the standard process metrics (process_cpu_seconds_total,
// process_resident_memory_bytes, process_virtual_memory_bytes,
// process_open_fds, process_max_fds, process_start_time_seconds), read from
// /proc at scrape time.
void AddProcessCollector(MetricsRegistry& registry);

}  // namespace vigil

#endif  // VIGIL_MONITOR_METRICS_H_
