#include "store/sqlite_store.h"

#include <spdlog/spdlog.h>
#include <sqlite3.h>

#include <algorithm>
#include <map>
#include <optional>
#include <string_view>
#include <thread>

#include "common/request_id.h"
#include "store/sqlite_util.h"

namespace vigil {
using sqlite::Error;
using sqlite::Exec;
using sqlite::Statement;
using sqlite::Transaction;
namespace {

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

// Schema version 3: the prediction log as segments (store/log_segment.h),
// one row per batch the log's writer drained for one model version; a
// request costs no row of its own. `total` counts the requests logged up to
// and including the segment (all models), for the count limit. Segment ids
// are never reused (AUTOINCREMENT): retention deletes below an id, and a
// segment appended after the log was emptied must not land below it. Ids the
// client chose are indexed in log_ids (Vigil's own ids are UUIDv7, whose
// time finds the segment through log_segments_by_time); its rows are
// written with their segment and deleted with it by retention, without a
// foreign key, whose check cost a lookup per id. Feedback labels a
// (segment, slot, row) and goes with its segment when retention deletes it.
constexpr char kSchemaV3[] = R"sql(
CREATE TABLE log_segments (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  model TEXT NOT NULL,
  version INTEGER NOT NULL,
  first_ms INTEGER NOT NULL,
  last_ms INTEGER NOT NULL,
  requests INTEGER NOT NULL,
  rows INTEGER NOT NULL,
  total INTEGER NOT NULL,
  data BLOB NOT NULL
);
CREATE INDEX log_segments_by_time ON log_segments (model, first_ms, last_ms);
CREATE INDEX log_segments_by_total ON log_segments (total);
CREATE TABLE log_ids (
  model TEXT NOT NULL,
  request_id TEXT NOT NULL,
  segment INTEGER NOT NULL,
  slot INTEGER NOT NULL,
  rows INTEGER NOT NULL,
  PRIMARY KEY (model, request_id)
) WITHOUT ROWID;
CREATE INDEX log_ids_by_segment ON log_ids (segment);
CREATE TABLE feedback (
  segment INTEGER NOT NULL REFERENCES log_segments (id) ON DELETE CASCADE,
  slot INTEGER NOT NULL,
  row INTEGER NOT NULL,
  label TEXT NOT NULL,
  time_ms INTEGER NOT NULL,
  PRIMARY KEY (segment, slot, row)
) WITHOUT ROWID;
)sql";

// Schema version 4: a segment's bytes move out of the database into
// append-only files (store/segment_files.h); the row says where they are.
// Rows written by schema 3 keep their bytes in `data` (file NULL); new rows
// have an empty `data`.
constexpr char kSchemaV4[] = R"sql(
ALTER TABLE log_segments ADD COLUMN file INTEGER;
ALTER TABLE log_segments ADD COLUMN offset INTEGER;
ALTER TABLE log_segments ADD COLUMN length INTEGER;
ALTER TABLE log_segments ADD COLUMN checksum INTEGER;
CREATE INDEX log_segments_by_file ON log_segments (file) WHERE file IS NOT NULL;
)sql";

// Schema version 5: the model registry, and background jobs (training). A version row is never updated
// (versions are immutable); aliases point at registered versions; every
// registration and alias move is a model_events row, written in the same
// transaction, so the history of what served when is complete.
constexpr char kSchemaV5[] = R"sql(
CREATE TABLE model_versions (
  model TEXT NOT NULL,
  version INTEGER NOT NULL,
  artifact TEXT NOT NULL,
  sha256 TEXT NOT NULL,
  artifact_bytes INTEGER NOT NULL,
  origin TEXT NOT NULL,
  parent_version INTEGER NOT NULL DEFAULT 0,
  data_fingerprint TEXT NOT NULL DEFAULT '',
  data_rows INTEGER NOT NULL DEFAULT 0,
  parameters TEXT NOT NULL DEFAULT '{}',
  metrics TEXT NOT NULL DEFAULT '{}',
  profile TEXT NOT NULL DEFAULT '',
  author TEXT NOT NULL,
  description TEXT NOT NULL DEFAULT '',
  created_ms INTEGER NOT NULL,
  PRIMARY KEY (model, version)
);
CREATE TABLE aliases (
  model TEXT NOT NULL,
  alias TEXT NOT NULL,
  version INTEGER NOT NULL,
  updated_ms INTEGER NOT NULL,
  PRIMARY KEY (model, alias),
  FOREIGN KEY (model, version) REFERENCES model_versions (model, version)
);
CREATE TABLE model_events (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  time_ms INTEGER NOT NULL,
  model TEXT NOT NULL,
  version INTEGER NOT NULL DEFAULT 0,
  kind TEXT NOT NULL,
  actor TEXT NOT NULL,
  reason TEXT NOT NULL DEFAULT '',
  detail TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX model_events_by_model ON model_events (model, kind, id);
CREATE TABLE jobs (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  model TEXT NOT NULL,
  kind TEXT NOT NULL,
  state TEXT NOT NULL,
  spec TEXT NOT NULL,
  progress TEXT NOT NULL DEFAULT '{}',
  result TEXT NOT NULL DEFAULT '{}',
  error TEXT NOT NULL DEFAULT '',
  actor TEXT NOT NULL,
  created_ms INTEGER NOT NULL,
  started_ms INTEGER NOT NULL DEFAULT 0,
  finished_ms INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX jobs_by_model ON jobs (model, id);
)sql";

// Rollouts (lifecycle/rollout.h): at most one running per model.
constexpr char kSchemaV6[] = R"sql(
CREATE TABLE rollouts (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  model TEXT NOT NULL,
  candidate INTEGER NOT NULL,
  baseline INTEGER NOT NULL,
  mode TEXT NOT NULL,
  state TEXT NOT NULL,
  plan TEXT NOT NULL DEFAULT '{}',
  step INTEGER NOT NULL DEFAULT 0,
  step_started_ms INTEGER NOT NULL,
  analysis TEXT NOT NULL DEFAULT '{}',
  actor TEXT NOT NULL,
  reason TEXT NOT NULL DEFAULT '',
  created_ms INTEGER NOT NULL,
  updated_ms INTEGER NOT NULL,
  ended_ms INTEGER NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX rollouts_running ON rollouts (model) WHERE state = 'running';
CREATE INDEX rollouts_by_model ON rollouts (model, id);
)sql";

// From schema 6 to 7: API keys (sqlite_keys.cc). Only the salted hash of a
// key's secret is stored.
constexpr char kSchemaV7[] = R"sql(
CREATE TABLE api_keys (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  roles TEXT NOT NULL,
  salt TEXT NOT NULL,
  hash TEXT NOT NULL,
  created_by TEXT NOT NULL,
  created_ms INTEGER NOT NULL,
  revoked_ms INTEGER NOT NULL DEFAULT 0
);
)sql";

// From schema 1 or 2 to 3: version 1's log (a row per request, inputs and
// outputs as JSON) and its feedback are kept, renamed, for querying; Vigil
// no longer reads them.
constexpr char kRetireV1Log[] = R"sql(
ALTER TABLE predictions RENAME TO predictions_v1;
ALTER TABLE feedback RENAME TO feedback_v1;
)sql";

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
  store->files_ = std::make_unique<SegmentFiles>(path.string() + "-log");
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
  if (version < 2) VIGIL_RETURN_IF_ERROR(Exec(db_, kSchemaV2));
  if (version >= 1 && version < 3) VIGIL_RETURN_IF_ERROR(Exec(db_, kRetireV1Log));
  if (version < 3) VIGIL_RETURN_IF_ERROR(Exec(db_, kSchemaV3));
  if (version < 4) VIGIL_RETURN_IF_ERROR(Exec(db_, kSchemaV4));
  if (version < 5) VIGIL_RETURN_IF_ERROR(Exec(db_, kSchemaV5));
  if (version < 6) VIGIL_RETURN_IF_ERROR(Exec(db_, kSchemaV6));
  if (version < 7) VIGIL_RETURN_IF_ERROR(Exec(db_, kSchemaV7));
  VIGIL_RETURN_IF_ERROR(Exec(db_, ("PRAGMA user_version = " + std::to_string(kSchemaVersion)).c_str()));
  return t.Commit();
}

Result<int64_t> SqliteStore::AppendLogSegment(const LogSegment& segment) {
  std::lock_guard lock(log_mu_);
  // A new file is numbered above every file a row refers to, even if the
  // directory was emptied, so that retention's "below the oldest file still
  // referred to" never covers it.
  int64_t max_file = 0;
  if (!files_->writing()) {
    Statement q(log_db_, "SELECT coalesce(max(file), 0) FROM log_segments");
    if (!q.ok() || q.Step() != SQLITE_ROW) return Error(log_db_, "reading the newest segment file");
    max_file = q.Int(0);
  }
  // The bytes first: a crash before the commit leaves bytes no row refers to.
  auto at = files_->Append(segment.data, max_file);
  if (!at.ok()) return at.status();
  Transaction t(log_db_);
  VIGIL_RETURN_IF_ERROR(t.status());
  {
    Statement insert(log_db_,
                     "INSERT INTO log_segments (model, version, first_ms, last_ms, requests, rows, total, data, "
                     "file, offset, length, checksum) "
                     "VALUES (?, ?, ?, ?, ?, ?, ?5 + coalesce((SELECT total FROM log_segments ORDER BY id DESC "
                     "LIMIT 1), 0), X'', ?, ?, ?, ?)");
    if (!insert.ok()) return Error(log_db_, "preparing the log segment insert");
    insert.Bind(1, segment.model).Bind(2, segment.version).Bind(3, segment.first_ms).Bind(4, segment.last_ms);
    insert.Bind(5, segment.requests).Bind(6, segment.rows).Bind(7, at->file).Bind(8, at->offset);
    insert.Bind(9, at->length).Bind(10, static_cast<int64_t>(at->checksum));
    if (insert.Step() != SQLITE_DONE) return Error(log_db_, "logging a segment of predictions");
  }
  const int64_t id = sqlite3_last_insert_rowid(log_db_);
  int64_t ignored = 0;
  if (!segment.client_ids.empty()) {
    Statement index(log_db_,
                    "INSERT INTO log_ids (model, request_id, segment, slot, rows) VALUES (?, ?, ?, ?, ?) "
                    "ON CONFLICT DO NOTHING");
    if (!index.ok()) return Error(log_db_, "preparing the id insert");
    for (const LogSegment::ClientId& c : segment.client_ids) {
      index.Bind(1, segment.model).Bind(2, c.request_id).Bind(3, id).Bind(4, c.slot).Bind(5, c.rows);
      if (index.Step() != SQLITE_DONE) return Error(log_db_, "indexing a request id");
      if (sqlite3_changes(log_db_) == 0) ++ignored;
      index.Reset();
    }
  }
  VIGIL_RETURN_IF_ERROR(t.Commit());
  return ignored;
}

namespace {

// The columns that say where a segment's bytes are, for SegmentBytes.
constexpr char kSegmentBytes[] = "data, file, offset, length, checksum";

// The bytes of the segment row `q` is on, whose kSegmentBytes start at
// `column`: in its file, or in the row itself (written by schema 3).
// NOT_FOUND when retention deleted the file since the row was read.
Result<std::string> SegmentBytes(const Statement& q, int column, const SegmentFiles& files) {
  if (q.IsNull(column + 1)) return q.Blob(column);
  return files.Read({q.Int(column + 1), q.Int(column + 2), q.Int(column + 3), static_cast<uint64_t>(q.Int(column + 4))});
}

// Readers skip a segment whose bytes cannot be read (a crash of the machine
// lost them, the directory was not copied with the database, retention
// deleted the file since the row was read), so that the rest of the log
// stays readable; each call that skipped any says so once.
class SkippedSegments {
 public:
  SkippedSegments() = default;
  SkippedSegments(const SkippedSegments&) = delete;
  SkippedSegments& operator=(const SkippedSegments&) = delete;
  ~SkippedSegments() {
    if (count_ > 0) {
      spdlog::warn("prediction log: skipped {} segment(s) whose bytes could not be read; segment {}: {}", count_,
                   first_id_, first_.message());
    }
  }
  void Add(int64_t id, const Status& status) {
    if (count_++ == 0) {
      first_id_ = id;
      first_ = status;
    }
  }

 private:
  int64_t count_ = 0;
  int64_t first_id_ = 0;
  Status first_;
};

// A segment's records, read once per call that needs them.
struct SegmentIndex {
  std::string data;
  std::shared_ptr<const LogSchema> schema;
  int64_t version = 0;
  std::vector<std::string_view> records;  // By slot.
  std::vector<LogRecordHeader> headers;
};

// Loads segment `id` into `cache` (once while it stays there; the cache
// holds a few segments, up to 4 MiB each); null if it is gone or unreadable.
const SegmentIndex* LoadSegment(sqlite3* db, const SegmentFiles& files, int64_t id,
                                std::map<int64_t, std::unique_ptr<SegmentIndex>>& cache, SkippedSegments& skipped) {
  constexpr size_t kCachedSegments = 8;
  if (auto it = cache.find(id); it != cache.end()) return it->second.get();
  if (cache.size() >= kCachedSegments) cache.clear();
  auto [it, added] = cache.try_emplace(id);
  Statement q(db, std::string("SELECT version, ") + kSegmentBytes + " FROM log_segments WHERE id = ?");
  if (!q.ok() || q.Bind(1, id).Step() != SQLITE_ROW) return nullptr;
  auto data = SegmentBytes(q, 1, files);
  if (!data.ok()) {
    skipped.Add(id, data.status());
    return nullptr;
  }
  auto index = std::make_unique<SegmentIndex>();
  index->version = q.Int(0);
  index->data = std::move(*data);
  auto reader = LogSegmentReader::Open(index->data);
  if (!reader.ok()) return nullptr;
  index->schema = reader->schema();
  std::string_view record;
  while (reader->Next(&record)) {
    LogRecordHeader header;
    if (!ReadLogRecordHeader(record, &header).ok()) break;
    index->records.push_back(record);
    index->headers.push_back(header);
  }
  it->second = std::move(index);
  return it->second.get();
}

}  // namespace

Result<std::vector<FeedbackOutcome>> SqliteStore::RecordFeedback(const std::string& model,
                                                                 const std::vector<FeedbackItem>& items,
                                                                 int64_t now_ms) {
  std::lock_guard lock(mu_);
  Transaction t(db_);
  VIGIL_RETURN_IF_ERROR(t.status());
  Statement by_id(db_, "SELECT segment, slot, rows FROM log_ids WHERE model = ? AND request_id = ?");
  Statement by_time(db_,
                    "SELECT id FROM log_segments WHERE model = ? AND first_ms BETWEEN ? AND ? AND last_ms >= ? "
                    "ORDER BY id");
  Statement insert(db_,
                   "INSERT INTO feedback (segment, slot, row, label, time_ms) VALUES (?, ?, ?, ?, ?) "
                   "ON CONFLICT DO NOTHING");
  Statement existing(db_, "SELECT label FROM feedback WHERE segment = ? AND slot = ? AND row = ?");
  if (!by_id.ok() || !by_time.ok() || !insert.ok() || !existing.ok()) {
    return Error(db_, "preparing the feedback statements");
  }
  std::map<int64_t, std::unique_ptr<SegmentIndex>> segments;
  SkippedSegments skipped;
  std::vector<FeedbackOutcome> outcomes;
  outcomes.reserve(items.size());
  for (const FeedbackItem& item : items) {
    // The request: by the client's id, else by the time in Vigil's id.
    int64_t segment = 0, slot = -1, rows = 0;
    by_id.Bind(1, model).Bind(2, item.request_id);
    int rc = by_id.Step();
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) return Error(db_, "looking up a request id");
    if (rc == SQLITE_ROW) {
      segment = by_id.Int(0);
      slot = by_id.Int(1);
      rows = by_id.Int(2);
    }
    by_id.Reset();
    const std::optional<int64_t> time = slot < 0 ? RequestIdTime(item.request_id) : std::nullopt;
    if (time) {
      by_time.Bind(1, model).Bind(2, *time - kLogSegmentMaxSpanMs).Bind(3, *time).Bind(4, *time);
      while (slot < 0 && (rc = by_time.Step()) == SQLITE_ROW) {
        const SegmentIndex* s = LoadSegment(db_, *files_, by_time.Int(0), segments, skipped);
        for (size_t i = 0; s && i < s->headers.size(); ++i) {
          const LogRecordHeader& h = s->headers[i];
          // The answered prediction, not a shadow rollout's copy of it.
          if (!h.client_id && h.time_ms == *time && h.request_id == item.request_id && h.route != "shadow") {
            segment = by_time.Int(0);
            slot = static_cast<int64_t>(i);
            rows = h.rows;
            break;
          }
        }
      }
      if (rc != SQLITE_ROW && rc != SQLITE_DONE) return Error(db_, "finding a request by its time");
      by_time.Reset();
    }
    if (slot < 0 || item.row >= rows) {
      outcomes.push_back(FeedbackOutcome::kUnknownId);
      continue;
    }
    insert.Bind(1, segment).Bind(2, slot).Bind(3, item.row).Bind(4, item.label).Bind(5, now_ms);
    if (insert.Step() != SQLITE_DONE) return Error(db_, "recording feedback");
    insert.Reset();
    if (sqlite3_changes(db_) == 1) {
      outcomes.push_back(FeedbackOutcome::kRecorded);
      continue;
    }
    existing.Bind(1, segment).Bind(2, slot).Bind(3, item.row);
    if (existing.Step() != SQLITE_ROW) return Error(db_, "reading earlier feedback");
    outcomes.push_back(existing.Text(0) == item.label ? FeedbackOutcome::kDuplicate : FeedbackOutcome::kConflict);
    existing.Reset();
  }
  VIGIL_RETURN_IF_ERROR(t.Commit());
  return outcomes;
}

Result<int64_t> SqliteStore::PrunePredictions(int64_t before_ms, int64_t max_requests, int64_t max_windows) {
  // The log's connection is taken for one step at a time, so that the log's
  // writer appends between the chunks however much is due.
  std::unique_lock lock(log_mu_);
  // Segments are appended in time order, and retention only ever deletes the
  // oldest: everything below one segment id goes. By age, the first segment
  // with a request at or after `before_ms` (found walking from the oldest,
  // through the segments to delete); by count, the first segment whose
  // running total is within the newest `max_requests`.
  int64_t cut;
  {
    Statement q(log_db_,
                "SELECT coalesce((SELECT id FROM log_segments WHERE last_ms >= ?1 ORDER BY id LIMIT 1), "
                "(SELECT coalesce(max(id), 0) + 1 FROM log_segments)), "
                "coalesce((SELECT id FROM log_segments WHERE total > (SELECT coalesce(max(total), 0) FROM "
                "log_segments) - ?2 ORDER BY total LIMIT 1), 0)");
    if (!q.ok() || q.Bind(1, before_ms).Bind(2, max_requests).Step() != SQLITE_ROW) {
      return Error(log_db_, "finding what retention deletes");
    }
    cut = q.Int(0);
    if (max_requests > 0) cut = std::max(cut, q.Int(1));
  }
  {
    Statement windows(log_db_, "DELETE FROM windows WHERE end_ms < ?");
    if (!windows.ok() || windows.Bind(1, before_ms).Step() != SQLITE_DONE) {
      return Error(log_db_, "deleting windows past their retention");
    }
  }
  if (max_windows > 0) {
    // Windows close every 1,000 rows by default: at hundreds of thousands of
    // rows a second, hundreds a second. The newest are kept (ids grow with
    // time).
    Statement excess(log_db_,
                     "DELETE FROM windows WHERE id <= (SELECT id FROM windows ORDER BY id DESC LIMIT 1 OFFSET ?)");
    if (!excess.ok() || excess.Bind(1, max_windows).Step() != SQLITE_DONE) {
      return Error(log_db_, "deleting windows beyond the count limit");
    }
  }
  // In chunks of short transactions, so that feedback (on the other
  // connection) and the log's writer get the write lock between them,
  // however much is due.
  constexpr int64_t kChunk = 8;  // Segments: up to 32,768 requests.
  int64_t deleted = 0;
  for (;;) {
    if (!lock.owns_lock()) lock.lock();
    Transaction t(log_db_);
    VIGIL_RETURN_IF_ERROR(t.status());
    Statement ids(log_db_, "DELETE FROM log_ids WHERE segment < min(?, (SELECT min(id) FROM log_segments) + ?)");
    if (!ids.ok() || ids.Bind(1, cut).Bind(2, kChunk).Step() != SQLITE_DONE) {
      return Error(log_db_, "deleting request ids past their retention");
    }
    Statement chunk(log_db_,
                    "DELETE FROM log_segments WHERE id < min(?, (SELECT min(id) FROM log_segments) + ?) "
                    "RETURNING requests");
    if (!chunk.ok()) return Error(log_db_, "preparing the retention delete");
    chunk.Bind(1, cut).Bind(2, kChunk);
    int64_t n = 0;
    int rc;
    while ((rc = chunk.Step()) == SQLITE_ROW) n += chunk.Int(0);
    if (rc != SQLITE_DONE) return Error(log_db_, "deleting predictions past their retention");
    const bool any = sqlite3_changes(log_db_) > 0;
    VIGIL_RETURN_IF_ERROR(t.Commit());
    deleted += n;
    if (!any) break;
    lock.unlock();
    std::this_thread::yield();
  }
  // Files are numbered in the order their segments were appended, so every
  // file below the oldest one a row still refers to is unreferenced.
  Statement oldest(log_db_, "SELECT min(file) FROM log_segments WHERE file IS NOT NULL");
  if (!oldest.ok() || oldest.Step() != SQLITE_ROW) return Error(log_db_, "finding the oldest segment file");
  files_->RemoveBelow(oldest.IsNull(0) ? INT64_MAX : oldest.Int(0));
  // The pass read pages that will not be read again (up to the connection's
  // whole cache, 16 MiB): let them go rather than hold them until the
  // next write by the other connection.
  if (deleted > 0) sqlite3_db_release_memory(log_db_);
  return deleted;
}

namespace {

// Decodes a segment row's records that arrived in [from_ms, to_ms) into
// `out`, up to `limit` in all.
Status DecodeSegment(const std::string& model, int64_t version, std::string_view data, int64_t from_ms,
                     int64_t to_ms, int64_t limit, std::vector<StoredPrediction>* out) {
  auto reader = LogSegmentReader::Open(data);
  if (!reader.ok()) return reader.status();
  std::string_view record;
  while (std::ssize(*out) < limit && reader->Next(&record)) {
    LogRecordHeader header;
    VIGIL_RETURN_IF_ERROR(ReadLogRecordHeader(record, &header));
    if (header.time_ms < from_ms || header.time_ms >= to_ms) continue;
    StoredPrediction p;
    VIGIL_RETURN_IF_ERROR(DecodeLogRecord(record, &p));
    p.model = model;
    p.version = version;
    p.schema = reader->schema();
    out->push_back(std::move(p));
  }
  return Status::Ok();
}

}  // namespace

Result<std::vector<StoredPrediction>> SqliteStore::Predictions(const std::string& model, int64_t from_ms,
                                                               int64_t to_ms, int64_t limit) {
  return VersionPredictions(model, 0, from_ms, to_ms, limit);
}

Result<std::vector<StoredPrediction>> SqliteStore::VersionPredictions(const std::string& model, int64_t version,
                                                                      int64_t from_ms, int64_t to_ms,
                                                                      int64_t limit) {
  std::lock_guard lock(mu_);
  // Segments hold one version each, so a version's requests are its segments'.
  Statement q(db_, std::string("SELECT id, version, ") + kSegmentBytes +
                       " FROM log_segments WHERE model = ?1 AND first_ms >= ?2 AND first_ms < ?3 "
                       "AND (?4 = 0 OR version = ?4) ORDER BY id");
  if (!q.ok()) return Error(db_, "preparing the prediction query");
  q.Bind(1, model).Bind(2, from_ms - kLogSegmentMaxSpanMs).Bind(3, to_ms).Bind(4, version);
  SkippedSegments skipped;
  std::vector<StoredPrediction> out;
  int rc;
  while (std::ssize(out) < limit && (rc = q.Step()) == SQLITE_ROW) {
    auto data = SegmentBytes(q, 2, *files_);
    if (!data.ok()) {
      skipped.Add(q.Int(0), data.status());
      continue;
    }
    if (Status s = DecodeSegment(model, q.Int(1), *data, from_ms, to_ms, limit, &out); !s.ok()) {
      return Status::Internal("the prediction log of '" + model + "': " + s.message());
    }
  }
  if (std::ssize(out) < limit && rc != SQLITE_DONE) return Error(db_, "reading predictions");
  return out;
}

Result<std::vector<LabeledPrediction>> SqliteStore::LabeledPredictions(const std::string& model, int64_t from_ms,
                                                                       int64_t to_ms, int64_t limit) {
  std::lock_guard lock(mu_);
  // Driven from the segments of the period to their feedback (the feedback
  // table's key starts with the segment); each labelled request is decoded
  // once, whatever number of its rows have labels.
  Statement q(db_,
              "SELECT f.segment, f.slot, f.row, f.label, f.time_ms FROM log_segments s CROSS JOIN feedback f "
              "ON f.segment = s.id WHERE s.model = ? AND s.first_ms >= ? AND s.first_ms < ? "
              "ORDER BY f.segment, f.slot, f.row");
  if (!q.ok()) return Error(db_, "preparing the labelled prediction query");
  q.Bind(1, model).Bind(2, from_ms - kLogSegmentMaxSpanMs).Bind(3, to_ms);
  std::map<int64_t, std::unique_ptr<SegmentIndex>> segments;
  SkippedSegments skipped;
  std::shared_ptr<const StoredPrediction> request;
  int64_t request_segment = -1, request_slot = -1;
  std::vector<LabeledPrediction> out;
  int rc;
  while (std::ssize(out) < limit && (rc = q.Step()) == SQLITE_ROW) {
    const int64_t segment = q.Int(0), slot = q.Int(1);
    if (segment != request_segment || slot != request_slot) {
      request_segment = segment;
      request_slot = slot;
      request.reset();
      const SegmentIndex* s = LoadSegment(db_, *files_, segment, segments, skipped);
      if (!s || slot >= std::ssize(s->records)) continue;
      const LogRecordHeader& h = s->headers[slot];
      if (h.time_ms < from_ms || h.time_ms >= to_ms) continue;
      auto p = std::make_shared<StoredPrediction>();
      if (Status st = DecodeLogRecord(s->records[slot], p.get()); !st.ok()) {
        return Status::Internal("the prediction log of '" + model + "': " + st.message());
      }
      p->model = model;
      p->version = s->version;
      p->schema = s->schema;
      request = std::move(p);
    }
    if (request) out.push_back({request, q.Int(2), q.Text(3), q.Int(4)});
  }
  if (std::ssize(out) < limit && rc != SQLITE_DONE) return Error(db_, "reading labelled predictions");
  return out;
}

Status SqliteStore::AppendWindows(const std::vector<StoredWindow>& windows) {
  std::lock_guard lock(log_mu_);
  Transaction t(log_db_);
  VIGIL_RETURN_IF_ERROR(t.status());
  Statement q(log_db_,
              "INSERT INTO windows (model, version, start_ms, end_ms, source, counts) VALUES (?, ?, ?, ?, ?, ?)");
  if (!q.ok()) return Error(log_db_, "preparing the window insert");
  for (const StoredWindow& w : windows) {
    q.Bind(1, w.model).Bind(2, w.version).Bind(3, w.start_ms).Bind(4, w.end_ms).Bind(5, w.source).Bind(6, w.counts);
    if (q.Step() != SQLITE_DONE) return Error(log_db_, "saving a window");
    q.Reset();
  }
  return t.Commit();
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
  Statement q(db_, "SELECT coalesce(sum(requests), 0) FROM log_segments WHERE model = ?");
  if (!q.ok() || q.Bind(1, model).Step() != SQLITE_ROW) return Error(db_, "counting predictions");
  return q.Int(0);
}

}  // namespace vigil
