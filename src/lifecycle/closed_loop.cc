#include "lifecycle/closed_loop.h"

#include <spdlog/spdlog.h>

namespace vigil {

using nlohmann::json;

ClosedLoop::ClosedLoop(Store& store, ModelManager& manager, JobRunner& jobs, RolloutController& rollouts,
                       std::filesystem::path repository, Clock now_ms)
    : store_(store),
      manager_(manager),
      jobs_(jobs),
      rollouts_(rollouts),
      repository_(std::move(repository)),
      now_ms_(now_ms ? std::move(now_ms) : SystemClock()) {}

void ClosedLoop::Record(const std::string& model, int64_t version, const std::string& reason, const json& detail) {
  ModelEvent e;
  e.time_ms = now_ms_();
  e.model = model;
  e.version = version;
  e.kind = "retrain";
  e.actor = "vigil";
  e.reason = reason;
  e.detail = detail.dump(-1, ' ', false, json::error_handler_t::replace);
  if (auto added = store_.AddModelEvent(e); !added.ok()) {
    spdlog::error("closed loop: recording an event of model {}: {}", model, added.status().ToString());
  }
}

void ClosedLoop::OnAlertFired(const AlertRecord& alert, const AlertRule& rule) {
  if (rule.action != "retrain") return;
  std::shared_ptr<const ModelConfig> config;
  {
    auto table = manager_.table();
    auto it = table->models.find(alert.model);
    if (it != table->models.end()) config = it->second.config;
  }
  if (!config) return;
  const RetrainPolicy& policy = config->training.retrain;
  const int64_t now = now_ms_();
  json detail = {{"alert", alert.id}, {"alertname", rule.name}, {"value", alert.value},
                 {"threshold", alert.threshold}};
  const std::string because = "alert '" + rule.name + "' (#" + std::to_string(alert.id) + ") fired";

  // The cool-down: the last job this loop started for the model.
  ModelEventQuery query;
  query.model = alert.model;
  query.kind = "retrain";
  query.limit = 1000;
  if (auto events = store_.ModelEvents(query); events.ok()) {
    for (const ModelEvent& e : *events) {
      const json d = json::parse(e.detail, nullptr, false);
      if (!d.is_object() || d.value("action", "") != "started") continue;
      if (now - e.time_ms < policy.cooldown_s * 1000) {
        detail["action"] = "skipped";
        detail["last_job"] = d.value("job", json(nullptr));
        Record(alert.model, alert.version, because + "; no retraining: the last one began " +
                                               std::to_string((now - e.time_ms) / 1000) + " s ago, within the " +
                                               std::to_string(policy.cooldown_s) + " s cool-down",
               detail);
        return;
      }
      break;
    }
  }

  TrainingJobSpec spec;
  spec.model = alert.model;
  spec.source = "production";
  spec.to_ms = now + 1;
  spec.from_ms = spec.to_ms - policy.hours * 3600 * 1000;
  if (!policy.data.empty()) spec.data = repository_ / alert.model / policy.data;
  spec.original_share = policy.original_share;
  spec.target = policy.target;
  spec.aliases = {"challenger"};
  spec.rollout = true;
  spec.actor = "vigil";
  spec.reason = because;
  auto job = jobs_.SubmitTraining(spec);
  if (!job.ok()) {
    detail["action"] = "skipped";
    detail["error"] = job.status().message();
    Record(alert.model, alert.version, because + "; no retraining: " + job.status().message(), detail);
    return;
  }
  detail["action"] = "started";
  detail["job"] = job->id;
  detail["hours"] = policy.hours;
  detail["original_share"] = policy.original_share;
  Record(alert.model, alert.version, because + ": retraining job " + std::to_string(job->id), detail);
  spdlog::info("closed loop: alert {} of model {} fired; retraining job {}", rule.name, alert.model, job->id);
}

void ClosedLoop::OnJobFinished(const JobRecord& job) {
  if (job.state != "succeeded") return;
  const json spec = json::parse(job.spec, nullptr, false);
  if (!spec.is_object() || !spec.value("rollout", false)) return;
  const json result = json::parse(job.result, nullptr, false);
  if (!result.is_object() || !result.contains("version")) return;
  const int64_t version = result["version"].get<int64_t>();
  const bool blessed = result.value("evaluation", json::object()).value("blessed", false);
  if (!blessed) {
    spdlog::info("closed loop: job {} produced version {} of {}, not blessed: no rollout", job.id, version,
                 job.model);
    return;  // The evaluation event says why.
  }
  RolloutRequest request;
  request.version = version;
  request.automatic = true;
  request.actor = "vigil";
  request.reason = "job " + std::to_string(job.id) + " produced version " + std::to_string(version) +
                   ", blessed by the gate";
  auto started = rollouts_.Begin(job.model, request);
  if (!started.ok()) {
    spdlog::warn("closed loop: rolling out version {} of {}: {}", version, job.model, started.status().ToString());
    Record(job.model, version, "no rollout of version " + std::to_string(version) + ": " + started.status().message(),
           json{{"action", "rollout_refused"}, {"job", job.id}, {"error", started.status().message()}});
  }
}

}  // namespace vigil
