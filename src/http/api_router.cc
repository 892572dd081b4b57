#include "http/api_router.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <map>
#include <nlohmann/json.hpp>
#include <string_view>
#include <vector>

#include "common/request_id.h"
#include "http/error_mapping.h"
#include "http/feedback_codec.h"
#include "monitor/monitor_report.h"
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

ApiRouter::ApiRouter(ModelManager& manager, const InferenceService& inference, ServingMetrics& metrics,
                     Services services)
    : manager_(manager),
      inference_(inference),
      metrics_(metrics),
      log_(services.log),
      store_(services.store),
      monitor_(services.monitor),
      shadow_(services.shadow),
      access_(services.access),
      feedback_items_(metrics.registry().AddCounter(
          "vigil_feedback_items_total",
          "Feedback items by outcome: recorded, duplicate, conflict (another label stands), unknown_id",
          {"model", "outcome"})) {
  if (services.alerts && services.store) alert_api_.emplace(*services.alerts, *services.store);
  if (services.registry && services.store) {
    registry_api_.emplace(*services.registry, *services.store, manager, services.jobs, services.rollouts);
  }
}

Access EndpointAccess(const std::vector<std::string>& p) {
  if (p.size() == 1 && p[0] == "metrics") return Access::kMetrics;
  if (p.size() >= 2 && p[0] == "v2" && p[1] == "health") return Access::kHealth;
  if (p.size() == 1 && p[0] == "v2") return Access::kInfer;  // Server metadata.
  if (p.size() >= 3 && p[0] == "v2" && p[1] == "models") {
    // /v2/models/{m}[/versions/{v}][/ready|/infer|/explain], and feedback.
    size_t rest = 3;
    if (p.size() >= 5 && p[3] == "versions") rest = 5;
    if (p.size() == rest) return Access::kInfer;
    if (p.size() == rest + 1 && (p[rest] == "ready" || p[rest] == "infer" || p[rest] == "explain")) {
      return Access::kInfer;
    }
    if (p.size() == 4 && p[3] == "feedback") return Access::kFeedback;
  }
  // /api/*, /v2/repository/*, the monitor, and whatever is added later until
  // it is listed above: admin.
  return Access::kAdmin;
}

std::optional<HttpResponse> ApiRouter::Authorize(std::string_view method, std::string_view path,
                                                 std::string_view authorization) {
  (void)method;  // Every method of a path needs the same role.
  if (!access_) return std::nullopt;
  const AccessControl::Decision d = access_->Check(authorization, EndpointAccess(SplitPath(path)));
  if (d.status == 0) return std::nullopt;
  HttpResponse denied = ErrorResponse(d.status, d.message);
  if (d.status == 401) denied.headers.emplace_back("WWW-Authenticate", "Bearer realm=\"vigil\"");
  if (d.retry_after_s > 0) denied.headers.emplace_back("Retry-After", std::to_string(d.retry_after_s));
  metrics_.CountHttp("denied", denied.status);
  return denied;
}

HttpResponse ApiRouter::Handle(HttpRequest& request) {
  std::string_view route = "other";
  const std::vector<std::string> p = SplitPath(request.path);
  HttpResponse response = Dispatch(request, p, route);
  metrics_.CountHttp(route, response.status);
  return response;
}

HttpResponse ApiRouter::Dispatch(HttpRequest& request, const std::vector<std::string>& p, std::string_view& route) {
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
  if (p.size() >= 2 && p[0] == "api" && (p[1] == "models" || p[1] == "events" || p[1] == "jobs")) {
    if (!registry_api_) {
      route = "/api/models";
      return ErrorResponse(503, "the registry needs the store, and this server runs without one (--store none)");
    }
    return registry_api_->Handle(request, p, route);
  }
  if (!p.empty() && p[0] == "api") {
    if (!alert_api_) {
      route = "/api";
      return ErrorResponse(503, "alerting needs the store, and this server runs without one (--store none)");
    }
    return alert_api_->Handle(request, p, route);
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
    if (p.size() == rest + 1 && p[rest] == "monitor" && !version) {
      route = "/v2/models/{model}/monitor";
      return get ? Monitor(model) : MethodNotAllowed(method, "GET");
    }
    if (p.size() == rest + 1 && p[rest] == "feedback" && !version) {
      route = "/v2/models/{model}/feedback";
      return post ? Feedback(model, request.body) : MethodNotAllowed(method, "POST");
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
  std::shared_ptr<const Servable> named;  // The version asked for, when it serves.
  if (version) {
    auto resolved = inference_.Resolve(model, version);
    if (!resolved.ok() && resolved.status().code() == StatusCode::kNotFound) {
      return ErrorResponse(resolved.status());
    }
    if (resolved.ok()) named = *resolved;
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
    // Inputs model.yaml leaves to the artifact (an ONNX graph) are the
    // version's: the one asked for, else the one requests go to.
    const ModelConfig* with_inputs = &c;
    if (c.inputs.empty()) {
      if (auto serving = named ? named : m.Default()) with_inputs = &serving->config();
    }
    for (const TensorSpec& in : with_inputs->inputs) inputs.push_back(TensorSpecJson(in));
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
  const int64_t arrival_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count();
  auto resolved = inference_.ResolveRequest(model, version);
  if (!resolved.ok()) {
    // Unknown models are counted only by route, and a version that could
    // not be resolved as "", to keep label values bounded (a client naming
    // versions at random must not add series).
    if (manager_.table()->models.count(model)) {
      metrics_.CountFailure(model, "", LowerCodeName(resolved.status().code()));
    }
    return ErrorResponse(resolved.status());
  }
  auto request = DecodeInferRequest(body);
  if (!request.ok()) {
    metrics_.CountFailure(model, resolved->servable->version_label(), LowerCodeName(request.status().code()));
    return ErrorResponse(request.status());
  }
  const bool client_id = !request->id.empty();
  if (!client_id) request->id = NewRequestId(arrival_ms);
  // A running rollout may send it to its candidate (canary) or copy it there (shadow).
  Routed routed = explain ? Routed{resolved->servable, nullptr, "champion"} : resolved->Route(request->id);
  const Servable& s = *routed.servable;
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
  auto response = explain ? inference_.Explain(s, *request) : inference_.Infer(s, *request);
  if (!response.ok()) {
    // Inputs that do not fit the model are a data-quality signal of the
    // version's traffic (sampled like the log, so the rates compare).
    if (monitor_ && log_ && !explain && response.status().code() == StatusCode::kInvalidArgument &&
        s.config().is_tabular() && log_->Sampled()) {
      monitor_->ObserveRejected(s.shared_config(), s.version(), arrival_ms);
    }
    return fail(response.status());
  }
  HttpResponse r;
  r.body = EncodeInferResponse(*response);
  vm.requests->Increment();
  vm.request_latency->Observe(
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  bool logged = false;
  if (log_ && !explain && response->features.element_count() > 0 && log_->Sampled()) {
    // The record copies the features and outputs into one buffer.
    log_->Record(s.shared_config(), s.version(), response->id, client_id, arrival_ms, routed.route,
                 response->features, response->unseen_categories, response->outputs);
    logged = true;
  }
  if (routed.shadow && shadow_) {
    shadow_->Submit(std::move(routed.shadow), std::move(*request), client_id, arrival_ms, logged);
  }
  return r;
}

HttpResponse ApiRouter::Feedback(const std::string& model, const std::string& body) {
  if (!store_) return ErrorResponse(503, "feedback needs the store, and this server runs without one (--store none)");
  std::shared_ptr<const ModelConfig> config;
  {
    auto table = manager_.table();
    auto it = table->models.find(model);
    if (it == table->models.end() || !it->second.config) {
      return ErrorResponse(404, "unknown model '" + model + "'");
    }
    config = it->second.config;
  }
  auto decoded = DecodeFeedback(body, *config, model);
  if (!decoded.ok()) return ErrorResponse(400, decoded.status().message());
  std::vector<FeedbackItem>& items = *decoded;
  // Predictions answered moments ago may still be on their way to the store.
  if (log_ && !log_->Flush(std::chrono::seconds(5))) {
    spdlog::warn("feedback for {}: the prediction log did not catch up within 5 s", model);
  }
  const int64_t now_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count();
  auto outcomes = store_->RecordFeedback(model, items, now_ms);
  if (!outcomes.ok()) {
    spdlog::error("feedback for {}: {}", model, outcomes.status().ToString());
    return ErrorResponse(503, "feedback could not be stored; nothing was recorded: " + outcomes.status().message());
  }
  std::map<std::string, int> totals = {{"recorded", 0}, {"duplicate", 0}, {"conflict", 0}, {"unknown_id", 0}};
  json results = json::array();
  for (size_t i = 0; i < items.size(); ++i) {
    const char* outcome = FeedbackOutcomeName((*outcomes)[i]);
    ++totals[outcome];
    json r = {{"id", items[i].request_id}, {"row", items[i].row}, {"outcome", outcome}};
    if ((*outcomes)[i] == FeedbackOutcome::kUnknownId) {
      r["error"] = "no logged prediction with this id and row (never answered, not sampled, dropped, or expired)";
    }
    results.push_back(std::move(r));
  }
  for (const auto& [outcome, n] : totals) {
    if (n > 0) feedback_items_.WithLabels({model, outcome}).Increment(n);
  }
  json answer = {{"model_name", model}, {"results", std::move(results)}};
  for (const auto& [outcome, n] : totals) answer[outcome] = n;
  return JsonResponse(200, answer);
}

namespace {

json DriftJson(const FeatureDrift& d) {
  json j = {{"name", d.name},
            {"type", d.categorical ? "categorical" : "numeric"},
            {"test", d.test},
            {"score", d.score},
            {"p_value", d.p_value},
            {"drifted", d.drifted},
            {"psi", d.psi},
            {"psi_level", d.psi_level},
            {"jensen_shannon", d.jensen_shannon},
            {"missing_rate", d.missing_rate}};
  if (d.categorical) {
    j["chi_square"] = d.chi_square;
    j["chi_square_p_value"] = d.chi_square_p_value;
    j["unseen_category_rate"] = d.unseen_rate;
  } else {
    j["wasserstein"] = d.wasserstein;
    j["ks"] = d.ks_statistic;
    j["ks_p_value"] = d.ks_p_value;
    j["out_of_range_rate"] = d.out_of_range_rate;
  }
  return j;
}

json EstimateJson(const Estimate& e) {
  return {{"value", e.value}, {"standard_error", e.standard_error}, {"lower", e.lower()}, {"upper", e.upper()}};
}

// Model quality per version (monitor_report.h's QualityByVersion) as JSON,
// keyed by version.
json QualityJson(const ModelConfig& config, const std::vector<LabeledPrediction>& labeled) {
  json out = json::object();
  for (const VersionQuality& v : QualityByVersion(config, labeled)) {
    json q;
    if (v.binary) {
      const BinaryQuality& b = v.classification;
      q = {{"labelled_rows", b.n},
           {"accuracy", EstimateJson(b.accuracy)},
           {"precision", EstimateJson(b.precision)},
           {"recall", EstimateJson(b.recall)},
           {"f1", b.f1},
           {"roc_auc", EstimateJson(b.roc_auc)},
           {"log_loss", EstimateJson(b.log_loss)},
           {"confusion_matrix", {{"true_positives", b.true_positives}, {"false_positives", b.false_positives},
                                 {"true_negatives", b.true_negatives}, {"false_negatives", b.false_negatives}}}};
    } else if (v.multiclass) {
      const MultiClassQuality& m = v.multi;
      q = {{"labelled_rows", m.n},
           {"accuracy", EstimateJson(m.accuracy)},
           {"precision", m.macro_precision},
           {"recall", m.macro_recall},
           {"f1", m.macro_f1},
           {"log_loss", EstimateJson(m.log_loss)},
           {"classes", config.classes},
           {"confusion_matrix", m.confusion}};  // [actual][predicted], in the order of classes.
    } else {
      const RegressionQuality& r = v.regression;
      q = {{"labelled_rows", r.n},
           {"mae", EstimateJson(r.mae)},
           {"rmse", EstimateJson(r.rmse)},
           {"mape", EstimateJson(r.mape)}};
    }
    out[std::to_string(v.version)] = std::move(q);
  }
  return out;
}

}  // namespace

HttpResponse ApiRouter::Monitor(const std::string& model) const {
  std::shared_ptr<const ModelConfig> config;
  {
    auto table = manager_.table();
    auto it = table->models.find(model);
    if (it == table->models.end()) return ErrorResponse(404, "unknown model '" + model + "'");
    config = it->second.config;
    // Versions that have served nothing since the start still show their
    // saved windows.
    if (monitor_) {
      for (const auto& [v, servable] : it->second.ready) monitor_->Track(servable->shared_config(), v);
    }
  }
  if (!monitor_) return ErrorResponse(503, "monitoring needs the prediction log, and this server runs without it");
  const std::vector<DriftMonitor::VersionView> views = monitor_->Snapshot(model);
  // Quality over the last day of predictions that have feedback, and per
  // closed window over the requests that arrived in it.
  json quality = json::object();
  const int64_t now_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count();
  const int64_t since_ms = now_ms - 24 * 3600 * 1000;
  int64_t from_ms = since_ms;
  for (const DriftMonitor::VersionView& v : views) {
    for (const WindowReport& w : v.windows) from_ms = std::min(from_ms, w.start_ms);
  }
  std::vector<LabeledPrediction> labeled;
  if (store_ && config) {
    auto read = store_->LabeledPredictions(model, from_ms, now_ms + 1, 1'000'000);
    if (read.ok()) labeled = std::move(*read);
    std::vector<LabeledPrediction> day;
    for (const LabeledPrediction& l : labeled) {
      if (l.prediction->time_ms >= since_ms) day.push_back(l);
    }
    quality = QualityJson(*config, day);
  }
  json versions = json::array();
  for (const DriftMonitor::VersionView& v : views) {
    const std::string version = std::to_string(v.version);
    json windows = json::array();
    for (const WindowReport& w : v.windows) {
      json features = json::array();
      for (const FeatureDrift& d : w.features) features.push_back(DriftJson(d));
      json window = {{"start_ms", w.start_ms},
                     {"end_ms", w.end_ms},
                     {"rows", w.rows},
                     {"requests", w.requests},
                     {"rejected_requests", w.rejected},
                     {"schema_violation_rate", w.schema_violation_rate},
                     {"drift_share", w.drift_share},
                     {"dataset_drift", w.dataset_drift},
                     {"features", std::move(features)},
                     {"prediction", DriftJson(w.prediction)}};
      std::vector<LabeledPrediction> in_window;
      for (const LabeledPrediction& l : labeled) {
        const StoredPrediction& p = *l.prediction;
        if (p.version == v.version && p.time_ms >= w.start_ms && p.time_ms <= w.end_ms) in_window.push_back(l);
      }
      if (!in_window.empty() && config) {
        const json q = QualityJson(*config, in_window);
        if (q.contains(version)) window["quality"] = q[version];
      }
      windows.push_back(std::move(window));
    }
    json jv = {{"version", version},
               {"reference_profile", v.has_profile},
               {"open_window_rows", v.open_rows},
               {"windows", std::move(windows)}};
    if (!v.has_profile) jv["reason"] = v.profile_error;
    if (quality.contains(version)) jv["quality"] = quality[version];
    versions.push_back(std::move(jv));
  }
  return JsonResponse(200, {{"model_name", model}, {"quality_since_ms", since_ms}, {"versions", std::move(versions)}});
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
