// Store: Vigil's durable state behind one interface.
//
// The embedded default is SQLite (sqlite_store.h); PostgreSQL will implement
// the same interface when several replicas share state. Today it holds the
// prediction log, the ground-truth feedback joined to it, alerting (the
// alerts with every transition as an event, silences, and the outbox of
// notifications still to deliver), and the model registry (versions,
// aliases, and the lifecycle's events).
//
// Durability: every call that returns OK has committed its transaction.
// Callers tell clients a write succeeded only after that.
//
// Thread-safety: implementations are thread-safe.
#ifndef VIGIL_STORE_STORE_H_
#define VIGIL_STORE_STORE_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "store/log_segment.h"

namespace vigil {

// A segment of the prediction log (store/log_segment.h): requests of one
// model version that the log's writer drained together.
struct LogSegment {
  std::string model;
  int64_t version = 0;
  int64_t first_ms = 0, last_ms = 0;  // The earliest and latest request time in it.
  int64_t requests = 0, rows = 0;
  std::string_view data;  // LogSegmentBuilder's bytes (valid during the call).
  // The records whose id the client chose, indexed for feedback. (Vigil's
  // own ids are UUIDv7, whose time finds the segment.)
  struct ClientId {
    std::string request_id;
    int64_t slot = 0;  // The record's position in the segment.
    int64_t rows = 0;
  };
  std::vector<ClientId> client_ids;
};

// A segment is at most this long in time (the writer cuts it), so that an
// id's time bounds the segments that can hold it.
inline constexpr int64_t kLogSegmentMaxSpanMs = 60'000;

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
  std::shared_ptr<const StoredPrediction> prediction;  // Shared by the request's labelled rows.
  int64_t row = 0;
  std::string label;
  int64_t feedback_time_ms = 0;
};

// A closed monitoring window of a model version, as counts over the
// version's reference bins (monitor/drift_monitor.h), so that windows merge
// over time and across replicas by addition.
struct StoredWindow {
  std::string model;
  int64_t version = 0;
  int64_t start_ms = 0, end_ms = 0;
  std::string source;  // The server that counted it (host:port), for merging replicas.
  std::string counts;  // JSON: rows, requests, rejected, bins, missing, out_of_range, unseen.
};

// An alert: one rule's condition for one model version (and feature). See
// monitor/alert_engine.h for the states.
struct AlertRecord {
  int64_t id = 0;            // Assigned by the store when first saved.
  std::string fingerprint;   // rule, model, version, feature: the series it watches.
  std::string rule, model, feature;
  int64_t version = 0;
  std::string state;         // "pending", "firing", "resolved", or "inactive" (cleared before firing).
  std::string severity;      // The current one (raised by escalation).
  double value = 0, threshold = 0;
  std::string labels;        // JSON object: every label, Vigil's and the rule's.
  std::string annotations;   // JSON object.
  int64_t started_ms = 0;    // Condition first held.
  int64_t fired_ms = 0, resolve_by_ms = 0, escalated_ms = 0, resolved_ms = 0;  // 0: not (yet).
  std::string acknowledged_by, acknowledgement_note;
  int64_t acknowledged_ms = 0;
  int64_t updated_ms = 0;
};

// One transition or action on an alert.
struct AlertEvent {
  int64_t id = 0;
  int64_t alert_id = 0;
  int64_t time_ms = 0;
  std::string kind;    // pending, firing, acknowledged, escalated, resolved, cleared, notified, suppressed, ...
  double value = 0;
  std::string detail;  // JSON object.
};

struct Silence {
  int64_t id = 0;
  std::string matchers;  // JSON array of {name, value, isRegex, isEqual} (Alertmanager's form).
  int64_t starts_ms = 0, ends_ms = 0;
  std::string created_by, comment;
  int64_t created_ms = 0;
};

// A notification to deliver (the transactional outbox): written with the
// transition that causes it, deleted after delivery or when it gives up.
struct Notification {
  int64_t id = 0;
  int64_t alert_id = 0;
  std::string kind;  // "webhook" or "alertmanager".
  std::string url;
  std::string payload;          // The request body.
  std::string idempotency_key;  // The same on every attempt.
  int64_t created_ms = 0;
  int64_t attempts = 0;
  int64_t next_attempt_ms = 0;
  std::string last_error;
  // A re-send of a firing alert to Alertmanager: it replaces an undelivered
  // re-send of the same alert to the same URL, is dropped when the alert
  // resolves, and its delivery records no event.
  bool resend = false;
};

struct AlertQuery {
  std::string model;   // Empty: every model.
  std::string state;   // Empty: any; "active": pending or firing.
  int64_t limit = 100;
};

// A registered model version (lifecycle/registry.h). Immutable once stored.
struct ModelVersionRecord {
  std::string model;
  int64_t version = 0;
  std::string artifact;        // File name in REPO/<model>/<version>/.
  std::string sha256;          // The artifact's, lowercase hex.
  int64_t artifact_bytes = 0;
  std::string origin;          // "registered", "trained", "external" or "discovered".
  int64_t parent_version = 0;  // The version it was trained to replace (0: none).
  std::string data_fingerprint;  // SHA-256 of the training data; empty: unknown.
  int64_t data_rows = 0;         // Rows of training data; 0: unknown.
  std::string parameters = "{}";  // JSON object: training parameters.
  std::string metrics = "{}";     // JSON object: evaluation metrics at training.
  std::string profile;            // JSON: the reference profile; empty: none.
  std::string author, description;
  int64_t created_ms = 0;
};

// Where an alias points.
struct AliasRecord {
  std::string model, alias;
  int64_t version = 0;
  int64_t updated_ms = 0;
};

// Something that happened in a model's lifecycle: a version registered, an
// alias moved, and (later) jobs, evaluations and rollout steps. `detail` is a
// JSON object; an alias move's holds {"alias", "from", "to"} (null when unset).
struct ModelEvent {
  int64_t id = 0;
  int64_t time_ms = 0;
  std::string model;
  int64_t version = 0;  // The version it is about; 0: none.
  std::string kind;     // "registered", "alias", ...
  std::string actor;    // Who: a user, a key, or "vigil" itself.
  std::string reason;
  std::string detail = "{}";
};

// A background job (lifecycle/job_runner.h): its specification, state and
// outcome. Progress while it runs lives in the runner; the record is written
// when the state changes.
struct JobRecord {
  int64_t id = 0;
  std::string model;
  std::string kind = "train";
  std::string state;          // "queued", "running", "succeeded", "failed", "cancelled".
  std::string spec = "{}";    // JSON: what was asked.
  std::string progress = "{}";  // JSON: the last progress reported.
  std::string result = "{}";  // JSON: what it produced (the version, its metrics).
  std::string error;
  std::string actor;
  int64_t created_ms = 0, started_ms = 0, finished_ms = 0;
};

// A rollout (lifecycle/rollout.h): a candidate version taking a growing
// share of a model's requests (canary) or a copy of them (shadow), step by
// step, until it is promoted to champion or rolled back.
struct RolloutRecord {
  int64_t id = 0;
  std::string model;
  int64_t candidate = 0;
  int64_t baseline = 0;        // The champion it is compared with.
  std::string mode;            // "canary" or "shadow".
  std::string state;           // "running", "promoted", "rolled_back" or "aborted".
  std::string plan = "{}";     // JSON: steps (percent), window, checks (repository/rollout_config.h).
  int64_t step = 0;            // Index of the current step in the plan's steps.
  int64_t step_started_ms = 0;
  std::string analysis = "{}";  // JSON: the current step's latest analysis.
  std::string actor, reason;
  int64_t created_ms = 0, updated_ms = 0, ended_ms = 0;
};

struct ModelEventQuery {
  std::string model;  // Empty: every model.
  std::string kind;   // Empty: every kind.
  std::string alias;  // Non-empty: only moves of this alias (kind "alias").
  int64_t limit = 100;
};

class Store {
 public:
  virtual ~Store() = default;

  // Appends a segment of the log, with its client ids, in one transaction.
  // A client id that `model` already logged keeps pointing at the first
  // request (feedback by that id labels it); returns how many were so
  // ignored. Both requests stay in the log.
  virtual Result<int64_t> AppendLogSegment(const LogSegment& segment) = 0;

  // Records feedback for `model`'s predictions in one transaction, committed
  // before it returns; one outcome per item, in order.
  virtual Result<std::vector<FeedbackOutcome>> RecordFeedback(const std::string& model,
                                                              const std::vector<FeedbackItem>& items,
                                                              int64_t now_ms) = 0;

  // Deletes the requests (and their feedback) logged before `before_ms`, then
  // the oldest beyond `max_requests` (0: no limit); whole segments, so a
  // segment straddling a limit is kept until all of it is past it. Deletes
  // the windows that ended before `before_ms`, then the oldest beyond
  // `max_windows` (0: no limit). Returns how many requests were deleted.
  virtual Result<int64_t> PrunePredictions(int64_t before_ms, int64_t max_requests, int64_t max_windows) = 0;

  // The requests of `model` that arrived in [from_ms, to_ms), in logging
  // order, at most `limit`.
  virtual Result<std::vector<StoredPrediction>> Predictions(const std::string& model, int64_t from_ms,
                                                            int64_t to_ms, int64_t limit) = 0;
  // The same, of one version of `model` only.
  virtual Result<std::vector<StoredPrediction>> VersionPredictions(const std::string& model, int64_t version,
                                                                   int64_t from_ms, int64_t to_ms,
                                                                   int64_t limit) = 0;
  // The rows of `model`'s requests that have feedback, by request time in
  // [from_ms, to_ms), oldest first, at most `limit`.
  virtual Result<std::vector<LabeledPrediction>> LabeledPredictions(const std::string& model, int64_t from_ms,
                                                                    int64_t to_ms, int64_t limit) = 0;
  // Logged requests of `model`.
  virtual Result<int64_t> CountPredictions(const std::string& model) = 0;

  // Appends closed windows in one transaction (best effort, like the
  // prediction log).
  virtual Status AppendWindows(const std::vector<StoredWindow>& windows) = 0;
  // The newest `limit` windows of a model version, oldest first.
  virtual Result<std::vector<StoredWindow>> Windows(const std::string& model, int64_t version, int64_t limit) = 0;

  // Saves `alert` (inserting it when its id is 0), records `event` for it
  // and queues `notifications`, in one transaction; a resolved alert's
  // undelivered re-sends are dropped (a late one would re-open it in
  // Alertmanager). Returns the alert's id.
  virtual Result<int64_t> SaveAlert(const AlertRecord& alert, const AlertEvent& event,
                                    const std::vector<Notification>& notifications) = 0;
  // Alerts matching `query`, newest first.
  virtual Result<std::vector<AlertRecord>> Alerts(const AlertQuery& query) = 0;
  virtual Result<std::optional<AlertRecord>> GetAlert(int64_t id) = 0;
  // The alert's events, oldest first.
  virtual Result<std::vector<AlertEvent>> AlertEvents(int64_t alert_id) = 0;

  // Deletes alerts that ended (resolved or cleared) before `before_ms`, with
  // their events, and silences that ended before it. Returns the alerts deleted.
  virtual Result<int64_t> PruneAlerts(int64_t before_ms) = 0;

  virtual Result<int64_t> AddSilence(const Silence& silence) = 0;
  // Silences whose end is after `now_ms` (active or not yet started).
  virtual Result<std::vector<Silence>> Silences(int64_t now_ms) = 0;
  // Ends a silence now; false if there is none with this id or it had ended.
  virtual Result<bool> ExpireSilence(int64_t id, int64_t now_ms) = 0;

  // Queues notifications (a re-send replaces an undelivered one, see
  // Notification::resend).
  virtual Status AddNotifications(const std::vector<Notification>& notifications) = 0;
  // Notifications due at `now_ms`, oldest first.
  virtual Result<std::vector<Notification>> DueNotifications(int64_t now_ms, int64_t limit) = 0;
  // Delivered (or given up): removed from the outbox, with an event on the
  // alert saying so (none when `event.kind` is empty).
  virtual Status FinishNotification(const Notification& notification, const AlertEvent& event) = 0;
  // Failed for now: records the attempt and when to try again.
  virtual Status RetryNotification(const Notification& notification) = 0;

  // The registry. Adds `version` with `event` (kind "registered") in one
  // transaction. ALREADY_EXISTS if the model has that version number.
  virtual Status AddModelVersion(const ModelVersionRecord& version, const ModelEvent& event) = 0;
  // A model's versions, ascending; every model's when `model` is empty.
  virtual Result<std::vector<ModelVersionRecord>> ModelVersions(const std::string& model) = 0;
  virtual Result<std::optional<ModelVersionRecord>> GetModelVersion(const std::string& model, int64_t version) = 0;
  // A model's aliases (every model's when `model` is empty), by model and name.
  virtual Result<std::vector<AliasRecord>> Aliases(const std::string& model) = 0;
  // Points `event.model`'s `alias` at `to` (0 removes it) and records
  // `event` (kind "alias"; its detail is replaced by {alias, from, to}), in
  // one transaction; returns the version it pointed at before (0: none).
  // NOT_FOUND if `to` is not registered. With `expected_from` >= 0 the move
  // happens only if the alias points there now (0: unset), else
  // FAILED_PRECONDITION: a compare-and-set for moves decided on what was read.
  virtual Result<int64_t> MoveAlias(const std::string& alias, int64_t to, int64_t expected_from,
                                    const ModelEvent& event) = 0;
  // Records an event on its own; returns its id.
  virtual Result<int64_t> AddModelEvent(const ModelEvent& event) = 0;
  // Events matching `query`, newest first.
  virtual Result<std::vector<ModelEvent>> ModelEvents(const ModelEventQuery& query) = 0;
  // The newest event's id (0: none): a cheap way to notice that another
  // process changed the registry.
  virtual Result<int64_t> LastModelEventId() = 0;

  // Jobs. AddJob assigns the id; UpdateJob writes state, progress, result,
  // error and times.
  virtual Result<int64_t> AddJob(const JobRecord& job) = 0;
  virtual Status UpdateJob(const JobRecord& job) = 0;
  virtual Result<std::optional<JobRecord>> GetJob(int64_t id) = 0;
  // Newest first; every model's when `model` is empty.
  virtual Result<std::vector<JobRecord>> Jobs(const std::string& model, int64_t limit) = 0;

  // Rollouts. AddRollout assigns the id and records `event` in the same
  // transaction; ALREADY_EXISTS if the model has a rollout running.
  virtual Result<int64_t> AddRollout(const RolloutRecord& rollout, const ModelEvent& event) = 0;
  // Writes state, step, step_started_ms, analysis, updated_ms and ended_ms,
  // with `event` (may be null) in the same transaction; only while the
  // stored rollout is running at `expected_step` (a compare-and-set, so that
  // two deciders cannot both act), else FAILED_PRECONDITION.
  virtual Status UpdateRollout(const RolloutRecord& rollout, int64_t expected_step, const ModelEvent* event) = 0;
  // Ends `rollout` promoted: in one transaction, only while it runs at
  // `expected_step` and `champion` is still its baseline (else
  // FAILED_PRECONDITION and nothing changes), moves `champion` to the
  // candidate (`move`, as MoveAlias records it) and records `event`.
  virtual Status PromoteRollout(const RolloutRecord& rollout, int64_t expected_step, const ModelEvent& move,
                                const ModelEvent& event) = 0;
  virtual Result<std::optional<RolloutRecord>> GetRollout(int64_t id) = 0;
  // Newest first; every model's when `model` is empty.
  virtual Result<std::vector<RolloutRecord>> Rollouts(const std::string& model, bool running_only,
                                                      int64_t limit) = 0;
};

}  // namespace vigil

#endif  // VIGIL_STORE_STORE_H_
