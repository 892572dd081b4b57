#include "cli/registry_commands.h"

#include <stdlib.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <chrono>
#include <cstdio>
#include <thread>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "backends/backend.h"
#include "cli/command_support.h"
#include "common/rfc3339.h"
#include "http/http_client.h"
#include "lifecycle/evaluator.h"
#include "lifecycle/registry.h"
#include "store/sqlite_store.h"

namespace vigil {
namespace {

std::string VersionOrDash(int64_t version) { return version > 0 ? std::to_string(version) : "-"; }

}  // namespace

struct RegistryCommands::Flags {
  std::string store = "vigil.db";
  std::string repository;
  std::string model;
  std::string by = ActingUser();
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
  // retrain, jobs
  std::string server = "http://127.0.0.1:8080";
  std::string source = "production";
  double hours = 24 * 7;
  double original_share = 0;
  std::string target = "Status";
  int64_t rounds = 0, max_depth = 0, seed = -1;
  double learning_rate = 0;
  bool no_follow = false;
  int64_t job = 0;
  bool cancel = false;
  bool rollout = false;
  // rollout, events
  std::string action;
  std::string mode, window;
  std::vector<double> steps;
  std::string kind;
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

int Evaluate(const RegistryCommands::Flags& f) {
  auto opened = Open(f.store, f.repository);
  if (!opened.ok()) return Fail("evaluate", opened.status());
  EvaluateOptions e;
  e.repository = f.repository;
  e.model = f.model;
  e.challenger = f.version;
  e.champion = f.parent;
  e.target = f.target;
  e.actor = f.by;
  if (!f.data.empty()) e.sets.push_back({std::filesystem::path(f.data).filename().string(), f.data});
  auto result = EvaluateVersion(*(*opened)->registry, *(*opened)->store, e);
  if (!result.ok()) return Fail("evaluate", result.status());
  const Evaluation& r = *result;
  std::printf("%s version %lld on %lld rows: %s %.4f", r.model.c_str(), static_cast<long long>(r.challenger_version),
              static_cast<long long>(r.rows), r.metric.c_str(), r.challenger);
  if (r.champion_version > 0) {
    std::printf(" (champion version %lld: %.4f)", static_cast<long long>(r.champion_version), r.champion);
  }
  std::printf("\n%s\n", r.blessed ? "blessed" : "not blessed:");
  for (const std::string& reason : r.reasons) std::printf("  %s\n", reason.c_str());
  return r.blessed ? 0 : 3;
}

// What an event did, in a few words.
std::string EventSummary(const ModelEvent& e) {
  const auto detail = nlohmann::json::parse(e.detail, nullptr, false);
  if (!detail.is_object()) return "version " + std::to_string(e.version);
  auto number = [&](const char* key) {
    return detail.contains(key) && detail[key].is_number() ? nlohmann::json(detail[key]).dump() : std::string("-");
  };
  if (e.kind == "alias") return detail.value("alias", "") + ": " + number("from") + " -> " + number("to");
  const std::string version = "version " + std::to_string(e.version);
  if (e.kind == "rollout") {
    const std::string action = detail.value("action", "");
    if (action == "started") return version + ": " + detail.value("mode", "") + " at " + number("share") + "%";
    if (action == "step") return version + ": step " + number("step") + " at " + number("share") + "%";
    return version + ": " + action + " at step " + number("step");
  }
  if (e.kind == "retrain") {
    const std::string action = detail.value("action", "");
    return "alert " + number("alert") + ": " + (action == "started" ? "job " + number("job") : action);
  }
  if (e.kind == "evaluation") {
    return version + ": " + (detail.value("blessed", false) ? "blessed" : "not blessed");
  }
  if (e.kind == "job") return "job " + number("job") + ": " + detail.value("state", "") + ", " + version;
  if (detail.contains("origin")) return version + " (" + detail.value("origin", "") + ")";
  return version;
}

int History(const RegistryCommands::Flags& f) {
  auto store = SqliteStore::Open(f.store);
  if (!store.ok()) return Fail("history", store.status());
  ModelEventQuery query;
  query.model = f.model;
  query.kind = f.kind;
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
  const bool every_model = f.model.empty();
  if (every_model) std::printf("%-12s ", "model");
  std::printf("%-24s %-11s %-34s %-10s %s\n", "time", "event", "what", "by", "why");
  for (const ModelEvent& e : *events) {
    if (every_model) std::printf("%-12s ", e.model.c_str());
    std::printf("%-24s %-11s %-34s %-10s %s\n", FormatRfc3339(e.time_ms).c_str(), e.kind.c_str(),
                EventSummary(e).c_str(), e.actor.c_str(), e.reason.c_str());
  }
  return 0;
}

// Calls the server's admin API; the body of a 2xx answer, else why not.
Result<nlohmann::json> CallServer(const std::string& server, const std::string& method, const std::string& path,
                                  const std::string& body) {
  // The key comes from the environment, not the command line, where other
  // users could read it (ps).
  std::vector<std::pair<std::string, std::string>> headers;
  if (const char* key = std::getenv("VIGIL_API_KEY"); key && *key) headers.emplace_back("Authorization", std::string("Bearer ") + key);
  auto reply = SendHttpRequest(method, server + path, body, "application/json", headers, std::chrono::seconds(30));
  if (!reply.ok()) return reply.status().WithContext(server);
  const auto doc = nlohmann::json::parse(reply->body, nullptr, false);
  if (reply->status / 100 != 2) {
    const std::string error = doc.is_object() && doc.contains("error") ? doc["error"].get<std::string>() : reply->body;
    return Status::InvalidArgument("HTTP " + std::to_string(reply->status) + ": " + error);
  }
  if (doc.is_discarded()) return Status::Internal("the server answered " + path + " with something that is not JSON");
  return doc;
}

// "[#########...........]  round 120/500  validation AUC 0.8312"
std::string ProgressLine(const nlohmann::json& job) {
  const nlohmann::json progress = job.value("progress", nlohmann::json::object());
  const std::string stage = progress.value("stage", job.value("state", ""));
  if (stage != "training") return stage + "...";
  const double round = progress.value("round", 0.0), rounds = std::max(1.0, progress.value("rounds", 1.0));
  const int width = 30, filled = static_cast<int>(width * std::min(1.0, round / rounds));
  char tail[96];
  std::snprintf(tail, sizeof(tail), "]  round %d/%d  validation AUC %.4f", static_cast<int>(round),
                static_cast<int>(rounds),
                progress.value("validation_auc", nlohmann::json()).is_number() ? progress["validation_auc"].get<double>()
                                                                               : 0.0);
  return "[" + std::string(filled, '#') + std::string(width - filled, '.') + tail;
}

// Prints the job's progress until it ends; 0 if it succeeded.
int FollowJob(const std::string& server, int64_t id) {
  const bool tty = isatty(fileno(stderr));
  for (;;) {
    auto job = CallServer(server, "GET", "/api/jobs/" + std::to_string(id), "");
    if (!job.ok()) return Fail("retrain", job.status());
    const std::string state = (*job)["state"];
    if (state != "queued" && state != "running") {
      if (tty) std::fputs("\r\033[K", stderr);
      if (state == "succeeded") {
        const nlohmann::json& result = (*job)["result"];
        std::printf("job %lld succeeded: %s version %lld (test AUC %.4f, %lld rows)\n", static_cast<long long>(id),
                    (*job)["model"].get<std::string>().c_str(), static_cast<long long>(result.value("version", 0)),
                    result["metrics"].value("test_auc", 0.0),
                    static_cast<long long>(result["metrics"].value("train_rows", 0) +
                                           result["metrics"].value("validation_rows", 0) +
                                           result["metrics"].value("test_rows", 0)));
        return 0;
      }
      std::fprintf(stderr, "job %lld %s: %s\n", static_cast<long long>(id), state.c_str(),
                   job->value("error", "").c_str());
      return 1;
    }
    const std::string line = ProgressLine(*job);
    if (tty) {
      std::fprintf(stderr, "\r\033[Kjob %lld %s", static_cast<long long>(id), line.c_str());
    } else {
      std::fprintf(stderr, "job %lld %s\n", static_cast<long long>(id), line.c_str());
    }
    std::fflush(stderr);
    std::this_thread::sleep_for(std::chrono::milliseconds(tty ? 250 : 2000));
  }
}

int Retrain(const RegistryCommands::Flags& f) {
  nlohmann::json body = {{"source", f.source}, {"by", f.by}, {"target", f.target}};
  if (!f.reason.empty()) body["reason"] = f.reason;
  if (!f.data.empty()) body["data"] = std::filesystem::absolute(f.data).string();
  if (f.source == "production") {
    body["hours"] = f.hours;
    if (f.original_share > 0) body["original_share"] = f.original_share;
  }
  nlohmann::json parameters = nlohmann::json::object();
  if (f.rounds > 0) parameters["rounds"] = f.rounds;
  if (f.max_depth > 0) parameters["max_depth"] = f.max_depth;
  if (f.learning_rate > 0) parameters["learning_rate"] = f.learning_rate;
  if (f.seed >= 0) parameters["seed"] = f.seed;
  body["parameters"] = parameters;
  if (!f.aliases.empty()) body["alias"] = f.aliases;
  if (f.rollout) body["rollout"] = true;
  auto job = CallServer(f.server, "POST", "/api/models/" + f.model + "/jobs", body.dump());
  if (!job.ok()) return Fail("retrain", job.status());
  const int64_t id = (*job)["id"];
  std::printf("job %lld queued (GET %s/api/jobs/%lld)\n", static_cast<long long>(id), f.server.c_str(),
              static_cast<long long>(id));
  std::fflush(stdout);
  return f.no_follow ? 0 : FollowJob(f.server, id);
}

void PrintRollout(const nlohmann::json& r) {
  std::printf("rollout %lld of %s: version %lld against champion %lld, %s, %s\n",
              static_cast<long long>(r["id"].get<int64_t>()), r["model"].get<std::string>().c_str(),
              static_cast<long long>(r["candidate"].get<int64_t>()), static_cast<long long>(r["champion"].get<int64_t>()),
              r["mode"].get<std::string>().c_str(), r["state"].get<std::string>().c_str());
  std::printf("step %lld of %zu at %s%% (steps %s), since %s; started by %s%s%s\n",
              static_cast<long long>(r["step"].get<int64_t>()), r["steps"].size(), r["share"].dump().c_str(),
              r["steps"].dump().c_str(), r["step_started"].get<std::string>().c_str(), r["by"].get<std::string>().c_str(),
              r["reason"].get<std::string>().empty() ? "" : ": ", r["reason"].get<std::string>().c_str());
  const nlohmann::json analysis = r.value("analysis", nlohmann::json::object());
  if (!analysis.contains("checks")) return;
  std::printf("analysis at %s: %s\n", analysis.value("time", "").c_str(), analysis.value("verdict", "").c_str());
  for (const nlohmann::json& c : analysis["checks"]) {
    std::printf("  %-16s %-5s %s\n", c["name"].get<std::string>().c_str(), c["outcome"].get<std::string>().c_str(),
                c["detail"].get<std::string>().c_str());
  }
  if (analysis.contains("shadow")) {
    const nlohmann::json& s = analysis["shadow"];
    std::printf("  shadow: %s paired rows, agreement %s, |score difference| mean %s p90 %s p99 %s\n",
                s["pairs"].dump().c_str(), s["agreement"].dump().c_str(), s["score_difference"]["mean"].dump().c_str(),
                s["score_difference"]["p90"].dump().c_str(), s["score_difference"]["p99"].dump().c_str());
  }
}

int Rollout(const RegistryCommands::Flags& f) {
  const std::string base = "/api/models/" + f.model + "/rollout";
  if (f.action == "start" && f.version <= 0) {
    return Fail("rollout", Status::InvalidArgument("start needs the candidate VERSION"));
  }
  const Result<nlohmann::json> reply = [&] {
    if (f.action == "start") {
      nlohmann::json body = {{"version", f.version}, {"by", f.by}};
      if (!f.reason.empty()) body["reason"] = f.reason;
      if (!f.mode.empty()) body["mode"] = f.mode;
      if (!f.steps.empty()) body["steps"] = f.steps;
      if (!f.window.empty()) body["window"] = f.window;
      return CallServer(f.server, "POST", base, body.dump());
    }
    if (f.action == "promote" || f.action == "abort") {
      nlohmann::json body = {{"by", f.by}};
      if (!f.reason.empty()) body["reason"] = f.reason;
      return CallServer(f.server, "POST", base + "/" + f.action, body.dump());
    }
    return CallServer(f.server, "GET", base, "");
  }();
  if (!reply.ok()) return Fail("rollout", reply.status());
  if (f.json) {
    std::printf("%s\n", reply->dump(2).c_str());
  } else {
    PrintRollout(*reply);
  }
  return 0;
}

int Jobs(const RegistryCommands::Flags& f) {
  if (f.job > 0) {
    auto job = CallServer(f.server, f.cancel ? "POST" : "GET",
                          "/api/jobs/" + std::to_string(f.job) + (f.cancel ? "/cancel" : ""), f.cancel ? "{}" : "");
    if (!job.ok()) return Fail("jobs", job.status());
    std::printf("%s\n", job->dump(2).c_str());
    return 0;
  }
  auto jobs = CallServer(f.server, "GET", "/api/jobs?limit=" + std::to_string(f.limit) +
                                              (f.model.empty() ? "" : "&model=" + f.model), "");
  if (!jobs.ok()) return Fail("jobs", jobs.status());
  std::printf("%-6s %-12s %-10s %-24s %-8s %s\n", "job", "model", "state", "created", "version", "progress / error");
  for (const nlohmann::json& j : (*jobs)["jobs"]) {
    const nlohmann::json result = j.value("result", nlohmann::json::object());
    std::printf("%-6lld %-12s %-10s %-24s %-8s %s\n", static_cast<long long>(j["id"].get<int64_t>()),
                j["model"].get<std::string>().c_str(), j["state"].get<std::string>().c_str(),
                j["created"].get<std::string>().c_str(),
                result.contains("version") ? std::to_string(result["version"].get<int64_t>()).c_str() : "-",
                j.contains("error") ? j["error"].get<std::string>().c_str() : ProgressLine(j).c_str());
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

  CLI::App* evaluate = app.add_subcommand(
      "evaluate", "Score a version and the champion on labelled data (and the model's golden set), judge the version "
                  "by the model's gate, and record the result. Exit status 0: blessed, 3: not.");
  evaluate->add_option("MODEL", f.model, "Model name")->required();
  evaluate->add_option("VERSION", f.version, "The version to judge")->required();
  evaluate->add_option("--data", f.data, "Labelled CSV to score on (the golden set is added when the gate has one)")
      ->check(CLI::ExistingFile);
  evaluate->add_option("--against", f.parent, "Compare with this version instead of the champion");
  evaluate->add_option("--target", f.target, "The label column")->capture_default_str();
  repository_option(evaluate);
  store_option(evaluate);
  evaluate->add_option("--by", f.by, "Who, for the record (default: $USER)");
  commands_.emplace_back(evaluate, Evaluate);

  CLI::App* history = app.add_subcommand(
      "history", "Show a model's registrations and alias moves, newest first: what served when, who moved it and why.");
  history->add_option("MODEL", f.model, "Model name")->required();
  store_option(history);
  history->add_option("--alias", f.alias, "Only this alias's moves");
  history->add_option("--limit", f.limit, "Events at most")->check(CLI::PositiveNumber)->capture_default_str();
  history->add_flag("--json", f.json, "Print JSON instead of a table");
  commands_.emplace_back(history, History);

  CLI::App* events = app.add_subcommand(
      "events", "Show the lifecycle's events, newest first: registrations, alias moves, retraining started by alerts, "
                "jobs, evaluations and rollout steps, promotions and rollbacks.");
  events->add_option("--model", f.model, "Only this model's events");
  events->add_option("--kind", f.kind, "Only events of this kind (registered, alias, retrain, job, evaluation, rollout)");
  store_option(events);
  events->add_option("--limit", f.limit, "Events at most")->check(CLI::PositiveNumber)->capture_default_str();
  events->add_flag("--json", f.json, "Print JSON instead of a table");
  commands_.emplace_back(events, History);

  CLI::App* rollout = app.add_subcommand(
      "rollout", "Roll a version out on a running server (canary or shadow, step by step), see how it goes, or end "
                 "it: promote to champion, or abort back to the champion.");
  rollout->add_option("ACTION", f.action, "start, status, promote or abort")
      ->required()
      ->check(CLI::IsMember({"start", "status", "promote", "abort"}));
  rollout->add_option("MODEL", f.model, "Model name")->required();
  rollout->add_option("VERSION", f.version, "start: the candidate version");
  rollout->add_option("--server", f.server, "The server's URL")->capture_default_str();
  rollout->add_option("--mode", f.mode, "start: canary or shadow (default: model.yaml's rollout, else canary)");
  rollout->add_option("--steps", f.steps, "start: percentages per step, e.g. --steps 10 50 100");
  rollout->add_option("--window", f.window, "start: each step's analysis window, e.g. 10m");
  rollout->add_flag("--json", f.json, "Print the rollout as JSON");
  actor_options(rollout);
  commands_.emplace_back(rollout, Rollout);

  CLI::App* retrain = app.add_subcommand(
      "retrain", "Start a training job on a running server (from production: logged requests with their feedback) "
                 "and follow its progress.");
  retrain->add_option("MODEL", f.model, "Model name")->required();
  retrain->add_option("--server", f.server, "The server's URL")->capture_default_str();
  retrain->add_option("--source", f.source, "Training data: production (the log joined with feedback) or csv")
      ->check(CLI::IsMember({"production", "csv"}))->capture_default_str();
  retrain->add_option("--data", f.data, "csv: the CSV file; production: the original training data to mix in "
                                        "(a path on the server's machine)");
  retrain->add_option("--hours", f.hours, "production: the last this many hours of requests")->capture_default_str();
  retrain->add_option("--original-share", f.original_share, "production: share of rows from --data, in [0, 1)");
  retrain->add_option("--target", f.target, "The label column's name")->capture_default_str();
  retrain->add_option("--rounds", f.rounds, "Boosting rounds at most (default: the champion's)");
  retrain->add_option("--max-depth", f.max_depth, "Tree depth (default: the champion's)");
  retrain->add_option("--learning-rate", f.learning_rate, "Shrinkage (default: the champion's)");
  retrain->add_option("--seed", f.seed, "Seed (default: the champion's)");
  retrain->add_option("--alias", f.aliases, "Point this alias at the new version (repeatable), e.g. challenger");
  retrain->add_flag("--no-follow", f.no_follow, "Print the job's id and return");
  retrain->add_flag("--rollout", f.rollout, "Roll the new version out by itself if the gate blesses it");
  actor_options(retrain);
  commands_.emplace_back(retrain, Retrain);

  CLI::App* jobs = app.add_subcommand("jobs", "List a server's training jobs, show one, or cancel one.");
  jobs->add_option("JOB", f.job, "A job's id: show it (or cancel it with --cancel)");
  jobs->add_option("--model", f.model, "Only this model's jobs");
  jobs->add_option("--server", f.server, "The server's URL")->capture_default_str();
  jobs->add_option("--limit", f.limit, "Jobs at most")->check(CLI::PositiveNumber)->capture_default_str();
  jobs->add_flag("--cancel", f.cancel, "Cancel JOB");
  commands_.emplace_back(jobs, Jobs);
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
  r.parameters = TrainedParameters(options, *report).dump();
  r.metrics = TrainedMetrics(*report).dump();
  auto record = registry.Register(r);
  if (!record.ok()) return Fail("train", record.status());
  std::printf("registered %s version %lld (sha256 %s) in %s\n", record->model.c_str(),
              static_cast<long long>(record->version), record->sha256.c_str(), store.c_str());
  return SetAliases(registry, r.model, record->version, aliases, author, "vigil train");
}

}  // namespace vigil
