// SqliteStore: the embedded store, one SQLite database file, and beside it
// the directory of the prediction log's segment files (PATH-log/,
// store/segment_files.h).
//
// WAL journal (readers never block the writer), a busy timeout for other
// processes holding the file, foreign keys on. Two connections:
//   - one with synchronous=FULL for what a client is told succeeded
//     (feedback, alerts, the registry) and for reads: a
//     committed transaction survives a crash of the process or the machine;
//   - one with synchronous=NORMAL for the prediction log, which is
//     best-effort: its commits survive a crash of the process, and a crash of
//     the machine may lose the last ones. (A FULL commit syncs the whole
//     write-ahead log, so feedback never outlives the prediction it labels.)
// The schema is created and migrated at Open, versioned by PRAGMA
// user_version; a file written by a newer Vigil is refused.
//
// Thread-safety: thread-safe; each connection serialises its calls (SQLite
// serialises writers anyway, and each call is one short transaction).
#ifndef VIGIL_STORE_SQLITE_STORE_H_
#define VIGIL_STORE_SQLITE_STORE_H_

#include <filesystem>
#include <memory>
#include <mutex>

#include "store/key_store.h"
#include "store/segment_files.h"
#include "store/store.h"

struct sqlite3;

namespace vigil {

class SqliteStore : public Store, public KeyStore {
 public:
  // Opens (creating if needed) the database at `path`. INVALID_ARGUMENT
  // names what is wrong with an existing file.
  static Result<std::unique_ptr<SqliteStore>> Open(const std::filesystem::path& path);
  ~SqliteStore() override;
  SqliteStore(const SqliteStore&) = delete;
  SqliteStore& operator=(const SqliteStore&) = delete;

  Result<int64_t> AppendLogSegment(const LogSegment& segment) override;
  Result<std::vector<FeedbackOutcome>> RecordFeedback(const std::string& model, const std::vector<FeedbackItem>& items,
                                                      int64_t now_ms) override;
  Result<int64_t> PrunePredictions(int64_t before_ms, int64_t max_requests, int64_t max_windows) override;
  Result<std::vector<StoredPrediction>> Predictions(const std::string& model, int64_t from_ms, int64_t to_ms,
                                                    int64_t limit) override;
  Result<std::vector<StoredPrediction>> VersionPredictions(const std::string& model, int64_t version,
                                                           int64_t from_ms, int64_t to_ms, int64_t limit) override;
  Result<std::vector<LabeledPrediction>> LabeledPredictions(const std::string& model, int64_t from_ms,
                                                            int64_t to_ms, int64_t limit) override;
  Result<int64_t> CountPredictions(const std::string& model) override;

  Status AppendWindows(const std::vector<StoredWindow>& windows) override;
  Result<std::vector<StoredWindow>> Windows(const std::string& model, int64_t version, int64_t limit) override;

  // Alerting (sqlite_alerts.cc), on the durable connection.
  Result<int64_t> SaveAlert(const AlertRecord& alert, const AlertEvent& event,
                            const std::vector<Notification>& notifications) override;
  Result<std::vector<AlertRecord>> Alerts(const AlertQuery& query) override;
  Result<std::optional<AlertRecord>> GetAlert(int64_t id) override;
  Result<std::vector<AlertEvent>> AlertEvents(int64_t alert_id) override;
  Result<int64_t> PruneAlerts(int64_t before_ms) override;
  Result<int64_t> AddSilence(const Silence& silence) override;
  Result<std::vector<Silence>> Silences(int64_t now_ms) override;
  Result<bool> ExpireSilence(int64_t id, int64_t now_ms) override;
  Status AddNotifications(const std::vector<Notification>& notifications) override;
  Result<std::vector<Notification>> DueNotifications(int64_t now_ms, int64_t limit) override;
  Status FinishNotification(const Notification& notification, const AlertEvent& event) override;
  Status RetryNotification(const Notification& notification) override;

  // The registry (sqlite_registry.cc), on the durable connection.
  Status AddModelVersion(const ModelVersionRecord& version, const ModelEvent& event) override;
  Result<std::vector<ModelVersionRecord>> ModelVersions(const std::string& model) override;
  Result<std::optional<ModelVersionRecord>> GetModelVersion(const std::string& model, int64_t version) override;
  Result<std::vector<AliasRecord>> Aliases(const std::string& model) override;
  Result<int64_t> MoveAlias(const std::string& alias, int64_t to, int64_t expected_from,
                            const ModelEvent& event) override;
  Result<int64_t> AddModelEvent(const ModelEvent& event) override;
  Result<std::vector<ModelEvent>> ModelEvents(const ModelEventQuery& query) override;
  Result<int64_t> LastModelEventId() override;
  Result<int64_t> AddJob(const JobRecord& job) override;
  Status UpdateJob(const JobRecord& job) override;
  Result<std::optional<JobRecord>> GetJob(int64_t id) override;
  Result<std::vector<JobRecord>> Jobs(const std::string& model, int64_t limit) override;
  Result<int64_t> AddRollout(const RolloutRecord& rollout, const ModelEvent& event) override;
  Status UpdateRollout(const RolloutRecord& rollout, int64_t expected_step, const ModelEvent* event) override;
  Status PromoteRollout(const RolloutRecord& rollout, int64_t expected_step, const ModelEvent& move,
                        const ModelEvent& event) override;
  Result<std::optional<RolloutRecord>> GetRollout(int64_t id) override;
  Result<std::vector<RolloutRecord>> Rollouts(const std::string& model, bool running_only, int64_t limit) override;

  // API keys (sqlite_keys.cc), on the durable connection.
  Status AddApiKey(const ApiKeyRecord& key) override;
  Result<std::vector<ApiKeyRecord>> ApiKeys() override;
  Result<bool> RevokeApiKey(const std::string& id, int64_t now_ms) override;

  // The schema version this build writes.
  static constexpr int kSchemaVersion = 7;

 private:
  SqliteStore() = default;
  Status Migrate();

  std::mutex mu_;
  sqlite3* db_ = nullptr;      // synchronous=FULL: acknowledged writes, reads.
  std::mutex log_mu_;
  sqlite3* log_db_ = nullptr;  // synchronous=NORMAL: the prediction log.
  std::unique_ptr<SegmentFiles> files_;  // Appended and pruned under log_mu_.
};

}  // namespace vigil

#endif  // VIGIL_STORE_SQLITE_STORE_H_
