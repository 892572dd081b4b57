#include "repository/model_repository.h"

#include <algorithm>
#include <charconv>
#include <fstream>
#include <sstream>
#include <system_error>

namespace vigil {

Result<const VersionDirectory*> ModelDirectory::Version(int64_t version) const {
  if (versions.empty()) return Status::NotFound("model '" + name + "' has no versions");
  if (version == 0) return &versions.back();
  for (const VersionDirectory& v : versions) {
    if (v.version == version) return &v;
  }
  return Status::NotFound("model '" + name + "' has no version " + std::to_string(version));
}
namespace fs = std::filesystem;
namespace {

// Names, sizes and modification times of the regular files below `dir`.
std::string Fingerprint(const fs::path& dir) {
  std::vector<std::string> entries;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(dir, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (!it->is_regular_file(ec)) continue;
    auto size = it->file_size(ec);
    auto mtime = fs::last_write_time(it->path(), ec).time_since_epoch().count();
    entries.push_back(fs::relative(it->path(), dir, ec).string() + ":" + std::to_string(size) +
                      ":" + std::to_string(mtime));
  }
  std::sort(entries.begin(), entries.end());
  std::string out;
  for (const auto& e : entries) out += e + ";";
  return out;
}

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path);
  if (!in) return "";
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace

ModelRepository::ModelRepository(fs::path root) : root_(std::move(root)) {}

bool ModelRepository::IsValidModelName(std::string_view name) {
  if (name.empty() || name.front() == '.') return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '_' || c == '-' || c == '.';
  });
}

std::optional<int64_t> ModelRepository::ParseVersion(std::string_view name) {
  if (name.empty() || name.front() == '0') return std::nullopt;
  int64_t v = 0;
  auto [ptr, ec] = std::from_chars(name.data(), name.data() + name.size(), v);
  if (ec != std::errc() || ptr != name.data() + name.size() || v < 1) return std::nullopt;
  return v;
}

Result<ModelDirectory> ModelRepository::ScanModel(std::string_view name) const {
  if (!IsValidModelName(name)) return Status::NotFound("no model named '" + std::string(name) + "'");
  fs::path dir = root_ / std::string(name);
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    return Status::NotFound("no model directory " + dir.string());
  }
  ModelDirectory model;
  model.name = std::string(name);
  model.path = dir;
  model.config_text = ReadFile(dir / "model.yaml");
  for (auto it = fs::directory_iterator(dir, ec); !ec && it != fs::directory_iterator();
       it.increment(ec)) {
    if (!it->is_directory(ec)) continue;
    auto version = ParseVersion(it->path().filename().string());
    if (!version) continue;
    model.versions.push_back({*version, it->path(), Fingerprint(it->path())});
  }
  std::sort(model.versions.begin(), model.versions.end(),
            [](const auto& a, const auto& b) { return a.version < b.version; });
  return model;
}

Result<std::vector<ModelDirectory>> ModelRepository::Scan() const {
  std::error_code ec;
  if (!fs::is_directory(root_, ec)) {
    return Status::NotFound("model repository " + root_.string() + " is not a directory");
  }
  std::vector<ModelDirectory> models;
  for (auto it = fs::directory_iterator(root_, ec); !ec && it != fs::directory_iterator();
       it.increment(ec)) {
    std::string name = it->path().filename().string();
    if (!it->is_directory(ec) || !IsValidModelName(name)) continue;
    auto model = ScanModel(name);
    if (model.ok()) models.push_back(std::move(*model));
  }
  std::sort(models.begin(), models.end(),
            [](const auto& a, const auto& b) { return a.name < b.name; });
  return models;
}

}  // namespace vigil
