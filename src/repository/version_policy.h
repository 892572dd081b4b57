// VersionPolicy: which of a model's versions on disk should serve.
//
// As in TensorFlow Serving and Triton: the latest N versions (default 1),
// all of them, or a specific list. The manager applies the policy to the
// versions that exist and have not failed to load, so that a broken newest
// version leaves the previous one serving.
//
// Thread-safety: a value type.
#ifndef VIGIL_REPOSITORY_VERSION_POLICY_H_
#define VIGIL_REPOSITORY_VERSION_POLICY_H_

#include <cstdint>
#include <string>
#include <vector>

namespace vigil {

struct VersionPolicy {
  enum class Kind { kLatest, kAll, kSpecific };
  Kind kind = Kind::kLatest;
  int latest = 1;                  // For kLatest: how many of the newest versions.
  std::vector<int64_t> specific;   // For kSpecific: the versions, in any order.

  // The versions among `available` (any order, no duplicates) that should
  // serve, in ascending order.
  std::vector<int64_t> Select(std::vector<int64_t> available) const;
  // "latest: 1", "all", "specific: [1, 3]".
  std::string ToString() const;
  bool operator==(const VersionPolicy&) const = default;
};

}  // namespace vigil

#endif  // VIGIL_REPOSITORY_VERSION_POLICY_H_
