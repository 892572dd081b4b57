#include "repository/alert_rule.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <set>

namespace vigil {

const std::vector<std::string_view> kWindowFeatureMetrics = {
    "psi", "jensen_shannon", "wasserstein", "ks", "ks_p_value", "chi_square", "chi_square_p_value",
    "drifted", "missing_rate", "out_of_range_rate", "unseen_category_rate"};
const std::vector<std::string_view> kWindowDatasetMetrics = {"drift_share", "schema_violation_rate"};
const std::vector<std::string_view> kQualityMetrics = {"accuracy", "precision", "recall", "f1",   "roc_auc",
                                                       "log_loss", "mae",       "rmse",   "mape"};
const std::vector<std::string_view> kServingMetrics = {"error_rate", "latency_p99"};

namespace {

constexpr std::string_view kRuleKeys[] = {"name",     "metric",         "feature",  "comparison",
                                          "threshold", "for",           "severity", "resolve_within",
                                          "lookback",  "min_samples",   "labels",   "annotations",
                                          "notify",    "description",  "action"};

Status Invalid(const std::string& where, const std::string& what) {
  return Status::InvalidArgument(where + ": " + what);
}

bool In(const std::vector<std::string_view>& list, std::string_view s) {
  return std::find(list.begin(), list.end(), s) != list.end();
}

std::string Join(const std::vector<std::string_view>& list) {
  std::string out;
  for (std::string_view s : list) out += (out.empty() ? "" : ", ") + std::string(s);
  return out;
}

// Higher is better for these; an alert watches them fall.
bool LowerIsAlarming(std::string_view metric) {
  return metric == "ks_p_value" || metric == "chi_square_p_value" || metric == "accuracy" ||
         metric == "precision" || metric == "recall" || metric == "f1" || metric == "roc_auc";
}

Result<double> Number(const YAML::Node& node, const std::string& where) {
  double v = 0;
  if (!node.IsScalar() || !YAML::convert<double>::decode(node, v) || !std::isfinite(v)) {
    return Invalid(where, "expected a number");
  }
  return v;
}

Result<std::map<std::string, std::string>> StringMap(const YAML::Node& node, const std::string& where) {
  if (!node.IsMap()) return Invalid(where, "expected a mapping of strings");
  std::map<std::string, std::string> out;
  for (const auto& kv : node) {
    if (!kv.second.IsScalar()) return Invalid(where + "." + kv.first.as<std::string>(), "expected a string");
    out[kv.first.as<std::string>()] = kv.second.Scalar();
  }
  return out;
}

Result<std::vector<std::string>> Urls(const YAML::Node& node, const std::string& where) {
  std::vector<std::string> out;
  if (node.IsScalar()) {
    out.push_back(node.Scalar());
  } else if (node.IsSequence()) {
    for (size_t i = 0; i < node.size(); ++i) {
      if (!node[i].IsScalar()) return Invalid(where + "[" + std::to_string(i) + "]", "expected a URL");
      out.push_back(node[i].Scalar());
    }
  } else {
    return Invalid(where, "expected a URL or a list of URLs");
  }
  for (const std::string& url : out) {
    if (url.rfind("http://", 0) != 0) {
      return Invalid(where, "'" + url + "': only http:// URLs are supported (https comes with TLS support)");
    }
  }
  return out;
}

Result<AlertThreshold> ParseThreshold(const YAML::Node& node, const std::string& where, AlertMetricKind kind) {
  AlertThreshold t;
  if (node.IsScalar()) {
    auto v = Number(node, where);
    if (!v.ok()) return v.status();
    t.value = *v;
    return t;
  }
  if (!node.IsMap() || !node["learned"]) {
    return Invalid(where, "expected a number or {learned: mean_std | median_iqr | quantile, ...}");
  }
  if (kind != AlertMetricKind::kWindow) {
    return Invalid(where, "a learned threshold needs a reference distribution, which only window metrics "
                          "(drift and data quality) have; give a number");
  }
  for (const auto& kv : node) {
    const std::string key = kv.first.as<std::string>();
    if (key != "learned" && key != "k" && key != "q" && key != "chunks") {
      return Invalid(where + "." + key, "unknown key (expected learned, k, q, chunks)");
    }
  }
  const std::string method = node["learned"].as<std::string>();
  if (method == "mean_std") {
    t.kind = AlertThreshold::Kind::kMeanStd;
  } else if (method == "median_iqr") {
    t.kind = AlertThreshold::Kind::kMedianIqr;
  } else if (method == "quantile") {
    t.kind = AlertThreshold::Kind::kQuantile;
  } else {
    return Invalid(where + ".learned", "expected mean_std, median_iqr or quantile, got '" + method + "'");
  }
  if (node["k"]) {
    if (t.kind == AlertThreshold::Kind::kQuantile) return Invalid(where + ".k", "a quantile threshold takes q");
    auto k = Number(node["k"], where + ".k");
    if (!k.ok()) return k.status();
    if (*k < 0) return Invalid(where + ".k", "must be at least 0");
    t.k = *k;
  }
  if (node["q"]) {
    if (t.kind != AlertThreshold::Kind::kQuantile) return Invalid(where + ".q", "only a quantile threshold takes q");
    auto q = Number(node["q"], where + ".q");
    if (!q.ok()) return q.status();
    if (*q <= 0 || *q >= 1) return Invalid(where + ".q", "must be in (0, 1)");
    t.quantile = *q;
  }
  if (node["chunks"]) {
    int c = 0;
    if (!YAML::convert<int>::decode(node["chunks"], c) || c < 10 || c > 10000) {
      return Invalid(where + ".chunks", "expected an integer from 10 to 10000");
    }
    t.chunks = c;
  }
  return t;
}

Result<AlertRule> ParseRule(const YAML::Node& node, const std::string& where,
                            const std::vector<std::string>& feature_names) {
  if (!node.IsMap()) return Invalid(where, "expected a mapping with name, metric, threshold");
  for (const auto& kv : node) {
    const std::string key = kv.first.as<std::string>();
    bool known = false;
    for (auto k : kRuleKeys) known = known || key == k;
    if (!known) return Invalid(where + "." + key, "unknown key");
  }
  AlertRule r;
  if (!node["name"] || !node["name"].IsScalar() || node["name"].Scalar().empty()) {
    return Invalid(where + ".name", "is required");
  }
  r.name = node["name"].Scalar();
  if (!node["metric"] || !node["metric"].IsScalar()) return Invalid(where + ".metric", "is required");
  r.metric = node["metric"].Scalar();
  const bool per_feature = In(kWindowFeatureMetrics, r.metric);
  if (per_feature || In(kWindowDatasetMetrics, r.metric)) {
    r.kind = AlertMetricKind::kWindow;
  } else if (In(kQualityMetrics, r.metric)) {
    r.kind = AlertMetricKind::kQuality;
  } else if (In(kServingMetrics, r.metric)) {
    r.kind = AlertMetricKind::kServing;
  } else {
    return Invalid(where + ".metric", "unknown metric '" + r.metric + "' (window, per feature: " +
                                          Join(kWindowFeatureMetrics) + "; window, dataset: " +
                                          Join(kWindowDatasetMetrics) + "; quality: " + Join(kQualityMetrics) +
                                          "; serving: " + Join(kServingMetrics) + ")");
  }
  if (per_feature) {
    r.feature = node["feature"] ? node["feature"].as<std::string>() : "*";
    if (r.feature != "*" && r.feature != "prediction" &&
        std::find(feature_names.begin(), feature_names.end(), r.feature) == feature_names.end()) {
      return Invalid(where + ".feature", "'" + r.feature + "' is not a feature of the model (nor 'prediction' or '*')");
    }
  } else if (node["feature"]) {
    return Invalid(where + ".feature", "metric '" + r.metric + "' is not per feature");
  }
  r.comparison = LowerIsAlarming(r.metric) ? Comparison::kLess : Comparison::kGreater;
  if (node["comparison"]) {
    const std::string c = node["comparison"].as<std::string>();
    if (c == ">") {
      r.comparison = Comparison::kGreater;
    } else if (c == ">=") {
      r.comparison = Comparison::kGreaterEqual;
    } else if (c == "<") {
      r.comparison = Comparison::kLess;
    } else if (c == "<=") {
      r.comparison = Comparison::kLessEqual;
    } else {
      return Invalid(where + ".comparison", "expected >, >=, < or <=, got '" + c + "'");
    }
  }
  if (!node["threshold"]) return Invalid(where + ".threshold", "is required");
  auto threshold = ParseThreshold(node["threshold"], where + ".threshold", r.kind);
  if (!threshold.ok()) return threshold.status();
  r.threshold = *threshold;
  if (node["for"]) {
    if (!YAML::convert<int>::decode(node["for"], r.for_count) || r.for_count < 1 || r.for_count > 1000) {
      return Invalid(where + ".for", "expected a number of consecutive windows (evaluations) from 1 to 1000");
    }
  }
  if (node["action"]) {
    r.action = node["action"].as<std::string>("");
    if (r.action != "retrain") {
      return Invalid(where + ".action", "expected retrain, got '" + r.action + "'");
    }
  }
  if (node["severity"]) {
    r.severity = node["severity"].as<std::string>();
    if (r.severity != "info" && r.severity != "warning" && r.severity != "critical") {
      return Invalid(where + ".severity", "expected info, warning or critical, got '" + r.severity + "'");
    }
  }
  auto duration = [&](const char* key, int64_t* out) -> Status {
    if (!node[key]) return Status::Ok();
    auto d = ParseDurationSeconds(node[key].as<std::string>());
    if (!d.ok()) return Invalid(where + "." + key, d.status().message());
    *out = *d;
    return Status::Ok();
  };
  VIGIL_RETURN_IF_ERROR(duration("resolve_within", &r.resolve_within_s));
  VIGIL_RETURN_IF_ERROR(duration("lookback", &r.lookback_s));
  if (r.resolve_within_s < 60) return Invalid(where + ".resolve_within", "must be at least 1m");
  if (r.lookback_s < 60) return Invalid(where + ".lookback", "must be at least 1m");
  if (node["min_samples"]) {
    if (r.kind != AlertMetricKind::kQuality) return Invalid(where + ".min_samples", "only quality metrics take it");
    if (!YAML::convert<int64_t>::decode(node["min_samples"], r.min_samples) || r.min_samples < 1) {
      return Invalid(where + ".min_samples", "expected a positive integer");
    }
  }
  if (node["labels"]) {
    auto labels = StringMap(node["labels"], where + ".labels");
    if (!labels.ok()) return labels.status();
    r.labels = *labels;
    for (const char* reserved : {"alertname", "model", "version", "feature", "severity"}) {
      if (r.labels.count(reserved)) {
        return Invalid(where + ".labels." + reserved, "is set by Vigil and cannot be given");
      }
    }
  }
  if (node["annotations"]) {
    auto annotations = StringMap(node["annotations"], where + ".annotations");
    if (!annotations.ok()) return annotations.status();
    r.annotations = *annotations;
  }
  if (const YAML::Node& notify = node["notify"]; notify) {
    if (!notify.IsMap()) return Invalid(where + ".notify", "expected {webhooks: [...], alertmanagers: [...]}");
    for (const auto& kv : notify) {
      const std::string key = kv.first.as<std::string>();
      const std::string w = where + ".notify." + key;
      if (key == "webhooks") {
        auto urls = Urls(kv.second, w);
        if (!urls.ok()) return urls.status();
        r.webhooks = *urls;
      } else if (key == "alertmanagers") {
        auto urls = Urls(kv.second, w);
        if (!urls.ok()) return urls.status();
        r.alertmanagers = *urls;
      } else {
        return Invalid(w, "unknown key (expected webhooks, alertmanagers)");
      }
    }
  }
  return r;
}

}  // namespace

std::string_view ComparisonName(Comparison c) {
  switch (c) {
    case Comparison::kGreater: return ">";
    case Comparison::kGreaterEqual: return ">=";
    case Comparison::kLess: return "<";
    case Comparison::kLessEqual: return "<=";
  }
  return "";
}

bool Compare(Comparison c, double value, double threshold) {
  switch (c) {
    case Comparison::kGreater: return value > threshold;
    case Comparison::kGreaterEqual: return value >= threshold;
    case Comparison::kLess: return value < threshold;
    case Comparison::kLessEqual: return value <= threshold;
  }
  return false;
}

std::string_view AlertThresholdKindName(AlertThreshold::Kind kind) {
  switch (kind) {
    case AlertThreshold::Kind::kFixed: return "fixed";
    case AlertThreshold::Kind::kMeanStd: return "mean_std";
    case AlertThreshold::Kind::kMedianIqr: return "median_iqr";
    case AlertThreshold::Kind::kQuantile: return "quantile";
  }
  return "";
}

Result<int64_t> ParseDurationSeconds(std::string_view text) {
  if (text.empty()) return Status::InvalidArgument("expected a duration such as 90s, 15m, 24h or 7d");
  int64_t n = 0;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, n);
  if (ec != std::errc() || n < 0) {
    return Status::InvalidArgument("'" + std::string(text) + "' is not a duration such as 90s, 15m, 24h or 7d");
  }
  const std::string_view unit(ptr, static_cast<size_t>(end - ptr));
  int64_t scale = 0;
  if (unit.empty() || unit == "s") {
    scale = 1;
  } else if (unit == "m") {
    scale = 60;
  } else if (unit == "h") {
    scale = 3600;
  } else if (unit == "d") {
    scale = 86400;
  } else {
    return Status::InvalidArgument("'" + std::string(text) + "': unknown unit (expected s, m, h or d)");
  }
  if (n > (int64_t{1} << 40) / scale) return Status::InvalidArgument("'" + std::string(text) + "' is too long");
  return n * scale;
}

Result<std::vector<AlertRule>> ParseAlertRules(const YAML::Node& node,
                                               const std::vector<std::string>& feature_names) {
  if (!node.IsSequence()) return Invalid("alerts", "expected a list of rules");
  std::vector<AlertRule> rules;
  std::set<std::string> names;
  for (size_t i = 0; i < node.size(); ++i) {
    const std::string where = "alerts[" + std::to_string(i) + "]";
    auto rule = ParseRule(node[i], where, feature_names);
    if (!rule.ok()) return rule.status();
    if (!names.insert(rule->name).second) return Invalid(where + ".name", "duplicate rule name '" + rule->name + "'");
    rules.push_back(std::move(*rule));
  }
  return rules;
}

}  // namespace vigil
