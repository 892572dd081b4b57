#include "monitor/prediction_log.h"

#include <pthread.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>
#include <random>

#include "common/json_text.h"

namespace vigil {
namespace {

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

// The model's score for each row of `record`: its first probability or
// prediction output (for K classes, the largest probability); NaN without one.
std::vector<float> Scores(const PredictionRecord& record) {
  const int64_t rows = record.features.shape().empty() ? 0 : record.features.shape()[0];
  std::vector<float> scores(rows, std::numeric_limits<float>::quiet_NaN());
  for (const OutputSpec& spec : record.config->outputs) {
    if (spec.kind != OutputKind::kProbability && spec.kind != OutputKind::kPrediction) continue;
    for (const Tensor& t : record.outputs) {
      if (t.name() != spec.name || t.type() != DataType::kFp32 || t.shape().empty() || t.shape()[0] != rows) continue;
      const int64_t per_row = rows > 0 ? t.element_count() / rows : 0;
      for (int64_t r = 0; r < rows && per_row > 0; ++r) {
        const float* v = t.values<float>().data() + r * per_row;
        scores[r] = *std::max_element(v, v + per_row);
      }
      return scores;
    }
  }
  return scores;
}

}  // namespace

PredictionLog::PredictionLog(Store& store, PredictionLogOptions options, MetricsRegistry& registry,
                             DriftMonitor* monitor)
    : store_(store),
      options_(options),
      monitor_(monitor),
      queue_(std::clamp<size_t>(options.queue_capacity, 1, 65534)),
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
                                     "Requests not logged because their model already has a logged request with "
                                     "the same id (feedback by that id goes to the first)",
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
}

void PredictionLog::Retain() {
  std::unique_lock lock(mu_);
  for (;;) {
    wake_.wait_for(lock, options_.prune_interval, [&] { return stopping_; });
    if (stopping_) return;
    lock.unlock();
    const int64_t before = NowMs() - std::chrono::duration_cast<std::chrono::milliseconds>(options_.retention).count();
    auto pruned = store_.PrunePredictions(before, options_.max_requests);
    if (pruned.ok()) {
      pruned_.Increment(static_cast<double>(*pruned));
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

StoredPrediction PredictionLog::ToStored(const PredictionRecord& record) {
  const ModelConfig& config = *record.config;
  const int64_t rows = record.features.shape().size() == 2 ? record.features.shape()[0] : 0;
  const int64_t f = record.features.shape().size() == 2 ? record.features.shape()[1] : 0;
  StoredPrediction p;
  p.model = config.name;
  p.request_id = record.request_id;
  p.version = record.version;
  p.time_ms = record.time_ms;
  p.route = record.route;
  p.rows = rows;
  // Columns, as the v2 per-feature input form: {"Age": [30, 41], ...}.
  std::string& in = p.inputs;
  in.reserve(static_cast<size_t>(f) * (16 + 8 * static_cast<size_t>(rows)) + 2);
  in += '{';
  const float* x = rows > 0 ? record.features.values<float>().data() : nullptr;
  for (int64_t j = 0; j < f; ++j) {
    if (j) in += ',';
    const FeatureSpec* spec = j < static_cast<int64_t>(config.features.size()) ? &config.features[j] : nullptr;
    AppendJsonString(in, spec ? spec->name : "f" + std::to_string(j));
    in += ":[";
    const bool categorical = spec && spec->kind == FeatureKind::kCategorical;
    for (int64_t r = 0; r < rows; ++r) {
      if (r) in += ',';
      const float v = x[r * f + j];
      if (categorical && v >= 0 && v < static_cast<float>(spec->categories.size())) {
        AppendJsonString(in, spec->categories[static_cast<size_t>(v)]);  // The code the model saw back to its name.
      } else {
        AppendJsonNumber(in, v);  // NaN: null.
      }
    }
    in += ']';
  }
  in += '}';
  std::string& o = p.outputs;
  o += '{';
  bool first = true;
  for (const Tensor& t : record.outputs) {
    if (t.shape().empty() || t.shape()[0] != rows) continue;
    if (!first) o += ',';
    first = false;
    AppendJsonString(o, t.name());
    o += ':';
    AppendOutput(o, t);
  }
  o += '}';
  return p;
}

Status PredictionLog::FromStored(const ModelConfig& config, const StoredPrediction& stored, Tensor* features,
                                 std::vector<float>* scores) {
  const nlohmann::json inputs = nlohmann::json::parse(stored.inputs, nullptr, false);
  const nlohmann::json outputs = nlohmann::json::parse(stored.outputs, nullptr, false);
  if (!inputs.is_object() || !outputs.is_object()) {
    return Status::InvalidArgument("request " + stored.request_id + ": its logged JSON is malformed");
  }
  const int64_t rows = stored.rows;
  const int64_t f = static_cast<int64_t>(config.features.size());
  *features = Tensor("input", DataType::kFp32, {rows, f});
  float* x = features->values<float>().data();
  constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
  for (int64_t j = 0; j < f; ++j) {
    const FeatureSpec& spec = config.features[j];
    const auto column = inputs.find(spec.name);
    for (int64_t r = 0; r < rows; ++r) {
      float v = kNaN;
      if (column != inputs.end() && column->is_array() && r < static_cast<int64_t>(column->size())) {
        const nlohmann::json& value = (*column)[r];
        if (value.is_number()) {
          v = value.get<float>();
        } else if (value.is_string() && spec.kind == FeatureKind::kCategorical) {
          const int code = spec.CategoryCode(value.get<std::string>());
          if (code >= 0) v = static_cast<float>(code);
        }
      }
      x[r * f + j] = v;
    }
  }
  scores->assign(rows, kNaN);
  for (const OutputSpec& spec : config.outputs) {
    if (spec.kind != OutputKind::kProbability && spec.kind != OutputKind::kPrediction) continue;
    const auto column = outputs.find(spec.name);
    if (column == outputs.end() || !column->is_array()) continue;  // Not requested: the next one, as Scores() does.
    for (int64_t r = 0; r < rows && r < static_cast<int64_t>(column->size()); ++r) {
      const nlohmann::json& value = (*column)[r];
      if (value.is_number()) {
        (*scores)[r] = value.get<float>();
      } else if (value.is_array() && !value.empty()) {
        float best = -std::numeric_limits<float>::infinity();
        for (const nlohmann::json& p : value) best = std::max(best, p.is_number() ? p.get<float>() : best);
        (*scores)[r] = best;
      }
    }
    break;
  }
  return Status::Ok();
}

size_t PredictionLog::Drain() {
  std::vector<std::unique_ptr<PredictionRecord>> records;
  PredictionRecord* raw;
  while (queue_.pop(raw)) records.emplace_back(raw);
  if (records.empty()) return 0;
  depth_.Add(-static_cast<double>(records.size()));
  if (monitor_) {
    for (const auto& r : records) monitor_->Observe(r->config, r->version, r->time_ms, r->features, Scores(*r), std::move(r->unseen_categories));
  }
  std::vector<StoredPrediction> stored;
  stored.reserve(records.size());
  for (const auto& r : records) stored.push_back(ToStored(*r));
  if (auto ignored = store_.AppendPredictions(stored); !ignored.ok()) {
    write_errors_.Increment();
    spdlog::error("prediction log: {} requests lost: {}", stored.size(), ignored.status().ToString());
  } else {
    written_.Increment(static_cast<double>(stored.size() - static_cast<size_t>(*ignored)));
    duplicate_ids_.Increment(static_cast<double>(*ignored));
  }
  return records.size();
}

void PredictionLog::Run() {
  for (;;) {
    bool stopping;
    {
      std::unique_lock lock(mu_);
      wake_.wait_for(lock, options_.flush_interval, [&] { return stopping_ || flush_requested_; });
      flush_requested_ = false;
      stopping = stopping_;
    }
    // Drain in rounds until the queue is empty, so that a flush waiting on
    // records pushed just before it sees them written.
    size_t n;
    while ((n = Drain()) > 0) {
      handled_.fetch_add(static_cast<int64_t>(n), std::memory_order_release);
      std::lock_guard lock(mu_);
      handled_cv_.notify_all();
    }
    if (monitor_) monitor_->Tick(NowMs());
    if (stopping) return;
  }
}

}  // namespace vigil
