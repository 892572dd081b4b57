// ApiRouter: maps every REST endpoint to its handler.
//
// Open Inference Protocol (KServe v2):
//   GET  /v2                                         server metadata
//   GET  /v2/health/live, /v2/health/ready           liveness, readiness
//   GET  /v2/models/{m}[/versions/{v}]               model metadata
//   GET  /v2/models/{m}[/versions/{v}]/ready         model readiness
//   POST /v2/models/{m}[/versions/{v}]/infer         inference
//   POST /v2/models/{m}[/versions/{v}]/explain       SHAP contributions (same body)
//   POST /v2/models/{m}/feedback                     ground truth for logged predictions
//   GET  /v2/models/{m}/monitor                      drift and data quality per window
//   POST /v2/repository/index                        repository index
//   POST /v2/repository/models/{m}/load|unload       explicit model control
// Alerting (alert_api.h):
//   GET  /api/alerts, GET /api/alerts/{id}, POST /api/alerts/{id}/ack
//   GET|POST /api/silences, DELETE /api/silences/{id}
// Registry (registry_api.h):
//   GET|POST /api/models/{m}/versions, GET /api/models/{m}/versions/{v}
//   GET /api/models/{m}/aliases, PUT|DELETE /api/models/{m}/aliases/{alias}
//   POST /api/models/{m}/rollback, GET /api/models/{m}/history, GET /api/events
//   POST /api/models/{m}/jobs, GET /api/jobs[/{id}], POST /api/jobs/{id}/cancel
// Prometheus:
//   GET  /metrics
//
// Handlers are plain functions of an HttpRequest; the server adapter
// (http_server.h) owns sockets, limits and timeouts. Every error body is
// {"error": "..."} naming what was wrong.
//
// Access (with an AccessControl, see Authorize()): a request's API key is
// checked against what its endpoint needs (EndpointAccess): health is
// open unless configured otherwise; /metrics needs the metrics role unless
// open; inference, explanations and metadata need infer; feedback needs
// feedback; the rest (/api/*, /v2/repository/*, the monitor, and any path
// not listed) needs admin.
// 401 with WWW-Authenticate, 403, or 429 with Retry-After.
//
// Thread-safety: Handle() is thread-safe; the collaborators must outlive it.
#ifndef VIGIL_HTTP_API_ROUTER_H_
#define VIGIL_HTTP_API_ROUTER_H_

#include <atomic>
#include <optional>
#include <string>
#include <string_view>

#include "http/alert_api.h"
#include "http/http_message.h"
#include "http/registry_api.h"
#include "manager/model_manager.h"
#include "monitor/prediction_log.h"
#include "monitor/serving_metrics.h"
#include "security/access_control.h"
#include "serving/inference_service.h"
#include "serving/shadow_runner.h"
#include "store/store.h"

namespace vigil {

class RolloutController;

// What the router serves besides inference; each may be null.
struct RouterServices {
  PredictionLog* log = nullptr;     // Receives every sampled inference.
  Store* store = nullptr;           // Takes feedback.
  DriftMonitor* monitor = nullptr;  // Answers /monitor; counts requests refused for their inputs.
  AlertEngine* alerts = nullptr;    // The alerting endpoints (needs `store`).
  Registry* registry = nullptr;     // The registry's (needs `store`).
  JobRunner* jobs = nullptr;        // Training jobs (needs `registry`).
  RolloutController* rollouts = nullptr;  // Rollouts (needs `registry`).
  ShadowRunner* shadow = nullptr;   // Runs shadow rollouts' copies (without it, none are made).
  AccessControl* access = nullptr;  // Checks API keys (without it, every request is let in).
};

// What the endpoint at `path` (split at '/') needs.
Access EndpointAccess(const std::vector<std::string>& path);

class ApiRouter {
 public:
  using Services = RouterServices;
  ApiRouter(ModelManager& manager, const InferenceService& inference, ServingMetrics& metrics,
            Services services = {});

  // Answers one request. `request.body` may be modified (the JSON parser pads it).
  HttpResponse Handle(HttpRequest& request);

  // The access check: 401, 403 or 429 for a request that may not go ahead,
  // nullopt for one that may (always, without an AccessControl). The server
  // calls it when the header is in, before the body is read
  // (HttpServer::Admission); Handle() does not repeat it.
  std::optional<HttpResponse> Authorize(std::string_view method, std::string_view path,
                                        std::string_view authorization);

  // Readiness turns false when shutdown begins, so load balancers stop sending.
  void SetShuttingDown() { shutting_down_ = true; }

 private:
  // `route` receives the route template used for metrics, e.g.
  // "/v2/models/{model}/infer" (a string literal).
  HttpResponse Dispatch(HttpRequest& request, const std::vector<std::string>& p, std::string_view& route);
  HttpResponse ServerMetadata() const;
  HttpResponse Ready() const;
  HttpResponse ModelMetadata(const std::string& model, const std::optional<std::string>& version) const;
  HttpResponse ModelReady(const std::string& model, const std::optional<std::string>& version) const;
  // Inference, or with `explain` per-feature contributions (/explain).
  HttpResponse Infer(const std::string& model, const std::optional<std::string>& version,
                     std::string& body, bool explain);
  HttpResponse Feedback(const std::string& model, const std::string& body);
  HttpResponse Monitor(const std::string& model) const;
  HttpResponse RepositoryIndex(const std::string& body) const;
  HttpResponse RepositoryControl(const std::string& model, bool load);

  ModelManager& manager_;
  const InferenceService& inference_;
  ServingMetrics& metrics_;
  PredictionLog* log_;
  Store* store_;
  DriftMonitor* monitor_;
  ShadowRunner* shadow_;
  AccessControl* access_;
  std::optional<AlertApi> alert_api_;
  std::optional<RegistryApi> registry_api_;
  Family<Counter>& feedback_items_;
  std::atomic<bool> shutting_down_{false};
};

}  // namespace vigil

#endif  // VIGIL_HTTP_API_ROUTER_H_
