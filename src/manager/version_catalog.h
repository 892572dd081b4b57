// VersionCatalog: what the manager asks the registry (lifecycle/registry.h).
//
// The repository decides what can be loaded; the registry decides which of
// the loaded versions take traffic (aliases, rollouts) and whether a version's files
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
#include <optional>
#include <string>

#include "common/status.h"
#include "repository/model_config.h"

namespace vigil {

// A running rollout's split of a model's requests (lifecycle/rollout.h):
// requests that name no version and whose id hashes below `share` go to
// `candidate` (canary), or are copied to it off the request path (shadow).
struct TrafficSplit {
  int64_t rollout = 0;    // The rollout's id.
  int64_t candidate = 0;  // The version it rolls out.
  bool shadow = false;
  double share = 0;       // In (0, 1].
  bool operator==(const TrafficSplit&) const = default;
};

// How one model's requests are routed: its aliases (name -> version) and
// its running rollout, if any.
struct ModelRouting {
  std::map<std::string, int64_t> aliases;
  std::optional<TrafficSplit> split;
  bool operator==(const ModelRouting&) const = default;
};
using ModelRoutes = std::map<std::string, ModelRouting>;  // By model.

class VersionCatalog {
 public:
  virtual ~VersionCatalog() = default;
  // Whether `version` of `config`'s model, with its artifact at `artifact`,
  // may load: OK, or why not (its artifact is not the one registered).
  // A version the registry has not seen is recorded (origin "discovered").
  virtual Status CheckVersion(const ModelConfig& config, int64_t version, const std::filesystem::path& artifact) = 0;
  // Every model's aliases and running rollout.
  virtual Result<ModelRoutes> Routes() = 0;
  // A number that changes whenever the routes may have (cheap to read).
  virtual Result<int64_t> Generation() = 0;
};

}  // namespace vigil

#endif  // VIGIL_MANAGER_VERSION_CATALOG_H_
