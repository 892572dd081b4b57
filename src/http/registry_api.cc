#include "http/registry_api.h"

#include <nlohmann/json.hpp>

#include "common/rfc3339.h"
#include "http/alert_api.h"
#include "http/error_mapping.h"
#include "lifecycle/evaluator.h"
#include "lifecycle/rollout.h"
#include "repository/alert_rule.h"

namespace vigil {
namespace {

using nlohmann::json;

// A state conflict (no earlier champion, an alias that moved meanwhile) is
// 409; the rest as everywhere.
HttpResponse RegistryError(const Status& status) {
  if (status.code() == StatusCode::kFailedPrecondition) return ErrorResponse(409, status.message());
  return ErrorResponse(status);
}

json ParseOr(const std::string& text, json fallback) {
  json parsed = json::parse(text, nullptr, false);
  return parsed.is_discarded() ? fallback : parsed;
}

json VersionJson(const ModelVersionRecord& v, const std::map<std::string, int64_t>& aliases, bool with_profile) {
  json names = json::array();
  for (const auto& [alias, version] : aliases) {
    if (version == v.version) names.push_back(alias);
  }
  json out = {{"model", v.model},
              {"version", v.version},
              {"artifact", v.artifact},
              {"sha256", v.sha256},
              {"artifact_bytes", v.artifact_bytes},
              {"origin", v.origin},
              {"parent_version", v.parent_version > 0 ? json(v.parent_version) : json(nullptr)},
              {"data_fingerprint", v.data_fingerprint.empty() ? json(nullptr) : json(v.data_fingerprint)},
              {"data_rows", v.data_rows > 0 ? json(v.data_rows) : json(nullptr)},
              {"parameters", ParseOr(v.parameters, json::object())},
              {"metrics", ParseOr(v.metrics, json::object())},
              {"author", v.author},
              {"description", v.description},
              {"created", FormatRfc3339(v.created_ms)},
              {"aliases", names},
              {"has_profile", !v.profile.empty()}};
  if (with_profile) out["profile"] = v.profile.empty() ? json(nullptr) : ParseOr(v.profile, nullptr);
  return out;
}

json JobJson(const JobRecord& j) {
  json out = {{"id", j.id},
              {"model", j.model},
              {"kind", j.kind},
              {"state", j.state},
              {"spec", ParseOr(j.spec, json::object())},
              {"progress", ParseOr(j.progress, json::object())},
              {"result", ParseOr(j.result, json::object())},
              {"by", j.actor},
              {"created", FormatRfc3339(j.created_ms)},
              {"started", j.started_ms ? json(FormatRfc3339(j.started_ms)) : json(nullptr)},
              {"finished", j.finished_ms ? json(FormatRfc3339(j.finished_ms)) : json(nullptr)}};
  if (!j.error.empty()) out["error"] = j.error;
  return out;
}

json EventJson(const ModelEvent& e) {
  return {{"id", e.id},
          {"time", FormatRfc3339(e.time_ms)},
          {"model", e.model},
          {"version", e.version > 0 ? json(e.version) : json(nullptr)},
          {"kind", e.kind},
          {"actor", e.actor},
          {"reason", e.reason},
          {"detail", ParseOr(e.detail, json::object())}};
}

// {"by": "...", "reason": "..."} plus the keys in `extra`; the body may be
// empty. Returns an error response, or nothing when the body is good.
std::optional<HttpResponse> ParseActorBody(const std::string& body, const std::vector<std::string>& extra, json* doc) {
  *doc = body.empty() ? json::object() : json::parse(body, nullptr, false);
  if (doc->is_discarded() || !doc->is_object()) {
    return ErrorResponse(400, "request body: expected a JSON object such as {\"by\": \"who\", \"reason\": \"why\"}");
  }
  for (const auto& [key, value] : doc->items()) {
    const bool known = key == "by" || key == "reason" || std::find(extra.begin(), extra.end(), key) != extra.end();
    if (!known) {
      std::string expected = "by, reason";
      for (const std::string& e : extra) expected += ", " + e;
      return ErrorResponse(400, key + ": unknown key (expected " + expected + ")");
    }
    if ((key == "by" || key == "reason") && !value.is_string()) return ErrorResponse(400, key + ": expected a string");
  }
  if (doc->value("by", "").size() > 200 || doc->value("reason", "").size() > 10000) {
    return ErrorResponse(400, "by or reason: too long");
  }
  return std::nullopt;
}

}  // namespace

HttpResponse RegistryApi::Handle(const HttpRequest& request, const std::vector<std::string>& p,
                                 std::string_view& route) {
  const std::string& method = request.method;
  const bool get = method == "GET" || method == "HEAD";
  if (p.size() >= 2 && p[1] == "jobs") {
    if (p.size() == 2) {
      route = "/api/jobs";
      return get ? ListJobs(request.query) : MethodNotAllowed(method, "GET");
    }
    if (p.size() == 3) {
      route = "/api/jobs/{id}";
      return get ? GetJob(p[2]) : MethodNotAllowed(method, "GET");
    }
    if (p.size() == 4 && p[3] == "cancel") {
      route = "/api/jobs/{id}/cancel";
      return method == "POST" ? CancelJob(p[2]) : MethodNotAllowed(method, "POST");
    }
  }
  if (p.size() == 2 && p[1] == "events") {
    route = "/api/events";
    return get ? Events(request.query) : MethodNotAllowed(method, "GET");
  }
  if (p.size() >= 4 && p[1] == "models") {
    const std::string& model = p[2];
    const std::string& what = p[3];
    if (what == "versions" && p.size() == 4) {
      route = "/api/models/{model}/versions";
      if (get) return ListVersions(model);
      return method == "POST" ? Register(model, request) : MethodNotAllowed(method, "GET, POST");
    }
    if (what == "versions" && p.size() == 5) {
      route = "/api/models/{model}/versions/{version}";
      return get ? GetVersion(model, p[4]) : MethodNotAllowed(method, "GET");
    }
    if (what == "aliases" && p.size() == 4) {
      route = "/api/models/{model}/aliases";
      return get ? ListAliases(model) : MethodNotAllowed(method, "GET");
    }
    if (what == "aliases" && p.size() == 5) {
      route = "/api/models/{model}/aliases/{alias}";
      if (method == "PUT") return SetAlias(model, p[4], request.body);
      return method == "DELETE" ? RemoveAlias(model, p[4], request.query) : MethodNotAllowed(method, "PUT, DELETE");
    }
    if (what == "rollback" && p.size() == 4) {
      route = "/api/models/{model}/rollback";
      return method == "POST" ? Rollback(model, request.body) : MethodNotAllowed(method, "POST");
    }
    if (what == "jobs" && p.size() == 4) {
      route = "/api/models/{model}/jobs";
      return method == "POST" ? SubmitJob(model, request.body) : MethodNotAllowed(method, "POST");
    }
    if (what == "rollout" && p.size() == 4) {
      route = "/api/models/{model}/rollout";
      if (get) return GetRollout(model);
      return method == "POST" ? StartRollout(model, request.body) : MethodNotAllowed(method, "GET, POST");
    }
    if (what == "rollout" && p.size() == 5 && (p[4] == "promote" || p[4] == "abort")) {
      route = p[4] == "promote" ? "/api/models/{model}/rollout/promote" : "/api/models/{model}/rollout/abort";
      return method == "POST" ? EndRollout(model, request.body, p[4] == "promote") : MethodNotAllowed(method, "POST");
    }
    if (what == "rollouts" && p.size() == 4) {
      route = "/api/models/{model}/rollouts";
      return get ? ListRollouts(model, request.query) : MethodNotAllowed(method, "GET");
    }
    if (what == "history" && p.size() == 4) {
      route = "/api/models/{model}/history";
      return get ? History(model, request.query) : MethodNotAllowed(method, "GET");
    }
  }
  route = "/api/models";
  return ErrorResponse(404, "no endpoint at " + request.path +
                                " (registry: /api/models/{m}/versions[/{v}], /api/models/{m}/aliases[/{alias}], "
                                "/api/models/{m}/rollback, /api/models/{m}/history, /api/models/{m}/jobs, "
                                "/api/models/{m}/rollout[/promote|/abort], /api/models/{m}/rollouts, "
                                "/api/jobs[/{id}[/cancel]], /api/events)");
}

HttpResponse RegistryApi::ListVersions(const std::string& model) {
  auto versions = registry_.Versions(model);
  if (!versions.ok()) return RegistryError(versions.status());
  auto aliases = registry_.AliasesOf(model);
  if (!aliases.ok()) return RegistryError(aliases.status());
  json list = json::array();
  for (const ModelVersionRecord& v : *versions) list.push_back(VersionJson(v, *aliases, false));
  return JsonResponse(200, {{"model", model}, {"versions", list}, {"aliases", *aliases}});
}

HttpResponse RegistryApi::Register(const std::string& model, const HttpRequest& request) {
  std::vector<std::pair<std::string, std::string>> params;
  if (!ParseQuery(request.query, &params)) return ErrorResponse(400, "query: malformed percent-escape");
  RegisterOptions options;
  options.model = model;
  options.author = "api";
  std::vector<std::string> aliases;
  for (const auto& [key, value] : params) {
    if (key == "by") {
      options.author = value;
    } else if (key == "description") {
      options.description = value;
    } else if (key == "origin") {
      if (value != "registered" && value != "external") {
        return ErrorResponse(400, "origin: expected registered or external, got '" + value + "'");
      }
      options.origin = value;
    } else if (key == "parent") {
      if (!ParsePositiveInt(value, &options.parent_version)) {
        return ErrorResponse(400, "parent: expected a version number, got '" + value + "'");
      }
    } else if (key == "artifact_name") {
      options.artifact_name = value;
    } else if (key == "alias") {
      if (Status s = Registry::CheckAliasName(value); !s.ok()) return ErrorResponse(s);
      aliases.push_back(value);
    } else {
      return ErrorResponse(400, "query: unknown parameter '" + key +
                                    "' (expected by, description, origin, parent, artifact_name, alias)");
    }
  }
  if (request.body.empty()) return ErrorResponse(400, "request body: the artifact's bytes are required");
  options.artifact_bytes = request.body;
  auto record = registry_.Register(options);
  if (!record.ok()) return RegistryError(record.status());
  for (const std::string& alias : aliases) {
    auto moved = registry_.SetAlias(model, alias, record->version, options.author, "registered with the alias");
    if (!moved.ok()) return RegistryError(moved.status().WithContext("version registered, alias " + alias));
  }
  if (!aliases.empty()) (void)manager_.ApplyRoutes();
  auto now = registry_.AliasesOf(model);
  return JsonResponse(201, VersionJson(*record, now.ok() ? *now : std::map<std::string, int64_t>(), false));
}

HttpResponse RegistryApi::GetVersion(const std::string& model, const std::string& version_text) {
  int64_t version = 0;
  if (!ParsePositiveInt(version_text, &version)) {
    return ErrorResponse(400, "version: expected a positive integer, got '" + version_text + "'");
  }
  auto record = registry_.Version(model, version);
  if (!record.ok()) return RegistryError(record.status());
  auto aliases = registry_.AliasesOf(model);
  if (!aliases.ok()) return RegistryError(aliases.status());
  json out = VersionJson(*record, *aliases, true);
  auto evaluation = LatestEvaluation(store_, model, version);
  out["evaluation"] = evaluation.ok() ? ParseOr(evaluation->detail, nullptr) : json(nullptr);
  return JsonResponse(200, out);
}

HttpResponse RegistryApi::ListAliases(const std::string& model) {
  auto aliases = registry_.AliasesOf(model);
  if (!aliases.ok()) return RegistryError(aliases.status());
  return JsonResponse(200, {{"model", model}, {"aliases", *aliases}});
}

HttpResponse RegistryApi::SetAlias(const std::string& model, const std::string& alias, const std::string& body) {
  json doc;
  if (auto bad = ParseActorBody(body, {"version"}, &doc)) return *bad;
  if (!doc.contains("version") || !doc["version"].is_number_integer() || doc["version"].get<int64_t>() <= 0) {
    return ErrorResponse(400, "version: a positive integer is required");
  }
  auto moved = registry_.SetAlias(model, alias, doc["version"].get<int64_t>(), doc.value("by", "api"),
                                  doc.value("reason", ""));
  if (!moved.ok()) return RegistryError(moved.status());
  return Moved(*moved);
}

HttpResponse RegistryApi::RemoveAlias(const std::string& model, const std::string& alias, const std::string& query) {
  std::vector<std::pair<std::string, std::string>> params;
  if (!ParseQuery(query, &params)) return ErrorResponse(400, "query: malformed percent-escape");
  std::string by = "api", reason;
  for (const auto& [key, value] : params) {
    if (key == "by") {
      by = value;
    } else if (key == "reason") {
      reason = value;
    } else {
      return ErrorResponse(400, "query: unknown parameter '" + key + "' (expected by, reason)");
    }
  }
  auto moved = registry_.RemoveAlias(model, alias, by, reason);
  if (!moved.ok()) return RegistryError(moved.status());
  return Moved(*moved);
}

HttpResponse RegistryApi::Rollback(const std::string& model, const std::string& body) {
  json doc;
  if (auto bad = ParseActorBody(body, {}, &doc)) return *bad;
  auto moved = registry_.Rollback(model, doc.value("by", "api"), doc.value("reason", ""));
  if (!moved.ok()) return RegistryError(moved.status());
  return Moved(*moved);
}

HttpResponse RegistryApi::Moved(const AliasChange& change) {
  // Live on this server before the answer: the next request sees it.
  Status applied = manager_.ApplyRoutes();
  json out = {{"model", change.model},
              {"alias", change.alias},
              {"from", change.from > 0 ? json(change.from) : json(nullptr)},
              {"to", change.to > 0 ? json(change.to) : json(nullptr)}};
  if (!applied.ok()) out["warning"] = "moved, but loading the version failed: " + applied.message();
  return JsonResponse(200, out);
}

HttpResponse RegistryApi::History(const std::string& model, const std::string& query) {
  std::vector<std::pair<std::string, std::string>> params;
  if (!ParseQuery(query, &params)) return ErrorResponse(400, "query: malformed percent-escape");
  std::string alias;
  int64_t limit = 100;
  for (const auto& [key, value] : params) {
    if (key == "alias") {
      alias = value;
    } else if (key == "limit") {
      if (!ParsePositiveInt(value, &limit) || limit > 10000) return ErrorResponse(400, "limit: expected 1 to 10000");
    } else {
      return ErrorResponse(400, "query: unknown parameter '" + key + "' (expected alias, limit)");
    }
  }
  auto moves = registry_.History(model, alias, limit);
  if (!moves.ok()) return RegistryError(moves.status());
  json list = json::array();
  for (const ModelEvent& e : *moves) list.push_back(EventJson(e));
  return JsonResponse(200, {{"model", model}, {"history", list}});
}

HttpResponse RegistryApi::Events(const std::string& query) {
  std::vector<std::pair<std::string, std::string>> params;
  if (!ParseQuery(query, &params)) return ErrorResponse(400, "query: malformed percent-escape");
  ModelEventQuery q;
  for (const auto& [key, value] : params) {
    if (key == "model") {
      q.model = value;
    } else if (key == "kind") {
      q.kind = value;
    } else if (key == "limit") {
      if (!ParsePositiveInt(value, &q.limit) || q.limit > 10000) return ErrorResponse(400, "limit: expected 1 to 10000");
    } else {
      return ErrorResponse(400, "query: unknown parameter '" + key + "' (expected model, kind, limit)");
    }
  }
  auto events = store_.ModelEvents(q);
  if (!events.ok()) return RegistryError(events.status());
  json list = json::array();
  for (const ModelEvent& e : *events) list.push_back(EventJson(e));
  return JsonResponse(200, {{"events", list}});
}

HttpResponse RegistryApi::SubmitJob(const std::string& model, const std::string& body) {
  if (!jobs_) return ErrorResponse(503, "training jobs are not available on this server");
  auto spec = ParseTrainingJobSpec(model, body, SystemClock()());
  if (!spec.ok()) return ErrorResponse(spec.status());
  auto job = jobs_->SubmitTraining(*spec);
  if (!job.ok()) return RegistryError(job.status());
  return JsonResponse(202, JobJson(*job));
}

HttpResponse RegistryApi::ListJobs(const std::string& query) {
  if (!jobs_) return ErrorResponse(503, "training jobs are not available on this server");
  std::vector<std::pair<std::string, std::string>> params;
  if (!ParseQuery(query, &params)) return ErrorResponse(400, "query: malformed percent-escape");
  std::string model;
  int64_t limit = 100;
  for (const auto& [key, value] : params) {
    if (key == "model") {
      model = value;
    } else if (key == "limit") {
      if (!ParsePositiveInt(value, &limit) || limit > 10000) return ErrorResponse(400, "limit: expected 1 to 10000");
    } else {
      return ErrorResponse(400, "query: unknown parameter '" + key + "' (expected model, limit)");
    }
  }
  auto jobs = jobs_->List(model, limit);
  if (!jobs.ok()) return RegistryError(jobs.status());
  json list = json::array();
  for (const JobRecord& j : *jobs) list.push_back(JobJson(j));
  return JsonResponse(200, {{"jobs", list}});
}

HttpResponse RegistryApi::GetJob(const std::string& id_text) {
  if (!jobs_) return ErrorResponse(503, "training jobs are not available on this server");
  int64_t id = 0;
  if (!ParsePositiveInt(id_text, &id)) return ErrorResponse(400, "job id: expected a positive integer, got '" + id_text + "'");
  auto job = jobs_->Get(id);
  if (!job.ok()) return RegistryError(job.status());
  return JsonResponse(200, JobJson(*job));
}

HttpResponse RegistryApi::CancelJob(const std::string& id_text) {
  if (!jobs_) return ErrorResponse(503, "training jobs are not available on this server");
  int64_t id = 0;
  if (!ParsePositiveInt(id_text, &id)) return ErrorResponse(400, "job id: expected a positive integer, got '" + id_text + "'");
  auto job = jobs_->Cancel(id);
  if (!job.ok()) return RegistryError(job.status());
  return JsonResponse(200, JobJson(*job));
}

HttpResponse RegistryApi::GetRollout(const std::string& model) {
  if (!rollouts_) return ErrorResponse(503, "rollouts are not available on this server");
  auto list = rollouts_->List(model, 1);
  if (!list.ok()) return RegistryError(list.status());
  if (list->empty()) return ErrorResponse(404, "model '" + model + "' has had no rollout");
  return JsonResponse(200, RolloutJson(list->front()));
}

HttpResponse RegistryApi::ListRollouts(const std::string& model, const std::string& query) {
  if (!rollouts_) return ErrorResponse(503, "rollouts are not available on this server");
  std::vector<std::pair<std::string, std::string>> params;
  if (!ParseQuery(query, &params)) return ErrorResponse(400, "query: malformed percent-escape");
  int64_t limit = 20;
  for (const auto& [key, value] : params) {
    if (key != "limit") return ErrorResponse(400, "query: unknown parameter '" + key + "' (expected limit)");
    if (!ParsePositiveInt(value, &limit) || limit > 1000) return ErrorResponse(400, "limit: expected 1 to 1000");
  }
  auto list = rollouts_->List(model, limit);
  if (!list.ok()) return RegistryError(list.status());
  json out = json::array();
  for (const RolloutRecord& r : *list) out.push_back(RolloutJson(r));
  return JsonResponse(200, {{"rollouts", out}});
}

HttpResponse RegistryApi::StartRollout(const std::string& model, const std::string& body) {
  if (!rollouts_) return ErrorResponse(503, "rollouts are not available on this server");
  json doc;
  if (auto bad = ParseActorBody(
          body, {"version", "mode", "steps", "window", "interval", "step_deadline", "min_requests", "checks"}, &doc)) {
    return *bad;
  }
  if (!doc.contains("version")) return ErrorResponse(400, "version: the candidate version is required");
  RolloutRequest request;
  const json& version = doc["version"];
  if (version.is_number_integer() && version.get<int64_t>() > 0) {
    request.version = version.get<int64_t>();
  } else if (!version.is_string() || !ParsePositiveInt(version.get<std::string>(), &request.version)) {
    return ErrorResponse(400, "version: expected a version number");
  }
  std::shared_ptr<const ModelConfig> config;
  {
    auto table = manager_.table();
    auto it = table->models.find(model);
    if (it == table->models.end() || !it->second.config) return ErrorResponse(404, "unknown model '" + model + "'");
    config = it->second.config;
  }
  // The model's plan, with what the request overrides.
  json plan = json::object();
  for (const char* key : {"mode", "steps", "min_requests", "checks"}) {
    if (doc.contains(key)) plan[key] = doc[key];
  }
  for (const char* key : {"window", "interval", "step_deadline"}) {
    if (!doc.contains(key)) continue;
    const json& v = doc[key];
    int64_t seconds = 0;
    if (v.is_number_integer()) {
      seconds = v.get<int64_t>();
    } else if (v.is_string()) {
      auto parsed = ParseDurationSeconds(v.get<std::string>());
      if (!parsed.ok()) return ErrorResponse(400, std::string(key) + ": " + parsed.status().message());
      seconds = *parsed;
    } else {
      return ErrorResponse(400, std::string(key) + ": expected a duration such as \"90s\" or \"10m\"");
    }
    if (seconds <= 0 || seconds > 7 * 24 * 3600) {
      return ErrorResponse(400, std::string(key) + ": expected a duration from 1s to 7d");
    }
    plan[std::string(key) + "_s"] = seconds;
  }
  auto parsed = RolloutPlanFromJson(plan, config->rollout);
  if (!parsed.ok()) return ErrorResponse(parsed.status());
  request.plan = *parsed;
  request.actor = doc.value("by", "api");
  request.reason = doc.value("reason", "");
  auto started = rollouts_->Begin(model, request);
  if (!started.ok()) return RegistryError(started.status());
  return JsonResponse(201, RolloutJson(*started));
}

HttpResponse RegistryApi::EndRollout(const std::string& model, const std::string& body, bool promote) {
  if (!rollouts_) return ErrorResponse(503, "rollouts are not available on this server");
  json doc;
  if (auto bad = ParseActorBody(body, {}, &doc)) return *bad;
  const std::string by = doc.value("by", "api"), reason = doc.value("reason", "");
  auto ended = promote ? rollouts_->Promote(model, by, reason) : rollouts_->Abort(model, by, reason);
  if (!ended.ok()) return RegistryError(ended.status());
  return JsonResponse(200, RolloutJson(*ended));
}

}  // namespace vigil
