// ModelRepository: reads the layout of a model repository on disk.
//
//   REPO/<model>/model.yaml
//   REPO/<model>/<version>/<artifact>      (version: a positive integer)
//
// It only reports what is there; deciding what to load is the manager's job
// (manager/model_manager.h). Each version directory gets a fingerprint of its
// files' names, sizes and modification times, so the manager can tell a
// version that changed (or finished being copied) from one it already tried.
// Directories whose names are not positive integers (such as a ".tmp" staging
// directory) are ignored, which is what makes "copy, then rename" atomic.
//
// Thread-safety: thread-compatible; Scan() only reads the filesystem.
#ifndef VIGIL_REPOSITORY_MODEL_REPOSITORY_H_
#define VIGIL_REPOSITORY_MODEL_REPOSITORY_H_

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace vigil {

struct VersionDirectory {
  int64_t version = 0;
  std::filesystem::path path;
  std::string fingerprint;  // Changes when any file in the directory changes.
};

struct ModelDirectory {
  std::string name;
  std::filesystem::path path;
  std::string config_text;             // model.yaml's content; empty if absent.
  std::vector<VersionDirectory> versions;  // Ascending by version.

  // Version `version`, or with 0 the highest; NOT_FOUND names what is missing.
  Result<const VersionDirectory*> Version(int64_t version) const;
};

class ModelRepository {
 public:
  explicit ModelRepository(std::filesystem::path root);

  const std::filesystem::path& root() const { return root_; }

  // Every model directory under the root, by name. NOT_FOUND if the root does
  // not exist or is not a directory.
  Result<std::vector<ModelDirectory>> Scan() const;
  // One model; NOT_FOUND if REPO/<name> is not a directory.
  Result<ModelDirectory> ScanModel(std::string_view name) const;

  // True for names that may be model directories: [A-Za-z0-9_.-]+, not
  // starting with '.'.
  static bool IsValidModelName(std::string_view name);
  // The version number a directory name denotes, if it is a positive integer.
  static std::optional<int64_t> ParseVersion(std::string_view name);

 private:
  std::filesystem::path root_;
};

}  // namespace vigil

#endif  // VIGIL_REPOSITORY_MODEL_REPOSITORY_H_
