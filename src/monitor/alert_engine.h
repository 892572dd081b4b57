// AlertEngine: holds monitoring results against the models' alert rules
// (repository/alert_rule.h) and runs each alert through its states.
//
//   inactive --condition--> pending --held `for` times--> firing
//   pending --condition gone--> inactive (event "cleared")
//   firing --condition gone--> resolved
//   firing --past resolve_by--> escalated (severity raised one step, notified again; stays firing)
//
// An alert is one rule's condition on one series: model, version and, for
// per-feature rules, feature. Every transition is saved to the store as an
// event together with the notifications it causes (the store's outbox,
// which the AlertNotifier drains), in one transaction. A firing alert can be
// acknowledged (who, note); acknowledging does not stop the deadline.
// Silences (Alertmanager's matchers: label name, value, regex or not, equal
// or not) suppress notifications while they are active; the transitions are
// still recorded, and an alert still firing when its silence ends is
// notified then. Alertmanager targets get the firing alerts again every
// `resend_interval_ms` with endsAt ahead of now, as Prometheus does, and the
// resolved ones once with endsAt at their resolution.
//
// Time comes from an injected clock, so that tests control deadlines.
//
// Thread-safety: thread-safe. OnWindow runs on the prediction log's writer
// thread, Evaluate on the server's alert thread, the rest on HTTP workers.
#ifndef VIGIL_MONITOR_ALERT_ENGINE_H_
#define VIGIL_MONITOR_ALERT_ENGINE_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "common/status.h"
#include "monitor/drift_monitor.h"
#include "monitor/metrics.h"
#include "monitor/serving_metrics.h"
#include "repository/model_config.h"
#include "store/store.h"

namespace vigil {

using Clock = std::function<int64_t()>;  // Unix time in milliseconds.
Clock SystemClock();

// A model in the serving table, as the alert engine needs it.
struct ServedModel {
  std::string name;
  std::shared_ptr<const ModelConfig> config;  // Null if its model.yaml was refused.
  std::vector<int64_t> versions;              // Ready versions.
};

// JSON text that never throws: invalid UTF-8 (from a receiver's answer, a
// label in model.yaml) is replaced, not refused.
std::string SafeDump(const nlohmann::json& j);

struct AlertEngineOptions {
  // Notification targets of rules that name none.
  std::vector<std::string> webhooks;
  std::vector<std::string> alertmanagers;
  int64_t resend_interval_ms = 60'000;      // Alertmanager re-sends of firing alerts.
  int64_t evaluation_interval_ms = 60'000;  // Quality and serving rules.
  int64_t window_rows = 1000;  // Reference chunk size for learned thresholds (unless model.yaml sets one).
  std::string external_url;                 // This server, for links (generatorURL).
  int64_t history_ms = 30LL * 24 * 3600 * 1000;  // Ended alerts and silences are deleted after this.
};

class AlertEngine {
 public:
  AlertEngine(AlertEngineOptions options, Store& store, MetricsRegistry& registry, Clock clock);

  // Picks up the pending and firing alerts saved by an earlier run.
  Status Start();

  // A window of a version closed: evaluates the model's window rules.
  void OnWindow(const ClosedWindow& window);

  // Evaluates quality and serving rules (when `evaluation_interval_ms` has
  // passed since the last time), deadlines, silences and re-sends. Model
  // quality is computed then for every served model, rules or not, and
  // exported as vigil_model_quality.
  // `models`: the serving table's models. An alert whose model, version or
  // rule is gone resolves. `serving` may be null (no serving rules).
  void Evaluate(const std::vector<ServedModel>& models, const ServingMetrics* serving);

  // Acknowledges a firing alert; committed before it returns. NOT_FOUND for
  // an unknown id, FAILED_PRECONDITION for an alert that is not firing.
  Result<AlertRecord> Acknowledge(int64_t id, const std::string& by, const std::string& note);

  // Adds a silence (validated: matchers, times, at most kMaxSilences
  // active); returns its id. Regular expressions are RE2's (linear time).
  Result<int64_t> AddSilence(Silence silence);
  static constexpr size_t kMaxSilences = 1000;
  Result<bool> ExpireSilence(int64_t id);
  std::vector<Silence> ActiveSilences();

  // Now, by the engine's clock (injected in tests).
  int64_t Now() const { return clock_(); }

  // The alert as JSON (the API's and the webhook's form).
  static std::string ToJson(const AlertRecord& alert);

  // Called after notifications were queued (the notifier wakes up).
  void SetNotifyHook(std::function<void()> hook) { notify_hook_ = std::move(hook); }
  // Called when an alert whose rule has an action starts firing (the closed
  // loop, lifecycle/closed_loop.h), on the thread that evaluated it, after
  // the engine's lock is released.
  using ActionHook = std::function<void(const AlertRecord&, const AlertRule&)>;
  void SetActionHook(ActionHook hook) {
    std::lock_guard lock(mu_);
    action_hook_ = std::move(hook);
  }

 private:
  struct Tracked {
    AlertRecord record;
    std::optional<AlertRule> rule;  // As last seen in the model's configuration.
    int consecutive = 0;
    int64_t last_sent_ms = 0;  // Alertmanager.
    bool suppressed = false;   // Its last notification was silenced.
    bool told_firing = false;  // A firing notification went out (so its resolution must too).
  };
  // Keeps `t`'s rule as the model's configuration now states it (compared
  // first: a copy per evaluation cost more than the evaluation).
  static void UpdateRule(Tracked& t, const AlertRule& rule);
  struct Series {
    const AlertRule* rule;
    std::string model;
    int64_t version;
    std::string feature;  // Empty for dataset, quality and serving rules.
  };

  // Feeds one evaluation of a series; `holds` nullopt: no data, no change.
  void Step(const Series& series, bool holds, double value, double threshold, int64_t now);
  Status Save(Tracked& t, const std::string& kind, const std::string& detail, bool notify, int64_t now);
  // Tells the notifier there is something to deliver, if anything was
  // queued since the last call (windows close hundreds of times a second;
  // waking it for each cost a query each). Called with mu_ held.
  void WakeNotifierIfQueued();
  bool queued_ = false;  // Notifications queued since the last wake-up.
  std::vector<Notification> Notifications(const Tracked& t, const std::string& event, int64_t now);
  std::optional<int64_t> SilencedBy(const AlertRecord& record, int64_t now) const;
  // Reads and computes outside the lock; then steps the rules under it.
  void EvaluateQuality(const ModelConfig& config, int64_t now);
  void EvaluateServing(const ModelConfig& config, const ServingMetrics& serving, int64_t now);
  void RenderMetrics(std::string& out);

  // Model quality gauges cover the predictions of the last day.
  static constexpr int64_t kQualityGaugeLookbackS = 24 * 3600;

  const AlertEngineOptions options_;
  Store& store_;
  Clock clock_;
  Family<Gauge>& quality_;
  Family<Gauge>& quality_rows_;
  std::function<void()> notify_hook_;
  ActionHook action_hook_;  // Guarded by mu_.
  std::vector<std::pair<AlertRecord, AlertRule>> actions_;  // Fired, to run; guarded by mu_.
  // OnWindow and Evaluate without running the actions they queue.
  void StepWindow(const ClosedWindow& window);
  void EvaluateNow(const std::vector<ServedModel>& models, const ServingMetrics* serving);
  // Runs the queued actions with the lock released.
  void RunActions();

  std::mutex mu_;
  // Guarded by mu_.
  std::map<std::string, Tracked> active_;  // By fingerprint.
  struct CompiledSilence;
  // Parses the matchers and compiles their regular expressions.
  static Result<std::shared_ptr<CompiledSilence>> CompileSilence(const Silence& silence);
  std::vector<std::shared_ptr<CompiledSilence>> silences_;
  // A learned rule's thresholds for windows of `window_rows`, by feature + 1
  // (0: the prediction or dataset); null when there is none (no profile,
  // too few rows). Computed once per rule, version and window size.
  const std::vector<double>* LearnedThresholds(const ModelConfig& config, const AlertRule& rule,
                                               const ReferenceProfile* profile, int64_t version, int64_t window_rows);
  std::map<std::string, std::vector<double>> learned_;  // By rule, model, version, window size.
  std::map<std::string, ServingMetrics::ModelTotals> serving_before_;  // By model.
  int64_t last_evaluation_ms_ = 0;
  int64_t last_prune_ms_ = 0;
};

}  // namespace vigil

#endif  // VIGIL_MONITOR_ALERT_ENGINE_H_
