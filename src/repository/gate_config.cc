#include "repository/gate_config.h"

#include <yaml-cpp/yaml.h>

#include <cmath>

namespace vigil {
namespace {

Status Invalid(const std::string& where, const std::string& what) {
  return Status::InvalidArgument("gate." + where + ": " + what);
}

Result<double> Number(const YAML::Node& node, const std::string& where) {
  try {
    const double v = node.as<double>();
    if (!std::isfinite(v)) return Invalid(where, "expected a finite number");
    return v;
  } catch (const YAML::Exception&) {
    return Invalid(where, "expected a number, got '" + node.as<std::string>("") + "'");
  }
}

}  // namespace

bool GateConfig::HigherIsBetter(const std::string& metric) {
  return metric != "log_loss" && metric != "mae" && metric != "rmse";
}

Result<GateConfig> ParseGateConfig(const YAML::Node& node, bool classifier) {
  if (!node.IsMap()) return Status::InvalidArgument("gate: expected a mapping");
  GateConfig gate;
  for (const auto& kv : node) {
    const std::string key = kv.first.as<std::string>();
    const YAML::Node& value = kv.second;
    if (key == "metric") {
      gate.metric = value.as<std::string>("");
      const bool known = classifier ? (gate.metric == "auc" || gate.metric == "accuracy" || gate.metric == "f1" ||
                                       gate.metric == "precision" || gate.metric == "recall" ||
                                       gate.metric == "log_loss")
                                    : (gate.metric == "mae" || gate.metric == "rmse");
      if (!known) {
        return Invalid(key, "unknown metric '" + gate.metric + "' (expected " +
                                (classifier ? "auc, accuracy, f1, precision, recall or log_loss"
                                            : "mae or rmse, for a model without classes") +
                                ")");
      }
    } else if (key == "min" || key == "max") {
      auto v = Number(value, key);
      if (!v.ok()) return v.status();
      if (gate.bound) return Invalid(key, "give min or max, not both");
      gate.bound = *v;
    } else if (key == "max_drop") {
      auto v = Number(value, key);
      if (!v.ok()) return v.status();
      gate.max_drop = *v;
    } else if (key == "golden") {
      gate.golden = value.as<std::string>("");
      if (gate.golden.empty()) return Invalid(key, "expected a CSV file name");
    } else if (key == "holdout_fraction") {
      auto v = Number(value, key);
      if (!v.ok()) return v.status();
      if (*v <= 0 || *v >= 0.9) return Invalid(key, "expected a share in (0, 0.9)");
      gate.holdout_fraction = *v;
    } else {
      return Invalid(key, "unknown key (expected metric, min, max, max_drop, golden, holdout_fraction)");
    }
  }
  if (gate.metric.empty()) gate.metric = classifier ? "auc" : "rmse";
  if (gate.bound) {
    const bool higher = GateConfig::HigherIsBetter(gate.metric);
    const std::string expected = higher ? "min" : "max";
    if (!node[expected]) {
      return Invalid(higher ? "max" : "min", "metric " + gate.metric + " is " + (higher ? "higher" : "lower") +
                                                 "-is-better: give its floor as " + expected);
    }
  }
  return gate;
}

}  // namespace vigil
