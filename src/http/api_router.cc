#include "http/api_router.h"

#include <chrono>
#include <nlohmann/json.hpp>
#include <string_view>
#include <vector>

#include "http/error_mapping.h"
#include "http/v2_codec.h"

namespace vigil {
namespace {

using nlohmann::json;

std::vector<std::string> SplitPath(std::string_view path) {
  std::vector<std::string> parts;
  size_t i = 0;
  while (i < path.size()) {
    while (i < path.size() && path[i] == '/') ++i;
    size_t j = path.find('/', i);
    if (j == std::string_view::npos) j = path.size();
    if (j > i) parts.emplace_back(path.substr(i, j - i));
    i = j;
  }
  return parts;
}

HttpResponse JsonResponse(int status, const json& body) {
  HttpResponse r;
  r.status = status;
  r.body = body.dump();
  return r;
}

HttpResponse MethodNotAllowed(const std::string& method, const std::string& allowed) {
  HttpResponse r = ErrorResponse(405, "method " + method + " is not allowed here; use " + allowed);
  r.headers.emplace_back("Allow", allowed);
  return r;
}

json TensorSpecJson(const TensorSpec& spec) {
  return {{"name", spec.name}, {"datatype", DataTypeName(spec.type)}, {"shape", spec.shape}};
}

// Triton's names for states in the repository index.
std::string_view IndexStateName(VersionState s) {
  switch (s) {
    case VersionState::kReady: return "READY";
    case VersionState::kLoading: case VersionState::kWarming: return "LOADING";
    case VersionState::kDraining: return "UNLOADING";
    default: return "UNAVAILABLE";
  }
}

std::string LowerCodeName(StatusCode code) {
  std::string s(StatusCodeName(code));
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

}  // namespace

ApiRouter::ApiRouter(ModelManager& manager, const InferenceService& inference,
                     ServingMetrics& metrics)
    : manager_(manager), inference_(inference), metrics_(metrics) {}

HttpResponse ApiRouter::Handle(HttpRequest& request) {
  std::string_view route = "other";
  HttpResponse response = Dispatch(request, route);
  metrics_.CountHttp(route, response.status);
  return response;
}

HttpResponse ApiRouter::Dispatch(HttpRequest& request, std::string_view& route) {
  const std::vector<std::string> p = SplitPath(request.path);
  const std::string& method = request.method;
  const bool get = method == "GET" || method == "HEAD";
  const bool post = method == "POST";

  if (p.size() == 1 && p[0] == "metrics") {
    route = "/metrics";
    if (!get) return MethodNotAllowed(method, "GET");
    HttpResponse r;
    r.content_type = "text/plain; version=0.0.4; charset=utf-8";
    r.body = metrics_.registry().Render();
    return r;
  }
  if (p.empty() || p[0] != "v2") {
    return ErrorResponse(404, "no endpoint at " + request.path + " (see GET /v2)");
  }
  if (p.size() == 1) {
    route = "/v2";
    return get ? ServerMetadata() : MethodNotAllowed(method, "GET");
  }
  if (p[1] == "health" && p.size() == 3 && (p[2] == "live" || p[2] == "ready")) {
    route = p[2] == "live" ? "/v2/health/live" : "/v2/health/ready";
    if (!get) return MethodNotAllowed(method, "GET");
    if (p[2] == "live") return JsonResponse(200, {{"live", true}});
    return Ready();
  }
  if (p[1] == "models" && p.size() >= 3) {
    const std::string& model = p[2];
    std::optional<std::string> version;
    size_t rest = 3;
    if (p.size() >= 5 && p[3] == "versions") {
      version = p[4];
      rest = 5;
    }
    if (p.size() == rest) {
      route = version ? "/v2/models/{model}/versions/{version}" : "/v2/models/{model}";
      return get ? ModelMetadata(model, version) : MethodNotAllowed(method, "GET");
    }
    if (p.size() == rest + 1 && p[rest] == "ready") {
      route = version ? "/v2/models/{model}/versions/{version}/ready" : "/v2/models/{model}/ready";
      return get ? ModelReady(model, version) : MethodNotAllowed(method, "GET");
    }
    if (p.size() == rest + 1 && p[rest] == "infer") {
      route = version ? "/v2/models/{model}/versions/{version}/infer" : "/v2/models/{model}/infer";
      return post ? Infer(model, version, request.body, /*explain=*/false) : MethodNotAllowed(method, "POST");
    }
    if (p.size() == rest + 1 && p[rest] == "explain") {
      route = version ? "/v2/models/{model}/versions/{version}/explain" : "/v2/models/{model}/explain";
      return post ? Infer(model, version, request.body, /*explain=*/true) : MethodNotAllowed(method, "POST");
    }
  }
  if (p[1] == "repository") {
    if (p.size() == 3 && p[2] == "index") {
      route = "/v2/repository/index";
      return post ? RepositoryIndex(request.body) : MethodNotAllowed(method, "POST");
    }
    if (p.size() == 5 && p[2] == "models" && (p[4] == "load" || p[4] == "unload")) {
      route = p[4] == "load" ? "/v2/repository/models/{model}/load"
                             : "/v2/repository/models/{model}/unload";
      return post ? RepositoryControl(p[3], p[4] == "load") : MethodNotAllowed(method, "POST");
    }
  }
  return ErrorResponse(404, "no endpoint at " + request.path + " (see GET /v2)");
}

HttpResponse ApiRouter::ServerMetadata() const {
  return JsonResponse(200, {{"name", "vigil"},
                            {"version", VIGIL_VERSION},
                            {"extensions", {"model_repository"}}});
}

HttpResponse ApiRouter::Ready() const {
  const bool ready = !shutting_down_ && manager_.Ready();
  return JsonResponse(ready ? 200 : 503, {{"ready", ready}});
}

HttpResponse ApiRouter::ModelMetadata(const std::string& model,
                                      const std::optional<std::string>& version) const {
  auto table = manager_.table();
  auto it = table->models.find(model);
  if (it == table->models.end()) {
    return ErrorResponse(404, "model '" + model + "' is not in the repository");
  }
  const ServingModel& m = it->second;
  if (version) {
    auto resolved = inference_.Resolve(model, version);
    if (!resolved.ok() && resolved.status().code() == StatusCode::kNotFound) {
      return ErrorResponse(resolved.status());
    }
  }
  json versions = json::array();
  for (const auto& [v, s] : m.ready) versions.push_back(std::to_string(v));
  json body = {{"name", model}, {"versions", versions}};
  json status = json::array();
  for (const VersionStatus& s : m.versions) {
    json entry = {{"version", std::to_string(s.version)}, {"state", VersionStateName(s.state)}};
    if (!s.reason.empty()) entry["reason"] = s.reason;
    status.push_back(entry);
  }
  body["version_status"] = status;
  if (!m.config_error.empty()) body["config_error"] = m.config_error;
  if (m.config) {
    const ModelConfig& c = *m.config;
    body["platform"] = c.backend;
    json inputs = json::array(), outputs = json::array();
    for (const TensorSpec& in : c.inputs) inputs.push_back(TensorSpecJson(in));
    for (const OutputSpec& o : c.outputs) {
      json out = TensorSpecJson(o.tensor);
      out["kind"] = OutputKindName(o.kind);
      outputs.push_back(out);
    }
    body["inputs"] = inputs;
    body["outputs"] = outputs;
    if (c.is_tabular()) {
      json features = json::array();
      for (const FeatureSpec& f : c.features) {
        json feature = {{"name", f.name}, {"type", FeatureKindName(f.kind)}};
        if (f.kind == FeatureKind::kCategorical) feature["categories"] = f.categories;
        if (!f.allow_missing) feature["allow_missing"] = false;
        features.push_back(feature);
      }
      body["features"] = features;
    }
    if (!c.classes.empty()) body["classes"] = c.classes;
  }
  return JsonResponse(200, body);
}

HttpResponse ApiRouter::ModelReady(const std::string& model,
                                   const std::optional<std::string>& version) const {
  auto resolved = inference_.Resolve(model, version);
  if (!resolved.ok() && resolved.status().code() == StatusCode::kNotFound) {
    return ErrorResponse(resolved.status());
  }
  json body = {{"name", model}, {"ready", resolved.ok()}};
  if (version) body["version"] = *version;
  if (!resolved.ok()) body["reason"] = resolved.status().message();
  return JsonResponse(resolved.ok() ? 200 : 503, body);
}

HttpResponse ApiRouter::Infer(const std::string& model, const std::optional<std::string>& version,
                              std::string& body, bool explain) {
  const auto start = std::chrono::steady_clock::now();
  auto servable = inference_.Resolve(model, version);
  if (!servable.ok()) {
    // Unknown models are counted only by route, to keep label values bounded.
    if (manager_.table()->models.count(model)) {
      metrics_.CountFailure(model, version.value_or(""), LowerCodeName(servable.status().code()));
    }
    return ErrorResponse(servable.status());
  }
  const Servable& s = **servable;
  const VersionMetrics& vm = s.metrics();
  vm.inflight->Add(1);
  struct InflightGuard {
    Gauge* g;
    ~InflightGuard() { g->Add(-1); }
  } guard{vm.inflight};

  auto fail = [&](const Status& status) {
    metrics_.CountFailure(model, s.version_label(), LowerCodeName(status.code()));
    return ErrorResponse(status);
  };
  auto request = DecodeInferRequest(body);
  if (!request.ok()) return fail(request.status());
  if (request->id.empty()) request->id = GenerateRequestId();
  auto response = explain ? inference_.Explain(s, *request) : inference_.Infer(s, *request);
  if (!response.ok()) return fail(response.status());
  HttpResponse r;
  r.body = EncodeInferResponse(*response);
  vm.requests->Increment();
  vm.request_latency->Observe(
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  return r;
}

HttpResponse ApiRouter::RepositoryIndex(const std::string& body) const {
  bool ready_only = false;
  if (!body.empty()) {
    json request = json::parse(body, nullptr, /*allow_exceptions=*/false);
    if (request.is_discarded() || !request.is_object()) {
      return ErrorResponse(400, "request body: expected a JSON object such as {\"ready\": true}");
    }
    if (request.contains("ready")) {
      if (!request["ready"].is_boolean()) return ErrorResponse(400, "ready: expected a boolean");
      ready_only = request["ready"].get<bool>();
    }
  }
  auto table = manager_.table();
  json index = json::array();
  auto scan = manager_.repository().Scan();
  std::vector<std::string> names;
  if (scan.ok()) {
    for (const ModelDirectory& d : *scan) names.push_back(d.name);
  }
  for (const auto& [name, m] : table->models) {
    if (std::find(names.begin(), names.end(), name) == names.end()) names.push_back(name);
  }
  std::sort(names.begin(), names.end());
  for (const std::string& name : names) {
    auto it = table->models.find(name);
    if (it == table->models.end() || (it->second.versions.empty() && !it->second.config_error.empty())) {
      if (ready_only) continue;
      json entry = {{"name", name}, {"state", "UNAVAILABLE"}};
      entry["reason"] = it == table->models.end() ? "unloaded" : it->second.config_error;
      index.push_back(entry);
      continue;
    }
    for (const VersionStatus& s : it->second.versions) {
      if (ready_only && s.state != VersionState::kReady) continue;
      json entry = {{"name", name}, {"version", std::to_string(s.version)},
                    {"state", IndexStateName(s.state)}};
      if (!s.reason.empty()) entry["reason"] = s.reason;
      index.push_back(entry);
    }
  }
  return JsonResponse(200, index);
}

HttpResponse ApiRouter::RepositoryControl(const std::string& model, bool load) {
  if (manager_.mode() != ModelControlMode::kExplicit) {
    return ErrorResponse(403, "model control is disabled; start the server with "
                              "--model-control explicit to load and unload models over the API");
  }
  Status s = load ? manager_.LoadModel(model) : manager_.UnloadModel(model);
  if (!s.ok()) return ErrorResponse(s);
  return JsonResponse(200, json::object());
}

}  // namespace vigil
