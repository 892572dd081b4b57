// RolloutController: moves a candidate version to champion step by step,
// judging it on live traffic, and promotes it or rolls it back by itself.
//
// A rollout (a record in the store, RolloutRecord) names a candidate, the
// champion it is compared with, and a plan (repository/rollout_config.h):
//
//   canary  each step sends its share of the requests that name no version
//           to the candidate, chosen by a hash of the request id (a retry
//           with the same id lands on the same version); the log records
//           them with route "canary".
//   shadow  the step's share is copied to the candidate off the request
//           path (serving/shadow_runner.h); its answers are logged with
//           route "shadow", compared with the champion's on the same
//           requests, and never returned.
//
// The controller's thread analyses every running rollout each `interval`
// (lifecycle/rollout_analysis.h) from this server's serving metrics per
// version, the prediction log and the feedback joined to it, and stores the
// analysis with the rollout. When a check fails the rollout is rolled back
// at once: the split is removed and every request goes to the champion
// again. When a step's window has passed with every check passing, the
// next step begins; after the last, `champion` moves to the candidate (an
// alias event). Each start, step, promotion, rollback and abort is a model
// event (kind "rollout") with its numbers.
//
// Only a version the evaluation gate blessed may be started automatically
// (`automatic`: the closed loop, a job asked to roll out); a person may
// start any registered version, and the event records whether it was
// blessed.
//
// Decisions are compare-and-set in the store (the step, and the champion
// the rollout started from), so that a person promoting while the
// controller advances, or two replicas' controllers, cannot both act. A
// rollout whose champion moved outside it ends: promoted if it moved to
// the candidate, aborted otherwise.
//
// Thread-safety: thread-safe.
#ifndef VIGIL_LIFECYCLE_ROLLOUT_H_
#define VIGIL_LIFECYCLE_ROLLOUT_H_

#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/status.h"
#include "lifecycle/registry.h"
#include "lifecycle/rollout_analysis.h"
#include "manager/model_manager.h"
#include "monitor/serving_metrics.h"
#include "repository/rollout_config.h"
#include "serving/shadow_runner.h"
#include "store/store.h"

namespace vigil {

struct RolloutRequest {
  int64_t version = 0;                // The candidate.
  std::optional<RolloutConfig> plan;  // Default: the model's `rollout:`.
  bool automatic = false;             // Started by Vigil: the candidate must be blessed.
  std::string actor = "vigil";
  std::string reason;
};

// The plan as stored with a rollout, and back: the keys of `json` (mode,
// steps, window_s, interval_s, min_requests, checks {...}) over `base`.
// INVALID_ARGUMENT names the key.
nlohmann::json RolloutPlanJson(const RolloutConfig& plan);
Result<RolloutConfig> RolloutPlanFromJson(const nlohmann::json& json, RolloutConfig base = {});
// The rollout as the API shows it.
nlohmann::json RolloutJson(const RolloutRecord& rollout);

class RolloutController {
 public:
  struct Options {
    Clock now_ms;           // Default: the system clock.
    int64_t tick_ms = 1000;  // How often running rollouts are looked at.
    // Whether the server logs predictions (without, the checks on scores and
    // feedback are skipped).
    bool prediction_log = true;
  };
  // `shadow` may be null (shadow rollouts then see no copies).
  RolloutController(Store& store, ModelManager& manager, const ServingMetrics& metrics, const ShadowRunner* shadow,
                    Options options);
  ~RolloutController();
  RolloutController(const RolloutController&) = delete;
  RolloutController& operator=(const RolloutController&) = delete;

  // Starts the thread that runs Tick().
  void Start();

  // Starts a rollout of `request.version`, and applies its split before
  // returning. NOT_FOUND: no such model or registered version;
  // FAILED_PRECONDITION: the model has no champion, the version is the
  // champion, or an automatic start of a version the gate has not blessed;
  // ALREADY_EXISTS: a rollout of the model is running; INVALID_ARGUMENT: a
  // bad plan.
  Result<RolloutRecord> Begin(const std::string& model, RolloutRequest request);
  // Ends the model's running rollout now: Promote moves `champion` to the
  // candidate, Abort sends every request back to the champion. NOT_FOUND if
  // none is running.
  Result<RolloutRecord> Promote(const std::string& model, const std::string& actor, const std::string& reason);
  Result<RolloutRecord> Abort(const std::string& model, const std::string& actor, const std::string& reason);
  // The model's rollouts (every model's when empty), newest first.
  Result<std::vector<RolloutRecord>> List(const std::string& model, int64_t limit);

  // One look at every running rollout: analyses those due, and advances,
  // promotes or rolls back. Public for tests.
  void Tick();

 private:
  // What this server had counted when a rollout (champion) or its step
  // (candidate) began, so that the analysis takes differences.
  struct Marks {
    int64_t step = -1;
    SideTraffic champion, candidate;
    int64_t last_analysis_ms = 0;
  };
  SideTraffic Traffic(const std::string& model, int64_t version, bool shadow_copy, bool shadow_mode) const;
  // Gathers the step's numbers and analyses them.
  Result<RolloutAnalysis> Analyze(const RolloutRecord& r, const RolloutConfig& plan, const ModelConfig& config,
                                  const Marks& marks, int64_t now);
  // One running rollout (under mu_).
  void Look(RolloutRecord r, const ServingTable& table, int64_t now);
  // Ends `r` as `state` with an event, the champion moving by `move` in the
  // same transaction when given (a promotion); the split is removed.
  Status Finish(RolloutRecord r, const std::string& state, const std::string& actor, const std::string& reason,
                const nlohmann::json& analysis, int64_t now, const ModelEvent* move = nullptr);
  // Moves champion to the candidate (compare-and-set) and ends `r` promoted.
  Status PromoteNow(const RolloutRecord& r, const std::string& actor, const std::string& reason,
                    const nlohmann::json& analysis, int64_t now);
  Result<RolloutRecord> Running(const std::string& model);

  Store& store_;
  ModelManager& manager_;
  const ServingMetrics& metrics_;
  const ShadowRunner* shadow_;
  Options options_;
  std::mutex mu_;  // Serialises decisions.
  std::map<int64_t, Marks> marks_;  // By rollout id; guarded by mu_.
  std::mutex stop_mu_;
  std::condition_variable stop_cv_;
  bool stopping_ = false;  // Guarded by stop_mu_.
  std::thread thread_;
};

}  // namespace vigil

#endif  // VIGIL_LIFECYCLE_ROLLOUT_H_
