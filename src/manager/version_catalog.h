// VersionCatalog: what the manager asks the registry (lifecycle/registry.h).
//
// The repository decides what can be loaded; the registry decides which of
// the loaded versions take traffic (aliases) and whether a version's files
// are the ones that were registered. Without a catalog (no store), the
// manager serves what the version policy picks and sends requests without a
// version to the highest ready one.
//
// Thread-safety: implementations are thread-safe.
#ifndef VIGIL_MANAGER_VERSION_CATALOG_H_
#define VIGIL_MANAGER_VERSION_CATALOG_H_

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>

#include "common/status.h"
#include "repository/model_config.h"

namespace vigil {

// Alias name -> version, per model.
using ModelAliases = std::map<std::string, std::map<std::string, int64_t>>;

class VersionCatalog {
 public:
  virtual ~VersionCatalog() = default;
  // Whether `version` of `config`'s model, with its artifact at `artifact`,
  // may load: OK, or why not (its artifact is not the one registered).
  // A version the registry has not seen is recorded (origin "discovered").
  virtual Status CheckVersion(const ModelConfig& config, int64_t version, const std::filesystem::path& artifact) = 0;
  // Every model's aliases.
  virtual Result<ModelAliases> Aliases() = 0;
  // A number that changes whenever the aliases may have (cheap to read).
  virtual Result<int64_t> Generation() = 0;
};

}  // namespace vigil

#endif  // VIGIL_MANAGER_VERSION_CATALOG_H_
