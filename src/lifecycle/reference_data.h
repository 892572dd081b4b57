// Reference profiles for model versions (`vigil profile`): the data a
// version was trained on, or a reference the user gives, summarised as a
// ReferenceProfile (monitor/reference_profile.h) and stored beside the
// version as profile.json. `vigil train` writes one for every version it
// trains; this builds one for any version of a tabular model.
//
// Thread-safety: a pure function of its inputs and the filesystem.
#ifndef VIGIL_LIFECYCLE_REFERENCE_DATA_H_
#define VIGIL_LIFECYCLE_REFERENCE_DATA_H_

#include <cstdint>
#include <filesystem>
#include <string>

#include "common/status.h"
#include "monitor/reference_profile.h"
#include "repository/model_config.h"

namespace vigil {

struct ProfileOptions {
  std::filesystem::path repository;
  std::string model_name;
  int64_t version = 0;         // 0: the highest.
  std::filesystem::path data;  // CSV with the model's feature columns.
  int bins = 10;
};

// The name of a version's profile file.
inline constexpr char kProfileFileName[] = "profile.json";

// Builds the profile of `options.data` for the version, scoring the rows
// with the version itself (its first probability or prediction output), and
// writes it to the version's directory. Returns the profile and its path.
struct ProfileResult {
  ReferenceProfile profile;
  std::filesystem::path path;
};
Result<ProfileResult> ProfileVersion(const ProfileOptions& options);
// The same for the version whose files are in `version_dir` (registration
// profiles a version before it enters the repository).
Result<ProfileResult> ProfileVersionDirectory(const ModelConfig& config, const std::filesystem::path& version_dir,
                                              const std::filesystem::path& data, int bins);

}  // namespace vigil

#endif  // VIGIL_LIFECYCLE_REFERENCE_DATA_H_
