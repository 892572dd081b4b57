// ServingTable: which model versions serve right now, as one immutable value.
//
// The manager builds a new table for every change and swaps it in atomically;
// requests read whichever table is current without locks and keep the
// versions they use alive through their handles. Besides the ready versions
// the table carries each model's status (every version the manager knows of,
// with its state and, for failures, the reason) so that metadata, readiness
// and the repository index answer from the same snapshot.
//
// Thread-safety: immutable once published.
#ifndef VIGIL_MANAGER_SERVING_TABLE_H_
#define VIGIL_MANAGER_SERVING_TABLE_H_

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "manager/servable.h"
#include "manager/version_catalog.h"

namespace vigil {

// What the manager knows of one version, ready or not.
struct VersionStatus {
  int64_t version = 0;
  VersionState state = VersionState::kLoading;
  std::string reason;  // Why it failed; empty otherwise.
};

struct ServingModel {
  std::shared_ptr<const ModelConfig> config;  // Null if model.yaml never parsed.
  std::map<int64_t, std::shared_ptr<const Servable>> ready;  // By version.
  std::vector<VersionStatus> versions;  // Every known version, ascending.
  std::string config_error;             // Why model.yaml was refused, if it was.
  std::map<std::string, int64_t> aliases;  // From the registry: champion, challenger, ...
  std::optional<TrafficSplit> split;       // A running rollout's (version_catalog.h).

  // The version a request without an explicit version goes to: the
  // champion when it is ready, else the highest ready one. Null when none
  // is ready.
  std::shared_ptr<const Servable> Default() const {
    if (auto a = aliases.find("champion"); a != aliases.end()) {
      if (auto r = ready.find(a->second); r != ready.end()) return r->second;
    }
    return ready.empty() ? nullptr : ready.rbegin()->second;
  }
};

struct ServingTable {
  std::map<std::string, ServingModel> models;
};

}  // namespace vigil

#endif  // VIGIL_MANAGER_SERVING_TABLE_H_
