// Registry: Vigil's record of every model version, and the aliases that say
// which of them take traffic.
//
// A version's files live in the model repository (REPO/<model>/<version>/);
// its record lives in the store: the artifact's SHA-256, where it came from
// (registered by a user, trained by Vigil, produced by an external trainer,
// or discovered in the repository), the version it was trained to replace,
// the training data's fingerprint and row count, parameters, metrics, the
// reference profile, author and time. Records are immutable, and the manager
// refuses to load a version whose artifact no longer has the registered
// checksum.
//
// Aliases replace stages: `champion` takes the traffic, `challenger` and any
// other name point where their owner wants. Every move is a model event
// (who, when, why, from which version), so what served when is a query, and
// Rollback() returns the champion to the version it replaced in one step.
//
// Registering copies the artifact into a hidden staging directory of the
// model, loads it with the model's backend (refusing what does not load),
// builds its reference profile when given data, and renames the directory to
// the next free version number (RENAME_NOREPLACE, so two registrations never
// take the same number); the record is committed after the rename, and a
// crash between the two leaves a version that the manager records as
// discovered when it loads it.
//
// Thread-safety: thread-safe (the store serialises; the repository's renames
// are atomic).
#ifndef VIGIL_LIFECYCLE_REGISTRY_H_
#define VIGIL_LIFECYCLE_REGISTRY_H_

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "backends/backend.h"
#include "common/status.h"
#include "manager/version_catalog.h"
#include "monitor/alert_engine.h"
#include "store/store.h"

namespace vigil {

struct RegisterOptions {
  std::string model;
  // The artifact: a file to copy, or its bytes (over HTTP).
  std::filesystem::path artifact_file;
  std::string artifact_bytes;
  // Its file name in the version directory. Empty: model.yaml's `artifact`,
  // else `artifact_file`'s name if the backend accepts it, else the
  // backend's first default name.
  std::string artifact_name;
  std::string origin = "registered";  // "registered", "trained" or "external".
  std::string author = "vigil";
  std::string description;
  int64_t parent_version = 0;
  std::string parameters = "{}";  // JSON objects.
  std::string metrics = "{}";
  // Training data: its SHA-256 and row count are recorded.
  std::filesystem::path training_data;
  // The reference profile (profile.json): a ready one to copy, or data to
  // build it from (empty: `training_data`).
  std::filesystem::path profile_file;
  std::filesystem::path reference_data;
  int profile_bins = 10;
};

// An alias move: `from` and `to` are 0 where the alias was or is unset.
struct AliasChange {
  std::string model, alias;
  int64_t from = 0, to = 0;
};

class Registry : public VersionCatalog {
 public:
  // `now_ms` is the clock (Unix ms); tests inject one.
  Registry(Store& store, std::filesystem::path repository, const BackendRegistry& backends,
           Clock now_ms = nullptr);

  // Adds a new version to the repository and the registry (see above).
  // NOT_FOUND: no such model (REPO/<model>/model.yaml); INVALID_ARGUMENT:
  // the artifact does not load, with the backend's reason.
  Result<ModelVersionRecord> Register(const RegisterOptions& options);
  // Records `version`, already in the repository (written there by `vigil
  // train`), with `options`' metadata (its artifact fields are ignored).
  // ALREADY_EXISTS if it is registered.
  Result<ModelVersionRecord> Adopt(int64_t version, const RegisterOptions& options);

  Result<std::vector<ModelVersionRecord>> Versions(const std::string& model);
  // NOT_FOUND if the version is not registered.
  Result<ModelVersionRecord> Version(const std::string& model, int64_t version);
  Result<std::map<std::string, int64_t>> AliasesOf(const std::string& model);

  // Points `alias` at `version`, which must be registered and in the
  // repository. A move to where it points already changes nothing and
  // records nothing.
  Result<AliasChange> SetAlias(const std::string& model, const std::string& alias, int64_t version,
                               const std::string& actor, const std::string& reason);
  Result<AliasChange> RemoveAlias(const std::string& model, const std::string& alias, const std::string& actor,
                                  const std::string& reason);
  // Moves the champion back to the version it replaced last (rolling back
  // twice returns to where it started, like `kubectl rollout undo`).
  // FAILED_PRECONDITION without a champion or an earlier one.
  Result<AliasChange> Rollback(const std::string& model, const std::string& actor, const std::string& reason);
  // The alias moves of `model` (of `alias` only, when given), newest first.
  Result<std::vector<ModelEvent>> History(const std::string& model, const std::string& alias, int64_t limit);

  // Alias names: [a-z][a-z0-9_-]{0,62}, not a number.
  static Status CheckAliasName(const std::string& alias);

  // VersionCatalog.
  Status CheckVersion(const ModelConfig& config, int64_t version, const std::filesystem::path& artifact) override;
  Result<ModelRoutes> Routes() override;
  Result<int64_t> Generation() override;

 private:
  // The record of `artifact` (in the version directory) with `options`' metadata.
  Result<ModelVersionRecord> Describe(const std::string& model, int64_t version, const std::filesystem::path& artifact,
                                      const RegisterOptions& options);
  Result<ModelVersionRecord> Record(const ModelVersionRecord& record);
  Result<AliasChange> Move(const std::string& model, const std::string& alias, int64_t to, int64_t expected_from,
                           const std::string& actor, const std::string& reason);

  Store& store_;
  std::filesystem::path repository_;
  const BackendRegistry& backends_;
  Clock now_ms_;
};

}  // namespace vigil

#endif  // VIGIL_LIFECYCLE_REGISTRY_H_
