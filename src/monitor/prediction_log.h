// PredictionLog: the tap from the request path into the store.
//
// After a successful inference the HTTP edge hands the request's features
// (the [N, F] matrix the model saw) and outputs to Record(), which only
// pushes a pointer onto a bounded lock-free queue: the request never waits
// on formatting or disk. A background writer drains the queue every
// `flush_interval` (or at once when Flush() asks), turns each request into a
// StoredPrediction (inputs as columns of raw values by feature name:
// category names, null for missing) and appends the batch to the store in
// one transaction.
// When the queue is full the record is dropped and counted, never the
// request. The writer also applies the retention (age and row count).
//
// Metrics: vigil_prediction_log_dropped_total, _written_total (requests),
// _duplicate_ids_total, _write_errors_total, _pruned_total, and the queue
// depth gauge.
//
// Thread-safety: Sampled(), Record() and Flush() are thread-safe.
#ifndef VIGIL_MONITOR_PREDICTION_LOG_H_
#define VIGIL_MONITOR_PREDICTION_LOG_H_

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <boost/lockfree/queue.hpp>

#include "common/tensor.h"
#include "monitor/drift_monitor.h"
#include "monitor/metrics.h"
#include "repository/model_config.h"
#include "store/store.h"

namespace vigil {

struct PredictionLogOptions {
  double sample_rate = 1.0;          // Share of requests logged, in [0, 1].
  size_t queue_capacity = 16384;     // Requests waiting for the writer (at most 65534).
  std::chrono::milliseconds flush_interval{100};
  std::chrono::hours retention{24 * 30};  // Age beyond which predictions are deleted.
  int64_t max_requests = 10'000'000;  // Requests kept at most (0: no limit).
  std::chrono::seconds prune_interval{60};
};

// One inference request as logged.
struct PredictionRecord {
  std::shared_ptr<const ModelConfig> config;
  int64_t version = 0;
  std::string request_id;
  int64_t time_ms = 0;
  const char* route = "champion";
  Tensor features;               // FP32 [N, F], NaN for missing.
  std::vector<int64_t> unseen_categories;  // Cells of `features` that held an unseen category.
  std::vector<Tensor> outputs;   // As answered, first dimension N.
};

class PredictionLog {
 public:
  // `monitor` (may be null) also sees every logged request, from the writer.
  PredictionLog(Store& store, PredictionLogOptions options, MetricsRegistry& registry,
                DriftMonitor* monitor = nullptr);
  // Writes what is queued, then stops the writer.
  ~PredictionLog();
  PredictionLog(const PredictionLog&) = delete;
  PredictionLog& operator=(const PredictionLog&) = delete;

  // Whether this request is to be logged (the sample rate's draw).
  bool Sampled() const;
  // Queues `record`; false if the queue was full and it was dropped.
  bool Record(std::unique_ptr<PredictionRecord> record);
  // Waits until every record queued before the call is in the store, at
  // most `timeout`; false on timeout.
  bool Flush(std::chrono::milliseconds timeout);

  // `record` as the store keeps it (exposed for tests).
  static StoredPrediction ToStored(const PredictionRecord& record);
  // The inverse, for reading the log back: the stored request's features as
  // the model saw them (FP32 [N, F] in `config`'s order, category codes, NaN
  // for missing or unknown values) and its scores (the first probability or
  // prediction output; for K classes the largest; NaN without one).
  // INVALID_ARGUMENT if the stored JSON is not the log's.
  static Status FromStored(const ModelConfig& config, const StoredPrediction& stored, Tensor* features,
                           std::vector<float>* scores);

 private:
  void Run();
  // Pops everything queued, writes it; returns the number of records.
  size_t Drain();

  Store& store_;
  const PredictionLogOptions options_;
  DriftMonitor* monitor_;
  boost::lockfree::queue<PredictionRecord*, boost::lockfree::fixed_sized<true>> queue_;
  std::atomic<int64_t> queued_{0};   // Records pushed, ever.
  std::atomic<int64_t> handled_{0};  // Records written (or failed), ever.
  Counter& dropped_;
  Counter& written_;
  Counter& write_errors_;
  Counter& duplicate_ids_;
  Counter& pruned_;
  Gauge& depth_;

  std::mutex mu_;
  std::condition_variable wake_;     // The writer waits here.
  std::condition_variable handled_cv_;
  bool flush_requested_ = false;
  bool stopping_ = false;
  std::thread writer_;
  // Retention runs on its own thread: deleting millions of rows takes
  // seconds, and the writer must keep draining the queue meanwhile.
  void Retain();
  std::thread retention_;
};

}  // namespace vigil

#endif  // VIGIL_MONITOR_PREDICTION_LOG_H_
