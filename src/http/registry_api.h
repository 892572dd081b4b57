// RegistryApi: the registry's admin endpoints (lifecycle/registry.h).
//
//   GET    /api/models/{m}/versions             versions (without profiles) and aliases
//   POST   /api/models/{m}/versions             the artifact as the body (any content type);
//          ?by=&description=&origin=registered|external&parent=N&artifact_name=&alias=A (repeatable)
//                                               201 with the record; 400 if it does not load
//   GET    /api/models/{m}/versions/{v}         one version, with its reference profile and latest evaluation
//   GET    /api/models/{m}/aliases              {"champion": 2, ...}
//   PUT    /api/models/{m}/aliases/{alias}      {"version": N, "by": "...", "reason": "..."}
//   DELETE /api/models/{m}/aliases/{alias}      ?by=&reason=
//   POST   /api/models/{m}/rollback             {"by": "...", "reason": "..."}
//   GET    /api/models/{m}/history              ?alias=&limit=  alias moves, newest first
//   GET    /api/events                          ?model=&kind=&limit=  the lifecycle's events, newest first
// Training jobs (lifecycle/job_runner.h):
//   POST   /api/models/{m}/jobs                 a training job (ParseTrainingJobSpec's JSON); 202 with the job
//   GET    /api/jobs                            ?model=&limit=  newest first
//   GET    /api/jobs/{id}                       state, stage and progress (round, validation AUC), result
//   POST   /api/jobs/{id}/cancel
//
// Writes are committed before the answer, and an alias move is applied to
// this server's serving table before it answers (other replicas follow
// within a second). Errors are {"error": "..."}.
//
// Thread-safety: thread-safe; the registry, store and manager must outlive it.
#ifndef VIGIL_HTTP_REGISTRY_API_H_
#define VIGIL_HTTP_REGISTRY_API_H_

#include <string>
#include <string_view>
#include <vector>

#include "http/http_message.h"
#include "lifecycle/job_runner.h"
#include "lifecycle/registry.h"
#include "manager/model_manager.h"
#include "store/store.h"

namespace vigil {

class RolloutController;

class RegistryApi {
 public:
  // `jobs` and `rollouts` may be null (no training jobs, no rollouts: 503).
  RegistryApi(Registry& registry, Store& store, ModelManager& manager, JobRunner* jobs, RolloutController* rollouts)
      : registry_(registry), store_(store), manager_(manager), jobs_(jobs), rollouts_(rollouts) {}

  // `parts`: the path split at '/', starting with "api"; only "models",
  // "events" and "jobs" paths come here. `route` receives the route template.
  HttpResponse Handle(const HttpRequest& request, const std::vector<std::string>& parts, std::string_view& route);

 private:
  HttpResponse ListVersions(const std::string& model);
  HttpResponse Register(const std::string& model, const HttpRequest& request);
  HttpResponse GetVersion(const std::string& model, const std::string& version);
  HttpResponse ListAliases(const std::string& model);
  HttpResponse SetAlias(const std::string& model, const std::string& alias, const std::string& body);
  HttpResponse RemoveAlias(const std::string& model, const std::string& alias, const std::string& query);
  HttpResponse Rollback(const std::string& model, const std::string& body);
  HttpResponse History(const std::string& model, const std::string& query);
  HttpResponse Events(const std::string& query);
  // The answer to an alias move, once the manager has applied it.
  HttpResponse Moved(const AliasChange& change);
  HttpResponse SubmitJob(const std::string& model, const std::string& body);
  HttpResponse ListJobs(const std::string& query);
  HttpResponse GetJob(const std::string& id);
  HttpResponse CancelJob(const std::string& id);
  HttpResponse GetRollout(const std::string& model);
  HttpResponse ListRollouts(const std::string& model, const std::string& query);
  HttpResponse StartRollout(const std::string& model, const std::string& body);
  HttpResponse EndRollout(const std::string& model, const std::string& body, bool promote);

  Registry& registry_;
  Store& store_;
  ModelManager& manager_;
  JobRunner* jobs_;
  RolloutController* rollouts_;
};

}  // namespace vigil

#endif  // VIGIL_HTTP_REGISTRY_API_H_
