// SqliteStore: the embedded store, one SQLite database file.
//
// WAL journal (readers never block the writer), synchronous=FULL (a
// committed transaction survives a crash of the process or of the machine),
// a busy timeout for other processes holding the file, and foreign keys on.
// The schema is created and migrated at Open, versioned by PRAGMA
// user_version; a file written by a newer Vigil is refused.
//
// Thread-safety: thread-safe; calls are serialised on one connection (SQLite
// serialises writers anyway, and each call is one short transaction).
#ifndef VIGIL_STORE_SQLITE_STORE_H_
#define VIGIL_STORE_SQLITE_STORE_H_

#include <filesystem>
#include <memory>
#include <mutex>

#include "store/store.h"

struct sqlite3;

namespace vigil {

class SqliteStore : public Store {
 public:
  // Opens (creating if needed) the database at `path`. INVALID_ARGUMENT
  // names what is wrong with an existing file.
  static Result<std::unique_ptr<SqliteStore>> Open(const std::filesystem::path& path);
  ~SqliteStore() override;
  SqliteStore(const SqliteStore&) = delete;
  SqliteStore& operator=(const SqliteStore&) = delete;

  Status AppendPredictions(const std::vector<StoredPrediction>& predictions) override;
  Result<std::vector<FeedbackOutcome>> RecordFeedback(const std::string& model, const std::vector<FeedbackItem>& items,
                                                      int64_t now_ms) override;
  Result<int64_t> PrunePredictions(int64_t before_ms, int64_t max_requests) override;
  Result<std::vector<StoredPrediction>> Predictions(const std::string& model, int64_t from_ms, int64_t to_ms,
                                                    int64_t limit) override;
  Result<std::vector<LabeledPrediction>> LabeledPredictions(const std::string& model, int64_t from_ms,
                                                            int64_t to_ms, int64_t limit) override;
  Result<int64_t> CountPredictions(const std::string& model) override;

  // The schema version this build writes.
  static constexpr int kSchemaVersion = 1;

 private:
  explicit SqliteStore(sqlite3* db) : db_(db) {}
  Status Migrate();

  std::mutex mu_;
  sqlite3* db_;
};

}  // namespace vigil

#endif  // VIGIL_STORE_SQLITE_STORE_H_
