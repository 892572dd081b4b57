// Store: Vigil's durable state behind one interface.
//
// The embedded default is SQLite (sqlite_store.h); PostgreSQL will implement
// the same interface when several replicas share state. Today it holds the
// prediction log and the ground-truth feedback joined to it; the registry,
// alerts and events come with their issues.
//
// Durability: every call that returns OK has committed its transaction.
// Callers tell clients a write succeeded only after that.
//
// Thread-safety: implementations are thread-safe.
#ifndef VIGIL_STORE_STORE_H_
#define VIGIL_STORE_STORE_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"

namespace vigil {

// One logged inference request (all its rows).
struct StoredPrediction {
  std::string model;
  std::string request_id;  // The inference response's id.
  int64_t version = 0;
  int64_t time_ms = 0;     // Unix time, milliseconds.
  std::string route;       // "champion", "canary" or "shadow".
  int64_t rows = 0;        // Rows in the request's batch.
  std::string inputs;      // JSON object: feature name -> [raw value per row] (category names, null when missing).
  std::string outputs;     // JSON object: output name -> [value per row].
};

// Ground truth for a logged prediction.
struct FeedbackItem {
  std::string request_id;
  int64_t row = 0;
  std::string label;  // JSON value: a class name (string) or a number.
};

enum class FeedbackOutcome {
  kRecorded,   // Stored now.
  kDuplicate,  // The same label was already stored for this prediction: nothing changed.
  kConflict,   // A different label is already stored; the first one stands.
  kUnknownId,  // No logged prediction has this id and row (never logged, sampled out, dropped or expired).
};
const char* FeedbackOutcomeName(FeedbackOutcome outcome);

// A row of a logged request with its feedback, for model quality.
struct LabeledPrediction {
  StoredPrediction prediction;
  int64_t row = 0;
  std::string label;
  int64_t feedback_time_ms = 0;
};

class Store {
 public:
  virtual ~Store() = default;

  // Appends predictions in one transaction. A request whose (model,
  // request_id) is already logged is kept as it was, and the new one is not
  // logged; returns how many were so ignored.
  virtual Result<int64_t> AppendPredictions(const std::vector<StoredPrediction>& predictions) = 0;

  // Records feedback for `model`'s predictions in one transaction, committed
  // before it returns; one outcome per item, in order.
  virtual Result<std::vector<FeedbackOutcome>> RecordFeedback(const std::string& model,
                                                              const std::vector<FeedbackItem>& items,
                                                              int64_t now_ms) = 0;

  // Deletes the requests (and their feedback) logged before `before_ms`, then
  // the oldest beyond `max_requests` (0: no limit). Returns how many were
  // deleted.
  virtual Result<int64_t> PrunePredictions(int64_t before_ms, int64_t max_requests) = 0;

  // The requests of `model` logged in [from_ms, to_ms), oldest first, at
  // most `limit`.
  virtual Result<std::vector<StoredPrediction>> Predictions(const std::string& model, int64_t from_ms,
                                                            int64_t to_ms, int64_t limit) = 0;
  // The rows of `model`'s requests that have feedback, by request time in
  // [from_ms, to_ms), oldest first, at most `limit`.
  virtual Result<std::vector<LabeledPrediction>> LabeledPredictions(const std::string& model, int64_t from_ms,
                                                                    int64_t to_ms, int64_t limit) = 0;
  // Logged requests of `model`.
  virtual Result<int64_t> CountPredictions(const std::string& model) = 0;
};

}  // namespace vigil

#endif  // VIGIL_STORE_STORE_H_
