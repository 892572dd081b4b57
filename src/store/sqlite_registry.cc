// SqliteStore's registry tables (schema versions 5 and 6, see
// sqlite_store.cc): model_versions, aliases, model_events, jobs and rollouts. Every call runs on the durable
// (synchronous=FULL) connection: a registration or an alias move that a
// client is told succeeded is on disk.
#include <sqlite3.h>

#include "common/json_text.h"
#include "store/sqlite_store.h"
#include "store/sqlite_util.h"

namespace vigil {
using sqlite::Error;
using sqlite::Statement;
using sqlite::Transaction;
namespace {

constexpr char kVersionColumns[] =
    "model, version, artifact, sha256, artifact_bytes, origin, parent_version, data_fingerprint, data_rows, "
    "parameters, metrics, profile, author, description, created_ms";

ModelVersionRecord ReadVersion(const Statement& q) {
  ModelVersionRecord v;
  v.model = q.Text(0);
  v.version = q.Int(1);
  v.artifact = q.Text(2);
  v.sha256 = q.Text(3);
  v.artifact_bytes = q.Int(4);
  v.origin = q.Text(5);
  v.parent_version = q.Int(6);
  v.data_fingerprint = q.Text(7);
  v.data_rows = q.Int(8);
  v.parameters = q.Text(9);
  v.metrics = q.Text(10);
  v.profile = q.Text(11);
  v.author = q.Text(12);
  v.description = q.Text(13);
  v.created_ms = q.Int(14);
  return v;
}

constexpr char kEventColumns[] = "id, time_ms, model, version, kind, actor, reason, detail";

ModelEvent ReadEvent(const Statement& q) {
  ModelEvent e;
  e.id = q.Int(0);
  e.time_ms = q.Int(1);
  e.model = q.Text(2);
  e.version = q.Int(3);
  e.kind = q.Text(4);
  e.actor = q.Text(5);
  e.reason = q.Text(6);
  e.detail = q.Text(7);
  return e;
}

Result<int64_t> InsertEvent(sqlite3* db, const ModelEvent& e) {
  Statement q(db, "INSERT INTO model_events (time_ms, model, version, kind, actor, reason, detail) "
                  "VALUES (?, ?, ?, ?, ?, ?, ?)");
  if (!q.ok()) return Error(db, "preparing the model event insert");
  q.Bind(1, e.time_ms).Bind(2, e.model).Bind(3, e.version).Bind(4, e.kind).Bind(5, e.actor).Bind(6, e.reason);
  q.Bind(7, e.detail);
  if (q.Step() != SQLITE_DONE) return Error(db, "recording a model event");
  return sqlite3_last_insert_rowid(db);
}

// The version an alias points at now; 0 if it is unset.
Result<int64_t> CurrentAlias(sqlite3* db, const std::string& model, const std::string& alias) {
  Statement q(db, "SELECT version FROM aliases WHERE model = ? AND alias = ?");
  if (!q.ok()) return Error(db, "preparing the alias lookup");
  q.Bind(1, model).Bind(2, alias);
  const int rc = q.Step();
  if (rc == SQLITE_ROW) return q.Int(0);
  if (rc != SQLITE_DONE) return Error(db, "reading an alias");
  return int64_t{0};
}

void AppendVersionOrNull(std::string& out, int64_t version) {
  if (version > 0) {
    AppendJsonNumber(out, version);
  } else {
    out += "null";
  }
}

}  // namespace

Status SqliteStore::AddModelVersion(const ModelVersionRecord& v, const ModelEvent& event) {
  std::lock_guard lock(mu_);
  Transaction t(db_);
  VIGIL_RETURN_IF_ERROR(t.status());
  {
    Statement exists(db_, "SELECT sha256 FROM model_versions WHERE model = ? AND version = ?");
    if (!exists.ok()) return Error(db_, "preparing the version lookup");
    exists.Bind(1, v.model).Bind(2, v.version);
    const int rc = exists.Step();
    if (rc == SQLITE_ROW) {
      return Status::AlreadyExists("model '" + v.model + "' version " + std::to_string(v.version) +
                                   " is registered already (artifact sha256 " + exists.Text(0) +
                                   "); versions are immutable");
    }
    if (rc != SQLITE_DONE) return Error(db_, "looking up a version");
  }
  Statement q(db_, std::string("INSERT INTO model_versions (") + kVersionColumns +
                       ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
  if (!q.ok()) return Error(db_, "preparing the version insert");
  q.Bind(1, v.model).Bind(2, v.version).Bind(3, v.artifact).Bind(4, v.sha256).Bind(5, v.artifact_bytes);
  q.Bind(6, v.origin).Bind(7, v.parent_version).Bind(8, v.data_fingerprint).Bind(9, v.data_rows);
  q.Bind(10, v.parameters).Bind(11, v.metrics).Bind(12, v.profile).Bind(13, v.author).Bind(14, v.description);
  q.Bind(15, v.created_ms);
  if (q.Step() != SQLITE_DONE) return Error(db_, "registering a version");
  VIGIL_RETURN_IF_ERROR(InsertEvent(db_, event).status());
  return t.Commit();
}

Result<std::vector<ModelVersionRecord>> SqliteStore::ModelVersions(const std::string& model) {
  std::lock_guard lock(mu_);
  Statement q(db_, std::string("SELECT ") + kVersionColumns +
                       " FROM model_versions WHERE ?1 = '' OR model = ?1 ORDER BY model, version");
  if (!q.ok()) return Error(db_, "preparing the versions query");
  q.Bind(1, model);
  std::vector<ModelVersionRecord> out;
  int rc;
  while ((rc = q.Step()) == SQLITE_ROW) out.push_back(ReadVersion(q));
  if (rc != SQLITE_DONE) return Error(db_, "reading versions");
  return out;
}

Result<std::optional<ModelVersionRecord>> SqliteStore::GetModelVersion(const std::string& model, int64_t version) {
  std::lock_guard lock(mu_);
  Statement q(db_, std::string("SELECT ") + kVersionColumns + " FROM model_versions WHERE model = ? AND version = ?");
  if (!q.ok()) return Error(db_, "preparing the version query");
  q.Bind(1, model).Bind(2, version);
  const int rc = q.Step();
  if (rc == SQLITE_ROW) return std::optional<ModelVersionRecord>(ReadVersion(q));
  if (rc != SQLITE_DONE) return Error(db_, "reading a version");
  return std::optional<ModelVersionRecord>();
}

Result<std::vector<AliasRecord>> SqliteStore::Aliases(const std::string& model) {
  std::lock_guard lock(mu_);
  Statement q(db_, "SELECT model, alias, version, updated_ms FROM aliases WHERE ?1 = '' OR model = ?1 "
                   "ORDER BY model, alias");
  if (!q.ok()) return Error(db_, "preparing the aliases query");
  q.Bind(1, model);
  std::vector<AliasRecord> out;
  int rc;
  while ((rc = q.Step()) == SQLITE_ROW) out.push_back({q.Text(0), q.Text(1), q.Int(2), q.Int(3)});
  if (rc != SQLITE_DONE) return Error(db_, "reading aliases");
  return out;
}

namespace {

// MoveAlias's work inside the caller's transaction.
Result<int64_t> MoveAliasIn(sqlite3* db_, const std::string& alias, int64_t to, int64_t expected_from,
                            const ModelEvent& event) {
  const std::string& model = event.model;
  auto from = CurrentAlias(db_, model, alias);
  if (!from.ok()) return from.status();
  if (expected_from >= 0 && *from != expected_from) {
    return Status::FailedPrecondition(
        "alias '" + alias + "' of model '" + model + "' moved meanwhile: it points at " +
        (*from ? "version " + std::to_string(*from) : std::string("no version")) + ", not " +
        (expected_from ? "version " + std::to_string(expected_from) : std::string("nothing")));
  }
  if (to > 0) {
    Statement registered(db_, "SELECT 1 FROM model_versions WHERE model = ? AND version = ?");
    if (!registered.ok()) return Error(db_, "preparing the version lookup");
    registered.Bind(1, model).Bind(2, to);
    const int rc = registered.Step();
    if (rc == SQLITE_DONE) {
      return Status::NotFound("model '" + model + "' has no registered version " + std::to_string(to));
    }
    if (rc != SQLITE_ROW) return Error(db_, "looking up a version");
    Statement q(db_, "INSERT INTO aliases (model, alias, version, updated_ms) VALUES (?, ?, ?, ?) "
                     "ON CONFLICT (model, alias) DO UPDATE SET version = excluded.version, "
                     "updated_ms = excluded.updated_ms");
    if (!q.ok()) return Error(db_, "preparing the alias update");
    q.Bind(1, model).Bind(2, alias).Bind(3, to).Bind(4, event.time_ms);
    if (q.Step() != SQLITE_DONE) return Error(db_, "moving an alias");
  } else {
    Statement q(db_, "DELETE FROM aliases WHERE model = ? AND alias = ?");
    if (!q.ok()) return Error(db_, "preparing the alias removal");
    q.Bind(1, model).Bind(2, alias);
    if (q.Step() != SQLITE_DONE) return Error(db_, "removing an alias");
  }
  ModelEvent e = event;
  e.kind = "alias";
  e.version = to;
  e.detail = "{\"alias\":";
  AppendJsonString(e.detail, alias);
  e.detail += ",\"from\":";
  AppendVersionOrNull(e.detail, *from);
  e.detail += ",\"to\":";
  AppendVersionOrNull(e.detail, to);
  e.detail += '}';
  VIGIL_RETURN_IF_ERROR(InsertEvent(db_, e).status());
  return *from;
}

}  // namespace

Result<int64_t> SqliteStore::MoveAlias(const std::string& alias, int64_t to, int64_t expected_from,
                                       const ModelEvent& event) {
  std::lock_guard lock(mu_);
  Transaction t(db_);
  VIGIL_RETURN_IF_ERROR(t.status());
  auto from = MoveAliasIn(db_, alias, to, expected_from, event);
  if (!from.ok()) return from.status();
  VIGIL_RETURN_IF_ERROR(t.Commit());
  return *from;
}

Result<int64_t> SqliteStore::AddModelEvent(const ModelEvent& event) {
  std::lock_guard lock(mu_);
  return InsertEvent(db_, event);
}

Result<std::vector<ModelEvent>> SqliteStore::ModelEvents(const ModelEventQuery& query) {
  std::lock_guard lock(mu_);
  Statement q(db_, std::string("SELECT ") + kEventColumns +
                       " FROM model_events WHERE (?1 = '' OR model = ?1) AND (?2 = '' OR kind = ?2) "
                       "AND (?3 = '' OR (kind = 'alias' AND json_extract(detail, '$.alias') = ?3)) "
                       "ORDER BY id DESC LIMIT ?4");
  if (!q.ok()) return Error(db_, "preparing the events query");
  q.Bind(1, query.model).Bind(2, query.kind).Bind(3, query.alias).Bind(4, query.limit);
  std::vector<ModelEvent> out;
  int rc;
  while ((rc = q.Step()) == SQLITE_ROW) out.push_back(ReadEvent(q));
  if (rc != SQLITE_DONE) return Error(db_, "reading events");
  return out;
}

namespace {

constexpr char kJobColumns[] =
    "id, model, kind, state, spec, progress, result, error, actor, created_ms, started_ms, finished_ms";

JobRecord ReadJob(const Statement& q) {
  JobRecord j;
  j.id = q.Int(0);
  j.model = q.Text(1);
  j.kind = q.Text(2);
  j.state = q.Text(3);
  j.spec = q.Text(4);
  j.progress = q.Text(5);
  j.result = q.Text(6);
  j.error = q.Text(7);
  j.actor = q.Text(8);
  j.created_ms = q.Int(9);
  j.started_ms = q.Int(10);
  j.finished_ms = q.Int(11);
  return j;
}

}  // namespace

Result<int64_t> SqliteStore::AddJob(const JobRecord& j) {
  std::lock_guard lock(mu_);
  Statement q(db_, "INSERT INTO jobs (model, kind, state, spec, progress, result, error, actor, created_ms, "
                   "started_ms, finished_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
  if (!q.ok()) return Error(db_, "preparing the job insert");
  q.Bind(1, j.model).Bind(2, j.kind).Bind(3, j.state).Bind(4, j.spec).Bind(5, j.progress).Bind(6, j.result);
  q.Bind(7, j.error).Bind(8, j.actor).Bind(9, j.created_ms).Bind(10, j.started_ms).Bind(11, j.finished_ms);
  if (q.Step() != SQLITE_DONE) return Error(db_, "recording a job");
  return sqlite3_last_insert_rowid(db_);
}

Status SqliteStore::UpdateJob(const JobRecord& j) {
  std::lock_guard lock(mu_);
  Statement q(db_, "UPDATE jobs SET state = ?, progress = ?, result = ?, error = ?, started_ms = ?, finished_ms = ? "
                   "WHERE id = ?");
  if (!q.ok()) return Error(db_, "preparing the job update");
  q.Bind(1, j.state).Bind(2, j.progress).Bind(3, j.result).Bind(4, j.error).Bind(5, j.started_ms);
  q.Bind(6, j.finished_ms).Bind(7, j.id);
  if (q.Step() != SQLITE_DONE) return Error(db_, "updating a job");
  if (sqlite3_changes(db_) == 0) return Status::NotFound("no job " + std::to_string(j.id));
  return Status::Ok();
}

Result<std::optional<JobRecord>> SqliteStore::GetJob(int64_t id) {
  std::lock_guard lock(mu_);
  Statement q(db_, std::string("SELECT ") + kJobColumns + " FROM jobs WHERE id = ?");
  if (!q.ok()) return Error(db_, "preparing the job query");
  q.Bind(1, id);
  const int rc = q.Step();
  if (rc == SQLITE_ROW) return std::optional<JobRecord>(ReadJob(q));
  if (rc != SQLITE_DONE) return Error(db_, "reading a job");
  return std::optional<JobRecord>();
}

Result<std::vector<JobRecord>> SqliteStore::Jobs(const std::string& model, int64_t limit) {
  std::lock_guard lock(mu_);
  Statement q(db_, std::string("SELECT ") + kJobColumns +
                       " FROM jobs WHERE ?1 = '' OR model = ?1 ORDER BY id DESC LIMIT ?2");
  if (!q.ok()) return Error(db_, "preparing the jobs query");
  q.Bind(1, model).Bind(2, limit);
  std::vector<JobRecord> out;
  int rc;
  while ((rc = q.Step()) == SQLITE_ROW) out.push_back(ReadJob(q));
  if (rc != SQLITE_DONE) return Error(db_, "reading jobs");
  return out;
}

namespace {

constexpr char kRolloutColumns[] =
    "id, model, candidate, baseline, mode, state, plan, step, step_started_ms, analysis, actor, reason, "
    "created_ms, updated_ms, ended_ms";

RolloutRecord ReadRollout(const Statement& q) {
  RolloutRecord r;
  r.id = q.Int(0);
  r.model = q.Text(1);
  r.candidate = q.Int(2);
  r.baseline = q.Int(3);
  r.mode = q.Text(4);
  r.state = q.Text(5);
  r.plan = q.Text(6);
  r.step = q.Int(7);
  r.step_started_ms = q.Int(8);
  r.analysis = q.Text(9);
  r.actor = q.Text(10);
  r.reason = q.Text(11);
  r.created_ms = q.Int(12);
  r.updated_ms = q.Int(13);
  r.ended_ms = q.Int(14);
  return r;
}

// Writes a rollout's progress if it is still running at `expected_step`.
Status UpdateRolloutIn(sqlite3* db_, const RolloutRecord& r, int64_t expected_step) {
  Statement q(db_, "UPDATE rollouts SET state = ?, step = ?, step_started_ms = ?, analysis = ?, updated_ms = ?, "
                   "ended_ms = ? WHERE id = ? AND state = 'running' AND step = ?");
  if (!q.ok()) return Error(db_, "preparing the rollout update");
  q.Bind(1, r.state).Bind(2, r.step).Bind(3, r.step_started_ms).Bind(4, r.analysis).Bind(5, r.updated_ms);
  q.Bind(6, r.ended_ms).Bind(7, r.id).Bind(8, expected_step);
  if (q.Step() != SQLITE_DONE) return Error(db_, "updating a rollout");
  if (sqlite3_changes(db_) == 0) {
    return Status::FailedPrecondition("rollout " + std::to_string(r.id) + " of model '" + r.model +
                                      "' changed meanwhile (it ended or moved on)");
  }
  return Status::Ok();
}

}  // namespace

Result<int64_t> SqliteStore::AddRollout(const RolloutRecord& r, const ModelEvent& event) {
  std::lock_guard lock(mu_);
  Transaction t(db_);
  VIGIL_RETURN_IF_ERROR(t.status());
  {
    Statement running(db_, "SELECT id FROM rollouts WHERE model = ? AND state = 'running'");
    if (!running.ok()) return Error(db_, "preparing the rollout lookup");
    running.Bind(1, r.model);
    const int rc = running.Step();
    if (rc == SQLITE_ROW) {
      return Status::AlreadyExists("model '" + r.model + "' has rollout " + std::to_string(running.Int(0)) +
                                   " running; promote or abort it first");
    }
    if (rc != SQLITE_DONE) return Error(db_, "looking up running rollouts");
  }
  Statement q(db_, "INSERT INTO rollouts (model, candidate, baseline, mode, state, plan, step, step_started_ms, "
                   "analysis, actor, reason, created_ms, updated_ms, ended_ms) "
                   "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
  if (!q.ok()) return Error(db_, "preparing the rollout insert");
  q.Bind(1, r.model).Bind(2, r.candidate).Bind(3, r.baseline).Bind(4, r.mode).Bind(5, r.state).Bind(6, r.plan);
  q.Bind(7, r.step).Bind(8, r.step_started_ms).Bind(9, r.analysis).Bind(10, r.actor).Bind(11, r.reason);
  q.Bind(12, r.created_ms).Bind(13, r.updated_ms).Bind(14, r.ended_ms);
  if (q.Step() != SQLITE_DONE) return Error(db_, "recording a rollout");
  const int64_t id = sqlite3_last_insert_rowid(db_);
  ModelEvent e = event;
  if (e.detail.size() > 1 && e.detail.back() == '}') {
    e.detail.insert(e.detail.size() - 1, std::string(e.detail.size() > 2 ? "," : "") + "\"rollout\":" +
                                             std::to_string(id));
  }
  VIGIL_RETURN_IF_ERROR(InsertEvent(db_, e).status());
  VIGIL_RETURN_IF_ERROR(t.Commit());
  return id;
}

Status SqliteStore::UpdateRollout(const RolloutRecord& r, int64_t expected_step, const ModelEvent* event) {
  std::lock_guard lock(mu_);
  Transaction t(db_);
  VIGIL_RETURN_IF_ERROR(t.status());
  VIGIL_RETURN_IF_ERROR(UpdateRolloutIn(db_, r, expected_step));
  if (event) VIGIL_RETURN_IF_ERROR(InsertEvent(db_, *event).status());
  return t.Commit();
}

Status SqliteStore::PromoteRollout(const RolloutRecord& r, int64_t expected_step, const ModelEvent& move,
                                   const ModelEvent& event) {
  std::lock_guard lock(mu_);
  Transaction t(db_);
  VIGIL_RETURN_IF_ERROR(t.status());
  VIGIL_RETURN_IF_ERROR(UpdateRolloutIn(db_, r, expected_step));
  VIGIL_RETURN_IF_ERROR(MoveAliasIn(db_, "champion", r.candidate, r.baseline, move).status());
  VIGIL_RETURN_IF_ERROR(InsertEvent(db_, event).status());
  return t.Commit();
}

Result<std::optional<RolloutRecord>> SqliteStore::GetRollout(int64_t id) {
  std::lock_guard lock(mu_);
  Statement q(db_, std::string("SELECT ") + kRolloutColumns + " FROM rollouts WHERE id = ?");
  if (!q.ok()) return Error(db_, "preparing the rollout query");
  q.Bind(1, id);
  const int rc = q.Step();
  if (rc == SQLITE_ROW) return std::optional<RolloutRecord>(ReadRollout(q));
  if (rc != SQLITE_DONE) return Error(db_, "reading a rollout");
  return std::optional<RolloutRecord>();
}

Result<std::vector<RolloutRecord>> SqliteStore::Rollouts(const std::string& model, bool running_only,
                                                         int64_t limit) {
  std::lock_guard lock(mu_);
  Statement q(db_, std::string("SELECT ") + kRolloutColumns +
                       " FROM rollouts WHERE (?1 = '' OR model = ?1) AND (?2 = 0 OR state = 'running') "
                       "ORDER BY id DESC LIMIT ?3");
  if (!q.ok()) return Error(db_, "preparing the rollouts query");
  q.Bind(1, model).Bind(2, int64_t{running_only ? 1 : 0}).Bind(3, limit);
  std::vector<RolloutRecord> out;
  int rc;
  while ((rc = q.Step()) == SQLITE_ROW) out.push_back(ReadRollout(q));
  if (rc != SQLITE_DONE) return Error(db_, "reading rollouts");
  return out;
}

Result<int64_t> SqliteStore::LastModelEventId() {
  std::lock_guard lock(mu_);
  Statement q(db_, "SELECT coalesce(max(id), 0) FROM model_events");
  if (!q.ok() || q.Step() != SQLITE_ROW) return Error(db_, "reading the newest event");
  return q.Int(0);
}

}  // namespace vigil
