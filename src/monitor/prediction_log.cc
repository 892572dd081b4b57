#include "monitor/prediction_log.h"

#include <pthread.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <limits>
#include <random>

#include "common/json_text.h"
#include "common/memory.h"
#include "common/rfc3339.h"
#include "store/log_segment.h"

namespace vigil {
namespace {

// Bounds of one segment, so that a feedback lookup reads little.
constexpr size_t kMaxSegmentRequests = 4096;
constexpr size_t kMaxSegmentBytes = 4 << 20;
// Buffers of appended segments kept for new ones (each up to a few MiB).
constexpr size_t kMaxSpareBuffers = 4;
// The written records kept for reuse, and the largest kept (a batch of 64
// credit rows is about 5 KiB; larger ones are rare and freed).
constexpr size_t kSpareRecords = 1024;
constexpr size_t kMaxSpareRecordBytes = 16 << 10;

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Appends output `t` as a JSON array with one element per row (its first
// dimension): a value for [N], an array of K values for [N, K].
void AppendOutput(std::string& out, const Tensor& t) {
  const int64_t rows = t.shape()[0];
  const int64_t per_row = rows == 0 ? 0 : t.element_count() / rows;
  out += '[';
  for (int64_t r = 0; r < rows; ++r) {
    if (r) out += ',';
    if (per_row != 1) out += '[';
    for (int64_t j = 0; j < per_row; ++j) {
      if (j) out += ',';
      const int64_t i = r * per_row + j;
      switch (t.type()) {
        case DataType::kBytes: AppendJsonString(out, t.strings()[i]); break;
        case DataType::kFp32: AppendJsonNumber(out, t.values<float>()[i]); break;
        case DataType::kFp64: AppendJsonNumber(out, t.values<double>()[i]); break;
        case DataType::kInt64: AppendJsonNumber(out, t.values<int64_t>()[i]); break;
        case DataType::kInt32: AppendJsonNumber(out, t.values<int32_t>()[i]); break;
        default: out += "null"; break;
      }
    }
    if (per_row != 1) out += ']';
  }
  out += ']';
}

// The model's score for each of `rows` rows: its first probability or
// prediction output (for K classes, the largest probability); NaN without one.
void Scores(const ModelConfig& config, const std::vector<Tensor>& outputs, int64_t rows, std::vector<float>& scores) {
  scores.assign(rows, std::numeric_limits<float>::quiet_NaN());
  for (const OutputSpec& spec : config.outputs) {
    if (spec.kind != OutputKind::kProbability && spec.kind != OutputKind::kPrediction) continue;
    for (const Tensor& t : outputs) {
      if (t.name() != spec.name || t.type() != DataType::kFp32 || t.shape().empty() || t.shape()[0] != rows) continue;
      const int64_t per_row = rows > 0 ? t.element_count() / rows : 0;
      for (int64_t r = 0; r < rows && per_row > 0; ++r) {
        const float* v = t.values<float>().data() + r * per_row;
        scores[r] = *std::max_element(v, v + per_row);
      }
      return;
    }
  }
}

LogSchema SchemaOf(const ModelConfig& config) {
  LogSchema schema;
  for (const FeatureSpec& f : config.features) {
    schema.features.push_back({f.name, f.kind == FeatureKind::kCategorical, f.categories});
  }
  return schema;
}

}  // namespace

PredictionLog::PredictionLog(Store& store, PredictionLogOptions options, MetricsRegistry& registry,
                             DriftMonitor* monitor)
    : store_(store),
      options_(options),
      monitor_(monitor),
      queue_(std::clamp<size_t>(options.queue_capacity, 1, 65534)),
      spare_records_(kSpareRecords),
      dropped_(registry
                   .AddCounter("vigil_prediction_log_dropped_total",
                               "Inference records dropped because the prediction log's queue was full", {})
                   .WithLabels({})),
      written_(registry
                   .AddCounter("vigil_prediction_log_written_total", "Inference requests written to the prediction log", {})
                   .WithLabels({})),
      write_errors_(registry
                        .AddCounter("vigil_prediction_log_write_errors_total",
                                    "Batches of the prediction log the store refused (their rows are lost)", {})
                        .WithLabels({})),
      duplicate_ids_(registry
                         .AddCounter("vigil_prediction_log_duplicate_ids_total",
                                     "Requests logged with an id their model had already logged (feedback by that "
                                     "id goes to the first)",
                                     {})
                         .WithLabels({})),
      pruned_(registry
                  .AddCounter("vigil_prediction_log_pruned_total",
                              "Logged requests deleted by the retention (age and count)", {})
                  .WithLabels({})),
      depth_(registry
                 .AddGauge("vigil_prediction_log_queue_depth", "Inference records waiting for the log's writer", {})
                 .WithLabels({})) {
  writer_ = std::thread([this] { Run(); });
  pthread_setname_np(writer_.native_handle(), "vigil-log");
  retention_ = std::thread([this] { Retain(); });
  pthread_setname_np(retention_.native_handle(), "vigil-retention");
}

PredictionLog::~PredictionLog() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  retention_.join();
  writer_.join();
  PredictionRecord* spare;
  while (spare_records_.pop(spare)) delete spare;
}

void PredictionLog::Retain() {
  std::unique_lock lock(mu_);
  for (;;) {
    wake_.wait_for(lock, options_.prune_interval, [&] { return stopping_; });
    if (stopping_) return;
    lock.unlock();
    const int64_t before = NowMs() - std::chrono::duration_cast<std::chrono::milliseconds>(options_.retention).count();
    auto pruned = store_.PrunePredictions(before, options_.max_requests, options_.max_windows);
    if (pruned.ok()) {
      pruned_.Increment(static_cast<double>(*pruned));
      if (*pruned > 0) ReturnFreeMemory();
    } else {
      spdlog::error("prediction log retention: {}", pruned.status().ToString());
    }
    lock.lock();
  }
}

bool PredictionLog::Sampled() const {
  if (options_.sample_rate >= 1.0) return true;
  if (options_.sample_rate <= 0.0) return false;
  thread_local std::minstd_rand rng(std::random_device{}());
  return std::uniform_real_distribution<double>(0.0, 1.0)(rng) < options_.sample_rate;
}

bool PredictionLog::Record(std::shared_ptr<const ModelConfig> config, int64_t version, std::string_view request_id,
                           bool client_id, int64_t time_ms, std::string_view route, const Tensor& features,
                           std::span<const int64_t> unseen, const std::vector<Tensor>& outputs) {
  PredictionRecord* spare = nullptr;
  std::unique_ptr<PredictionRecord> record(spare_records_.pop(spare) ? spare : new PredictionRecord);
  Encode(std::move(config), version, request_id, client_id, time_ms, route, features, unseen, outputs, record.get());
  return Record(std::move(record));
}

bool PredictionLog::Record(std::unique_ptr<PredictionRecord> record) {
  // Counted before the push, so that a Flush() that follows this call (on
  // any thread) waits for this record.
  queued_.fetch_add(1, std::memory_order_acq_rel);
  if (!queue_.bounded_push(record.get())) {
    queued_.fetch_sub(1, std::memory_order_acq_rel);
    dropped_.Increment();
    return false;
  }
  record.release();  // The writer owns it now.
  depth_.Add(1);
  return true;
}

bool PredictionLog::Flush(std::chrono::milliseconds timeout) {
  const int64_t target = queued_.load(std::memory_order_acquire);
  std::unique_lock lock(mu_);
  if (handled_.load(std::memory_order_acquire) >= target) return true;
  flush_requested_ = true;
  wake_.notify_all();
  return handled_cv_.wait_for(lock, timeout, [&] { return handled_.load(std::memory_order_acquire) >= target; });
}

std::unique_ptr<PredictionRecord> PredictionLog::MakeRecord(std::shared_ptr<const ModelConfig> config,
                                                            int64_t version, std::string_view request_id,
                                                            bool client_id, int64_t time_ms, std::string_view route,
                                                            const Tensor& features, std::span<const int64_t> unseen,
                                                            const std::vector<Tensor>& outputs) {
  auto record = std::make_unique<PredictionRecord>();
  Encode(std::move(config), version, request_id, client_id, time_ms, route, features, unseen, outputs, record.get());
  return record;
}

void PredictionLog::Encode(std::shared_ptr<const ModelConfig> config, int64_t version, std::string_view request_id,
                           bool client_id, int64_t time_ms, std::string_view route, const Tensor& features,
                           std::span<const int64_t> unseen, const std::vector<Tensor>& outputs,
                           PredictionRecord* record) {
  const int64_t rows = features.shape().size() == 2 ? features.shape()[0] : 0;
  thread_local std::vector<float> scores;
  Scores(*config, outputs, rows, scores);
  EncodeLogRecord(request_id, client_id, time_ms, route, features, scores, unseen, outputs, &record->data);
  record->config = std::move(config);
  record->version = version;
  record->time_ms = time_ms;
}

void PredictionLog::Recycle(std::unique_ptr<PredictionRecord> record) {
  if (record->data.capacity() > kMaxSpareRecordBytes) return;
  record->config.reset();
  if (spare_records_.bounded_push(record.get())) record.release();
}

void PredictionLog::FromStored(const ModelConfig& config, const StoredPrediction& stored, Tensor* features,
                               std::vector<float>* scores) {
  const int64_t rows = stored.rows;
  const int64_t f = static_cast<int64_t>(config.features.size());
  *features = Tensor("input", DataType::kFp32, {rows, f});
  float* x = features->values<float>().data();
  std::fill(x, x + rows * f, std::numeric_limits<float>::quiet_NaN());
  const int64_t stored_f = stored.features.shape().size() == 2 ? stored.features.shape()[1] : 0;
  const float* in = stored.features.values<float>().data();
  for (int64_t j = 0; j < f; ++j) {
    const FeatureSpec& spec = config.features[j];
    // The stored column of the same name (usually at the same position).
    int64_t from = -1;
    if (stored.schema) {
      const auto& logged = stored.schema->features;
      if (j < std::ssize(logged) && logged[j].name == spec.name) {
        from = j;
      } else {
        for (int64_t k = 0; k < std::ssize(logged) && from < 0; ++k) {
          if (logged[k].name == spec.name) from = k;
        }
      }
    }
    if (from < 0 || from >= stored_f) continue;
    const LogSchema::Feature& logged = stored.schema->features[from];
    const bool same_codes = logged.categories == spec.categories;
    for (int64_t r = 0; r < rows; ++r) {
      float v = in[r * stored_f + from];
      if (spec.kind == FeatureKind::kCategorical && !same_codes && !std::isnan(v)) {
        // The logged code's name, in this configuration's codes.
        const int code = v >= 0 && v < static_cast<float>(logged.categories.size())
                             ? spec.CategoryCode(logged.categories[static_cast<size_t>(v)])
                             : -1;
        v = code >= 0 ? static_cast<float>(code) : std::numeric_limits<float>::quiet_NaN();
      }
      x[r * f + j] = v;
    }
  }
  *scores = stored.scores;
  scores->resize(static_cast<size_t>(rows), std::numeric_limits<float>::quiet_NaN());
}

std::string PredictionLog::ToJson(const StoredPrediction& p, std::span<const LabeledPrediction> feedback) {
  std::string out = "{\"id\":";
  AppendJsonString(out, p.request_id);
  out += ",\"model\":";
  AppendJsonString(out, p.model);
  out += ",\"version\":" + std::to_string(p.version) + ",\"time\":";
  AppendJsonString(out, FormatRfc3339(p.time_ms));
  out += ",\"route\":";
  AppendJsonString(out, p.route);
  // Columns, as the v2 per-feature input form: {"Age": [30, 41], ...}.
  out += ",\"inputs\":{";
  const int64_t rows = p.rows;
  const int64_t f = p.features.shape().size() == 2 ? p.features.shape()[1] : 0;
  const float* x = p.features.values<float>().data();
  for (int64_t j = 0; j < f; ++j) {
    if (j) out += ',';
    const LogSchema::Feature* spec = p.schema && j < std::ssize(p.schema->features) ? &p.schema->features[j] : nullptr;
    AppendJsonString(out, spec ? spec->name : "f" + std::to_string(j));
    out += ":[";
    for (int64_t r = 0; r < rows; ++r) {
      if (r) out += ',';
      const float v = x[r * f + j];
      if (spec && spec->categorical && v >= 0 && v < static_cast<float>(spec->categories.size())) {
        AppendJsonString(out, spec->categories[static_cast<size_t>(v)]);  // The code the model saw back to its name.
      } else {
        AppendJsonNumber(out, v);  // NaN: null.
      }
    }
    out += ']';
  }
  out += "},\"outputs\":{";
  bool first = true;
  for (const Tensor& t : p.outputs) {
    if (t.shape().empty() || t.shape()[0] != rows) continue;
    if (!first) out += ',';
    first = false;
    AppendJsonString(out, t.name());
    out += ':';
    AppendOutput(out, t);
  }
  out += '}';
  if (!p.unseen.empty() && f > 0) {
    out += ",\"unseen_categories\":[";
    for (size_t i = 0; i < p.unseen.size(); ++i) {
      const int64_t j = p.unseen[i] % f;
      out += (i ? ",[" : "[") + std::to_string(p.unseen[i] / f) + ',';
      AppendJsonString(out, p.schema && j < std::ssize(p.schema->features) ? p.schema->features[j].name
                                                                           : "f" + std::to_string(j));
      out += ']';
    }
    out += ']';
  }
  if (!feedback.empty()) {
    out += ",\"feedback\":[";
    for (size_t i = 0; i < feedback.size(); ++i) {
      // The label is stored as JSON text (a class name or a number).
      out += (i ? ",{\"row\":" : "{\"row\":") + std::to_string(feedback[i].row) + ",\"label\":" + feedback[i].label +
             "}";
    }
    out += ']';
  }
  out += '}';
  return out;
}

size_t PredictionLog::Drain() {
  std::vector<std::unique_ptr<PredictionRecord>> records;
  PredictionRecord* raw;
  while (queue_.pop(raw)) records.emplace_back(raw);
  if (records.empty()) return 0;
  depth_.Add(-static_cast<double>(records.size()));
  // By model version (a model has one or two serving at a time), in arrival
  // order within each.
  std::stable_sort(records.begin(), records.end(), [](const auto& a, const auto& b) {
    if (a->config.get() != b->config.get()) return std::less<>()(a->config.get(), b->config.get());
    if (a->version != b->version) return a->version < b->version;
    return a->time_ms < b->time_ms;
  });
  const auto now = std::chrono::steady_clock::now();
  OpenSegment* open = nullptr;
  for (const std::unique_ptr<PredictionRecord>& record : records) {
    const PredictionRecord& r = *record;
    LogRecordHeader h;
    if (!ReadLogRecordHeader(r.data, &h).ok()) {  // Cannot happen: MakeRecord wrote it.
      ++unwritten_;
      continue;
    }
    if (!open || open->config != r.config || open->segment.version != r.version) {
      auto [it, added] = open_.try_emplace({r.config.get(), r.version});
      open = &it->second;
      if (added) {
        // A new segment reuses a buffer an appended one left. (Its string
        // is empty but not capacity 0, the small-string buffer: the test
        // must be "new", or the spares pile up, a buffer per segment.)
        if (!spare_buffers_.empty()) {
          open->buffer = std::move(spare_buffers_.back());
          spare_buffers_.pop_back();
        }
        Open(open, r, now);
      }
    }
    // A segment holds one version, spans at most kLogSegmentMaxSpanMs and
    // stays small enough to read whole for one feedback lookup.
    LogSegment& segment = open->segment;
    if (segment.requests >= static_cast<int64_t>(kMaxSegmentRequests) || open->bytes >= kMaxSegmentBytes ||
        std::max(segment.last_ms, r.time_ms) - std::min(segment.first_ms, r.time_ms) > kLogSegmentMaxSpanMs) {
      Append(open);
      Open(open, r, now);
    }
    // Feedback by the client's id labels the answer it got, never a shadow's copy.
    if (h.client_id && h.route != "shadow") {
      segment.client_ids.push_back({std::string(h.request_id), open->builder->records(), h.rows});
    }
    open->builder->Add(r.data);
    open->bytes += r.data.size();
    segment.first_ms = std::min(segment.first_ms, r.time_ms);
    segment.last_ms = std::max(segment.last_ms, r.time_ms);
    ++segment.requests;
    segment.rows += h.rows;
    if (monitor_) {
      features_.resize(static_cast<size_t>(h.rows * h.features));
      scores_.resize(static_cast<size_t>(h.rows));
      unseen_.resize(h.unseen_count);
      std::memcpy(features_.data(), h.feature_data, features_.size() * sizeof(float));
      std::memcpy(scores_.data(), h.score_data, scores_.size() * sizeof(float));
      for (uint32_t i = 0; i < h.unseen_count; ++i) {
        uint32_t cell;
        std::memcpy(&cell, h.unseen_data + 4 * i, 4);
        unseen_[i] = cell;
      }
      monitor_->Observe(r.config, r.version, r.time_ms, features_.data(), h.rows, h.features, scores_, unseen_);
    }
  }
  const size_t drained = records.size();
  for (std::unique_ptr<PredictionRecord>& record : records) Recycle(std::move(record));
  return drained;
}

void PredictionLog::Open(OpenSegment* open, const PredictionRecord& first, std::chrono::steady_clock::time_point now) {
  open->config = first.config;
  open->segment = LogSegment();
  open->segment.model = first.config->name;
  open->segment.version = first.version;
  open->segment.first_ms = open->segment.last_ms = first.time_ms;
  open->bytes = 0;
  open->opened = now;
  open->builder = std::make_unique<LogSegmentBuilder>(SchemaOf(*first.config), &open->buffer);
}

void PredictionLog::Append(OpenSegment* open) {
  LogSegment& segment = open->segment;
  if (segment.requests == 0) return;
  segment.data = open->builder->Finish();
  if (auto ignored = store_.AppendLogSegment(segment); !ignored.ok()) {
    write_errors_.Increment();
    spdlog::error("prediction log: {} requests lost: {}", segment.requests, ignored.status().ToString());
  } else {
    written_.Increment(static_cast<double>(segment.requests));
    duplicate_ids_.Increment(static_cast<double>(*ignored));
  }
  handled_.fetch_add(segment.requests, std::memory_order_release);
  segment.requests = 0;
}

void PredictionLog::AppendDue(bool all) {
  const auto now = std::chrono::steady_clock::now();
  for (auto it = open_.begin(); it != open_.end();) {
    OpenSegment& open = it->second;
    if (!all && now - open.opened < options_.flush_interval) {
      ++it;
      continue;
    }
    Append(&open);
    // The buffer (megabytes at large batches) is kept for the next segment:
    // a fresh one costs a page fault per 4 KiB.
    open.builder.reset();
    open.buffer.clear();
    if (spare_buffers_.size() < kMaxSpareBuffers) spare_buffers_.push_back(std::move(open.buffer));
    it = open_.erase(it);
  }
  // Records that could not be read count as handled, so that a flush waiting
  // on them returns.
  handled_.fetch_add(unwritten_, std::memory_order_release);
  unwritten_ = 0;
  std::lock_guard lock(mu_);
  handled_cv_.notify_all();
}

void PredictionLog::Run() {
  for (;;) {
    bool flush, stopping;
    {
      std::unique_lock lock(mu_);
      wake_.wait_for(lock, options_.flush_interval, [&] { return stopping_ || flush_requested_; });
      flush = flush_requested_;
      flush_requested_ = false;
      stopping = stopping_;
    }
    // Records are taken off the queue as they come, which keeps the
    // request threads' memory in use short-lived, and go into segments that
    // are appended once they have been open for an interval (or are full):
    // one write and one row per interval and version, whatever the rate.
    // A flush or the end appends everything at once.
    while (Drain() > 0) AppendDue(false);
    AppendDue(flush || stopping);
    if (monitor_) monitor_->Tick(NowMs());
    if (stopping) return;
  }
}

}  // namespace vigil
