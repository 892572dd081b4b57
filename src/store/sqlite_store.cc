#include "store/sqlite_store.h"

#include <sqlite3.h>

#include <algorithm>
#include <string_view>
#include <thread>

#include "store/sqlite_util.h"

namespace vigil {
using sqlite::Error;
using sqlite::Exec;
using sqlite::Statement;
using sqlite::Transaction;
namespace {

// Schema version 1: the prediction log and the feedback joined to it. A
// prediction is one request (its rows as arrays). Rows are appended in time
// order, so the id orders them by time too: retention and time ranges use
// the primary key, and the only other index is the one feedback looks up.
// Feedback goes with its request when retention deletes it.
constexpr char kSchemaV1[] = R"sql(
CREATE TABLE predictions (
  id INTEGER PRIMARY KEY,
  model TEXT NOT NULL,
  request_id TEXT NOT NULL,
  version INTEGER NOT NULL,
  time_ms INTEGER NOT NULL,
  route TEXT NOT NULL,
  rows INTEGER NOT NULL,
  inputs TEXT NOT NULL,
  outputs TEXT NOT NULL,
  UNIQUE (model, request_id)
);
CREATE TABLE feedback (
  prediction INTEGER NOT NULL REFERENCES predictions (id) ON DELETE CASCADE,
  row INTEGER NOT NULL,
  label TEXT NOT NULL,
  time_ms INTEGER NOT NULL,
  PRIMARY KEY (prediction, row)
) WITHOUT ROWID;
)sql";

// Schema version 2: closed monitoring windows as counts, and alerting. An
// alert row holds the alert's current state;
// alert_events every transition; notifications the outbox that the notifier
// drains (a row is written in the same transaction as the event that causes
// it, so a crash between the two cannot lose a notification).
constexpr char kSchemaV2[] = R"sql(
CREATE TABLE alerts (
  id INTEGER PRIMARY KEY,
  fingerprint TEXT NOT NULL,
  rule TEXT NOT NULL,
  model TEXT NOT NULL,
  version INTEGER NOT NULL,
  feature TEXT NOT NULL,
  state TEXT NOT NULL,
  severity TEXT NOT NULL,
  value REAL NOT NULL,
  threshold REAL NOT NULL,
  labels TEXT NOT NULL,
  annotations TEXT NOT NULL,
  started_ms INTEGER NOT NULL,
  fired_ms INTEGER NOT NULL,
  resolve_by_ms INTEGER NOT NULL,
  escalated_ms INTEGER NOT NULL,
  resolved_ms INTEGER NOT NULL,
  acknowledged_by TEXT NOT NULL,
  acknowledgement_note TEXT NOT NULL,
  acknowledged_ms INTEGER NOT NULL,
  updated_ms INTEGER NOT NULL
);
CREATE INDEX alerts_by_state ON alerts (state, model);
CREATE TABLE alert_events (
  id INTEGER PRIMARY KEY,
  alert INTEGER NOT NULL REFERENCES alerts (id) ON DELETE CASCADE,
  time_ms INTEGER NOT NULL,
  kind TEXT NOT NULL,
  value REAL NOT NULL,
  detail TEXT NOT NULL
);
CREATE INDEX alert_events_by_alert ON alert_events (alert);
CREATE TABLE silences (
  id INTEGER PRIMARY KEY,
  matchers TEXT NOT NULL,
  starts_ms INTEGER NOT NULL,
  ends_ms INTEGER NOT NULL,
  created_by TEXT NOT NULL,
  comment TEXT NOT NULL,
  created_ms INTEGER NOT NULL
);
CREATE TABLE notifications (
  id INTEGER PRIMARY KEY,
  alert INTEGER NOT NULL REFERENCES alerts (id) ON DELETE CASCADE,
  kind TEXT NOT NULL,
  url TEXT NOT NULL,
  payload TEXT NOT NULL,
  idempotency_key TEXT NOT NULL,
  created_ms INTEGER NOT NULL,
  attempts INTEGER NOT NULL,
  next_attempt_ms INTEGER NOT NULL,
  last_error TEXT NOT NULL,
  resend INTEGER NOT NULL
);
CREATE INDEX notifications_due ON notifications (next_attempt_ms);
CREATE TABLE windows (
  id INTEGER PRIMARY KEY,
  model TEXT NOT NULL,
  version INTEGER NOT NULL,
  start_ms INTEGER NOT NULL,
  end_ms INTEGER NOT NULL,
  source TEXT NOT NULL,
  counts TEXT NOT NULL
);
CREATE INDEX windows_by_version ON windows (model, version, end_ms);
)sql";

// The columns of kPredictionColumns, in order.
constexpr char kPredictionColumns[] = "p.model, p.request_id, p.version, p.time_ms, p.route, p.rows, p.inputs, p.outputs";
StoredPrediction ReadPrediction(const Statement& q) {
  return {q.Text(0), q.Text(1), q.Int(2), q.Int(3), q.Text(4), q.Int(5), q.Text(6), q.Text(7)};
}

}  // namespace

const char* FeedbackOutcomeName(FeedbackOutcome outcome) {
  switch (outcome) {
    case FeedbackOutcome::kRecorded: return "recorded";
    case FeedbackOutcome::kDuplicate: return "duplicate";
    case FeedbackOutcome::kConflict: return "conflict";
    case FeedbackOutcome::kUnknownId: return "unknown_id";
  }
  return "unknown";
}

namespace {

// Opens a connection to `path` with the store's settings and `synchronous`.
Result<sqlite3*> Connect(const std::filesystem::path& path, const char* synchronous) {
  sqlite3* db = nullptr;
  const int rc = sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                                 nullptr);
  if (rc != SQLITE_OK) {
    std::string message = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    sqlite3_close(db);
    return Status::InvalidArgument("cannot open the store " + path.string() + ": " + message);
  }
  sqlite3_busy_timeout(db, 5000);
  // A 16 MiB page cache per connection (SQLite's default is 2 MiB): the
  // pages that inserts touch stay in memory.
  const std::string sync = std::string("PRAGMA synchronous = ") + synchronous;
  for (const char* pragma :
       {"PRAGMA journal_mode = WAL", sync.c_str(), "PRAGMA foreign_keys = ON", "PRAGMA cache_size = -16384"}) {
    if (Status s = Exec(db, pragma); !s.ok()) {
      sqlite3_close(db);
      return Status::InvalidArgument("the store " + path.string() + " is not usable: " + s.message());
    }
  }
  return db;
}

}  // namespace

Result<std::unique_ptr<SqliteStore>> SqliteStore::Open(const std::filesystem::path& path) {
  std::unique_ptr<SqliteStore> store(new SqliteStore());
  auto durable = Connect(path, "FULL");
  if (!durable.ok()) return durable.status();
  store->db_ = *durable;
  if (Status s = store->Migrate(); !s.ok()) {
    return Status::InvalidArgument("the store " + path.string() + ": " + s.message());
  }
  auto log = Connect(path, "NORMAL");
  if (!log.ok()) return log.status();
  store->log_db_ = *log;
  return store;
}

SqliteStore::~SqliteStore() {
  sqlite3_close(log_db_);
  sqlite3_close(db_);
}

Status SqliteStore::Migrate() {
  // The version is read inside the write transaction, so that two processes
  // opening a new file at once do not both create the schema.
  Transaction t(db_);
  VIGIL_RETURN_IF_ERROR(t.status());
  int64_t version;
  {
    Statement q(db_, "PRAGMA user_version");
    if (!q.ok() || q.Step() != SQLITE_ROW) return Error(db_, "reading the schema version");
    version = q.Int(0);
  }
  if (version > kSchemaVersion) {
    return Status::InvalidArgument("schema version " + std::to_string(version) + " is newer than this Vigil's (" +
                                   std::to_string(kSchemaVersion) + ")");
  }
  if (version == kSchemaVersion) return t.Commit();
  if (version < 1) VIGIL_RETURN_IF_ERROR(Exec(db_, kSchemaV1));
  if (version < 2) VIGIL_RETURN_IF_ERROR(Exec(db_, kSchemaV2));
  VIGIL_RETURN_IF_ERROR(Exec(db_, ("PRAGMA user_version = " + std::to_string(kSchemaVersion)).c_str()));
  return t.Commit();
}

Result<int64_t> SqliteStore::AppendPredictions(const std::vector<StoredPrediction>& predictions) {
  std::lock_guard lock(log_mu_);
  Transaction t(log_db_);
  VIGIL_RETURN_IF_ERROR(t.status());
  Statement insert(log_db_,
                   "INSERT INTO predictions (model, request_id, version, time_ms, route, rows, inputs, outputs) "
                   "VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING");
  if (!insert.ok()) return Error(log_db_, "preparing the prediction insert");
  int64_t ignored = 0;
  for (const StoredPrediction& p : predictions) {
    insert.Bind(1, p.model).Bind(2, p.request_id).Bind(3, p.version).Bind(4, p.time_ms).Bind(5, p.route);
    insert.Bind(6, p.rows).Bind(7, p.inputs).Bind(8, p.outputs);
    if (insert.Step() != SQLITE_DONE) return Error(log_db_, "logging a prediction");
    if (sqlite3_changes(log_db_) == 0) ++ignored;
    insert.Reset();
  }
  VIGIL_RETURN_IF_ERROR(t.Commit());
  return ignored;
}

Result<std::vector<FeedbackOutcome>> SqliteStore::RecordFeedback(const std::string& model,
                                                                 const std::vector<FeedbackItem>& items,
                                                                 int64_t now_ms) {
  std::lock_guard lock(mu_);
  Transaction t(db_);
  VIGIL_RETURN_IF_ERROR(t.status());
  Statement find(db_, "SELECT id, rows FROM predictions WHERE model = ? AND request_id = ?");
  Statement insert(db_,
                   "INSERT INTO feedback (prediction, row, label, time_ms) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING");
  Statement existing(db_, "SELECT label FROM feedback WHERE prediction = ? AND row = ?");
  if (!find.ok() || !insert.ok() || !existing.ok()) return Error(db_, "preparing the feedback statements");
  std::vector<FeedbackOutcome> outcomes;
  outcomes.reserve(items.size());
  for (const FeedbackItem& item : items) {
    find.Bind(1, model).Bind(2, item.request_id);
    const int rc = find.Step();
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) return Error(db_, "looking up a prediction");
    if (rc == SQLITE_DONE || item.row >= find.Int(1)) {
      outcomes.push_back(FeedbackOutcome::kUnknownId);
      find.Reset();
      continue;
    }
    const int64_t prediction = find.Int(0);
    find.Reset();
    insert.Bind(1, prediction).Bind(2, item.row).Bind(3, item.label).Bind(4, now_ms);
    if (insert.Step() != SQLITE_DONE) return Error(db_, "recording feedback");
    insert.Reset();
    if (sqlite3_changes(db_) == 1) {
      outcomes.push_back(FeedbackOutcome::kRecorded);
      continue;
    }
    existing.Bind(1, prediction).Bind(2, item.row);
    if (existing.Step() != SQLITE_ROW) return Error(db_, "reading earlier feedback");
    outcomes.push_back(existing.Text(0) == item.label ? FeedbackOutcome::kDuplicate : FeedbackOutcome::kConflict);
    existing.Reset();
  }
  VIGIL_RETURN_IF_ERROR(t.Commit());
  return outcomes;
}

Result<int64_t> SqliteStore::PrunePredictions(int64_t before_ms, int64_t max_requests) {
  // The log's connection is taken for one step at a time, so that the log's
  // writer appends between the chunks however much is due.
  std::unique_lock lock(log_mu_);
  // Ids follow time, and retention only ever deletes the oldest: everything
  // below one id goes. By age, the first request at or after `before_ms`
  // (found walking from the oldest, through the rows to delete); by count,
  // the newest id minus the limit.
  int64_t cut, newest;
  {
    Statement q(log_db_,
                "SELECT coalesce((SELECT id FROM predictions WHERE time_ms >= ? ORDER BY id LIMIT 1), "
                "(SELECT coalesce(max(id), 0) + 1 FROM predictions)), (SELECT coalesce(max(id), 0) FROM predictions)");
    if (!q.ok() || q.Bind(1, before_ms).Step() != SQLITE_ROW) return Error(log_db_, "finding what retention deletes");
    cut = q.Int(0);
    newest = q.Int(1);
  }
  if (max_requests > 0) cut = std::max(cut, newest - max_requests + 1);
  {
    Statement windows(log_db_, "DELETE FROM windows WHERE end_ms < ?");
    if (!windows.ok() || windows.Bind(1, before_ms).Step() != SQLITE_DONE) {
      return Error(log_db_, "deleting windows past their retention");
    }
  }
  // In chunks of short transactions, so that feedback (on the other
  // connection) and the log's writer get the write lock between them,
  // however much is due.
  constexpr int64_t kChunk = 10000;
  int64_t deleted = 0;
  for (;;) {
    if (!lock.owns_lock()) lock.lock();
    Transaction t(log_db_);
    VIGIL_RETURN_IF_ERROR(t.status());
    Statement chunk(log_db_, "DELETE FROM predictions WHERE id < min(?, (SELECT min(id) FROM predictions) + ?)");
    if (!chunk.ok() || chunk.Bind(1, cut).Bind(2, kChunk).Step() != SQLITE_DONE) {
      return Error(log_db_, "deleting predictions past their retention");
    }
    const int64_t n = sqlite3_changes(log_db_);
    VIGIL_RETURN_IF_ERROR(t.Commit());
    deleted += n;
    if (n == 0) break;
    lock.unlock();
    std::this_thread::yield();
  }
  return deleted;
}

Result<std::vector<StoredPrediction>> SqliteStore::Predictions(const std::string& model, int64_t from_ms,
                                                               int64_t to_ms, int64_t limit) {
  std::lock_guard lock(mu_);
  Statement q(db_, std::string("SELECT ") + kPredictionColumns +
                       " FROM predictions p WHERE p.model = ? AND p.time_ms >= ? AND p.time_ms < ? ORDER BY p.id LIMIT ?");
  if (!q.ok()) return Error(db_, "preparing the prediction query");
  q.Bind(1, model).Bind(2, from_ms).Bind(3, to_ms).Bind(4, limit);
  std::vector<StoredPrediction> out;
  int rc;
  while ((rc = q.Step()) == SQLITE_ROW) out.push_back(ReadPrediction(q));
  if (rc != SQLITE_DONE) return Error(db_, "reading predictions");
  return out;
}

Result<std::vector<LabeledPrediction>> SqliteStore::LabeledPredictions(const std::string& model, int64_t from_ms,
                                                                       int64_t to_ms, int64_t limit) {
  std::lock_guard lock(mu_);
  // Driven from feedback (far fewer rows than the log), each prediction
  // found by its primary key: CROSS JOIN fixes that order for SQLite.
  Statement q(db_, std::string("SELECT ") + kPredictionColumns +
                       ", f.row, f.label, f.time_ms FROM feedback f CROSS JOIN predictions p ON p.id = f.prediction "
                       "WHERE p.model = ? AND p.time_ms >= ? AND p.time_ms < ? ORDER BY p.id, f.row LIMIT ?");
  if (!q.ok()) return Error(db_, "preparing the labelled prediction query");
  q.Bind(1, model).Bind(2, from_ms).Bind(3, to_ms).Bind(4, limit);
  std::vector<LabeledPrediction> out;
  int rc;
  while ((rc = q.Step()) == SQLITE_ROW) out.push_back({ReadPrediction(q), q.Int(8), q.Text(9), q.Int(10)});
  if (rc != SQLITE_DONE) return Error(db_, "reading labelled predictions");
  return out;
}

Status SqliteStore::AppendWindow(const StoredWindow& w) {
  std::lock_guard lock(log_mu_);
  Statement q(log_db_,
              "INSERT INTO windows (model, version, start_ms, end_ms, source, counts) VALUES (?, ?, ?, ?, ?, ?)");
  if (!q.ok()) return Error(log_db_, "preparing the window insert");
  q.Bind(1, w.model).Bind(2, w.version).Bind(3, w.start_ms).Bind(4, w.end_ms).Bind(5, w.source).Bind(6, w.counts);
  if (q.Step() != SQLITE_DONE) return Error(log_db_, "saving a window");
  return Status::Ok();
}

Result<std::vector<StoredWindow>> SqliteStore::Windows(const std::string& model, int64_t version, int64_t limit) {
  std::lock_guard lock(mu_);
  Statement q(db_,
              "SELECT model, version, start_ms, end_ms, source, counts FROM (SELECT * FROM windows "
              "WHERE model = ? AND version = ? ORDER BY end_ms DESC, id DESC LIMIT ?) ORDER BY end_ms, id");
  if (!q.ok()) return Error(db_, "preparing the window query");
  q.Bind(1, model).Bind(2, version).Bind(3, limit);
  std::vector<StoredWindow> out;
  int rc;
  while ((rc = q.Step()) == SQLITE_ROW) {
    out.push_back({q.Text(0), q.Int(1), q.Int(2), q.Int(3), q.Text(4), q.Text(5)});
  }
  if (rc != SQLITE_DONE) return Error(db_, "reading windows");
  return out;
}

Result<int64_t> SqliteStore::CountPredictions(const std::string& model) {
  std::lock_guard lock(mu_);
  Statement q(db_, "SELECT count(*) FROM predictions WHERE model = ?");  // Uses the (model, request_id) index.
  if (!q.ok() || q.Bind(1, model).Step() != SQLITE_ROW) return Error(db_, "counting predictions");
  return q.Int(0);
}

}  // namespace vigil
