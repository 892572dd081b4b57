#include "cli/registry_commands.h"

#include <stdlib.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "backends/backend.h"
#include "common/rfc3339.h"
#include "lifecycle/registry.h"
#include "store/sqlite_store.h"

namespace vigil {
namespace {

// Who is acting, unless --by says: the login name.
std::string DefaultActor() {
  if (const char* user = std::getenv("USER"); user && *user) return user;
  if (const char* login = getlogin(); login) return login;
  return "cli";
}

int Fail(const char* command, const Status& status) {
  std::fprintf(stderr, "vigil %s: %s\n", command, status.message().c_str());
  return 1;
}

std::string VersionOrDash(int64_t version) { return version > 0 ? std::to_string(version) : "-"; }

}  // namespace

struct RegistryCommands::Flags {
  std::string store = "vigil.db";
  std::string repository;
  std::string model;
  std::string by = DefaultActor();
  std::string reason;
  // register
  std::string artifact, artifact_name, description, origin = "registered", data, reference, parameters = "{}",
                                                   metrics = "{}";
  int64_t parent = 0;
  std::vector<std::string> aliases;
  // alias
  std::string alias;
  int64_t version = 0;
  bool remove = false;
  // versions, history
  bool json = false;
  int64_t limit = 50;
};

namespace {

// Opens the store and the registry over the repository.
struct Opened {
  std::unique_ptr<SqliteStore> store;
  BackendRegistry backends = BackendRegistry::WithBuiltins();
  std::unique_ptr<Registry> registry;
};

Result<std::unique_ptr<Opened>> Open(const std::string& store, const std::string& repository) {
  auto opened = std::make_unique<Opened>();
  auto s = SqliteStore::Open(store);
  if (!s.ok()) return s.status();
  opened->store = std::move(*s);
  opened->registry = std::make_unique<Registry>(*opened->store, repository, opened->backends);
  return opened;
}

int SetAliases(Registry& registry, const std::string& model, int64_t version, const std::vector<std::string>& aliases,
               const std::string& by, const std::string& reason) {
  for (const std::string& alias : aliases) {
    auto moved = registry.SetAlias(model, alias, version, by, reason);
    if (!moved.ok()) return Fail("alias", moved.status());
    std::printf("%s: %s -> version %lld (was %s)\n", model.c_str(), alias.c_str(), static_cast<long long>(version),
                VersionOrDash(moved->from).c_str());
  }
  return 0;
}

int Register(const RegistryCommands::Flags& f) {
  auto opened = Open(f.store, f.repository);
  if (!opened.ok()) return Fail("register", opened.status());
  RegisterOptions options;
  options.model = f.model;
  options.artifact_file = f.artifact;
  options.artifact_name = f.artifact_name;
  options.origin = f.origin;
  options.author = f.by;
  options.description = f.description;
  options.parent_version = f.parent;
  options.parameters = f.parameters;
  options.metrics = f.metrics;
  options.training_data = f.data;
  options.reference_data = f.reference;
  for (const std::string* json : {&f.parameters, &f.metrics}) {
    if (!nlohmann::json::accept(*json) || !nlohmann::json::parse(*json).is_object()) {
      return Fail("register", Status::InvalidArgument("--parameters and --metrics take a JSON object, got " + *json));
    }
  }
  auto record = (*opened)->registry->Register(options);
  if (!record.ok()) return Fail("register", record.status());
  std::printf("registered %s version %lld (sha256 %s, %lld bytes%s)\n", record->model.c_str(),
              static_cast<long long>(record->version), record->sha256.c_str(),
              static_cast<long long>(record->artifact_bytes), record->profile.empty() ? "" : ", with a profile");
  return SetAliases(*(*opened)->registry, f.model, record->version, f.aliases, f.by, f.reason);
}

int Versions(const RegistryCommands::Flags& f) {
  auto opened = Open(f.store, f.repository);
  if (!opened.ok()) return Fail("versions", opened.status());
  Registry& registry = *(*opened)->registry;
  auto versions = registry.Versions(f.model);
  auto aliases = registry.AliasesOf(f.model);
  if (!versions.ok() || !aliases.ok()) return Fail("versions", versions.ok() ? aliases.status() : versions.status());
  std::map<int64_t, std::string> by_version;
  for (const auto& [alias, version] : *aliases) {
    std::string& names = by_version[version];
    names += (names.empty() ? "" : ",") + alias;
  }
  if (f.json) {
    nlohmann::json out = nlohmann::json::array();
    for (const ModelVersionRecord& v : *versions) {
      nlohmann::json aliases_of = nlohmann::json::array();
      for (const auto& [alias, version] : *aliases) {
        if (version == v.version) aliases_of.push_back(alias);
      }
      out.push_back({{"version", v.version}, {"sha256", v.sha256}, {"origin", v.origin}, {"author", v.author},
                     {"created", FormatRfc3339(v.created_ms)}, {"aliases", aliases_of},
                     {"parent_version", v.parent_version}, {"data_rows", v.data_rows},
                     {"metrics", nlohmann::json::parse(v.metrics, nullptr, false)}, {"description", v.description}});
    }
    std::printf("%s\n", out.dump(2).c_str());
    return 0;
  }
  std::printf("%-8s %-11s %-24s %-10s %-12s %-8s %-7s %s\n", "version", "origin", "created", "author", "sha256",
              "parent", "rows", "aliases");
  for (const ModelVersionRecord& v : *versions) {
    std::printf("%-8lld %-11s %-24s %-10s %-12s %-8s %-7s %s\n", static_cast<long long>(v.version), v.origin.c_str(),
                FormatRfc3339(v.created_ms).c_str(), v.author.c_str(), v.sha256.substr(0, 12).c_str(),
                VersionOrDash(v.parent_version).c_str(), v.data_rows ? std::to_string(v.data_rows).c_str() : "-",
                by_version[v.version].c_str());
  }
  return 0;
}

int Alias(const RegistryCommands::Flags& f) {
  auto opened = Open(f.store, f.repository);
  if (!opened.ok()) return Fail("alias", opened.status());
  Registry& registry = *(*opened)->registry;
  if (f.remove) {
    auto removed = registry.RemoveAlias(f.model, f.alias, f.by, f.reason);
    if (!removed.ok()) return Fail("alias", removed.status());
    std::printf("%s: %s removed (was version %lld)\n", f.model.c_str(), f.alias.c_str(),
                static_cast<long long>(removed->from));
    return 0;
  }
  if (f.version <= 0) return Fail("alias", Status::InvalidArgument("give a VERSION, or --delete"));
  return SetAliases(registry, f.model, f.version, {f.alias}, f.by, f.reason);
}

int Rollback(const RegistryCommands::Flags& f) {
  auto opened = Open(f.store, f.repository);
  if (!opened.ok()) return Fail("rollback", opened.status());
  auto moved = (*opened)->registry->Rollback(f.model, f.by, f.reason);
  if (!moved.ok()) return Fail("rollback", moved.status());
  std::printf("%s: champion -> version %lld (was %lld)\n", f.model.c_str(), static_cast<long long>(moved->to),
              static_cast<long long>(moved->from));
  return 0;
}

int History(const RegistryCommands::Flags& f) {
  auto store = SqliteStore::Open(f.store);
  if (!store.ok()) return Fail("history", store.status());
  ModelEventQuery query;
  query.model = f.model;
  query.alias = f.alias;
  query.limit = f.limit;
  auto events = (*store)->ModelEvents(query);
  if (!events.ok()) return Fail("history", events.status());
  if (f.json) {
    nlohmann::json out = nlohmann::json::array();
    for (const ModelEvent& e : *events) {
      out.push_back({{"id", e.id}, {"time", FormatRfc3339(e.time_ms)}, {"kind", e.kind}, {"version", e.version},
                     {"actor", e.actor}, {"reason", e.reason}, {"detail", nlohmann::json::parse(e.detail, nullptr, false)}});
    }
    std::printf("%s\n", out.dump(2).c_str());
    return 0;
  }
  std::printf("%-24s %-11s %-30s %-10s %s\n", "time", "event", "what", "by", "why");
  for (const ModelEvent& e : *events) {
    std::string what;
    const auto detail = nlohmann::json::parse(e.detail, nullptr, false);
    if (e.kind == "alias" && detail.is_object()) {
      auto version = [&](const char* key) {
        return detail.contains(key) && detail[key].is_number() ? std::to_string(detail[key].get<int64_t>())
                                                                : std::string("-");
      };
      what = detail.value("alias", "") + ": " + version("from") + " -> " + version("to");
    } else {
      what = "version " + std::to_string(e.version);
      if (detail.is_object() && detail.contains("origin")) what += " (" + detail.value("origin", "") + ")";
    }
    std::printf("%-24s %-11s %-30s %-10s %s\n", FormatRfc3339(e.time_ms).c_str(), e.kind.c_str(), what.c_str(),
                e.actor.c_str(), e.reason.c_str());
  }
  return 0;
}

}  // namespace

RegistryCommands::RegistryCommands(CLI::App& app) : flags_(std::make_shared<Flags>()) {
  Flags& f = *flags_;
  auto store_option = [&f](CLI::App* cmd) {
    cmd->add_option("--store", f.store, "The store holding the registry (the server's --store)")->capture_default_str();
  };
  auto repository_option = [&f](CLI::App* cmd) {
    cmd->add_option("--repository", f.repository, "Model repository")->required()->check(CLI::ExistingDirectory);
  };
  auto actor_options = [&f](CLI::App* cmd) {
    cmd->add_option("--by", f.by, "Who does this, for the history (default: $USER)");
    cmd->add_option("--reason", f.reason, "Why, for the history");
  };

  CLI::App* reg = app.add_subcommand(
      "register", "Register an artifact as a new version of a model: copied into the repository, validated by loading, "
                  "recorded with its SHA-256.");
  reg->add_option("MODEL", f.model, "Model name (its directory with model.yaml must exist)")->required();
  reg->add_option("ARTIFACT", f.artifact, "The model file")->required()->check(CLI::ExistingFile);
  repository_option(reg);
  store_option(reg);
  actor_options(reg);
  reg->add_option("--artifact-name", f.artifact_name, "File name in the version directory (default: model.yaml's "
                                                      "artifact, else the file's own name, else the backend's)");
  reg->add_option("--origin", f.origin, "Where it comes from")
      ->check(CLI::IsMember({"registered", "external"}))->capture_default_str();
  reg->add_option("--description", f.description, "A note kept with the version");
  reg->add_option("--data", f.data, "Its training data (CSV): fingerprint, row count and reference profile")
      ->check(CLI::ExistingFile);
  reg->add_option("--reference", f.reference, "Data for the reference profile instead of --data")
      ->check(CLI::ExistingFile);
  reg->add_option("--parent", f.parent, "The version it was trained to replace");
  reg->add_option("--parameters", f.parameters, "Training parameters, a JSON object");
  reg->add_option("--metrics", f.metrics, "Evaluation metrics, a JSON object");
  reg->add_option("--alias", f.aliases, "Point this alias at the new version (repeatable), e.g. challenger");
  commands_.emplace_back(reg, Register);

  CLI::App* versions = app.add_subcommand("versions", "List a model's registered versions with their aliases.");
  versions->add_option("MODEL", f.model, "Model name")->required();
  store_option(versions);
  versions->add_option("--repository", f.repository, "Model repository (unused; accepted for symmetry)");
  versions->add_flag("--json", f.json, "Print JSON instead of a table");
  commands_.emplace_back(versions, Versions);

  CLI::App* alias = app.add_subcommand(
      "alias", "Point an alias (champion, challenger, any name) at a version, or remove it; recorded in the history.");
  alias->add_option("MODEL", f.model, "Model name")->required();
  alias->add_option("ALIAS", f.alias, "Alias name")->required();
  alias->add_option("VERSION", f.version, "Version to point at");
  alias->add_flag("--delete", f.remove, "Remove the alias instead");
  repository_option(alias);
  store_option(alias);
  actor_options(alias);
  commands_.emplace_back(alias, Alias);

  CLI::App* rollback = app.add_subcommand(
      "rollback", "Return a model's champion to the version it replaced (twice: back again).");
  rollback->add_option("MODEL", f.model, "Model name")->required();
  repository_option(rollback);
  store_option(rollback);
  actor_options(rollback);
  commands_.emplace_back(rollback, Rollback);

  CLI::App* history = app.add_subcommand(
      "history", "Show a model's registrations and alias moves, newest first: what served when, who moved it and why.");
  history->add_option("MODEL", f.model, "Model name")->required();
  store_option(history);
  history->add_option("--alias", f.alias, "Only this alias's moves");
  history->add_option("--limit", f.limit, "Events at most")->check(CLI::PositiveNumber)->capture_default_str();
  history->add_flag("--json", f.json, "Print JSON instead of a table");
  commands_.emplace_back(history, History);
}

int RegistryCommands::Run() const {
  for (const auto& [cmd, run] : commands_) {
    if (!*cmd) continue;
    spdlog::set_level(spdlog::level::warn);  // The commands print what they did.
    return run(*flags_);
  }
  return -1;
}

int RegistryCommands::TrainAndRegister(TrainOptions options, const std::string& store, const std::string& author,
                                       const std::vector<std::string>& aliases) {
  namespace fs = std::filesystem;
  const fs::path repository = options.repository;
  spdlog::set_level(spdlog::level::warn);  // Progress and the result are printed.
  if (options.version != 0) {
    return Fail("train", Status::InvalidArgument("--version and --store do not go together: the registry numbers "
                                                 "the versions it registers"));
  }
  auto opened = Open(store, repository.string());
  if (!opened.ok()) return Fail("train", opened.status());
  // Train into a hidden staging repository beside the real one (ignored by
  // the manager), with the model's configuration when it has one.
  fs::create_directories(repository);
  std::string pattern = (repository / ".train-XXXXXX").string();
  if (!::mkdtemp(pattern.data())) return Fail("train", Status::Internal("cannot create a staging directory"));
  struct Cleanup {
    fs::path path;
    ~Cleanup() {
      std::error_code ignored;
      fs::remove_all(path, ignored);
    }
  } staging{pattern};
  const fs::path config = repository / options.model_name / "model.yaml";
  std::error_code ec;
  if (fs::exists(config)) {
    // A new version of an existing model: the trainer uses its model.yaml.
    fs::create_directories(staging.path / options.model_name);
    fs::copy_file(config, staging.path / options.model_name / "model.yaml", ec);
    if (ec) return Fail("train", Status::Internal("copying " + config.string() + ": " + ec.message()));
  }
  options.repository = staging.path;
  auto report = TrainXGBoostClassifier(options, [](const std::string& line) {
    std::printf("%s\n", line.c_str());
    std::fflush(stdout);
  });
  if (!report.ok()) return Fail("train", report.status());
  if (!fs::exists(config)) {
    // The model's first version: its configuration goes in first.
    fs::create_directories(config.parent_path());
    fs::copy_file(staging.path / options.model_name / "model.yaml", config, ec);
    if (ec) return Fail("train", Status::Internal("writing " + config.string() + ": " + ec.message()));
  }
  Registry& registry = *(*opened)->registry;
  auto champion = registry.AliasesOf(options.model_name);
  if (!champion.ok()) return Fail("train", champion.status());
  RegisterOptions r;
  r.model = options.model_name;
  r.artifact_file = report->artifact;
  r.origin = "trained";
  r.author = author;
  r.description = "vigil train --data " + options.data.filename().string();
  r.parent_version = champion->count("champion") ? champion->at("champion") : 0;
  r.training_data = options.data;
  r.profile_file = report->artifact.parent_path() / "profile.json";
  r.parameters = nlohmann::json{{"target", options.target},
                                {"rounds", options.rounds},
                                {"early_stopping_rounds", options.early_stopping_rounds},
                                {"max_depth", options.max_depth},
                                {"learning_rate", options.learning_rate},
                                {"subsample", options.subsample},
                                {"colsample_bytree", options.colsample_bytree},
                                {"validation_fraction", options.validation_fraction},
                                {"test_fraction", options.test_fraction},
                                {"seed", options.seed},
                                {"best_iteration", report->best_iteration}}
                     .dump();
  r.metrics = nlohmann::json{{"validation_auc", report->validation_auc},
                             {"test_auc", report->test_auc},
                             {"train_rows", report->train_rows},
                             {"validation_rows", report->validation_rows},
                             {"test_rows", report->test_rows}}
                  .dump();
  auto record = registry.Register(r);
  if (!record.ok()) return Fail("train", record.status());
  std::printf("registered %s version %lld (sha256 %s) in %s\n", record->model.c_str(),
              static_cast<long long>(record->version), record->sha256.c_str(), store.c_str());
  return SetAliases(registry, r.model, record->version, aliases, author, "vigil train");
}

}  // namespace vigil
