// VersionState: the lifecycle of one loaded model version.
//
//   kLoading -> kWarming -> kReady -> kDraining -> kUnloaded
//   kLoading -> kFailed,  kWarming -> kFailed
//
// kReady versions are in the serving table; kDraining versions have left it
// and are waiting for their in-flight requests to finish; nothing else moves.
#ifndef VIGIL_MANAGER_VERSION_STATE_H_
#define VIGIL_MANAGER_VERSION_STATE_H_

#include <string_view>

namespace vigil {

enum class VersionState { kLoading, kWarming, kReady, kDraining, kUnloaded, kFailed };

// True for the transitions drawn above.
bool IsLegalTransition(VersionState from, VersionState to);
// "LOADING", "WARMING", "READY", "DRAINING", "UNLOADED", "FAILED".
std::string_view VersionStateName(VersionState state);

}  // namespace vigil

#endif  // VIGIL_MANAGER_VERSION_STATE_H_
