// SqliteStore's alerting tables (schema version 2, see sqlite_store.cc):
// alerts, alert_events, silences and the notification outbox. Every call
// runs on the durable (synchronous=FULL) connection: an acknowledgement or a
// silence that a client is told succeeded is on disk.
#include <sqlite3.h>

#include "store/sqlite_store.h"
#include "store/sqlite_util.h"

namespace vigil {
using sqlite::Error;
using sqlite::Statement;
using sqlite::Transaction;
namespace {

constexpr char kAlertColumns[] =
    "id, fingerprint, rule, model, version, feature, state, severity, value, threshold, labels, annotations, "
    "started_ms, fired_ms, resolve_by_ms, escalated_ms, resolved_ms, acknowledged_by, acknowledgement_note, "
    "acknowledged_ms, updated_ms";

AlertRecord ReadAlert(const Statement& q) {
  AlertRecord a;
  a.id = q.Int(0);
  a.fingerprint = q.Text(1);
  a.rule = q.Text(2);
  a.model = q.Text(3);
  a.version = q.Int(4);
  a.feature = q.Text(5);
  a.state = q.Text(6);
  a.severity = q.Text(7);
  a.value = q.Double(8);
  a.threshold = q.Double(9);
  a.labels = q.Text(10);
  a.annotations = q.Text(11);
  a.started_ms = q.Int(12);
  a.fired_ms = q.Int(13);
  a.resolve_by_ms = q.Int(14);
  a.escalated_ms = q.Int(15);
  a.resolved_ms = q.Int(16);
  a.acknowledged_by = q.Text(17);
  a.acknowledgement_note = q.Text(18);
  a.acknowledged_ms = q.Int(19);
  a.updated_ms = q.Int(20);
  return a;
}

Status InsertEvent(sqlite3* db, int64_t alert_id, const AlertEvent& e) {
  Statement q(db, "INSERT INTO alert_events (alert, time_ms, kind, value, detail) VALUES (?, ?, ?, ?, ?)");
  if (!q.ok()) return Error(db, "preparing the alert event insert");
  q.Bind(1, alert_id).Bind(2, e.time_ms).Bind(3, e.kind).BindDouble(4, e.value).Bind(5, e.detail);
  if (q.Step() != SQLITE_DONE) return Error(db, "recording an alert event");
  return Status::Ok();
}

// Queues `notifications` for `alert_id` (0: each one's own); a re-send
// first replaces an undelivered re-send of the same alert to the same URL.
Status InsertNotifications(sqlite3* db, int64_t alert_id, const std::vector<Notification>& notifications) {
  if (notifications.empty()) return Status::Ok();
  Statement drop(db, "DELETE FROM notifications WHERE alert = ? AND url = ? AND resend = 1");
  Statement q(db,
              "INSERT INTO notifications (alert, kind, url, payload, idempotency_key, created_ms, attempts, "
              "next_attempt_ms, last_error, resend) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
  if (!drop.ok() || !q.ok()) return Error(db, "preparing the notification insert");
  for (const Notification& n : notifications) {
    const int64_t alert = alert_id ? alert_id : n.alert_id;
    if (n.resend) {
      if (drop.Bind(1, alert).Bind(2, n.url).Step() != SQLITE_DONE) return Error(db, "replacing a pending re-send");
      drop.Reset();
    }
    q.Bind(1, alert).Bind(2, n.kind).Bind(3, n.url).Bind(4, n.payload);
    q.Bind(5, n.idempotency_key).Bind(6, n.created_ms).Bind(7, n.attempts).Bind(8, n.next_attempt_ms);
    q.Bind(9, n.last_error).Bind(10, int64_t{n.resend ? 1 : 0});
    if (q.Step() != SQLITE_DONE) return Error(db, "queueing a notification");
    q.Reset();
  }
  return Status::Ok();
}

}  // namespace

Result<int64_t> SqliteStore::SaveAlert(const AlertRecord& a, const AlertEvent& event,
                                       const std::vector<Notification>& notifications) {
  std::lock_guard lock(mu_);
  Transaction t(db_);
  VIGIL_RETURN_IF_ERROR(t.status());
  int64_t id = a.id;
  {
    Statement q(db_, a.id == 0
                         ? "INSERT INTO alerts (fingerprint, rule, model, version, feature, state, severity, value, "
                           "threshold, labels, annotations, started_ms, fired_ms, resolve_by_ms, escalated_ms, "
                           "resolved_ms, acknowledged_by, acknowledgement_note, acknowledged_ms, updated_ms) VALUES "
                           "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                         : "UPDATE alerts SET fingerprint = ?, rule = ?, model = ?, version = ?, feature = ?, "
                           "state = ?, severity = ?, value = ?, threshold = ?, labels = ?, annotations = ?, "
                           "started_ms = ?, fired_ms = ?, resolve_by_ms = ?, escalated_ms = ?, resolved_ms = ?, "
                           "acknowledged_by = ?, acknowledgement_note = ?, acknowledged_ms = ?, updated_ms = ? "
                           "WHERE id = ?");
    if (!q.ok()) return Error(db_, "preparing the alert write");
    q.Bind(1, a.fingerprint).Bind(2, a.rule).Bind(3, a.model).Bind(4, a.version).Bind(5, a.feature);
    q.Bind(6, a.state).Bind(7, a.severity).BindDouble(8, a.value).BindDouble(9, a.threshold).Bind(10, a.labels);
    q.Bind(11, a.annotations).Bind(12, a.started_ms).Bind(13, a.fired_ms).Bind(14, a.resolve_by_ms);
    q.Bind(15, a.escalated_ms).Bind(16, a.resolved_ms).Bind(17, a.acknowledged_by);
    q.Bind(18, a.acknowledgement_note).Bind(19, a.acknowledged_ms).Bind(20, a.updated_ms);
    if (a.id != 0) q.Bind(21, a.id);
    if (q.Step() != SQLITE_DONE) return Error(db_, "saving an alert");
    if (a.id == 0) {
      id = sqlite3_last_insert_rowid(db_);
    } else if (sqlite3_changes(db_) != 1) {
      return Status::NotFound("no alert " + std::to_string(a.id));
    }
  }
  VIGIL_RETURN_IF_ERROR(InsertEvent(db_, id, event));
  if (a.state == "resolved") {
    Statement drop(db_, "DELETE FROM notifications WHERE alert = ? AND resend = 1");
    if (!drop.ok() || drop.Bind(1, id).Step() != SQLITE_DONE) return Error(db_, "dropping a resolved alert's re-sends");
  }
  VIGIL_RETURN_IF_ERROR(InsertNotifications(db_, id, notifications));
  VIGIL_RETURN_IF_ERROR(t.Commit());
  return id;
}

Result<std::vector<AlertRecord>> SqliteStore::Alerts(const AlertQuery& query) {
  std::lock_guard lock(mu_);
  std::string sql = std::string("SELECT ") + kAlertColumns + " FROM alerts WHERE (?1 = '' OR model = ?1)";
  if (query.state == "active") {
    sql += " AND state IN ('pending', 'firing')";
  } else {
    sql += " AND (?2 = '' OR state = ?2)";
  }
  sql += " ORDER BY id DESC LIMIT ?3";
  Statement q(db_, sql);
  if (!q.ok()) return Error(db_, "preparing the alert query");
  q.Bind(1, query.model).Bind(3, query.limit);
  if (query.state != "active") q.Bind(2, query.state);
  std::vector<AlertRecord> out;
  int rc;
  while ((rc = q.Step()) == SQLITE_ROW) out.push_back(ReadAlert(q));
  if (rc != SQLITE_DONE) return Error(db_, "reading alerts");
  return out;
}

Result<std::optional<AlertRecord>> SqliteStore::GetAlert(int64_t id) {
  std::lock_guard lock(mu_);
  Statement q(db_, std::string("SELECT ") + kAlertColumns + " FROM alerts WHERE id = ?");
  if (!q.ok()) return Error(db_, "preparing the alert lookup");
  const int rc = q.Bind(1, id).Step();
  if (rc == SQLITE_DONE) return std::optional<AlertRecord>();
  if (rc != SQLITE_ROW) return Error(db_, "reading an alert");
  return std::optional<AlertRecord>(ReadAlert(q));
}

Result<std::vector<AlertEvent>> SqliteStore::AlertEvents(int64_t alert_id) {
  std::lock_guard lock(mu_);
  Statement q(db_, "SELECT id, alert, time_ms, kind, value, detail FROM alert_events WHERE alert = ? ORDER BY id");
  if (!q.ok()) return Error(db_, "preparing the alert event query");
  q.Bind(1, alert_id);
  std::vector<AlertEvent> out;
  int rc;
  while ((rc = q.Step()) == SQLITE_ROW) {
    out.push_back({q.Int(0), q.Int(1), q.Int(2), q.Text(3), q.Double(4), q.Text(5)});
  }
  if (rc != SQLITE_DONE) return Error(db_, "reading alert events");
  return out;
}

Result<int64_t> SqliteStore::PruneAlerts(int64_t before_ms) {
  std::lock_guard lock(mu_);
  Transaction t(db_);
  VIGIL_RETURN_IF_ERROR(t.status());
  Statement alerts(db_, "DELETE FROM alerts WHERE state IN ('resolved', 'inactive') AND updated_ms < ?");
  if (!alerts.ok() || alerts.Bind(1, before_ms).Step() != SQLITE_DONE) return Error(db_, "deleting old alerts");
  const int64_t deleted = sqlite3_changes(db_);
  Statement silences(db_, "DELETE FROM silences WHERE ends_ms < ?");
  if (!silences.ok() || silences.Bind(1, before_ms).Step() != SQLITE_DONE) return Error(db_, "deleting old silences");
  VIGIL_RETURN_IF_ERROR(t.Commit());
  return deleted;
}

Result<int64_t> SqliteStore::AddSilence(const Silence& s) {
  std::lock_guard lock(mu_);
  Statement q(db_,
              "INSERT INTO silences (matchers, starts_ms, ends_ms, created_by, comment, created_ms) "
              "VALUES (?, ?, ?, ?, ?, ?)");
  if (!q.ok()) return Error(db_, "preparing the silence insert");
  q.Bind(1, s.matchers).Bind(2, s.starts_ms).Bind(3, s.ends_ms).Bind(4, s.created_by).Bind(5, s.comment);
  q.Bind(6, s.created_ms);
  if (q.Step() != SQLITE_DONE) return Error(db_, "adding a silence");
  return sqlite3_last_insert_rowid(db_);
}

Result<std::vector<Silence>> SqliteStore::Silences(int64_t now_ms) {
  std::lock_guard lock(mu_);
  Statement q(db_,
              "SELECT id, matchers, starts_ms, ends_ms, created_by, comment, created_ms FROM silences "
              "WHERE ends_ms > ? ORDER BY id");
  if (!q.ok()) return Error(db_, "preparing the silence query");
  q.Bind(1, now_ms);
  std::vector<Silence> out;
  int rc;
  while ((rc = q.Step()) == SQLITE_ROW) {
    out.push_back({q.Int(0), q.Text(1), q.Int(2), q.Int(3), q.Text(4), q.Text(5), q.Int(6)});
  }
  if (rc != SQLITE_DONE) return Error(db_, "reading silences");
  return out;
}

Result<bool> SqliteStore::ExpireSilence(int64_t id, int64_t now_ms) {
  std::lock_guard lock(mu_);
  Statement q(db_, "UPDATE silences SET ends_ms = ?1 WHERE id = ?2 AND ends_ms > ?1");
  if (!q.ok()) return Error(db_, "preparing the silence expiry");
  if (q.Bind(1, now_ms).Bind(2, id).Step() != SQLITE_DONE) return Error(db_, "expiring a silence");
  return sqlite3_changes(db_) == 1;
}

Status SqliteStore::AddNotifications(const std::vector<Notification>& notifications) {
  std::lock_guard lock(mu_);
  Transaction t(db_);
  VIGIL_RETURN_IF_ERROR(t.status());
  VIGIL_RETURN_IF_ERROR(InsertNotifications(db_, 0, notifications));
  return t.Commit();
}

Result<std::vector<Notification>> SqliteStore::DueNotifications(int64_t now_ms, int64_t limit) {
  std::lock_guard lock(mu_);
  Statement q(db_,
              "SELECT id, alert, kind, url, payload, idempotency_key, created_ms, attempts, next_attempt_ms, "
              "last_error, resend FROM notifications WHERE next_attempt_ms <= ? ORDER BY id LIMIT ?");
  if (!q.ok()) return Error(db_, "preparing the outbox query");
  q.Bind(1, now_ms).Bind(2, limit);
  std::vector<Notification> out;
  int rc;
  while ((rc = q.Step()) == SQLITE_ROW) {
    out.push_back({q.Int(0), q.Int(1), q.Text(2), q.Text(3), q.Text(4), q.Text(5), q.Int(6), q.Int(7), q.Int(8),
                   q.Text(9), q.Int(10) != 0});
  }
  if (rc != SQLITE_DONE) return Error(db_, "reading the outbox");
  return out;
}

Status SqliteStore::FinishNotification(const Notification& n, const AlertEvent& event) {
  std::lock_guard lock(mu_);
  Transaction t(db_);
  VIGIL_RETURN_IF_ERROR(t.status());
  Statement q(db_, "DELETE FROM notifications WHERE id = ?");
  if (!q.ok() || q.Bind(1, n.id).Step() != SQLITE_DONE) return Error(db_, "removing a delivered notification");
  if (!event.kind.empty()) VIGIL_RETURN_IF_ERROR(InsertEvent(db_, n.alert_id, event));
  return t.Commit();
}

Status SqliteStore::RetryNotification(const Notification& n) {
  std::lock_guard lock(mu_);
  Statement q(db_, "UPDATE notifications SET attempts = ?, next_attempt_ms = ?, last_error = ? WHERE id = ?");
  if (!q.ok()) return Error(db_, "preparing the notification update");
  q.Bind(1, n.attempts).Bind(2, n.next_attempt_ms).Bind(3, n.last_error).Bind(4, n.id);
  if (q.Step() != SQLITE_DONE) return Error(db_, "recording a notification attempt");
  return Status::Ok();
}

}  // namespace vigil
