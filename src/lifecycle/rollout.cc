#include "lifecycle/rollout.h"

#include <pthread.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <unordered_map>

#include "common/rfc3339.h"
#include "lifecycle/evaluator.h"
#include "monitor/monitor_report.h"

namespace vigil {
namespace {

using nlohmann::json;

// Logged requests per side and labelled rows read per analysis at most (the
// oldest of the period: a step's first ones), which bounds its cost.
constexpr int64_t kMaxRows = 20000;
// How long a candidate may be missing from the repository (being copied in,
// say) before its rollout gives up.
constexpr int64_t kMissingCandidateMs = 60'000;

json Parse(const std::string& text) {
  json j = json::parse(text, nullptr, false);
  return j.is_discarded() ? json::object() : j;
}

SideTraffic Minus(const SideTraffic& now, const SideTraffic& then) {
  SideTraffic d;
  d.requests = std::max(0.0, now.requests - then.requests);
  d.errors = std::max(0.0, now.errors - then.errors);
  d.latency_buckets = now.latency_buckets;
  for (size_t i = 0; i < d.latency_buckets.size() && i < then.latency_buckets.size(); ++i) {
    d.latency_buckets[i] -= std::min(d.latency_buckets[i], then.latency_buckets[i]);
  }
  return d;
}

// The predicted class of each row of a multi-class answer: the most probable
// in its probability output (FP32 [rows, K]); empty without one.
std::vector<int> RowClasses(const StoredPrediction& p, size_t k) {
  for (const Tensor& t : p.outputs) {
    if (t.type() != DataType::kFp32 || t.shape().size() != 2 || t.shape()[0] != p.rows ||
        t.shape()[1] != static_cast<int64_t>(k)) {
      continue;
    }
    std::vector<int> out;
    const std::span<const float> v = t.values<float>();
    for (int64_t row = 0; row < p.rows; ++row) {
      const auto begin = v.begin() + row * static_cast<int64_t>(k);
      out.push_back(static_cast<int>(std::max_element(begin, begin + static_cast<int64_t>(k)) - begin));
    }
    return out;
  }
  return {};
}

// The gate's metric by its quality name (monitor_report.h).
std::string QualityName(const std::string& gate_metric) { return gate_metric == "auc" ? "roc_auc" : gate_metric; }

double StepShare(const RolloutConfig& plan, int64_t step) {
  return step >= 0 && step < std::ssize(plan.steps) ? plan.steps[step] : 0;
}

// A decision the store refused (the rollout or the champion changed
// meanwhile, or the store failed) is tried again at the next analysis.
void WarnIfUndecided(const RolloutRecord& r, const Status& s) {
  if (!s.ok()) spdlog::warn("rollout {} of model {}: decision not recorded, retrying: {}", r.id, r.model, s.ToString());
}

}  // namespace

json RolloutPlanJson(const RolloutConfig& p) {
  json checks = {{"max_error_rate_increase", p.checks.max_error_rate_increase},
                 {"max_latency_ratio", p.checks.max_latency_ratio},
                 {"latency_slack_ms", p.checks.latency_slack_ms},
                 {"max_prediction_psi", p.checks.max_prediction_psi},
                 {"max_quality_drop", p.checks.max_quality_drop},
                 {"min_feedback", p.checks.min_feedback}};
  if (p.checks.min_agreement) checks["min_agreement"] = *p.checks.min_agreement;
  return {{"mode", p.mode},
          {"steps", p.steps},
          {"window_s", p.window_s},
          {"interval_s", p.interval_s},
          {"step_deadline_s", p.StepDeadlineSeconds()},
          {"min_requests", p.min_requests},
          {"checks", std::move(checks)}};
}

Result<RolloutConfig> RolloutPlanFromJson(const json& j, RolloutConfig base) {
  if (!j.is_object()) return Status::InvalidArgument("plan: expected an object");
  RolloutConfig p = std::move(base);
  try {
    const std::string mode = p.mode;
    p.mode = j.value("mode", p.mode);
    if (j.contains("steps")) p.steps = j.at("steps").get<std::vector<double>>();
    if (p.mode == "shadow" && mode != "shadow" && !j.contains("steps")) p.steps = {100};
    p.window_s = j.value("window_s", p.window_s);
    // A longer window than the base plan's deadline allows: back to ten windows.
    if (!j.contains("step_deadline_s") && p.step_deadline_s > 0 && p.step_deadline_s < p.window_s) {
      p.step_deadline_s = 0;
    }
    p.interval_s = j.value("interval_s", p.interval_s);
    p.step_deadline_s = j.value("step_deadline_s", p.step_deadline_s);
    p.min_requests = j.value("min_requests", p.min_requests);
    if (j.contains("checks")) {
      const json& c = j.at("checks");
      if (!c.is_object()) return Status::InvalidArgument("checks: expected an object");
      for (const auto& [key, value] : c.items()) {
        if (!value.is_number()) return Status::InvalidArgument("checks." + key + ": expected a number");
        if (Status s = SetRolloutCheck(key, value.get<double>(), &p.checks); !s.ok()) {
          return Status::InvalidArgument("checks." + key + ": " + s.message());
        }
      }
    }
  } catch (const json::exception&) {
    return Status::InvalidArgument("plan: mode must be a string, steps a list of numbers, window_s, interval_s, "
                                   "min_requests and the checks numbers");
  }
  VIGIL_RETURN_IF_ERROR(ValidateRolloutConfig(p, "plan"));
  return p;
}

json RolloutJson(const RolloutRecord& r) {
  const json plan = Parse(r.plan);
  const json steps = plan.value("steps", json::array());
  json out = {{"id", r.id},
              {"model", r.model},
              {"candidate", r.candidate},
              {"champion", r.baseline},
              {"mode", r.mode},
              {"state", r.state},
              {"step", r.step + 1},
              {"steps", steps},
              {"share", r.step < std::ssize(steps) ? steps[r.step] : json(nullptr)},
              {"step_started", FormatRfc3339(r.step_started_ms)},
              {"plan", plan},
              {"analysis", Parse(r.analysis)},
              {"by", r.actor},
              {"reason", r.reason},
              {"created", FormatRfc3339(r.created_ms)},
              {"updated", FormatRfc3339(r.updated_ms)},
              {"ended", r.ended_ms ? json(FormatRfc3339(r.ended_ms)) : json(nullptr)}};
  return out;
}

RolloutController::RolloutController(Store& store, ModelManager& manager, const ServingMetrics& metrics,
                                     const ShadowRunner* shadow, Options options)
    : store_(store), manager_(manager), metrics_(metrics), shadow_(shadow), options_(std::move(options)) {
  if (!options_.now_ms) options_.now_ms = SystemClock();
}

RolloutController::~RolloutController() {
  {
    std::lock_guard lock(stop_mu_);
    stopping_ = true;
  }
  stop_cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void RolloutController::Start() {
  thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "vigil-rollouts");
    std::unique_lock lock(stop_mu_);
    while (!stop_cv_.wait_for(lock, std::chrono::milliseconds(options_.tick_ms), [&] { return stopping_; })) {
      lock.unlock();
      Tick();
      lock.lock();
    }
  });
}

SideTraffic RolloutController::Traffic(const std::string& model, int64_t version, bool shadow_copy,
                                       bool shadow_mode) const {
  const ServingMetrics::ModelTotals t = metrics_.Totals(model, std::to_string(version));
  SideTraffic s;
  // A shadow's copies are not requests: their latency is the backend's, and
  // the champion's is taken the same way to compare like with like.
  s.latency_buckets = shadow_mode ? t.compute_buckets : t.latency_buckets;
  if (shadow_copy) {
    if (shadow_) {
      const ShadowRunner::Counts c = shadow_->CountsOf(model, version);
      s.requests = c.ok;
      s.errors = c.errors;
    }
  } else {
    s.requests = t.requests;
    s.errors = t.failures;
  }
  return s;
}

Result<RolloutRecord> RolloutController::Begin(const std::string& model, RolloutRequest request) {
  std::shared_ptr<const ModelConfig> config;
  {
    auto table = manager_.table();
    auto it = table->models.find(model);
    if (it == table->models.end() || !it->second.config) {
      return Status::NotFound("model '" + model + "' is not in the repository (or its model.yaml was refused)");
    }
    config = it->second.config;
  }
  RolloutConfig plan = request.plan ? *request.plan : config->rollout;
  VIGIL_RETURN_IF_ERROR(ValidateRolloutConfig(plan, "plan"));
  auto version = store_.GetModelVersion(model, request.version);
  if (!version.ok()) return version.status();
  if (!*version) {
    return Status::NotFound("model '" + model + "' has no registered version " + std::to_string(request.version));
  }
  auto aliases = store_.Aliases(model);
  if (!aliases.ok()) return aliases.status();
  int64_t champion = 0;
  for (const AliasRecord& a : *aliases) {
    if (a.alias == "champion") champion = a.version;
  }
  if (champion == 0) {
    return Status::FailedPrecondition("model '" + model + "' has no champion to compare a candidate with; point "
                                      "the alias at a version first (vigil alias " + model + " champion N)");
  }
  if (champion == request.version) {
    return Status::FailedPrecondition("version " + std::to_string(champion) + " is the champion already");
  }
  bool blessed = false;
  std::string evaluation = "not evaluated";
  if (auto e = LatestEvaluation(store_, model, request.version); e.ok()) {
    const json detail = Parse(e->detail);
    blessed = detail.value("blessed", false);
    evaluation = blessed ? "blessed" : "not blessed";
  }
  if (request.automatic && !blessed) {
    return Status::FailedPrecondition("version " + std::to_string(request.version) + " is " + evaluation +
                                      " by the evaluation gate; only a blessed version rolls out automatically");
  }
  const int64_t now = options_.now_ms();
  RolloutRecord r;
  r.model = model;
  r.candidate = request.version;
  r.baseline = champion;
  r.mode = plan.mode;
  r.state = "running";
  r.plan = RolloutPlanJson(plan).dump();
  r.step = 0;
  r.step_started_ms = now;
  r.actor = request.actor;
  r.reason = request.reason;
  r.created_ms = r.updated_ms = now;
  ModelEvent event;
  event.time_ms = now;
  event.model = model;
  event.version = request.version;
  event.kind = "rollout";
  event.actor = request.actor;
  event.reason = request.reason;
  event.detail = json{{"action", "started"},
                      {"mode", plan.mode},
                      {"champion", champion},
                      {"share", plan.steps[0]},
                      {"steps", plan.steps},
                      {"window_s", plan.window_s},
                      {"evaluation", evaluation},
                      {"automatic", request.automatic}}
                     .dump();
  {
    std::lock_guard lock(mu_);
    auto id = store_.AddRollout(r, event);
    if (!id.ok()) return id.status();
    r.id = *id;
    // The counts the analysis takes differences from, as of now.
    Marks& marks = marks_[r.id];
    marks.step = 0;
    marks.champion = Traffic(model, champion, false, plan.mode == "shadow");
    marks.candidate = Traffic(model, r.candidate, plan.mode == "shadow", plan.mode == "shadow");
  }
  spdlog::info("rollout {}: model {} version {} ({}, steps {}) against champion {}, by {}", r.id, model,
               r.candidate, plan.mode, json(plan.steps).dump(), champion, request.actor);
  if (Status s = manager_.ApplyRoutes(); !s.ok()) {
    spdlog::warn("rollout {}: applying the split: {}", r.id, s.ToString());
  }
  return r;
}

Result<RolloutRecord> RolloutController::Running(const std::string& model) {
  auto running = store_.Rollouts(model, /*running_only=*/true, 1);
  if (!running.ok()) return running.status();
  if (running->empty()) return Status::NotFound("model '" + model + "' has no rollout running");
  return running->front();
}

Status RolloutController::Finish(RolloutRecord r, const std::string& state, const std::string& actor,
                                 const std::string& reason, const json& analysis, int64_t now, const ModelEvent* move) {
  const int64_t step = r.step;
  const json plan = Parse(r.plan);
  r.state = state;
  r.updated_ms = r.ended_ms = now;
  if (!analysis.is_null()) r.analysis = analysis.dump();
  ModelEvent event;
  event.time_ms = now;
  event.model = r.model;
  event.version = r.candidate;
  event.kind = "rollout";
  event.actor = actor;
  event.reason = reason;
  const json steps = plan.value("steps", json::array());
  json detail = {{"action", state},
                 {"rollout", r.id},
                 {"mode", r.mode},
                 {"champion", r.baseline},
                 {"step", step + 1},
                 {"share", step >= 0 && step < std::ssize(steps) ? steps[step] : json(nullptr)}};
  if (!analysis.is_null()) detail["analysis"] = analysis;
  event.detail = detail.dump();
  VIGIL_RETURN_IF_ERROR(move ? store_.PromoteRollout(r, step, *move, event) : store_.UpdateRollout(r, step, &event));
  marks_.erase(r.id);
  spdlog::log(state == "promoted" ? spdlog::level::info : spdlog::level::warn, "rollout {}: model {} version {} {}: {}",
              r.id, r.model, r.candidate, state, reason);
  if (Status s = manager_.ApplyRoutes(); !s.ok()) spdlog::warn("rollout {}: applying routes: {}", r.id, s.ToString());
  return Status::Ok();
}

Status RolloutController::PromoteNow(const RolloutRecord& r, const std::string& actor, const std::string& reason,
                                     const json& analysis, int64_t now) {
  // One transaction moves the champion and ends the rollout, or neither
  // happens: the champion moved, or the rollout ended or moved on meanwhile.
  ModelEvent move;
  move.time_ms = now;
  move.model = r.model;
  move.actor = actor;
  move.reason = reason;
  return Finish(r, "promoted", actor, reason, analysis, now, &move);
}

Result<RolloutRecord> RolloutController::Promote(const std::string& model, const std::string& actor,
                                                 const std::string& reason) {
  std::lock_guard lock(mu_);
  auto r = Running(model);
  if (!r.ok()) return r.status();
  VIGIL_RETURN_IF_ERROR(PromoteNow(*r, actor, reason.empty() ? "promoted by hand" : reason, json(nullptr),
                                   options_.now_ms()));
  auto done = store_.GetRollout(r->id);
  if (!done.ok()) return done.status();
  return **done;
}

Result<RolloutRecord> RolloutController::Abort(const std::string& model, const std::string& actor,
                                               const std::string& reason) {
  std::lock_guard lock(mu_);
  auto r = Running(model);
  if (!r.ok()) return r.status();
  VIGIL_RETURN_IF_ERROR(
      Finish(*r, "aborted", actor, reason.empty() ? "aborted by hand" : reason, json(nullptr), options_.now_ms()));
  auto done = store_.GetRollout(r->id);
  if (!done.ok()) return done.status();
  return **done;
}

Result<std::vector<RolloutRecord>> RolloutController::List(const std::string& model, int64_t limit) {
  return store_.Rollouts(model, /*running_only=*/false, limit);
}

void RolloutController::Tick() {
  // Read under the lock, so that a rollout Begin() is adding is either seen
  // with its marks or not at all.
  std::lock_guard lock(mu_);
  auto running = store_.Rollouts("", /*running_only=*/true, 1000);
  if (!running.ok()) {
    spdlog::warn("rollouts: cannot read the running ones: {}", running.status().ToString());
    return;
  }
  const auto table = manager_.table();
  const int64_t now = options_.now_ms();
  for (const RolloutRecord& r : *running) Look(r, *table, now);
  // Forget the marks of rollouts that ended elsewhere.
  for (auto it = marks_.begin(); it != marks_.end();) {
    const bool live =
        std::any_of(running->begin(), running->end(), [&](const RolloutRecord& r) { return r.id == it->first; });
    it = live ? std::next(it) : marks_.erase(it);
  }
}

void RolloutController::Look(RolloutRecord r, const ServingTable& table, int64_t now) {
  auto plan = RolloutPlanFromJson(Parse(r.plan));
  auto model = table.models.find(r.model);
  if (!plan.ok() || model == table.models.end() || !model->second.config) {
    const std::string why = !plan.ok() ? "its plan cannot be read: " + plan.status().message()
                                       : "model '" + r.model + "' is no longer served";
    WarnIfUndecided(r, Finish(r, "aborted", "vigil", why, json(nullptr), now));
    return;
  }
  const ServingModel& m = model->second;
  // The champion must still be the one the rollout started from.
  const auto champion = m.aliases.find("champion");
  const int64_t current = champion == m.aliases.end() ? 0 : champion->second;
  if (current != r.baseline) {
    if (current == r.candidate) {
      WarnIfUndecided(r, Finish(r, "promoted", "vigil", "the champion was moved to the candidate outside the rollout",
                                json(nullptr), now));
    } else {
      const std::string why = "the champion moved from version " + std::to_string(r.baseline) + " to " +
                              (current ? "version " + std::to_string(current) : std::string("nothing")) +
                              " outside the rollout";
      WarnIfUndecided(r, Finish(r, "aborted", "vigil", why, json(nullptr), now));
    }
    return;
  }
  if (!m.ready.count(r.candidate)) {
    bool known = false;
    for (const VersionStatus& s : m.versions) {
      if (s.version != r.candidate) continue;
      known = true;
      if (s.state == VersionState::kFailed) {
        WarnIfUndecided(
            r, Finish(r, "rolled_back", "vigil", "the candidate failed to load: " + s.reason, json(nullptr), now));
        return;
      }
    }
    if (!known && now - r.step_started_ms > kMissingCandidateMs) {
      const std::string why =
          "version " + std::to_string(r.candidate) + " is not in the repository: nothing to roll out";
      WarnIfUndecided(r, Finish(r, "rolled_back", "vigil", why, json(nullptr), now));
    }
    return;  // Still loading: its traffic has not begun.
  }
  const bool shadow = r.mode == "shadow";
  // Marks are taken when this controller starts a rollout or a step; a
  // rollout or step begun elsewhere (another replica, before a restart) is
  // counted from when this one first sees it.
  Marks& marks = marks_[r.id];
  if (marks.step < 0) marks.champion = Traffic(r.model, r.baseline, false, shadow);
  if (marks.step != r.step) {
    marks.step = r.step;
    marks.candidate = Traffic(r.model, r.candidate, shadow, shadow);
    marks.last_analysis_ms = 0;
  }
  if (now - marks.last_analysis_ms < plan->interval_s * 1000) return;
  marks.last_analysis_ms = now;

  auto analysis = Analyze(r, *plan, *m.config, marks, now);
  if (!analysis.ok()) {
    spdlog::warn("rollout {}: analysis failed, trying again: {}", r.id, analysis.status().ToString());
    return;
  }
  json summary = analysis->ToJson();
  summary["time"] = FormatRfc3339(now);
  summary["step"] = r.step + 1;
  summary["share"] = StepShare(*plan, r.step);
  summary["window_elapsed_s"] = (now - r.step_started_ms) / 1000;
  if (analysis->failed()) {
    std::string why;
    for (const RolloutCheck& c : analysis->checks) {
      if (c.outcome == "fail") why += (why.empty() ? "" : "; ") + c.name + ": " + c.detail;
    }
    why = "step " + std::to_string(r.step + 1) + " failed: " + why;
    WarnIfUndecided(r, Finish(r, "rolled_back", "vigil", why, summary, now));
    return;
  }
  const bool window_passed = now - r.step_started_ms >= plan->window_s * 1000;
  if (analysis->waiting() && now - r.step_started_ms >= plan->StepDeadlineSeconds() * 1000) {
    std::string why;
    for (const RolloutCheck& c : analysis->checks) {
      if (c.outcome == "wait") why += (why.empty() ? "" : "; ") + c.name + ": " + c.detail;
    }
    why = "step " + std::to_string(r.step + 1) + " did not pass within its deadline of " +
          std::to_string(plan->StepDeadlineSeconds()) + " s: " + why;
    WarnIfUndecided(r, Finish(r, "rolled_back", "vigil", why, summary, now));
    return;
  }
  if (!window_passed || analysis->waiting()) {
    r.analysis = summary.dump();
    r.updated_ms = now;
    if (Status s = store_.UpdateRollout(r, r.step, nullptr); !s.ok()) {
      spdlog::warn("rollout {}: saving its analysis: {}", r.id, s.ToString());
    }
    return;
  }
  if (r.step + 1 >= std::ssize(plan->steps)) {
    const std::string why =
        "rollout " + std::to_string(r.id) + " passed every step (" + json(plan->steps).dump() + "%)";
    WarnIfUndecided(r, PromoteNow(r, "vigil", why, summary, now));
    return;
  }
  const int64_t from = r.step;
  RolloutRecord next = r;
  next.step = from + 1;
  next.step_started_ms = now;
  next.updated_ms = now;
  next.analysis = "{}";
  ModelEvent event;
  event.time_ms = now;
  event.model = r.model;
  event.version = r.candidate;
  event.kind = "rollout";
  event.actor = "vigil";
  event.reason = "step " + std::to_string(from + 1) + " passed";
  event.detail = json{{"action", "step"},
                      {"rollout", r.id},
                      {"mode", r.mode},
                      {"champion", r.baseline},
                      {"step", from + 2},
                      {"from_share", StepShare(*plan, from)},
                      {"share", StepShare(*plan, from + 1)},
                      {"analysis", summary}}
                     .dump();
  if (Status s = store_.UpdateRollout(next, from, &event); !s.ok()) {
    spdlog::warn("rollout {}: advancing: {}", r.id, s.ToString());
    return;
  }
  marks.step = next.step;
  marks.candidate = Traffic(r.model, r.candidate, r.mode == "shadow", r.mode == "shadow");
  marks.last_analysis_ms = 0;
  spdlog::info("rollout {}: model {} version {} passed step {}; now {}%", r.id, r.model, r.candidate, from + 1,
               StepShare(*plan, from + 1));
  if (Status s = manager_.ApplyRoutes(); !s.ok()) spdlog::warn("rollout {}: applying routes: {}", r.id, s.ToString());
}

Result<RolloutAnalysis> RolloutController::Analyze(const RolloutRecord& r, const RolloutConfig& plan,
                                                   const ModelConfig& config, const Marks& marks, int64_t now) {
  const bool shadow = r.mode == "shadow";
  AnalysisInput in;
  in.shadow = shadow;
  in.checks = plan.checks;
  in.min_requests = plan.min_requests;
  // The champion since the rollout began (at a 100% canary step it gets no
  // traffic of its own), the candidate since its step began.
  in.champion = Minus(Traffic(r.model, r.baseline, false, shadow), marks.champion);
  in.candidate = Minus(Traffic(r.model, r.candidate, shadow, shadow), marks.candidate);
  in.classifier = !config.classes.empty();
  in.label_threshold = config.label_threshold;
  in.metric = QualityName(config.gate.metric);
  in.higher_is_better = GateConfig::HigherIsBetter(config.gate.metric);

  in.logged = options_.prediction_log;
  const size_t classes = config.classes.size() >= 3 ? config.classes.size() : 0;
  in.multiclass = classes > 0;
  // Scores: the step's requests on both sides, each read apart (a small
  // share must not be crowded out of the read by the champion's). When the
  // step leaves the champion too few (a 100% step), its requests since a
  // window before the rollout began are added.
  const std::string candidate_route = shadow ? "shadow" : "canary";
  auto candidate_logged = store_.VersionPredictions(r.model, r.candidate, r.step_started_ms, now + 1, kMaxRows);
  if (!candidate_logged.ok()) return candidate_logged.status();
  auto champion_logged = store_.VersionPredictions(r.model, r.baseline, r.step_started_ms, now + 1, kMaxRows);
  if (!champion_logged.ok()) return champion_logged.status();
  std::unordered_map<std::string, const StoredPrediction*> champion_by_id;  // Shadow pairs.
  std::unordered_map<std::string, const StoredPrediction*> shadow_by_id;
  for (const StoredPrediction& p : *champion_logged) {
    if (p.route != "champion") continue;
    in.champion_scores.insert(in.champion_scores.end(), p.scores.begin(), p.scores.end());
    if (shadow) champion_by_id.emplace(p.request_id, &p);
  }
  for (const StoredPrediction& p : *candidate_logged) {
    if (p.route != candidate_route) continue;
    in.candidate_scores.insert(in.candidate_scores.end(), p.scores.begin(), p.scores.end());
    if (shadow) shadow_by_id.emplace(p.request_id, &p);
  }
  if (std::ssize(in.champion_scores) < PsiRowsNeeded(plan.min_requests)) {
    auto earlier = store_.VersionPredictions(r.model, r.baseline, r.created_ms - plan.window_s * 1000,
                                             r.step_started_ms, kMaxRows);
    if (!earlier.ok()) return earlier.status();
    for (const StoredPrediction& p : *earlier) {
      if (p.route == "champion") in.champion_scores.insert(in.champion_scores.end(), p.scores.begin(), p.scores.end());
    }
  }
  if (shadow) {
    for (const auto& [id, s] : shadow_by_id) {
      auto c = champion_by_id.find(id);
      if (c == champion_by_id.end()) continue;
      const size_t rows = std::min(s->scores.size(), c->second->scores.size());
      for (size_t i = 0; i < rows; ++i) in.pairs.emplace_back(c->second->scores[i], s->scores[i]);
      if (classes) {
        const std::vector<int> a = RowClasses(*c->second, classes), b = RowClasses(*s, classes);
        for (size_t i = 0; i < std::min(a.size(), b.size()); ++i) in.class_pairs.emplace_back(a[i], b[i]);
      }
    }
  }

  // Quality on the feedback so far, over the whole rollout.
  auto labeled = store_.LabeledPredictions(r.model, r.created_ms, now + 1, kMaxRows);
  if (!labeled.ok()) return labeled.status();
  std::vector<LabeledPrediction> champion_rows, candidate_rows;
  std::unordered_map<std::string, std::shared_ptr<const StoredPrediction>> shadow_copies;
  for (const LabeledPrediction& l : *labeled) {
    const StoredPrediction& p = *l.prediction;
    if (p.version == r.baseline && p.route == "champion") {
      champion_rows.push_back(l);
      if (!shadow) continue;
      // The shadow's answer to the same request, with the champion's label.
      auto s = shadow_by_id.find(p.request_id);
      if (s == shadow_by_id.end()) continue;
      auto& copy = shadow_copies[p.request_id];
      if (!copy) copy = std::make_shared<const StoredPrediction>(*s->second);
      if (l.row < copy->rows) candidate_rows.push_back({copy, l.row, l.label, l.feedback_time_ms});
    } else if (!shadow && p.version == r.candidate && p.route == "canary") {
      candidate_rows.push_back(l);
    }
  }
  auto quality = [&](const std::vector<LabeledPrediction>& rows, std::optional<Estimate>* estimate,
                     int64_t* labels) {
    const std::vector<VersionQuality> q = QualityByVersion(config, rows);
    if (q.empty()) return;
    *estimate = QualityEstimate(q.front(), in.metric);
    *labels = QualitySamples(q.front());
  };
  quality(champion_rows, &in.champion_quality, &in.champion_labels);
  quality(candidate_rows, &in.candidate_quality, &in.candidate_labels);
  return AnalyzeStep(in);
}

}  // namespace vigil
