// PredictionLog: the tap from the request path into the store.
//
// After a successful inference the HTTP edge encodes the request (the [N, F]
// matrix the model saw, its scores and outputs; store/log_segment.h) with
// Record(), which only pushes a pointer onto a bounded lock-free queue: the
// request never waits on the store. Records go back to the request threads
// through a second queue once written, so a request at a steady rate
// allocates nothing for the log (and the writer frees nothing that another
// thread allocated). A
// background writer takes records off the queue as they come (waking at
// least every `flush_interval`, and at once when Flush() asks), counts each
// request into the drift windows, and adds it to its model version's open
// segment, which is appended to the store once it has been open for
// `flush_interval` or is full (a flush appends them all).
// When the queue is full the record is dropped and counted, never the
// request. Retention (age and count) runs on its own thread.
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
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
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
  int64_t max_windows = 100'000;      // Closed monitoring windows kept at most, all versions (0: no limit).
  std::chrono::seconds prune_interval{60};
};

// One inference request on its way to the log.
struct PredictionRecord {
  std::shared_ptr<const ModelConfig> config;
  int64_t version = 0;
  int64_t time_ms = 0;  // When the request arrived.
  std::string data;     // EncodeLogRecord's bytes.
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
  // Encodes the request as MakeRecord() does, into a record the writer has
  // finished with when there is one, and queues it; false if the queue was
  // full and it was dropped.
  bool Record(std::shared_ptr<const ModelConfig> config, int64_t version, std::string_view request_id,
              bool client_id, int64_t time_ms, std::string_view route, const Tensor& features,
              std::span<const int64_t> unseen, const std::vector<Tensor>& outputs);
  // Queues `record`; false if the queue was full and it was dropped.
  bool Record(std::unique_ptr<PredictionRecord> record);
  // Waits until every record queued before the call is in the store, at
  // most `timeout`; false on timeout.
  bool Flush(std::chrono::milliseconds timeout);

  // The record of a request: `features` FP32 [N, F] as the model saw it
  // (NaN for missing), `unseen` the cells that held an unseen category,
  // `outputs` as answered. `client_id`: the client chose `request_id`. The
  // score per row is the first probability or prediction output (for K
  // classes the largest), NaN without one.
  static std::unique_ptr<PredictionRecord> MakeRecord(std::shared_ptr<const ModelConfig> config, int64_t version,
                                                      std::string_view request_id, bool client_id, int64_t time_ms,
                                                      std::string_view route, const Tensor& features,
                                                      std::span<const int64_t> unseen,
                                                      const std::vector<Tensor>& outputs);
  // Reading the log back: the stored request's features in `config`'s
  // order (FP32 [N, F], category codes of `config`, NaN for missing or
  // unknown values; matched by name, so a version with other features
  // reads too) and its scores.
  static void FromStored(const ModelConfig& config, const StoredPrediction& stored, Tensor* features,
                         std::vector<float>* scores);
  // The request as one line of JSON (`vigil log`): id, model, version,
  // time (RFC 3339), route, inputs (a column per feature as in the v2
  // per-feature form: raw values, category names, null for missing),
  // outputs (a column per output, an array per row for per-class outputs),
  // and, when any, unseen_categories: [row, feature] of each null that was
  // a category the model had not seen, and feedback: {row, label} per
  // labelled row (`feedback`: the LabeledPredictions of this request).
  static std::string ToJson(const StoredPrediction& stored, std::span<const LabeledPrediction> feedback = {});

 private:
  // A segment being filled, per model version (the writer's).
  struct OpenSegment {
    std::shared_ptr<const ModelConfig> config;
    LogSegment segment;  // Its requests, ids and times so far.
    std::string buffer;  // Its bytes.
    std::unique_ptr<LogSegmentBuilder> builder;
    size_t bytes = 0;
    std::chrono::steady_clock::time_point opened;
  };
  static void Encode(std::shared_ptr<const ModelConfig> config, int64_t version, std::string_view request_id,
                     bool client_id, int64_t time_ms, std::string_view route, const Tensor& features,
                     std::span<const int64_t> unseen, const std::vector<Tensor>& outputs, PredictionRecord* record);
  // Returns a written record to the request threads, or frees it.
  void Recycle(std::unique_ptr<PredictionRecord> record);
  void Run();
  // Pops everything queued into the open segments (appending those that
  // fill up) and the drift windows; returns the number of records.
  size_t Drain();
  void Open(OpenSegment* open, const PredictionRecord& first, std::chrono::steady_clock::time_point now);
  // Appends `open`'s requests to the store, and counts them handled.
  void Append(OpenSegment* open);
  // Appends the segments open for an interval, or all of them.
  void AppendDue(bool all);

  Store& store_;
  const PredictionLogOptions options_;
  DriftMonitor* monitor_;
  // The writer's.
  std::map<std::pair<const ModelConfig*, int64_t>, OpenSegment> open_;
  std::vector<std::string> spare_buffers_;
  std::vector<float> features_, scores_;
  std::vector<int64_t> unseen_;
  int64_t unwritten_ = 0;  // Records drained that could not be read.
  boost::lockfree::queue<PredictionRecord*, boost::lockfree::fixed_sized<true>> queue_;
  // Written records, for Record() to fill again (bounded in number and in
  // the size of each, so the pool holds at most a few MiB).
  boost::lockfree::queue<PredictionRecord*, boost::lockfree::fixed_sized<true>> spare_records_;
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
