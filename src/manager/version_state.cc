#include "manager/version_state.h"

namespace vigil {

bool IsLegalTransition(VersionState from, VersionState to) {
  using S = VersionState;
  switch (from) {
    case S::kLoading: return to == S::kWarming || to == S::kFailed;
    case S::kWarming: return to == S::kReady || to == S::kFailed;
    case S::kReady: return to == S::kDraining;
    case S::kDraining: return to == S::kUnloaded;
    case S::kUnloaded: case S::kFailed: return false;
  }
  return false;
}

std::string_view VersionStateName(VersionState state) {
  switch (state) {
    case VersionState::kLoading: return "LOADING";
    case VersionState::kWarming: return "WARMING";
    case VersionState::kReady: return "READY";
    case VersionState::kDraining: return "DRAINING";
    case VersionState::kUnloaded: return "UNLOADED";
    case VersionState::kFailed: return "FAILED";
  }
  return "UNKNOWN";
}

}  // namespace vigil
