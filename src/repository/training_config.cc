#include "repository/training_config.h"

#include <yaml-cpp/yaml.h>

#include <cmath>

#include "repository/alert_rule.h"

namespace vigil {
namespace {

Status Invalid(const std::string& where, const std::string& what) {
  return Status::InvalidArgument("training." + where + ": " + what);
}

}  // namespace

bool SearchSpace::IsInteger(const std::string& p) { return p == "max_depth" || p == "rounds"; }
bool SearchSpace::IsLogScale(const std::string& p) { return p == "learning_rate" || p == "reg_lambda"; }

Result<TrainingConfig> ParseTrainingConfig(const YAML::Node& node) {
  if (!node.IsMap()) return Status::InvalidArgument("training: expected a mapping");
  TrainingConfig config;
  for (const auto& kv : node) {
    const std::string key = kv.first.as<std::string>();
    if (key == "external") {
      const YAML::Node& e = kv.second;
      if (!e.IsMap()) return Invalid(key, "expected a mapping with command and artifact");
      for (const auto& ekv : e) {
        const std::string ekey = ekv.first.as<std::string>();
        const std::string where = "external." + ekey;
        if (ekey == "command") {
          if (!ekv.second.IsSequence() || ekv.second.size() == 0) {
            return Invalid(where, "expected a list: the program and its arguments");
          }
          for (const auto& arg : ekv.second) config.external.command.push_back(arg.as<std::string>(""));
        } else if (ekey == "artifact") {
          config.external.artifact = ekv.second.as<std::string>("");
          if (config.external.artifact.empty() || config.external.artifact.find('/') != std::string::npos) {
            return Invalid(where, "expected a file name");
          }
        } else if (ekey == "timeout_seconds") {
          try {
            config.external.timeout_seconds = ekv.second.as<int64_t>();
          } catch (const YAML::Exception&) {
            return Invalid(where, "expected a number of seconds");
          }
          if (config.external.timeout_seconds < 1 || config.external.timeout_seconds > 7 * 24 * 3600) {
            return Invalid(where, "expected 1 to 604800 seconds (a week)");
          }
        } else {
          return Invalid(where, "unknown key (expected command, artifact, timeout_seconds)");
        }
      }
      if (config.external.command.empty()) return Invalid("external.command", "is required");
      if (config.external.artifact.empty()) return Invalid("external.artifact", "is required");
      continue;
    }
    if (key == "retrain") {
      const YAML::Node& r = kv.second;
      if (!r.IsMap()) return Invalid(key, "expected a mapping");
      RetrainPolicy& p = config.retrain;
      for (const auto& rkv : r) {
        const std::string rkey = rkv.first.as<std::string>();
        const std::string where = "retrain." + rkey;
        const std::string text = rkv.second.as<std::string>("");
        if (rkey == "hours") {
          try {
            p.hours = rkv.second.as<int64_t>();
          } catch (const YAML::Exception&) {
            return Invalid(where, "expected a number of hours, got '" + text + "'");
          }
          if (p.hours < 1 || p.hours > 24 * 366) return Invalid(where, "expected 1 to 8784 hours (a year)");
        } else if (rkey == "data") {
          p.data = text;
          if (p.data.empty()) return Invalid(where, "expected a CSV file name");
        } else if (rkey == "original_share") {
          try {
            p.original_share = rkv.second.as<double>();
          } catch (const YAML::Exception&) {
            return Invalid(where, "expected a share in [0, 1), got '" + text + "'");
          }
          if (!(p.original_share >= 0 && p.original_share < 1)) return Invalid(where, "expected a share in [0, 1)");
        } else if (rkey == "target") {
          p.target = text;
          if (p.target.empty()) return Invalid(where, "expected a column name");
        } else if (rkey == "cooldown") {
          auto d = ParseDurationSeconds(text);
          if (!d.ok()) return Invalid(where, d.status().message());
          if (*d < 0) return Invalid(where, "expected a duration");
          p.cooldown_s = *d;
        } else {
          return Invalid(where, "unknown key (expected hours, data, original_share, target, cooldown)");
        }
      }
      if (p.original_share > 0 && p.data.empty()) {
        return Invalid("retrain.original_share", "needs `data`, the original training data");
      }
      continue;
    }
    if (key != "search") return Invalid(key, "unknown key (expected search, external, retrain)");
    const YAML::Node& search = kv.second;
    if (!search.IsMap()) return Invalid("search", "expected a mapping");
    SearchSpace& s = config.search;
    s.method = "random";
    for (const auto& skv : search) {
      const std::string skey = skv.first.as<std::string>();
      const std::string where = "search." + skey;
      if (skey == "method") {
        s.method = skv.second.as<std::string>("");
        if (s.method != "random" && s.method != "halving") {
          return Invalid(where, "expected random or halving, got '" + s.method + "'");
        }
      } else if (skey == "trials") {
        try {
          s.trials = skv.second.as<int>();
        } catch (const YAML::Exception&) {
          return Invalid(where, "expected an integer");
        }
        if (s.trials < 1 || s.trials > 1000) return Invalid(where, "expected 1 to 1000");
      } else if (skey == "space") {
        if (!skv.second.IsMap()) return Invalid(where, "expected a mapping of parameters to [low, high]");
        for (const auto& p : skv.second) {
          const std::string name = p.first.as<std::string>();
          const std::string at = where + "." + name;
          static const char* kKnown[] = {"max_depth", "rounds", "learning_rate", "subsample",
                                         "colsample_bytree", "reg_lambda", "reg_alpha"};
          bool known = false;
          for (const char* k : kKnown) known = known || name == k;
          if (!known) {
            return Invalid(at, "unknown parameter (expected max_depth, rounds, learning_rate, subsample, "
                               "colsample_bytree, reg_lambda, reg_alpha)");
          }
          double low = 0, high = 0;
          try {
            if (!p.second.IsSequence() || p.second.size() != 2) throw YAML::Exception(YAML::Mark(), "");
            low = p.second[0].as<double>();
            high = p.second[1].as<double>();
          } catch (const YAML::Exception&) {
            return Invalid(at, "expected [low, high]");
          }
          if (!(low <= high) || !std::isfinite(low) || !std::isfinite(high)) {
            return Invalid(at, "expected low <= high");
          }
          const bool share = name == "subsample" || name == "colsample_bytree";
          if (SearchSpace::IsInteger(name) && high > (name == "max_depth" ? 64 : 100000)) {
            return Invalid(at, name == "max_depth" ? "expected at most 64" : "expected at most 100000");
          }
          if ((share && (low <= 0 || high > 1)) || (SearchSpace::IsLogScale(name) && low <= 0) || low < 0 ||
              (SearchSpace::IsInteger(name) && low < 1)) {
            return Invalid(at, share ? "expected a range within (0, 1]"
                                     : "expected a positive range" + std::string(SearchSpace::IsLogScale(name)
                                                                                      ? " (sampled on a log scale)"
                                                                                      : ""));
          }
          s.ranges[name] = {low, high};
        }
      } else {
        return Invalid(where, "unknown key (expected method, trials, space)");
      }
    }
    if (s.ranges.empty()) return Invalid("search.space", "name at least one parameter to search");
  }
  return config;
}

}  // namespace vigil
