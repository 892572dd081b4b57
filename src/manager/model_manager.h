// ModelManager: keeps the serving table in line with the model repository.
//
// Desired state comes from the repository (which versions exist), each
// model's version policy (which of them should serve) and, with a registry
// (manager/version_catalog.h), the model's aliases and rollout: every
// aliased version and a rollout's candidate are loaded too, and a request
// without a version goes to the `champion` alias when it is ready (else to
// the highest ready version), or to the candidate by the rollout's split. A reconcile step per
// model loads each missing version, warms it up with a request, publishes a
// new serving table, and only then moves replaced versions to draining; a
// draining version is unloaded once the last request holding it lets go.
// A version that fails to load is remembered with its reason (until its files
// change) and left out of the policy, so the previous version keeps serving.
//
// Modes (`--model-control`):
//   poll      scan at start, then every poll_interval_ms (the default);
//   none      scan at start only;
//   explicit  scan at start; afterwards models change only through
//             LoadModel()/UnloadModel() (the repository extension's endpoints).
//
// Loads run on the manager's thread (or the caller of LoadModel) and never on
// the request path; requests read the table through table() without locks.
// With a registry, a version loads only if its artifact is the one
// registered (or is new to the registry, which then records it), and alias
// and rollout changes are picked up every `alias_poll_ms` whatever the mode
// (or at once through ApplyRoutes()).
//
// Thread-safety: thread-safe. Reconciliation is serialised by an internal
// mutex; table() is lock-free for readers.
#ifndef VIGIL_MANAGER_MODEL_MANAGER_H_
#define VIGIL_MANAGER_MODEL_MANAGER_H_

#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "backends/backend.h"
#include "manager/serving_table.h"
#include "manager/version_catalog.h"
#include "monitor/serving_metrics.h"
#include "repository/model_repository.h"

namespace vigil {

enum class ModelControlMode { kPoll, kNone, kExplicit };

class ModelManager {
 public:
  struct Options {
    std::filesystem::path repository;
    ModelControlMode mode = ModelControlMode::kPoll;
    int poll_interval_ms = 5000;  // Repository scan period in poll mode.
    int drain_check_ms = 20;      // How often draining versions are checked.
    VersionCatalog* catalog = nullptr;  // The registry; may be null. Must outlive the manager.
    int alias_poll_ms = 1000;     // How often the registry is checked for alias changes.
  };

  // `backends` and `metrics` must outlive the manager.
  ModelManager(Options options, const BackendRegistry& backends, ServingMetrics& metrics);
  ~ModelManager();  // Stops the thread; remaining versions unload with the last handle.

  // Scans the repository and loads every model once, synchronously, then
  // starts the watcher thread. NOT_FOUND if the repository does not exist.
  // Models that fail to load do not make Start() fail: they show in status.
  Status Start();
  // Stops watching. In-flight requests keep their versions alive.
  void Stop();

  // The current serving table; never null after construction.
  std::shared_ptr<const ServingTable> table() const {
    std::lock_guard lock(table_mu_);
    return table_;
  }

  // True once Start() finished and every model that should serve has at
  // least one ready version.
  bool Ready() const;

  // Repository extension (explicit mode only; the HTTP layer enforces that):
  // (re)load a model from disk, or unload all its versions. LoadModel returns
  // the load failure, if any, as INVALID_ARGUMENT/NOT_FOUND.
  Status LoadModel(const std::string& name);
  Status UnloadModel(const std::string& name);

  // One scan and reconcile of the whole repository (what the watcher does).
  void PollOnce();
  // Reads the aliases and rollouts from the registry and brings the models
  // whose routes changed in line (loading newly aliased versions and
  // candidates) before returning.
  Status ApplyRoutes();

  const ModelRepository& repository() const { return repository_; }
  ModelControlMode mode() const { return options_.mode; }

 private:
  // A version the manager tried and could not load, with the fingerprint of
  // its files at the time; retried when the fingerprint changes.
  struct Failure {
    std::string fingerprint;
    std::string reason;
  };
  // Manager-side bookkeeping of one model. Guarded by reconcile_mu_.
  struct ModelState {
    std::string config_text;
    std::shared_ptr<const ModelConfig> config;
    std::string config_error;
    std::map<int64_t, std::shared_ptr<Servable>> serving;
    std::map<int64_t, Failure> failures;
    ModelRouting routing;    // From the registry.
    ModelRouting published;  // The routing in the table.
    ModelDirectory dir;  // The last scan, if an alias change cannot rescan.
  };

  // Brings one model in line with its directory. Returns the first load
  // failure of this pass, if any. Requires reconcile_mu_.
  Status ReconcileModel(const ModelDirectory& dir);
  // Retires every version of `name` and forgets the model. Requires reconcile_mu_.
  void RemoveModel(const std::string& name);
  // The versions of `st` to serve among `available`: the policy's, the
  // aliased ones and a rollout's candidate.
  static std::vector<int64_t> Wanted(const ModelState& st, const std::vector<int64_t>& available);
  // Reads the registry's routes into models_; returns the models whose
  // routes changed. Requires reconcile_mu_.
  std::set<std::string> RefreshRoutes();
  // Loads and warms up one version. Requires reconcile_mu_.
  Result<std::shared_ptr<Servable>> LoadVersion(const std::shared_ptr<const ModelConfig>& config,
                                                const VersionDirectory& dir);
  // Builds and swaps in a table from models_. Requires reconcile_mu_.
  void Publish();
  // Moves `servable` to draining; it unloads when the last handle goes.
  void Retire(std::shared_ptr<Servable> servable);
  // Unloads draining versions that no request holds any more.
  void ReapDrained();
  void WatchLoop();

  Options options_;
  ModelRepository repository_;
  const BackendRegistry& backends_;
  ServingMetrics& metrics_;
  // The table every request reads, replaced whole by Publish(). A mutex held
  // for a pointer copy, not std::atomic<std::shared_ptr>: GCC 12's load()
  // releases its lock bit with relaxed ordering, so a later store() races
  // with it (ThreadSanitizer reports it; google/sanitizers#1558).
  mutable std::mutex table_mu_;
  std::shared_ptr<const ServingTable> table_;  // Guarded by table_mu_.
  std::atomic<bool> started_{false};

  std::mutex reconcile_mu_;
  // Guarded by reconcile_mu_.
  std::map<std::string, ModelState> models_;
  std::set<std::string> unloaded_;  // Explicit mode: models unloaded on request.
  ModelRoutes routes_;              // The registry's, as last read.
  int64_t routes_generation_ = -1;  // The registry's generation they were read at.

  std::mutex drain_mu_;
  // Guarded by drain_mu_.
  std::vector<std::shared_ptr<Servable>> draining_;

  std::mutex watch_mu_;
  std::condition_variable watch_cv_;
  bool stopping_ = false;  // Guarded by watch_mu_.
  std::thread watcher_;
};

}  // namespace vigil

#endif  // VIGIL_MANAGER_MODEL_MANAGER_H_
