#include "repository/rollout_config.h"

#include <yaml-cpp/yaml.h>

#include <cmath>

#include "repository/alert_rule.h"

namespace vigil {
namespace {

Status Invalid(const std::string& where, const std::string& what) {
  return Status::InvalidArgument("rollout." + where + ": " + what);
}

Result<double> Number(const YAML::Node& node, const std::string& where, double low, double high) {
  double v;
  try {
    v = node.as<double>();
  } catch (const YAML::Exception&) {
    return Invalid(where, "expected a number, got '" + node.as<std::string>("") + "'");
  }
  if (!std::isfinite(v) || v < low || v > high) {
    return Invalid(where, "expected a number in [" + std::to_string(low) + ", " + std::to_string(high) + "]");
  }
  return v;
}

Result<int64_t> Seconds(const YAML::Node& node, const std::string& where) {
  auto s = ParseDurationSeconds(node.as<std::string>(""));
  if (!s.ok()) return Invalid(where, s.status().message());
  if (*s <= 0 || *s > 7 * 24 * 3600) return Invalid(where, "expected a duration from 1s to 7d");
  return *s;
}

// The numbers only; ValidateRolloutConfig checks their ranges.
Status ParseChecks(const YAML::Node& node, RolloutChecks* checks) {
  if (!node.IsMap()) return Invalid("checks", "expected a mapping");
  for (const auto& kv : node) {
    const std::string where = "checks." + kv.first.as<std::string>();
    auto v = Number(kv.second, where, -1e12, 1e12);
    if (!v.ok()) return v.status();
    if (Status s = SetRolloutCheck(kv.first.as<std::string>(), *v, checks); !s.ok()) return Invalid(where, s.message());
  }
  return Status::Ok();
}

}  // namespace

Status SetRolloutCheck(const std::string& name, double value, RolloutChecks* checks) {
  double* field = name == "max_error_rate_increase" ? &checks->max_error_rate_increase
                  : name == "max_latency_ratio"     ? &checks->max_latency_ratio
                  : name == "latency_slack_ms"      ? &checks->latency_slack_ms
                  : name == "max_prediction_psi"    ? &checks->max_prediction_psi
                  : name == "max_quality_drop"      ? &checks->max_quality_drop
                                                    : nullptr;
  if (field) {
    *field = value;
  } else if (name == "min_agreement") {
    checks->min_agreement = value;
  } else if (name == "min_feedback") {
    checks->min_feedback = static_cast<int64_t>(value);
  } else {
    return Status::InvalidArgument("unknown check (expected max_error_rate_increase, max_latency_ratio, "
                                   "latency_slack_ms, max_prediction_psi, min_agreement, max_quality_drop, "
                                   "min_feedback)");
  }
  return Status::Ok();
}

Status ValidateRolloutConfig(const RolloutConfig& c, const std::string& where) {
  auto invalid = [&](const std::string& key, const std::string& what) {
    return Status::InvalidArgument(where + "." + key + ": " + what);
  };
  if (c.mode != "canary" && c.mode != "shadow") {
    return invalid("mode", "expected canary or shadow, got '" + c.mode + "'");
  }
  if (c.steps.empty()) return invalid("steps", "expected at least one step");
  if (c.steps.size() > 20) return invalid("steps", "at most 20 steps");
  if (c.mode == "shadow" && c.steps.size() != 1) {
    return invalid("steps", "a shadow rollout has one step: the share of requests copied");
  }
  for (size_t i = 0; i < c.steps.size(); ++i) {
    if (!(c.steps[i] > 0 && c.steps[i] <= 100)) {
      return invalid("steps[" + std::to_string(i) + "]", "expected a percentage in (0, 100]");
    }
    if (i > 0 && c.steps[i] <= c.steps[i - 1]) {
      return invalid("steps[" + std::to_string(i) + "]", "steps must grow");
    }
  }
  if (c.window_s <= 0) return invalid("window", "expected a positive duration");
  if (c.interval_s <= 0) return invalid("interval", "expected a positive duration");
  if (c.step_deadline_s < 0 || (c.step_deadline_s > 0 && c.step_deadline_s < c.window_s)) {
    return invalid("step_deadline", "expected a duration at least as long as the window");
  }
  if (c.min_requests < 1) return invalid("min_requests", "expected at least 1");
  const RolloutChecks& k = c.checks;
  auto range = [&](const char* key, double v, double low, double high) -> Status {
    if (std::isfinite(v) && v >= low && v <= high) return Status::Ok();
    return invalid(std::string("checks.") + key,
                   "expected a number in [" + std::to_string(low) + ", " + std::to_string(high) + "]");
  };
  VIGIL_RETURN_IF_ERROR(range("max_error_rate_increase", k.max_error_rate_increase, 0, 1));
  VIGIL_RETURN_IF_ERROR(range("max_latency_ratio", k.max_latency_ratio, 1, 1000));
  VIGIL_RETURN_IF_ERROR(range("latency_slack_ms", k.latency_slack_ms, 0, 60000));
  VIGIL_RETURN_IF_ERROR(range("max_prediction_psi", k.max_prediction_psi, 0, 100));
  if (k.min_agreement) VIGIL_RETURN_IF_ERROR(range("min_agreement", *k.min_agreement, 0, 1));
  VIGIL_RETURN_IF_ERROR(range("max_quality_drop", k.max_quality_drop, -1, 1e9));
  VIGIL_RETURN_IF_ERROR(range("min_feedback", static_cast<double>(k.min_feedback), 1, 1e9));
  return Status::Ok();
}

Result<RolloutConfig> ParseRolloutConfig(const YAML::Node& node) {
  if (!node.IsMap()) return Status::InvalidArgument("rollout: expected a mapping");
  RolloutConfig c;
  bool steps_given = false;
  for (const auto& kv : node) {
    const std::string key = kv.first.as<std::string>();
    const YAML::Node& value = kv.second;
    if (key == "mode") {
      c.mode = value.as<std::string>("");
    } else if (key == "steps") {
      if (!value.IsSequence()) return Invalid(key, "expected a list of percentages, e.g. [10, 50, 100]");
      c.steps.clear();
      for (size_t i = 0; i < value.size(); ++i) {
        auto v = Number(value[i], "steps[" + std::to_string(i) + "]", 0, 100);
        if (!v.ok()) return v.status();
        c.steps.push_back(*v);
      }
      steps_given = true;
    } else if (key == "window") {
      auto s = Seconds(value, key);
      if (!s.ok()) return s.status();
      c.window_s = *s;
    } else if (key == "interval") {
      auto s = Seconds(value, key);
      if (!s.ok()) return s.status();
      c.interval_s = *s;
    } else if (key == "step_deadline") {
      auto s = Seconds(value, key);
      if (!s.ok()) return s.status();
      c.step_deadline_s = *s;
    } else if (key == "min_requests") {
      auto v = Number(value, key, 1, 1e9);
      if (!v.ok()) return v.status();
      c.min_requests = static_cast<int64_t>(*v);
    } else if (key == "checks") {
      VIGIL_RETURN_IF_ERROR(ParseChecks(value, &c.checks));
    } else {
      return Invalid(key, "unknown key (expected mode, steps, window, min_requests, interval, step_deadline, checks)");
    }
  }
  if (c.mode == "shadow" && !steps_given) c.steps = {100};
  VIGIL_RETURN_IF_ERROR(ValidateRolloutConfig(c, "rollout"));
  return c;
}

}  // namespace vigil
