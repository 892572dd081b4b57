#include "lifecycle/registry.h"

#include <fcntl.h>
#include <openssl/crypto.h>
#include <sys/file.h>
#include <spdlog/spdlog.h>
#include <stdio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>

#include <nlohmann/json.hpp>

#include "common/durable_file.h"
#include "common/json_text.h"
#include "common/sha256.h"
#include "dataset/tabular_dataset.h"
#include "lifecycle/reference_data.h"
#include "repository/model_repository.h"

namespace vigil {
namespace {

std::string ReadText(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// An exclusive advisory lock on REPO/<model>/.registry.lock (flock), held
// while a version number goes from directory to record: a registration's
// rename and insert, and the manager's discovery of an unrecorded version,
// in this process or another, never interleave.
class ModelLock {
 public:
  explicit ModelLock(const std::filesystem::path& model_dir) {
    // Read-only is enough for flock, so a lock file created by another user
    // (say, root running the CLI) still locks.
    fd_ = ::open((model_dir / ".registry.lock").c_str(), O_RDONLY | O_CREAT | O_CLOEXEC, 0666);
    if (fd_ >= 0 && ::flock(fd_, LOCK_EX) != 0) {
      ::close(fd_);
      fd_ = -1;
    }
  }
  ~ModelLock() {
    if (fd_ >= 0) ::close(fd_);  // Releases the lock.
  }
  ModelLock(const ModelLock&) = delete;
  ModelLock& operator=(const ModelLock&) = delete;
  bool ok() const { return fd_ >= 0; }

 private:
  int fd_ = -1;
};

// Staging directories of registrations that died (older than an hour).
void RemoveStaleStaging(const std::filesystem::path& model_dir) {
  std::error_code ec;
  const auto now = std::filesystem::file_time_type::clock::now();
  for (const auto& entry : std::filesystem::directory_iterator(model_dir, ec)) {
    if (!entry.path().filename().string().starts_with(".register-")) continue;
    const auto written = std::filesystem::last_write_time(entry.path(), ec);
    if (!ec && now - written > std::chrono::hours(1)) std::filesystem::remove_all(entry.path(), ec);
  }
}

// Removes a staging directory on every path out of Register().
struct StagingDirectory {
  std::filesystem::path path;
  ~StagingDirectory() {
    std::error_code ignored;
    if (!path.empty()) std::filesystem::remove_all(path, ignored);
  }
};

}  // namespace

Registry::Registry(Store& store, std::filesystem::path repository, const BackendRegistry& backends,
                   Clock now_ms)
    : store_(store),
      repository_(std::move(repository)),
      backends_(backends),
      now_ms_(now_ms ? std::move(now_ms) : SystemClock()) {}

Result<ModelVersionRecord> Registry::Register(const RegisterOptions& options) {
  ModelRepository repository(repository_);
  auto dir = repository.ScanModel(options.model);
  if (!dir.ok()) return Status::NotFound("model '" + options.model + "' is not in the repository " +
                                         repository_.string() + " (it needs a directory with a model.yaml)");
  if (dir->config_text.empty()) return Status::NotFound("model '" + options.model + "' has no model.yaml");
  auto config = ParseModelConfig(dir->config_text, options.model);
  if (!config.ok()) return config.status().WithContext(options.model + "/model.yaml");
  auto names = backends_.ArtifactNames(*config);
  if (!names.ok()) return names.status();

  // The artifact's file name in the version directory.
  std::string name = options.artifact_name;
  if (name.empty() && !config->artifact.empty()) name = config->artifact;
  if (name.empty() && !options.artifact_file.empty() &&
      std::find(names->begin(), names->end(), options.artifact_file.filename().string()) != names->end()) {
    name = options.artifact_file.filename().string();
  }
  if (name.empty()) name = names->front();
  if (std::find(names->begin(), names->end(), name) == names->end()) {
    std::string accepted;
    for (const std::string& n : *names) accepted += (accepted.empty() ? "" : ", ") + n;
    return Status::InvalidArgument("artifact name '" + name + "': model '" + options.model +
                                   "' loads its artifact from " + accepted);
  }

  // Stage: a hidden directory the manager ignores.
  RemoveStaleStaging(dir->path);
  std::string pattern = (dir->path / ".register-XXXXXX").string();
  if (!::mkdtemp(pattern.data())) {
    return Status::Internal("cannot create a staging directory in " + dir->path.string() + ": " +
                            std::strerror(errno));
  }
  StagingDirectory staging{pattern};
  std::filesystem::permissions(staging.path, std::filesystem::perms(0755));
  const std::filesystem::path artifact = staging.path / name;
  if (const std::optional<ModelKey>& key = backends_.artifact_key(); key) {
    // Encrypted at rest: sealed in memory, so that the plain bytes are never
    // written into the repository.
    std::string plain;
    if (!options.artifact_file.empty()) {
      auto read = ReadArtifact(options.artifact_file, key);  // An encrypted file must open with this key.
      if (!read.ok()) return read.status().code() == StatusCode::kNotFound
                                 ? Status::NotFound("artifact " + options.artifact_file.string() + " is not a file")
                                 : read.status();
      plain = std::move(read->bytes);
    } else {
      if (options.artifact_bytes.empty()) return Status::InvalidArgument("the artifact is empty");
      plain = options.artifact_bytes;
    }
    auto sealed = SealArtifact(plain, *key);
    OPENSSL_cleanse(plain.data(), plain.size());
    if (!sealed.ok()) return sealed.status();
    VIGIL_RETURN_IF_ERROR(WriteNewFile(artifact, *sealed, 0600));  // Only its owner may read it.
  } else if (!options.artifact_file.empty()) {
    std::error_code ec;
    if (!std::filesystem::is_regular_file(options.artifact_file, ec)) {
      return Status::NotFound("artifact " + options.artifact_file.string() + " is not a file");
    }
    std::filesystem::copy_file(options.artifact_file, artifact, ec);
    if (ec) return Status::Internal("copying " + options.artifact_file.string() + ": " + ec.message());
    VIGIL_RETURN_IF_ERROR(SyncPath(artifact));  // WriteNewFile syncs the other two.
  } else {
    if (options.artifact_bytes.empty()) return Status::InvalidArgument("the artifact is empty");
    VIGIL_RETURN_IF_ERROR(WriteNewFile(artifact, options.artifact_bytes, 0644));
  }

  // Validate by loading, as the manager will.
  if (auto backend = backends_.Create(*config, staging.path); !backend.ok()) {
    return Status::InvalidArgument("the artifact does not load as model '" + options.model +
                                   "' (backend " + config->backend + "): " + backend.status().message());
  }
  std::filesystem::path reference = options.reference_data.empty() ? options.training_data : options.reference_data;
  if (!options.profile_file.empty()) {
    std::error_code ec;
    std::filesystem::copy_file(options.profile_file, staging.path / kProfileFileName, ec);
    if (ec) return Status::NotFound("copying the profile " + options.profile_file.string() + ": " + ec.message());
    VIGIL_RETURN_IF_ERROR(SyncPath(staging.path / kProfileFileName));
  } else if (!reference.empty() && config->is_tabular()) {
    auto profile = ProfileVersionDirectory(*config, staging.path, reference, options.profile_bins);
    if (!profile.ok()) return profile.status().WithContext("building the reference profile");
    VIGIL_RETURN_IF_ERROR(SyncPath(profile->path));
  }
  VIGIL_RETURN_IF_ERROR(SyncPath(staging.path));
  // Everything slow (hashing the artifact and the training data) before the
  // version becomes visible; only the number is left to fill in.
  auto record = Describe(options.model, 0, artifact, options);
  if (!record.ok()) return record.status();

  // The next free number: above every directory and every record (a
  // version whose directory was deleted keeps its number).
  ModelLock lock(dir->path);
  if (!lock.ok()) return Status::Internal("cannot lock " + (dir->path / ".registry.lock").string());
  dir = repository.ScanModel(options.model);  // Under the lock: what others added meanwhile.
  if (!dir.ok()) return dir.status();
  auto registered = store_.ModelVersions(options.model);
  if (!registered.ok()) return registered.status();
  int64_t version = 0;
  for (const VersionDirectory& v : dir->versions) version = std::max(version, v.version);
  for (const ModelVersionRecord& r : *registered) version = std::max(version, r.version);
  std::filesystem::path target;
  for (;;) {
    ++version;
    target = dir->path / std::to_string(version);
    if (::renameat2(AT_FDCWD, staging.path.c_str(), AT_FDCWD, target.c_str(), RENAME_NOREPLACE) == 0) break;
    if (errno != EEXIST && errno != ENOTEMPTY) {
      return Status::Internal("cannot move " + staging.path.string() + " to " + target.string() + ": " +
                              std::strerror(errno));
    }
  }
  staging.path.clear();  // It is the version now.
  VIGIL_RETURN_IF_ERROR(SyncPath(dir->path));

  record->version = version;
  record = Record(*record);
  if (!record.ok()) {
    // Unregistered files must not serve as if they were. (Under the lock,
    // no discovery can have recorded this number.)
    std::error_code ignored;
    std::filesystem::remove_all(target, ignored);
    return record.status();
  }
  spdlog::info("registry: model {} version {} registered by {} (sha256 {})", options.model, version,
               record->author, record->sha256);
  return record;
}

Result<ModelVersionRecord> Registry::Adopt(int64_t version, const RegisterOptions& options) {
  ModelRepository repository(repository_);
  auto dir = repository.ScanModel(options.model);
  if (!dir.ok()) return dir.status();
  auto found = dir->Version(version);
  if (!found.ok()) return found.status();
  auto config = ParseModelConfig(dir->config_text, options.model);
  if (!config.ok()) return config.status().WithContext(options.model + "/model.yaml");
  auto artifact = backends_.ResolveArtifact(*config, (*found)->path);
  if (!artifact.ok()) return artifact.status();
  auto record = Describe(options.model, version, *artifact, options);
  if (!record.ok()) return record.status();
  return Record(*record);
}

Result<ModelVersionRecord> Registry::Describe(const std::string& model, int64_t version,
                                              const std::filesystem::path& artifact, const RegisterOptions& options) {
  ModelVersionRecord r;
  r.model = model;
  r.version = version;
  r.artifact = artifact.filename().string();
  auto sha = Sha256File(artifact);
  if (!sha.ok()) return sha.status();
  r.sha256 = *sha;
  std::error_code ec;
  r.artifact_bytes = static_cast<int64_t>(std::filesystem::file_size(artifact, ec));
  r.origin = options.origin;
  r.parent_version = options.parent_version;
  if (!options.training_data.empty()) {
    auto fingerprint = Sha256File(options.training_data);
    if (!fingerprint.ok()) return fingerprint.status().WithContext("training data");
    r.data_fingerprint = *fingerprint;
    auto data = TabularDataset::ReadCsv(options.training_data);
    if (!data.ok()) return data.status().WithContext("training data");
    r.data_rows = static_cast<int64_t>(data->rows());
  }
  r.parameters = options.parameters.empty() ? "{}" : options.parameters;
  r.metrics = options.metrics.empty() ? "{}" : options.metrics;
  const std::filesystem::path profile = artifact.parent_path() / kProfileFileName;
  if (std::filesystem::is_regular_file(profile, ec)) r.profile = ReadText(profile);
  r.author = options.author.empty() ? "vigil" : options.author;
  r.description = options.description;
  r.created_ms = now_ms_();
  return r;
}

Result<ModelVersionRecord> Registry::Record(const ModelVersionRecord& record) {
  ModelEvent event;
  event.time_ms = record.created_ms;
  event.model = record.model;
  event.version = record.version;
  event.kind = "registered";
  event.actor = record.author;
  event.reason = record.description;
  event.detail = "{\"origin\":";
  AppendJsonString(event.detail, record.origin);
  event.detail += ",\"sha256\":";
  AppendJsonString(event.detail, record.sha256);
  if (record.parent_version > 0) {
    event.detail += ",\"parent_version\":";
    AppendJsonNumber(event.detail, record.parent_version);
  }
  event.detail += '}';
  VIGIL_RETURN_IF_ERROR(store_.AddModelVersion(record, event));
  return record;
}

Result<std::vector<ModelVersionRecord>> Registry::Versions(const std::string& model) {
  return store_.ModelVersions(model);
}

Result<ModelVersionRecord> Registry::Version(const std::string& model, int64_t version) {
  auto record = store_.GetModelVersion(model, version);
  if (!record.ok()) return record.status();
  if (!*record) {
    return Status::NotFound("model '" + model + "' has no registered version " + std::to_string(version));
  }
  return std::move(**record);
}

Result<std::map<std::string, int64_t>> Registry::AliasesOf(const std::string& model) {
  auto aliases = store_.Aliases(model);
  if (!aliases.ok()) return aliases.status();
  std::map<std::string, int64_t> out;
  for (const AliasRecord& a : *aliases) out[a.alias] = a.version;
  return out;
}

Status Registry::CheckAliasName(const std::string& alias) {
  const bool valid = !alias.empty() && alias.size() <= 63 && alias[0] >= 'a' && alias[0] <= 'z' &&
                     std::all_of(alias.begin(), alias.end(), [](char c) {
                       return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
                     });
  if (!valid) {
    return Status::InvalidArgument("alias '" + alias +
                                   "': expected a lowercase letter, then up to 62 of a-z, 0-9, '_' and '-'");
  }
  return Status::Ok();
}

Result<AliasChange> Registry::SetAlias(const std::string& model, const std::string& alias, int64_t version,
                                       const std::string& actor, const std::string& reason) {
  VIGIL_RETURN_IF_ERROR(CheckAliasName(alias));
  if (version <= 0) return Status::InvalidArgument("version must be a positive integer");
  auto record = Version(model, version);
  if (!record.ok()) return record.status();
  // An alias must point at something the manager can load.
  ModelRepository repository(repository_);
  auto dir = repository.ScanModel(model);
  if (!dir.ok() || !dir->Version(version).ok()) {
    return Status::NotFound("model '" + model + "' version " + std::to_string(version) +
                            " is registered but not in the repository " + repository_.string());
  }
  auto current = AliasesOf(model);
  if (!current.ok()) return current.status();
  const auto it = current->find(alias);
  const int64_t from = it == current->end() ? 0 : it->second;
  if (from == version) return AliasChange{model, alias, from, version};
  return Move(model, alias, version, from, actor, reason);
}

Result<AliasChange> Registry::RemoveAlias(const std::string& model, const std::string& alias,
                                          const std::string& actor, const std::string& reason) {
  VIGIL_RETURN_IF_ERROR(CheckAliasName(alias));
  auto current = AliasesOf(model);
  if (!current.ok()) return current.status();
  const auto it = current->find(alias);
  if (it == current->end()) return Status::NotFound("model '" + model + "' has no alias '" + alias + "'");
  return Move(model, alias, 0, it->second, actor, reason);
}

Result<AliasChange> Registry::Rollback(const std::string& model, const std::string& actor, const std::string& reason) {
  auto current = AliasesOf(model);
  if (!current.ok()) return current.status();
  const auto it = current->find("champion");
  if (it == current->end()) {
    return Status::FailedPrecondition("model '" + model + "' has no champion to roll back");
  }
  const int64_t champion = it->second;
  // The move that made the current champion; its `from` is the one before.
  auto history = History(model, "champion", 1);
  if (!history.ok()) return history.status();
  int64_t previous = 0;
  if (!history->empty() && history->front().version == champion) {
    // {"alias": .., "from": N or null, "to": N}.
    const auto detail = nlohmann::json::parse(history->front().detail, nullptr, false);
    if (detail.is_object() && detail.value("from", nlohmann::json()).is_number_integer()) {
      previous = detail["from"].get<int64_t>();
    }
  }
  if (previous <= 0) {
    return Status::FailedPrecondition("model '" + model + "' has no earlier champion than version " +
                                      std::to_string(champion) + " to roll back to");
  }
  ModelRepository repository(repository_);
  auto dir = repository.ScanModel(model);
  if (!dir.ok() || !dir->Version(previous).ok()) {
    return Status::FailedPrecondition("model '" + model + "' cannot roll back to version " +
                                      std::to_string(previous) + ": it is no longer in the repository");
  }
  return Move(model, "champion", previous, champion, actor, reason.empty() ? "rollback" : reason);
}

Result<AliasChange> Registry::Move(const std::string& model, const std::string& alias, int64_t to,
                                   int64_t expected_from, const std::string& actor, const std::string& reason) {
  ModelEvent event;
  event.time_ms = now_ms_();
  event.model = model;
  event.actor = actor.empty() ? "vigil" : actor;
  event.reason = reason;
  auto from = store_.MoveAlias(alias, to, expected_from, event);
  if (!from.ok()) return from.status();
  spdlog::info("registry: model {} alias {} moved from {} to {} by {}{}", model, alias, *from, to, event.actor,
               reason.empty() ? "" : " (" + reason + ")");
  return AliasChange{model, alias, *from, to};
}

Result<std::vector<ModelEvent>> Registry::History(const std::string& model, const std::string& alias,
                                                  int64_t limit) {
  ModelEventQuery query;
  query.model = model;
  query.kind = "alias";
  query.alias = alias;
  query.limit = limit;
  return store_.ModelEvents(query);
}

Status Registry::CheckVersion(const ModelConfig& config, int64_t version, const std::filesystem::path& artifact) {
  auto record = store_.GetModelVersion(config.name, version);
  if (!record.ok()) {
    // The store being unreadable must not stop a version from serving.
    spdlog::warn("registry: cannot check model {} version {}, loading it unchecked: {}", config.name, version,
                 record.status().ToString());
    return Status::Ok();
  }
  if (!*record) {
    // A registration in progress holds the lock from its rename to its
    // record: wait for it, then look again.
    ModelLock lock(artifact.parent_path().parent_path());
    if (!lock.ok()) spdlog::warn("registry: cannot lock model {}'s directory; recording unlocked", config.name);
    record = store_.GetModelVersion(config.name, version);
    if (record.ok() && !*record) {
      RegisterOptions options;
      options.model = config.name;
      options.origin = "discovered";
      options.description = "found in the repository";
      auto described = Describe(config.name, version, artifact, options);
      if (!described.ok()) return described.status();
      auto recorded = Record(*described);
      if (recorded.ok()) {
        spdlog::info("registry: model {} version {} recorded as discovered (sha256 {})", config.name, version,
                     described->sha256);
        return Status::Ok();
      }
      if (recorded.status().code() != StatusCode::kAlreadyExists) {
        spdlog::warn("registry: cannot record model {} version {}: {}", config.name, version,
                     recorded.status().ToString());
        return Status::Ok();
      }
      record = store_.GetModelVersion(config.name, version);  // Another process recorded it meanwhile.
    }
    if (!record.ok() || !*record) {
      spdlog::warn("registry: cannot check model {} version {}, loading it unchecked", config.name, version);
      return Status::Ok();
    }
  }
  auto sha = Sha256File(artifact);
  if (!sha.ok()) return sha.status();
  const ModelVersionRecord& r = **record;
  if (*sha != r.sha256) {
    return Status::FailedPrecondition(
        "artifact " + artifact.filename().string() + " is not the one registered (sha256 " + *sha +
        ", registered " + r.sha256 + " by " + r.author +
        "); versions are immutable: register the new artifact as a new version");
  }
  return Status::Ok();
}

Result<ModelRoutes> Registry::Routes() {
  auto aliases = store_.Aliases("");
  if (!aliases.ok()) return aliases.status();
  auto rollouts = store_.Rollouts("", /*running_only=*/true, 100000);
  if (!rollouts.ok()) return rollouts.status();
  ModelRoutes out;
  for (const AliasRecord& a : *aliases) out[a.model].aliases[a.alias] = a.version;
  for (const RolloutRecord& r : *rollouts) {
    // The plan was validated when the rollout started (lifecycle/rollout.h).
    const auto plan = nlohmann::json::parse(r.plan, nullptr, false);
    const auto steps = plan.is_object() ? plan.value("steps", nlohmann::json::array()) : nlohmann::json::array();
    if (!steps.is_array() || r.step < 0 || r.step >= std::ssize(steps) || !steps[r.step].is_number()) continue;
    const double share = steps[r.step].get<double>() / 100;
    out[r.model].split = TrafficSplit{r.id, r.candidate, r.mode == "shadow", std::clamp(share, 0.0, 1.0)};
  }
  return out;
}

Result<int64_t> Registry::Generation() { return store_.LastModelEventId(); }

}  // namespace vigil
