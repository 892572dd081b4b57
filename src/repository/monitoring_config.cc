#include "repository/monitoring_config.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cmath>

namespace vigil {
namespace {

Status Invalid(const std::string& where, const std::string& what) {
  return Status::InvalidArgument(where + ": " + what);
}

Status CheckKeys(const YAML::Node& node, const std::string& where, std::initializer_list<const char*> keys) {
  if (!node.IsMap()) return Invalid(where, "expected a mapping");
  for (const auto& kv : node) {
    const std::string key = kv.first.as<std::string>();
    bool known = false;
    std::string list;
    for (const char* k : keys) {
      known = known || key == k;
      list += (list.empty() ? "" : ", ") + std::string(k);
    }
    if (!known) return Invalid(where + "." + key, "unknown key (expected " + list + ")");
  }
  return Status::Ok();
}

// A number in (lo, hi] (or [lo, hi] with `closed`).
Status Number(const YAML::Node& node, const std::string& where, double lo, double hi, double* out) {
  double v = 0;
  if (!node.IsScalar() || !YAML::convert<double>::decode(node, v) || !std::isfinite(v) || v <= lo || v > hi) {
    return Invalid(where, "expected a number above " + std::to_string(lo) + " and at most " + std::to_string(hi));
  }
  *out = v;
  return Status::Ok();
}

Status Count(const YAML::Node& node, const std::string& where, int64_t* out) {
  int64_t v = 0;
  if (!node.IsScalar() || !YAML::convert<int64_t>::decode(node, v) || v < 1 || v > 100'000'000) {
    return Invalid(where, "expected a positive integer");
  }
  *out = v;
  return Status::Ok();
}

bool Has(const std::vector<std::string>& list, const std::string& s) {
  return std::find(list.begin(), list.end(), s) != list.end();
}

}  // namespace

Result<MonitoringConfig> ParseMonitoringConfig(const YAML::Node& node, const std::vector<std::string>& numeric,
                                               const std::vector<std::string>& categorical) {
  MonitoringConfig c;
  VIGIL_RETURN_IF_ERROR(CheckKeys(node, "monitoring", {"window_rows", "window_seconds", "drift"}));
  if (node["window_rows"]) VIGIL_RETURN_IF_ERROR(Count(node["window_rows"], "monitoring.window_rows", &c.window_rows));
  if (node["window_seconds"]) {
    VIGIL_RETURN_IF_ERROR(Count(node["window_seconds"], "monitoring.window_seconds", &c.window_seconds));
  }
  const YAML::Node& drift = node["drift"];
  if (!drift) return c;
  const std::string w = "monitoring.drift";
  VIGIL_RETURN_IF_ERROR(
      CheckKeys(drift, w, {"p_value", "distance", "test_rows", "psi_warning", "psi_alarm", "share", "features"}));
  DriftSettings& d = c.drift;
  if (drift["p_value"]) VIGIL_RETURN_IF_ERROR(Number(drift["p_value"], w + ".p_value", 0, 1, &d.p_value));
  if (drift["distance"]) VIGIL_RETURN_IF_ERROR(Number(drift["distance"], w + ".distance", 0, 1, &d.distance));
  if (drift["test_rows"]) VIGIL_RETURN_IF_ERROR(Count(drift["test_rows"], w + ".test_rows", &d.test_rows));
  if (drift["psi_warning"]) VIGIL_RETURN_IF_ERROR(Number(drift["psi_warning"], w + ".psi_warning", 0, 100, &d.psi_warning));
  if (drift["psi_alarm"]) VIGIL_RETURN_IF_ERROR(Number(drift["psi_alarm"], w + ".psi_alarm", 0, 100, &d.psi_alarm));
  if (d.psi_alarm < d.psi_warning) return Invalid(w + ".psi_alarm", "must be at least psi_warning");
  if (drift["share"]) VIGIL_RETURN_IF_ERROR(Number(drift["share"], w + ".share", 0, 1, &d.share));
  if (const YAML::Node& features = drift["features"]; features) {
    if (!features.IsMap()) return Invalid(w + ".features", "expected a mapping of feature names to {test, threshold}");
    for (const auto& kv : features) {
      const std::string name = kv.first.as<std::string>();
      const std::string where = w + ".features." + name;
      const bool is_numeric = Has(numeric, name) || name == "prediction";
      if (!is_numeric && !Has(categorical, name)) {
        return Invalid(where, "'" + name + "' is not a feature of the model (nor 'prediction')");
      }
      VIGIL_RETURN_IF_ERROR(CheckKeys(kv.second, where, {"test", "threshold"}));
      if (!kv.second["test"]) return Invalid(where + ".test", "is required");
      FeatureDriftTest t;
      t.test = kv.second["test"].as<std::string>();
      const bool numeric_test = t.test == "ks" || t.test == "wasserstein";
      const bool categorical_test = t.test == "chi_square" || t.test == "jensen_shannon";
      if (!numeric_test && !categorical_test && t.test != "psi") {
        return Invalid(where + ".test", "expected ks, wasserstein, chi_square, jensen_shannon or psi, got '" + t.test + "'");
      }
      if ((numeric_test && !is_numeric) || (categorical_test && is_numeric)) {
        return Invalid(where + ".test", "'" + t.test + "' does not suit a " +
                                            std::string(is_numeric ? "numeric" : "categorical") + " feature");
      }
      t.threshold = t.test == "ks" || t.test == "chi_square" ? d.p_value
                    : t.test == "psi"                          ? d.psi_alarm
                                                               : d.distance;
      if (kv.second["threshold"]) {
        VIGIL_RETURN_IF_ERROR(Number(kv.second["threshold"], where + ".threshold", 0, t.test == "psi" ? 100 : 1,
                                     &t.threshold));
      }
      d.features[name] = t;
    }
  }
  return c;
}

}  // namespace vigil
