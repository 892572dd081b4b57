#include "monitor/alert_engine.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <cmath>
#include <ctime>
#include <functional>
#include <set>
#include <nlohmann/json.hpp>
#include <re2/re2.h>

#include "common/rfc3339.h"
#include "monitor/learned_threshold.h"
#include "monitor/monitor_report.h"

namespace vigil {
namespace {

using nlohmann::json;

std::string RaisedSeverity(const std::string& severity) {
  return severity == "info" ? "warning" : "critical";
}

json Labels(const AlertRule& rule, const std::string& model, int64_t version, const std::string& feature,
            const std::string& severity) {
  json labels = json::object();
  for (const auto& [k, v] : rule.labels) labels[k] = v;
  labels["alertname"] = rule.name;
  labels["model"] = model;
  if (version > 0) labels["version"] = std::to_string(version);
  if (!feature.empty()) labels["feature"] = feature;
  labels["severity"] = severity;
  return labels;
}

}  // namespace

// A silence with its matchers parsed and its regular expressions compiled
// once, when it is added or read back.
struct AlertEngine::CompiledSilence {
  struct Matcher {
    std::string name, value;
    bool equal = true;
    std::unique_ptr<const re2::RE2> regex;  // Null: compare `value` exactly.
  };
  Silence silence;
  std::vector<Matcher> matchers;

  bool Matches(const json& labels) const {
    for (const Matcher& m : matchers) {
      const auto it = labels.find(m.name);
      const std::string actual = it != labels.end() && it->is_string() ? it->get<std::string>() : std::string();
      const bool match = m.regex ? re2::RE2::FullMatch(actual, *m.regex) : actual == m.value;
      if (match != m.equal) return false;
    }
    return !matchers.empty();
  }
};

namespace {

constexpr size_t kMaxMatchers = 32;
constexpr size_t kMaxPattern = 1024;

}  // namespace

std::string SafeDump(const nlohmann::json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

Result<std::shared_ptr<AlertEngine::CompiledSilence>> AlertEngine::CompileSilence(const Silence& silence) {
  auto compiled = std::make_shared<CompiledSilence>();
  compiled->silence = silence;
  const json matchers = json::parse(silence.matchers, nullptr, false);
  if (!matchers.is_array() || matchers.empty() || matchers.size() > kMaxMatchers) {
    return Status::InvalidArgument("matchers: expected a list of 1 to " + std::to_string(kMaxMatchers) +
                                   " {name, value, isRegex, isEqual}");
  }
  for (size_t i = 0; i < matchers.size(); ++i) {
    const json& m = matchers[i];
    const std::string where = "matchers[" + std::to_string(i) + "]";
    if (!m.is_object() || !m.contains("name") || !m["name"].is_string() || m["name"].get<std::string>().empty()) {
      return Status::InvalidArgument(where + ".name: expected a label name");
    }
    if (!m.contains("value") || !m["value"].is_string()) {
      return Status::InvalidArgument(where + ".value: expected a string");
    }
    for (const char* flag : {"isRegex", "isEqual"}) {
      if (m.contains(flag) && !m[flag].is_boolean()) {
        return Status::InvalidArgument(where + "." + flag + ": expected true or false");
      }
    }
    CompiledSilence::Matcher matcher;
    matcher.name = m["name"].get<std::string>();
    matcher.value = m["value"].get<std::string>();
    matcher.equal = m.value("isEqual", true);
    if (m.value("isRegex", false)) {
      if (matcher.value.size() > kMaxPattern) {
        return Status::InvalidArgument(where + ".value: a pattern of at most " + std::to_string(kMaxPattern) +
                                       " characters");
      }
      re2::RE2::Options options;
      options.set_log_errors(false);
      auto regex = std::make_unique<const re2::RE2>(matcher.value, options);
      if (!regex->ok()) {
        return Status::InvalidArgument(where + ".value: not a regular expression: " + regex->error());
      }
      matcher.regex = std::move(regex);
    }
    compiled->matchers.push_back(std::move(matcher));
  }
  return compiled;
}

Clock SystemClock() {
  return [] {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
  };
}

AlertEngine::AlertEngine(AlertEngineOptions options, Store& store, MetricsRegistry& registry, Clock clock)
    : options_(std::move(options)),
      store_(store),
      clock_(std::move(clock)),
      quality_(registry.AddGauge("vigil_model_quality",
                                 "Model quality over the last day's predictions with feedback, by metric (accuracy, "
                                 "precision, recall, f1, roc_auc, log_loss, mae, rmse, mape) and bound (value, and "
                                 "value -/+ 3 standard errors: lower, upper)",
                                 {"model", "version", "metric", "bound"})),
      quality_rows_(registry.AddGauge("vigil_model_quality_labelled_rows",
                                      "Predictions of the last day that have feedback", {"model", "version"})) {
  registry.AddCollector([this](std::string& out) { RenderMetrics(out); });
}

Status AlertEngine::Start() {
  const int64_t now = clock_();
  auto active = store_.Alerts({.model = "", .state = "active", .limit = 1'000'000});
  if (!active.ok()) return active.status();
  auto silences = store_.Silences(now);
  if (!silences.ok()) return silences.status();
  std::lock_guard lock(mu_);
  for (AlertRecord& a : *active) {
    Tracked t;
    t.record = std::move(a);
    t.consecutive = 1;
    t.last_sent_ms = 0;  // Tell Alertmanager again soon: it may have restarted too.
    t.told_firing = t.record.state == "firing";
    active_[t.record.fingerprint] = std::move(t);
  }
  for (const Silence& silence : *silences) {
    auto compiled = CompileSilence(silence);
    if (compiled.ok()) silences_.push_back(*compiled);
  }
  if (!active_.empty()) spdlog::info("alerts: {} pending or firing from before the restart", active_.size());
  return Status::Ok();
}

std::string AlertEngine::ToJson(const AlertRecord& a) {
  json j = {{"id", a.id},
            {"rule", a.rule},
            {"model", a.model},
            {"state", a.state},
            {"severity", a.severity},
            {"value", std::isfinite(a.value) ? json(a.value) : json(nullptr)},
            {"threshold", std::isfinite(a.threshold) ? json(a.threshold) : json(nullptr)},
            {"labels", json::parse(a.labels, nullptr, false)},
            {"annotations", json::parse(a.annotations, nullptr, false)},
            {"started_at", FormatRfc3339(a.started_ms)},
            {"updated_at", FormatRfc3339(a.updated_ms)}};
  if (a.version > 0) j["version"] = a.version;
  if (!a.feature.empty()) j["feature"] = a.feature;
  if (a.fired_ms) j["fired_at"] = FormatRfc3339(a.fired_ms);
  if (a.resolve_by_ms) j["resolve_by"] = FormatRfc3339(a.resolve_by_ms);
  if (a.escalated_ms) j["escalated_at"] = FormatRfc3339(a.escalated_ms);
  if (a.resolved_ms) j["resolved_at"] = FormatRfc3339(a.resolved_ms);
  if (a.acknowledged_ms) {
    j["acknowledged"] = {{"by", a.acknowledged_by},
                         {"note", a.acknowledgement_note},
                         {"at", FormatRfc3339(a.acknowledged_ms)}};
  }
  return SafeDump(j);
}

const std::vector<double>* AlertEngine::LearnedThresholds(const ModelConfig& config, const AlertRule& rule,
                                                          const ReferenceProfile* profile, int64_t version,
                                                          int64_t window_rows) {
  if (profile == nullptr) return nullptr;
  // Learned for windows of the size being judged: a window closed by time
  // with few rows is noisier than a full one. Sizes are bucketed to powers
  // of two below the configured size; windows under 32 rows are not judged.
  const int64_t full = config.monitoring.window_rows ? config.monitoring.window_rows : options_.window_rows;
  int64_t rows = full;
  if (window_rows < full) {
    if (window_rows < 32) return nullptr;
    rows = 32;
    while (rows * 2 <= window_rows) rows *= 2;
  }
  // At most 20 million draws per feature, whatever the configuration says.
  const int chunks = static_cast<int>(std::min<int64_t>(rule.threshold.chunks, std::max<int64_t>(10, 20'000'000 / rows)));
  // Keyed by everything the thresholds depend on, so that a changed rule or
  // monitoring section learns again.
  const std::string key = config.name + '\x1f' + rule.name + '\x1f' + std::to_string(version) + '\x1f' + rule.metric +
                          '\x1f' + std::to_string(static_cast<int>(rule.threshold.kind)) + '\x1f' +
                          std::to_string(rule.threshold.k) + '\x1f' + std::to_string(rule.threshold.quantile) + '\x1f' +
                          std::to_string(chunks) + '\x1f' + std::to_string(rows) + '\x1f' + config.monitoring_yaml;
  auto [it, added] = learned_.try_emplace(key);
  if (!added) return &it->second;
  // One set of reference chunks gives the thresholds of every feature (and
  // the prediction) at once: a `feature: "*"` rule draws them once.
  const uint64_t seed = std::hash<std::string>{}(rule.name) ^ static_cast<uint64_t>(version);
  const auto reports = ReferenceChunkReports(*profile, rows, chunks, config.monitoring.drift, seed);
  const bool upper = rule.comparison == Comparison::kGreater || rule.comparison == Comparison::kGreaterEqual;
  for (int f = -1; f < static_cast<int>(profile->features.size()); ++f) {
    std::vector<double> values;
    for (const WindowReport& r : reports) {
      if (auto v = WindowMetricValue(r, rule.metric, f)) values.push_back(*v);
    }
    it->second.push_back(ThresholdFromSample(rule.threshold, values, upper));
  }
  return &it->second;
}

void AlertEngine::OnWindow(const ClosedWindow& w) {
  StepWindow(w);
  RunActions();
}

void AlertEngine::RunActions() {
  std::vector<std::pair<AlertRecord, AlertRule>> actions;
  ActionHook hook;
  {
    std::lock_guard lock(mu_);
    actions.swap(actions_);
    hook = action_hook_;
  }
  if (!hook) return;
  for (const auto& [alert, rule] : actions) hook(alert, rule);
}

void AlertEngine::StepWindow(const ClosedWindow& w) {
  if (w.config->alerts.empty()) return;
  const int64_t now = clock_();
  std::lock_guard lock(mu_);
  for (const AlertRule& rule : w.config->alerts) {
    if (rule.kind != AlertMetricKind::kWindow) continue;
    // A window of refused requests only (every request failing) says
    // nothing about the data: only the schema violation rate is judged.
    if (w.report.rows == 0 && rule.metric != "schema_violation_rate") continue;
    // The features this rule watches: indices into the profile, -1 the prediction.
    std::vector<std::pair<int, std::string>> targets;
    if (!rule.per_feature()) {
      targets.push_back({-1, ""});
    } else if (rule.feature == "*") {
      for (size_t j = 0; j < w.profile->features.size(); ++j) targets.push_back({static_cast<int>(j), w.profile->features[j].name});
    } else if (rule.feature == "prediction") {
      targets.push_back({-1, "prediction"});
    } else {
      for (size_t j = 0; j < w.profile->features.size(); ++j) {
        if (w.profile->features[j].name == rule.feature) targets.push_back({static_cast<int>(j), rule.feature});
      }
    }
    // Learned thresholds are looked up once per rule, not per feature.
    const bool fixed = rule.threshold.kind == AlertThreshold::Kind::kFixed;
    const std::vector<double>* learned =
        fixed ? nullptr : LearnedThresholds(*w.config, rule, w.profile.get(), w.version, w.report.rows);
    for (const auto& [index, feature] : targets) {
      const std::optional<double> value = WindowMetricValue(w.report, rule.metric, index);
      if (!value) continue;
      const double threshold = fixed ? rule.threshold.value
                               : learned && index + 1 < std::ssize(*learned) ? (*learned)[index + 1]
                                                                              : NAN;
      if (std::isnan(threshold)) continue;
      Step({&rule, w.config->name, w.version, feature}, Compare(rule.comparison, *value, threshold), *value, threshold,
           now);
    }
  }
  WakeNotifierIfQueued();
}

void AlertEngine::EvaluateQuality(const ModelConfig& config, int64_t now) {
  // One read of the labelled predictions covers the gauges' day and every
  // rule's lookback; each then takes its own period's rows.
  int64_t lookback_s = kQualityGaugeLookbackS;
  for (const AlertRule& rule : config.alerts) {
    if (rule.kind == AlertMetricKind::kQuality) lookback_s = std::max(lookback_s, rule.lookback_s);
  }
  auto labeled = store_.LabeledPredictions(config.name, now - lookback_s * 1000, now + 1, 10'000'000);
  if (!labeled.ok()) {
    spdlog::warn("model quality of {}: {}", config.name, labeled.status().ToString());
    return;
  }
  auto since = [&](int64_t seconds) {
    std::vector<LabeledPrediction> rows;
    for (const LabeledPrediction& l : *labeled) {
      if (l.prediction->time_ms >= now - seconds * 1000) rows.push_back(l);
    }
    return rows;
  };
  const std::vector<VersionQuality> day = QualityByVersion(config, since(kQualityGaugeLookbackS));
  std::set<std::vector<std::string>> set_now;  // The gauges this evaluation sets.
  for (const VersionQuality& q : day) {
    const std::string v = std::to_string(q.version);
    quality_rows_.WithLabels({config.name, v}).Set(static_cast<double>(QualitySamples(q)));
    set_now.insert({config.name, v});
    for (std::string_view metric : kQualityMetrics) {
      const std::optional<Estimate> e = QualityEstimate(q, std::string(metric));
      if (!e) continue;
      const std::string m(metric);
      for (const auto& [bound, value] : {std::pair{"value", e->value}, {"lower", e->lower()}, {"upper", e->upper()}}) {
        std::vector<std::string> labels{config.name, v, m, bound};
        quality_.WithLabels(labels).Set(value);
        set_now.insert(std::move(labels));
      }
    }
  }
  // A version whose predictions left the day (or a metric no longer
  // defined) drops out of /metrics rather than showing a stale value; so the
  // series are bounded by the versions of the last day.
  auto stale = [&](const std::vector<std::string>& labels) { return labels[0] == config.name && !set_now.count(labels); };
  quality_.RemoveIf(stale);
  quality_rows_.RemoveIf(stale);
  // Computed without the engine's lock (reading and scoring can take a
  // while); only the state changes take it.
  std::vector<std::pair<const AlertRule*, std::vector<VersionQuality>>> by_rule;
  for (const AlertRule& rule : config.alerts) {
    if (rule.kind != AlertMetricKind::kQuality) continue;
    by_rule.emplace_back(&rule, rule.lookback_s == kQualityGaugeLookbackS ? day
                                                                          : QualityByVersion(config, since(rule.lookback_s)));
  }
  std::lock_guard lock(mu_);
  for (const auto& [rule_ptr, quality] : by_rule) {
    const AlertRule& rule = *rule_ptr;
    for (const VersionQuality& q : quality) {
      if (QualitySamples(q) < rule.min_samples) continue;  // Too few labels to judge: no change.
      const std::optional<Estimate> e = QualityEstimate(q, rule.metric);
      if (!e) continue;
      // The whole band must be past the threshold.
      const bool upper = rule.comparison == Comparison::kGreater || rule.comparison == Comparison::kGreaterEqual;
      const double edge = upper ? e->lower() : e->upper();
      Step({&rule, config.name, q.version, ""}, Compare(rule.comparison, edge, rule.threshold.value), e->value,
           rule.threshold.value, now);
    }
  }
}

void AlertEngine::EvaluateServing(const ModelConfig& config, const ServingMetrics& serving, int64_t now) {
  ServingMetrics::ModelTotals totals = serving.Totals(config.name);
  auto [it, first] = serving_before_.try_emplace(config.name, totals);
  if (first) return;  // Nothing to take a difference from yet.
  const ServingMetrics::ModelTotals before = it->second;
  it->second = totals;
  const double requests = totals.requests - before.requests;
  const double failures = totals.failures - before.failures;
  for (const AlertRule& rule : config.alerts) {
    if (rule.kind != AlertMetricKind::kServing) continue;
    double value = NAN;
    if (rule.metric == "error_rate") {
      if (requests + failures > 0) value = failures / (requests + failures);
    } else if (rule.metric == "latency_p99") {
      std::vector<uint64_t> delta(totals.latency_buckets.size());
      for (size_t i = 0; i < delta.size(); ++i) delta[i] = totals.latency_buckets[i] - before.latency_buckets[i];
      value = HistogramQuantile(LatencyBucketsSeconds(), delta, 0.99);
    }
    if (std::isnan(value)) continue;  // No traffic in the interval: no change.
    Step({&rule, config.name, 0, ""}, Compare(rule.comparison, value, rule.threshold.value), value,
         rule.threshold.value, now);
  }
}

void AlertEngine::UpdateRule(Tracked& t, const AlertRule& rule) {
  if (!t.rule || !(*t.rule == rule)) t.rule = rule;
}

void AlertEngine::Step(const Series& s, bool holds, double value, double threshold, int64_t now) {
  const std::string fingerprint =
      s.rule->name + '\x1f' + s.model + '\x1f' + std::to_string(s.version) + '\x1f' + s.feature;
  auto it = active_.find(fingerprint);
  // The usual cases, a quiet series or a firing one that still fires, save
  // nothing: the event's detail is built only for a transition.
  if (!holds && it == active_.end()) return;
  auto detail = [&] {
    return SafeDump(json{{"value", value},
                         {"threshold", threshold},
                         {"comparison", std::string(ComparisonName(s.rule->comparison))}});
  };
  if (!holds) {
    Tracked& t = it->second;
    UpdateRule(t, *s.rule);
    t.record.value = value;
    if (t.record.state == "pending") {
      t.record.state = "inactive";
      (void)Save(t, "cleared", detail(), false, now);
    } else {
      t.record.state = "resolved";
      t.record.resolved_ms = now;
      (void)Save(t, "resolved", detail(), true, now);
    }
    active_.erase(it);
    return;
  }
  if (it == active_.end()) {
    Tracked t;
    AlertRecord& r = t.record;
    r.fingerprint = fingerprint;
    r.rule = s.rule->name;
    r.model = s.model;
    r.version = s.version;
    r.feature = s.feature;
    r.state = "pending";
    r.severity = s.rule->severity;
    r.started_ms = now;
    r.labels = SafeDump(Labels(*s.rule, s.model, s.version, s.feature, r.severity));
    json annotations = json::object();
    for (const auto& [k, v] : s.rule->annotations) annotations[k] = v;
    r.annotations = SafeDump(annotations);
    it = active_.emplace(fingerprint, std::move(t)).first;
  }
  Tracked& t = it->second;
  UpdateRule(t, *s.rule);
  t.record.value = value;
  t.record.threshold = threshold;
  ++t.consecutive;
  if (t.record.state != "pending") return;  // Firing, and still is.
  if (t.consecutive == 1 && !Save(t, "pending", detail(), false, now).ok()) {
    active_.erase(it);  // Not recorded: try again next time.
    return;
  }
  if (t.consecutive >= s.rule->for_count) {
    t.record.state = "firing";
    t.record.fired_ms = now;
    t.record.resolve_by_ms = now + s.rule->resolve_within_s * 1000;
    t.last_sent_ms = now;
    const bool saved = Save(t, "firing", detail(), true, now).ok();
    // Run once the lock is released (RunActions).
    if (saved && !s.rule->action.empty() && action_hook_) actions_.emplace_back(t.record, *s.rule);
  }
}

std::optional<int64_t> AlertEngine::SilencedBy(const AlertRecord& record, int64_t now) const {
  const json labels = json::parse(record.labels, nullptr, false);
  for (const auto& s : silences_) {
    if (s->silence.starts_ms > now || s->silence.ends_ms <= now) continue;
    if (s->Matches(labels)) return s->silence.id;
  }
  return std::nullopt;
}

std::vector<Notification> AlertEngine::Notifications(const Tracked& t, const std::string& event, int64_t now) {
  std::vector<Notification> out;
  const AlertRecord& a = t.record;
  const bool use_rule = t.rule && (!t.rule->webhooks.empty() || !t.rule->alertmanagers.empty());
  const std::vector<std::string>& webhooks = use_rule ? t.rule->webhooks : options_.webhooks;
  const std::vector<std::string>& alertmanagers = use_rule ? t.rule->alertmanagers : options_.alertmanagers;
  const std::string key = "vigil-alert-" + std::to_string(a.id) + "-" + event + "-" + std::to_string(now);
  if (event != "resend") {
    const json payload = {{"event", event},
                          {"idempotency_key", key},
                          {"alert", json::parse(ToJson(a))},
                          {"sent_at", FormatRfc3339(now)}};
    for (const std::string& url : webhooks) {
      out.push_back({0, a.id, "webhook", url, SafeDump(payload), key, now, 0, now, "", false});
    }
  }
  if (event == "acknowledged") return out;  // Alertmanager has no acknowledgements.
  // Alertmanager: endsAt in the future while firing (it resolves the alert
  // itself if the re-sends stop), the resolution time once resolved.
  const bool resolved = a.state == "resolved";
  const int64_t ends = resolved ? a.resolved_ms : now + 4 * options_.resend_interval_ms;
  json labels = json::parse(a.labels);
  labels["severity"] = a.severity;
  json annotations = json::parse(a.annotations);
  if (!annotations.contains("summary")) {
    char text[160];
    std::snprintf(text, sizeof(text), "%s is %.6g (threshold %.6g)", a.rule.c_str(), a.value, a.threshold);
    annotations["summary"] = text;
  }
  const json am = json::array({{{"labels", labels},
                                {"annotations", annotations},
                                {"startsAt", FormatRfc3339(a.fired_ms ? a.fired_ms : a.started_ms)},
                                {"endsAt", FormatRfc3339(ends)},
                                {"generatorURL", options_.external_url + "/api/alerts/" + std::to_string(a.id)}}});
  for (const std::string& url : alertmanagers) {
    std::string target = url;
    while (!target.empty() && target.back() == '/') target.pop_back();
    out.push_back({0, a.id, "alertmanager", target + "/api/v2/alerts", SafeDump(am), key, now, 0, now, "",
                   event == "resend"});
  }
  return out;
}

Status AlertEngine::Save(Tracked& t, const std::string& kind, const std::string& detail, bool notify, int64_t now) {
  t.record.updated_ms = now;
  json d = json::parse(detail, nullptr, false);
  if (!d.is_object()) d = json::object();
  std::vector<Notification> notifications;
  if (notify && t.record.id != 0) {
    const std::optional<int64_t> silence = SilencedBy(t.record, now);
    // A receiver told that an alert fires always hears that it resolved.
    if (silence && !(kind == "resolved" && t.told_firing)) {
      d["silenced_by"] = *silence;
      t.suppressed = true;
    } else {
      notifications = Notifications(t, kind, now);
      t.suppressed = false;
      if (kind == "firing" || kind == "escalated" || kind == "notified") t.told_firing = true;
    }
  }
  const AlertEvent event{0, t.record.id, now, kind, t.record.value, SafeDump(d)};
  auto id = store_.SaveAlert(t.record, event, notifications);
  if (!id.ok()) {
    spdlog::error("alert {} of {}: cannot record '{}': {}", t.record.rule, t.record.model, kind,
                  id.status().ToString());
    return id.status();
  }
  t.record.id = *id;
  if (!notifications.empty()) queued_ = true;
  return Status::Ok();
}

void AlertEngine::WakeNotifierIfQueued() {
  if (queued_ && notify_hook_) notify_hook_();
  queued_ = false;
}

void AlertEngine::Evaluate(const std::vector<ServedModel>& models, const ServingMetrics* serving) {
  EvaluateNow(models, serving);
  RunActions();
}

void AlertEngine::EvaluateNow(const std::vector<ServedModel>& models, const ServingMetrics* serving) {
  const int64_t now = clock_();
  bool due;
  {
    std::lock_guard lock(mu_);
    due = last_evaluation_ms_ == 0 || now - last_evaluation_ms_ >= options_.evaluation_interval_ms;
    if (due) last_evaluation_ms_ = now;
  }
  if (due) {
    for (const ServedModel& m : models) {
      if (!m.config) continue;
      EvaluateQuality(*m.config, now);  // Takes the lock itself, after reading the store.
      if (serving) {
        std::lock_guard lock(mu_);
        EvaluateServing(*m.config, *serving, now);
      }
    }
  }
  std::lock_guard lock(mu_);
  std::erase_if(silences_, [&](const auto& s) { return s->silence.ends_ms <= now; });
  if (now - last_prune_ms_ >= 3600'000) {  // Hourly: alerts that ended, with their events, past the history.
    last_prune_ms_ = now;
    if (auto pruned = store_.PruneAlerts(now - options_.history_ms); !pruned.ok()) {
      spdlog::warn("alerts: retention: {}", pruned.status().ToString());
    }
  }
  for (auto it = active_.begin(); it != active_.end();) {
    Tracked& t = it->second;
    // An alert whose series is gone resolves: its model is no longer served,
    // its version no longer ready, or its rule removed or changed to watch
    // other features. (A model whose model.yaml was refused keeps its alerts
    // until it is fixed.)
    std::string gone;
    const ServedModel* served = nullptr;
    for (const ServedModel& m : models) served = m.name == t.record.model ? &m : served;
    if (!served) {
      gone = "model no longer served";
    } else if (t.record.version > 0 &&
               std::find(served->versions.begin(), served->versions.end(), t.record.version) == served->versions.end()) {
      gone = "version no longer served";
    } else if (served->config) {
      const AlertRule* rule = nullptr;
      for (const AlertRule& r : served->config->alerts) rule = r.name == t.record.rule ? &r : rule;
      if (!rule) {
        gone = "rule removed";
      } else if (rule->per_feature() != !t.record.feature.empty() ||
                 (rule->per_feature() && rule->feature != "*" && rule->feature != t.record.feature)) {
        gone = "rule changed";
      } else {
        UpdateRule(t, *rule);
      }
    }
    if (!gone.empty()) {
      const bool firing = t.record.state == "firing";
      t.record.state = firing ? "resolved" : "inactive";
      if (firing) t.record.resolved_ms = now;
      (void)Save(t, firing ? "resolved" : "cleared", SafeDump(json({{"reason", gone}})), firing, now);
      it = active_.erase(it);
      continue;
    }
    if (t.record.state == "firing") {
      if (t.record.escalated_ms == 0 && t.record.resolve_by_ms > 0 && now >= t.record.resolve_by_ms) {
        const std::string before = t.record.severity;
        t.record.severity = RaisedSeverity(before);
        t.record.escalated_ms = now;
        // The labels carry the severity too (silences and Alertmanager match
        // on them): Alertmanager sees the escalated alert as a new one, and
        // lets the old severity's expire.
        json labels = json::parse(t.record.labels, nullptr, false);
        if (labels.is_object()) {
          labels["severity"] = t.record.severity;
          t.record.labels = SafeDump(labels);
        }
        t.last_sent_ms = now;
        (void)Save(t, "escalated",
                   SafeDump(json({{"reason", "still firing past its resolve-by deadline"},
                                  {"severity_before", before},
                                  {"severity", t.record.severity}})),
                   true, now);
      } else if (t.suppressed && !SilencedBy(t.record, now)) {
        t.last_sent_ms = now;
        (void)Save(t, "notified", R"({"reason":"its silence ended while it fires"})", true, now);
      } else if (now - t.last_sent_ms >= options_.resend_interval_ms && !SilencedBy(t.record, now)) {
        // Alertmanager targets only; a newer re-send replaces an undelivered
        // older one, so a dead Alertmanager does not pile them up.
        const std::vector<Notification> resend = Notifications(t, "resend", now);
        t.last_sent_ms = now;
        if (!resend.empty()) {
          if (Status s = store_.AddNotifications(resend); !s.ok()) {
            spdlog::error("alerts: {}", s.ToString());
          } else {
            queued_ = true;
          }
        }
      }
    }
    ++it;
  }
  WakeNotifierIfQueued();
}

Result<AlertRecord> AlertEngine::Acknowledge(int64_t id, const std::string& by, const std::string& note) {
  const int64_t now = clock_();
  std::lock_guard lock(mu_);
  for (auto& [fingerprint, t] : active_) {
    if (t.record.id != id) continue;
    if (t.record.state != "firing") {
      return Status::FailedPrecondition("alert " + std::to_string(id) + " is " + t.record.state +
                                        "; only a firing alert can be acknowledged");
    }
    const AlertRecord before = t.record;
    t.record.acknowledged_by = by;
    t.record.acknowledgement_note = note;
    t.record.acknowledged_ms = now;
    if (Status s = Save(t, "acknowledged", SafeDump(json({{"by", by}, {"note", note}})), true, now); !s.ok()) {
      t.record = before;
      return s;
    }
    WakeNotifierIfQueued();
    return t.record;
  }
  auto stored = store_.GetAlert(id);
  if (!stored.ok()) return stored.status();
  if (!stored->has_value()) return Status::NotFound("no alert " + std::to_string(id));
  return Status::FailedPrecondition("alert " + std::to_string(id) + " is " + (*stored)->state +
                                    "; only a firing alert can be acknowledged");
}

Result<int64_t> AlertEngine::AddSilence(Silence silence) {
  const int64_t now = clock_();
  if (silence.starts_ms == 0) silence.starts_ms = now;
  if (silence.ends_ms <= silence.starts_ms) return Status::InvalidArgument("endsAt: must be after startsAt");
  if (silence.ends_ms <= now) return Status::InvalidArgument("endsAt: is in the past");
  silence.created_ms = now;
  auto compiled = CompileSilence(silence);  // Validates the matchers, once.
  if (!compiled.ok()) return compiled.status();
  std::lock_guard lock(mu_);
  std::erase_if(silences_, [&](const auto& s) { return s->silence.ends_ms <= now; });
  if (silences_.size() >= kMaxSilences) {
    return Status::ResourceExhausted("at most " + std::to_string(kMaxSilences) +
                                     " silences can be active or pending; expire some first");
  }
  auto id = store_.AddSilence(silence);
  if (!id.ok()) return id.status();
  (*compiled)->silence.id = *id;
  silences_.push_back(std::move(*compiled));
  return *id;
}

Result<bool> AlertEngine::ExpireSilence(int64_t id) {
  const int64_t now = clock_();
  std::lock_guard lock(mu_);
  auto expired = store_.ExpireSilence(id, now);
  if (!expired.ok()) return expired.status();
  for (auto& s : silences_) {
    if (s->silence.id != id) continue;
    s->silence.ends_ms = std::min(s->silence.ends_ms, now);
  }
  return *expired;
}

std::vector<Silence> AlertEngine::ActiveSilences() {
  const int64_t now = clock_();
  std::lock_guard lock(mu_);
  std::vector<Silence> out;
  for (const auto& s : silences_) {
    if (s->silence.ends_ms > now) out.push_back(s->silence);
  }
  return out;
}

void AlertEngine::RenderMetrics(std::string& out) {
  std::map<std::vector<std::string>, int> counts;
  {
    std::lock_guard lock(mu_);
    for (const auto& [fingerprint, t] : active_) ++counts[{t.record.model, t.record.rule, t.record.state, t.record.severity}];
  }
  WriteFamilyHeader(out, "vigil_alerts", "Alerts now pending or firing, by model, rule, state and severity",
                    "gauge");
  for (const auto& [labels, n] : counts) {
    WriteSample(out, "vigil_alerts", {"model", "rule", "state", "severity"}, labels, n);
  }
}

}  // namespace vigil
