// SqliteStore's API keys (schema version 7, see sqlite_store.cc), on the
// durable connection: a key that `vigil keys create` printed, or a
// revocation it confirmed, is on disk.
#include <sqlite3.h>

#include "store/sqlite_store.h"
#include "store/sqlite_util.h"

namespace vigil {
using sqlite::Error;
using sqlite::Statement;

Status SqliteStore::AddApiKey(const ApiKeyRecord& key) {
  std::lock_guard lock(mu_);
  Statement q(db_, "INSERT INTO api_keys (id, name, roles, salt, hash, created_by, created_ms, revoked_ms) "
                   "VALUES (?, ?, ?, ?, ?, ?, ?, 0)");
  if (!q.ok()) return Error(db_, "preparing the key insert");
  q.Bind(1, key.id).Bind(2, key.name).Bind(3, key.roles).Bind(4, key.salt).Bind(5, key.hash);
  q.Bind(6, key.created_by).Bind(7, key.created_ms);
  const int rc = q.Step();
  if (rc == SQLITE_CONSTRAINT) return Status::AlreadyExists("an API key with id " + key.id + " exists");
  if (rc != SQLITE_DONE) return Error(db_, "adding an API key");
  return Status::Ok();
}

Result<std::vector<ApiKeyRecord>> SqliteStore::ApiKeys() {
  std::lock_guard lock(mu_);
  Statement q(db_, "SELECT id, name, roles, salt, hash, created_by, created_ms, revoked_ms FROM api_keys "
                   "ORDER BY created_ms, id");
  if (!q.ok()) return Error(db_, "preparing the key query");
  std::vector<ApiKeyRecord> out;
  int rc;
  while ((rc = q.Step()) == SQLITE_ROW) {
    ApiKeyRecord k;
    k.id = q.Text(0);
    k.name = q.Text(1);
    k.roles = q.Text(2);
    k.salt = q.Text(3);
    k.hash = q.Text(4);
    k.created_by = q.Text(5);
    k.created_ms = q.Int(6);
    k.revoked_ms = q.Int(7);
    out.push_back(std::move(k));
  }
  if (rc != SQLITE_DONE) return Error(db_, "reading API keys");
  return out;
}

Result<bool> SqliteStore::RevokeApiKey(const std::string& id, int64_t now_ms) {
  std::lock_guard lock(mu_);
  Statement q(db_, "UPDATE api_keys SET revoked_ms = ? WHERE id = ? AND revoked_ms = 0");
  if (!q.ok()) return Error(db_, "preparing the key revocation");
  q.Bind(1, now_ms).Bind(2, id);
  if (q.Step() != SQLITE_DONE) return Error(db_, "revoking an API key");
  return sqlite3_changes(db_) > 0;
}

}  // namespace vigil
