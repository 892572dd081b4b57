#include "repository/engine_config.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <set>
#include <sstream>

#include "repository/model_config.h"

namespace vigil {
namespace {

Status Invalid(const std::string& where, const std::string& what) {
  return Status::InvalidArgument(where + ": " + what);
}

Result<double> Number(const YAML::Node& node, const std::string& where) {
  double v = 0;
  if (!node || !node.IsScalar() || !YAML::convert<double>::decode(node, v) || !std::isfinite(v)) {
    return Invalid(where, "expected a finite number");
  }
  return v;
}

Result<int64_t> Integer(const YAML::Node& node, const std::string& where, int64_t min, int64_t max) {
  int64_t v = 0;
  if (!node.IsScalar() || !YAML::convert<int64_t>::decode(node, v) || v < min || v > max) {
    return Invalid(where, "expected an integer from " + std::to_string(min) + " to " + std::to_string(max));
  }
  return v;
}

Status CheckKeys(const YAML::Node& node, const std::string& where, std::initializer_list<std::string_view> keys) {
  for (const auto& kv : node) {
    const std::string key = kv.first.as<std::string>();
    if (std::find(keys.begin(), keys.end(), key) == keys.end()) return Invalid(where + "." + key, "unknown key");
  }
  return Status::Ok();
}

}  // namespace

Result<std::vector<PreprocessStep>> ParsePreprocessing(const YAML::Node& node, const std::vector<FeatureSpec>& features) {
  if (!node.IsSequence()) return Invalid("preprocessing", "expected a list of steps, one per feature");
  std::vector<PreprocessStep> steps;
  std::set<int> seen;
  for (size_t i = 0; i < node.size(); ++i) {
    const std::string where = "preprocessing[" + std::to_string(i) + "]";
    const YAML::Node& n = node[i];
    if (!n.IsMap()) return Invalid(where, "expected a mapping with feature and its steps");
    VIGIL_RETURN_IF_ERROR(CheckKeys(n, where, {"feature", "fill", "standardize", "min_max", "one_hot"}));
    PreprocessStep step;
    if (!n["feature"] || !n["feature"].IsScalar()) return Invalid(where + ".feature", "is required");
    step.feature = n["feature"].Scalar();
    for (size_t j = 0; j < features.size(); ++j) {
      if (features[j].name == step.feature) step.feature_index = static_cast<int>(j);
    }
    if (step.feature_index < 0) return Invalid(where + ".feature", "no feature '" + step.feature + "' in features");
    if (!seen.insert(step.feature_index).second) {
      return Invalid(where + ".feature", "'" + step.feature + "' has steps already");
    }
    const FeatureSpec& f = features[step.feature_index];
    if (n["fill"]) {
      auto v = Number(n["fill"], where + ".fill");
      if (!v.ok()) return v.status();
      step.fill = *v;
    }
    if (n["standardize"] && n["min_max"]) return Invalid(where, "standardize or min_max, not both");
    if (const YAML::Node& s = n["standardize"]; s) {
      if (!s.IsMap()) return Invalid(where + ".standardize", "expected {mean: M, std: S}");
      VIGIL_RETURN_IF_ERROR(CheckKeys(s, where + ".standardize", {"mean", "std"}));
      auto mean = Number(s["mean"], where + ".standardize.mean");
      if (!mean.ok()) return mean.status();
      auto sd = Number(s["std"], where + ".standardize.std");
      if (!sd.ok()) return sd.status();
      if (!(*sd > 0)) return Invalid(where + ".standardize.std", "must be positive");
      step.scale = PreprocessStep::Scale{*mean, *sd};
      step.standardize = true;
    }
    if (const YAML::Node& m = n["min_max"]; m) {
      if (!m.IsMap()) return Invalid(where + ".min_max", "expected {min: A, max: B}");
      VIGIL_RETURN_IF_ERROR(CheckKeys(m, where + ".min_max", {"min", "max"}));
      auto lo = Number(m["min"], where + ".min_max.min");
      if (!lo.ok()) return lo.status();
      auto hi = Number(m["max"], where + ".min_max.max");
      if (!hi.ok()) return hi.status();
      if (!(*hi > *lo)) return Invalid(where + ".min_max", "max must be above min");
      step.scale = PreprocessStep::Scale{*lo, *hi - *lo};
    }
    if (const YAML::Node& o = n["one_hot"]; o) {
      if (f.kind != FeatureKind::kCategorical) return Invalid(where + ".one_hot", "'" + f.name + "' is not categorical");
      if (!o.IsSequence() || o.size() == 0) return Invalid(where + ".one_hot", "expected a non-empty list of categories");
      std::vector<std::string> categories;
      for (size_t k = 0; k < o.size(); ++k) {
        const std::string c = o[k].as<std::string>();
        if (f.CategoryCode(c) < 0) {
          return Invalid(where + ".one_hot[" + std::to_string(k) + "]", "'" + c + "' is not a category of " + f.name);
        }
        categories.push_back(c);
      }
      if (step.scale || step.fill) return Invalid(where, "a one_hot feature takes no fill or scaling");
      step.one_hot = std::move(categories);
    }
    steps.push_back(std::move(step));
  }
  return steps;
}

Status ParseEngineConfig(const YAML::Node& root, const std::vector<FeatureSpec>& features, EngineConfig* config) {
  if (const YAML::Node& n = root["instances"]; n) {
    auto v = Integer(n, "instances", 1, 256);
    if (!v.ok()) return v.status();
    config->instances = static_cast<int>(*v);
  }
  if (const YAML::Node& n = root["max_queue"]; n) {
    auto v = Integer(n, "max_queue", 0, 1'000'000);
    if (!v.ok()) return v.status();
    config->max_queue = *v;
  }
  if (const YAML::Node& b = root["batching"]; b) {
    if (!b.IsMap()) return Invalid("batching", "expected a mapping");
    VIGIL_RETURN_IF_ERROR(CheckKeys(b, "batching", {"max_batch_size", "max_queue_delay_us", "preferred_batch_sizes"}));
    BatchingConfig& batching = config->batching;
    if (b["max_batch_size"]) {
      auto v = Integer(b["max_batch_size"], "batching.max_batch_size", 0, 1 << 20);
      if (!v.ok()) return v.status();
      batching.max_batch_size = *v;
    }
    if (b["max_queue_delay_us"]) {
      auto v = Integer(b["max_queue_delay_us"], "batching.max_queue_delay_us", 0, 10'000'000);
      if (!v.ok()) return v.status();
      batching.max_queue_delay_us = *v;
    }
    if (const YAML::Node& p = b["preferred_batch_sizes"]; p) {
      if (!p.IsSequence()) return Invalid("batching.preferred_batch_sizes", "expected a list of sizes");
      for (size_t i = 0; i < p.size(); ++i) {
        auto v = Integer(p[i], "batching.preferred_batch_sizes[" + std::to_string(i) + "]", 1,
                         std::max<int64_t>(1, batching.max_batch_size));
        if (!v.ok()) return v.status();
        batching.preferred_batch_sizes.push_back(*v);
      }
      std::sort(batching.preferred_batch_sizes.begin(), batching.preferred_batch_sizes.end());
    }
  }
  if (const YAML::Node& p = root["preprocessing"]; p) {
    auto steps = ParsePreprocessing(p, features);
    if (!steps.ok()) return steps.status();
    config->preprocessing = std::move(*steps);
  }
  return Status::Ok();
}

Result<std::vector<PreprocessStep>> LoadPreprocessingFile(const std::filesystem::path& path,
                                                          const std::vector<FeatureSpec>& features) {
  std::ifstream in(path);
  if (!in) return Status::NotFound("cannot read " + path.string());
  std::stringstream text;
  text << in.rdbuf();
  try {
    const YAML::Node root = YAML::Load(text.str());
    if (!root.IsMap() || !root["preprocessing"]) {
      return Status::InvalidArgument(path.filename().string() + ": expected a mapping with 'preprocessing:'");
    }
    auto steps = ParsePreprocessing(root["preprocessing"], features);
    if (!steps.ok()) return Status::InvalidArgument(path.filename().string() + ": " + steps.status().message());
    return steps;
  } catch (const YAML::Exception& e) {
    return Status::InvalidArgument(path.filename().string() + ": " + e.what());
  }
}

}  // namespace vigil
