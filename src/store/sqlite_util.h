// Small RAII helpers over SQLite's C API, shared by the store's files.
// Internal to src/store.
#ifndef VIGIL_STORE_SQLITE_UTIL_H_
#define VIGIL_STORE_SQLITE_UTIL_H_

#include <sqlite3.h>

#include <string>
#include <string_view>

#include "common/status.h"

namespace vigil::sqlite {

// A prepared statement, finalised when it goes out of scope.
class Statement {
 public:
  Statement(sqlite3* db, std::string_view sql) {
    rc_ = sqlite3_prepare_v2(db, sql.data(), static_cast<int>(sql.size()), &stmt_, nullptr);
  }
  ~Statement() { sqlite3_finalize(stmt_); }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  bool ok() const { return rc_ == SQLITE_OK; }
  // `v` must outlive the statement's next Step(): SQLite reads it in place.
  Statement& Bind(int i, const std::string& v) {
    sqlite3_bind_text(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_STATIC);
    return *this;
  }
  // `v` must outlive the statement's next Step().
  Statement& BindBlob(int i, std::string_view v) {
    sqlite3_bind_blob(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_STATIC);
    return *this;
  }
  Statement& Bind(int i, int64_t v) {
    sqlite3_bind_int64(stmt_, i, v);
    return *this;
  }
  Statement& BindDouble(int i, double v) {
    sqlite3_bind_double(stmt_, i, v);
    return *this;
  }
  // SQLITE_ROW, SQLITE_DONE or an error code.
  int Step() { return sqlite3_step(stmt_); }
  void Reset() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }
  bool IsNull(int column) const { return sqlite3_column_type(stmt_, column) == SQLITE_NULL; }
  int64_t Int(int column) const { return sqlite3_column_int64(stmt_, column); }
  double Double(int column) const { return sqlite3_column_double(stmt_, column); }
  std::string Blob(int column) const {
    const void* blob = sqlite3_column_blob(stmt_, column);
    return blob ? std::string(static_cast<const char*>(blob), sqlite3_column_bytes(stmt_, column)) : std::string();
  }
  std::string Text(int column) const {
    const unsigned char* text = sqlite3_column_text(stmt_, column);
    return text ? std::string(reinterpret_cast<const char*>(text), sqlite3_column_bytes(stmt_, column)) : std::string();
  }

 private:
  sqlite3_stmt* stmt_ = nullptr;
  int rc_;
};

inline Status Error(sqlite3* db, const std::string& what) {
  return Status::Internal(what + ": " + sqlite3_errmsg(db));
}

inline Status Exec(sqlite3* db, const char* sql) {
  char* message = nullptr;
  if (sqlite3_exec(db, sql, nullptr, nullptr, &message) != SQLITE_OK) {
    Status s = Status::Internal(std::string("sqlite: ") + (message ? message : "error") + " in: " + sql);
    sqlite3_free(message);
    return s;
  }
  return Status::Ok();
}

// BEGIN IMMEDIATE (take the write lock now, so that no statement inside
// fails on lock upgrade) ... COMMIT, or ROLLBACK on destruction.
class Transaction {
 public:
  explicit Transaction(sqlite3* db) : db_(db) { status_ = Exec(db, "BEGIN IMMEDIATE"); }
  ~Transaction() {
    // A failed rollback leaves the transaction to be rolled back when the
    // connection next begins one; nothing else can be done in a destructor.
    if (status_.ok() && !committed_) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
  }
  const Status& status() const { return status_; }
  Status Commit() {
    Status s = Exec(db_, "COMMIT");
    committed_ = s.ok();
    return s;
  }

 private:
  sqlite3* db_;
  Status status_;
  bool committed_ = false;
};

}  // namespace vigil::sqlite

#endif  // VIGIL_STORE_SQLITE_UTIL_H_
