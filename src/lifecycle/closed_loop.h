// ClosedLoop: from a firing alert to a new champion, with no one at the
// keyboard.
//
//   alert fires (rule with `action: retrain`)
//     -> a training job on production data (the model's `training: retrain:`
//        policy), at most one per model at a time and per cool-down
//     -> the job registers the version and runs the gate
//     -> a blessed version starts a rollout (the model's `rollout:` plan)
//     -> the rollout promotes it or rolls it back (lifecycle/rollout.h).
//
// Each link is a model event: "retrain" (started, or skipped and why, with
// the alert), then the job's, the evaluation's and the rollout's own, so
// that GET /api/events and `vigil events` show the chain. A job that a
// person submits with `rollout: true` joins the loop at its end the same
// way.
//
// Thread-safety: thread-safe. OnAlertFired runs on the alert engine's
// threads (with its lock released), OnJobFinished on the job runner's.
#ifndef VIGIL_LIFECYCLE_CLOSED_LOOP_H_
#define VIGIL_LIFECYCLE_CLOSED_LOOP_H_

#include <filesystem>
#include <string>

#include "lifecycle/job_runner.h"
#include "lifecycle/rollout.h"
#include "manager/model_manager.h"
#include "repository/alert_rule.h"
#include "store/store.h"

namespace vigil {

class ClosedLoop {
 public:
  ClosedLoop(Store& store, ModelManager& manager, JobRunner& jobs, RolloutController& rollouts,
             std::filesystem::path repository, Clock now_ms = nullptr);

  // An alert of `rule` fired; acts if the rule's action is retrain.
  void OnAlertFired(const AlertRecord& alert, const AlertRule& rule);
  // A job ended; rolls a blessed result out if the job asked for it.
  void OnJobFinished(const JobRecord& job);

 private:
  void Record(const std::string& model, int64_t version, const std::string& reason, const nlohmann::json& detail);

  Store& store_;
  ModelManager& manager_;
  JobRunner& jobs_;
  RolloutController& rollouts_;
  const std::filesystem::path repository_;
  Clock now_ms_;
};

}  // namespace vigil

#endif  // VIGIL_LIFECYCLE_CLOSED_LOOP_H_
