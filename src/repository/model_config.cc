#include "repository/model_config.h"

#include <yaml-cpp/yaml.h>

#include <fstream>
#include <set>
#include <sstream>

namespace vigil {
namespace {

constexpr std::string_view kKnownBackends[] = {"xgboost", "trees", "onnx", "torchscript"};
constexpr std::string_view kKnownKeys[] = {
    "name",    "backend", "artifact",       "inputs",         "features",  "outputs",
    "classes", "label_threshold", "version_policy", "parameters", "description", "alerts", "monitoring", "gate", "training",
    "rollout", "instances", "max_queue", "batching", "preprocessing"};
constexpr std::string_view kEngineKeys[] = {"instances", "max_queue", "batching", "preprocessing"};

Status Invalid(const std::string& where, const std::string& what) {
  return Status::InvalidArgument(where + ": " + what);
}

std::string Mark(const YAML::Node& node) {
  if (node.Mark().line < 0) return "";
  return " (line " + std::to_string(node.Mark().line + 1) + ")";
}

Result<std::string> ScalarString(const YAML::Node& node, const std::string& where) {
  if (!node.IsScalar()) return Invalid(where, "expected a string" + Mark(node));
  return node.Scalar();
}

Result<std::vector<int64_t>> ParseShape(const YAML::Node& node, const std::string& where) {
  if (!node.IsSequence()) return Invalid(where, "expected a list of dimensions" + Mark(node));
  std::vector<int64_t> shape;
  for (size_t i = 0; i < node.size(); ++i) {
    int64_t d = 0;
    if (!YAML::convert<int64_t>::decode(node[i], d) || d < -1 || d == 0) {
      return Invalid(where + "[" + std::to_string(i) + "]",
                     "a dimension is a positive integer or -1 (variable)" + Mark(node[i]));
    }
    shape.push_back(d);
  }
  return shape;
}

Result<TensorSpec> ParseTensorSpec(const YAML::Node& node, const std::string& where) {
  if (!node.IsMap()) return Invalid(where, "expected a mapping with name, datatype, shape");
  TensorSpec spec;
  if (!node["name"]) return Invalid(where + ".name", "is required");
  auto name = ScalarString(node["name"], where + ".name");
  if (!name.ok()) return name.status();
  spec.name = *name;
  if (node["datatype"]) {
    auto dt = ScalarString(node["datatype"], where + ".datatype");
    if (!dt.ok()) return dt.status();
    auto parsed = ParseDataType(*dt);
    if (!parsed) return Invalid(where + ".datatype", "unknown datatype '" + *dt + "'");
    spec.type = *parsed;
  }
  if (node["shape"]) {
    auto shape = ParseShape(node["shape"], where + ".shape");
    if (!shape.ok()) return shape.status();
    spec.shape = *shape;
  }
  return spec;
}

Result<VersionPolicy> ParseVersionPolicy(const YAML::Node& node) {
  VersionPolicy policy;
  const std::string where = "version_policy";
  if (node.IsScalar()) {
    if (node.Scalar() == "all") {
      policy.kind = VersionPolicy::Kind::kAll;
      return policy;
    }
    return Invalid(where, "expected 'all', {latest: N} or {specific: [..]}" + Mark(node));
  }
  if (!node.IsMap() || node.size() != 1) {
    return Invalid(where, "expected 'all', {latest: N} or {specific: [..]}" + Mark(node));
  }
  if (node["latest"]) {
    int n = 0;
    if (!YAML::convert<int>::decode(node["latest"], n) || n < 1) {
      return Invalid(where + ".latest", "expected a positive integer" + Mark(node["latest"]));
    }
    policy.kind = VersionPolicy::Kind::kLatest;
    policy.latest = n;
    return policy;
  }
  if (node["all"]) {
    policy.kind = VersionPolicy::Kind::kAll;
    return policy;
  }
  if (node["specific"]) {
    const YAML::Node& list = node["specific"];
    if (!list.IsSequence() || list.size() == 0) {
      return Invalid(where + ".specific", "expected a non-empty list of versions");
    }
    policy.kind = VersionPolicy::Kind::kSpecific;
    for (size_t i = 0; i < list.size(); ++i) {
      int64_t v = 0;
      if (!YAML::convert<int64_t>::decode(list[i], v) || v < 1) {
        return Invalid(where + ".specific[" + std::to_string(i) + "]",
                       "a version is a positive integer" + Mark(list[i]));
      }
      policy.specific.push_back(v);
    }
    return policy;
  }
  return Invalid(where, "expected 'all', {latest: N} or {specific: [..]}" + Mark(node));
}

Result<FeatureSpec> ParseFeature(const YAML::Node& node, const std::string& where) {
  if (!node.IsMap()) return Invalid(where, "expected a mapping with name and type" + Mark(node));
  FeatureSpec f;
  if (!node["name"]) return Invalid(where + ".name", "is required");
  auto name = ScalarString(node["name"], where + ".name");
  if (!name.ok()) return name.status();
  f.name = *name;
  std::string type = node["type"] ? node["type"].as<std::string>() : "numeric";
  if (type == "numeric") {
    f.kind = FeatureKind::kNumeric;
  } else if (type == "categorical") {
    f.kind = FeatureKind::kCategorical;
    const YAML::Node& cats = node["categories"];
    if (!cats || !cats.IsSequence() || cats.size() == 0) {
      return Invalid(where + ".categories", "a categorical feature needs its list of categories");
    }
    std::set<std::string> seen;
    for (size_t i = 0; i < cats.size(); ++i) {
      auto c = ScalarString(cats[i], where + ".categories[" + std::to_string(i) + "]");
      if (!c.ok()) return c.status();
      if (!seen.insert(*c).second) {
        return Invalid(where + ".categories[" + std::to_string(i) + "]",
                       "duplicate category '" + *c + "'");
      }
      f.category_codes[*c] = static_cast<int>(f.categories.size());
      f.categories.push_back(*c);
    }
  } else {
    return Invalid(where + ".type", "expected 'numeric' or 'categorical', got '" + type + "'");
  }
  if (node["allow_missing"]) f.allow_missing = node["allow_missing"].as<bool>();
  return f;
}

Result<OutputSpec> ParseOutput(const YAML::Node& node, const std::string& where) {
  if (!node.IsMap()) return Invalid(where, "expected a mapping with name and kind" + Mark(node));
  OutputSpec out;
  if (!node["name"]) return Invalid(where + ".name", "is required");
  out.name = node["name"].as<std::string>();
  std::string kind = node["kind"] ? node["kind"].as<std::string>() : out.name;
  if (kind == "probability") {
    out.kind = OutputKind::kProbability;
    out.tensor = {out.name, DataType::kFp32, {-1}};
  } else if (kind == "label") {
    out.kind = OutputKind::kLabel;
    out.tensor = {out.name, DataType::kBytes, {-1}};
  } else if (kind == "margin") {
    out.kind = OutputKind::kMargin;
    out.tensor = {out.name, DataType::kFp32, {-1}};
  } else if (kind == "prediction") {
    out.kind = OutputKind::kPrediction;
    out.tensor = {out.name, DataType::kFp32, {-1}};
  } else {
    return Invalid(where + ".kind",
                   "expected 'probability', 'label', 'margin' or 'prediction', got '" + kind + "'");
  }
  return out;
}

Status ParseInto(const YAML::Node& root, ModelConfig& config) {
  if (!root.IsMap()) return Status::InvalidArgument("model.yaml: expected a mapping at the top");
  std::set<std::string> seen;
  for (const auto& kv : root) {
    std::string key = kv.first.as<std::string>();
    bool known = false;
    for (auto k : kKnownKeys) known = known || key == k;
    if (!known) return Invalid(key, "unknown key" + Mark(kv.first));
    // YAML parsers keep one of two equal keys silently; a second `gate:` or
    // `alerts:` would be ignored without a word.
    if (!seen.insert(key).second) return Invalid(key, "given twice" + Mark(kv.first));
  }
  if (root["name"] && root["name"].as<std::string>() != config.name) {
    return Invalid("name", "'" + root["name"].as<std::string>() +
                               "' differs from the model's directory name '" + config.name + "'");
  }
  if (!root["backend"]) return Invalid("backend", "is required");
  config.backend = root["backend"].as<std::string>();
  bool known_backend = false;
  for (auto b : kKnownBackends) known_backend = known_backend || config.backend == b;
  if (!known_backend) {
    return Invalid("backend", "unknown backend '" + config.backend +
                                  "' (expected xgboost, trees, onnx or torchscript)");
  }
  if (root["artifact"]) {
    config.artifact = root["artifact"].as<std::string>();
  }
  if ((root["artifact"] && config.artifact.empty()) || config.artifact.find('/') != std::string::npos) {
    return Invalid("artifact", "must be a plain file name inside the version directory");
  }

  if (const YAML::Node& feats = root["features"]; feats) {
    if (!feats.IsSequence()) return Invalid("features", "expected a list");
    std::set<std::string> names;
    for (size_t i = 0; i < feats.size(); ++i) {
      auto f = ParseFeature(feats[i], "features[" + std::to_string(i) + "]");
      if (!f.ok()) return f.status();
      if (!names.insert(f->name).second) {
        return Invalid("features[" + std::to_string(i) + "].name",
                       "duplicate feature '" + f->name + "'");
      }
      config.features.push_back(std::move(*f));
    }
  }
  if (const YAML::Node& ins = root["inputs"]; ins) {
    if (!ins.IsSequence()) return Invalid("inputs", "expected a list");
    for (size_t i = 0; i < ins.size(); ++i) {
      auto t = ParseTensorSpec(ins[i], "inputs[" + std::to_string(i) + "]");
      if (!t.ok()) return t.status();
      config.inputs.push_back(std::move(*t));
    }
  }
  const bool tree_backend = config.backend == "xgboost" || config.backend == "trees";
  if (tree_backend && config.features.empty()) {
    return Invalid("features", "the " + config.backend + " backend needs the list of features");
  }
  if (!config.features.empty()) {
    const int64_t f = static_cast<int64_t>(config.features.size());
    if (config.inputs.empty()) config.inputs.push_back({"input", DataType::kFp32, {-1, f}});
    if (config.inputs.size() != 1) {
      return Invalid("inputs", "a tabular model has one matrix input; features are listed under "
                               "'features' and may also be sent one input each");
    }
    TensorSpec& in = config.inputs[0];
    if (in.shape.empty()) in.shape = {-1, f};
    if (in.shape.size() != 2 || in.shape[1] != f) {
      return Invalid("inputs[0].shape", "expected [-1, " + std::to_string(f) + "] for " +
                                            std::to_string(f) + " features, got " +
                                            ShapeToString(in.shape));
    }
    if (!IsNumeric(in.type)) return Invalid("inputs[0].datatype", "must be numeric");
  } else if (config.inputs.empty() && config.backend != "onnx") {
    // An ONNX graph names its inputs, so an onnx model may leave them out
    // (the version's backend supplies them: Backend::ArtifactInputs()).
    return Invalid("inputs", "the " + config.backend + " backend needs its inputs declared");
  }

  if (const YAML::Node& cls = root["classes"]; cls) {
    if (!cls.IsSequence()) return Invalid("classes", "expected a list of class names");
    for (size_t i = 0; i < cls.size(); ++i) config.classes.push_back(cls[i].as<std::string>());
  }
  if (root["label_threshold"]) {
    config.label_threshold = root["label_threshold"].as<double>();
    if (!(config.label_threshold > 0 && config.label_threshold < 1)) {
      return Invalid("label_threshold", "must lie strictly between 0 and 1");
    }
  }
  if (const YAML::Node& outs = root["outputs"]; outs) {
    if (!outs.IsSequence() || outs.size() == 0) return Invalid("outputs", "expected a non-empty list");
    std::set<std::string> names;
    for (size_t i = 0; i < outs.size(); ++i) {
      auto o = ParseOutput(outs[i], "outputs[" + std::to_string(i) + "]");
      if (!o.ok()) return o.status();
      if (!names.insert(o->name).second) {
        return Invalid("outputs[" + std::to_string(i) + "].name",
                       "duplicate output '" + o->name + "'");
      }
      config.outputs.push_back(std::move(*o));
    }
  } else {
    config.outputs.push_back({"probability", OutputKind::kProbability,
                              {"probability", DataType::kFp32, {-1}}});
    if (config.classes.size() >= 2) {
      config.outputs.push_back({"label", OutputKind::kLabel, {"label", DataType::kBytes, {-1}}});
    }
  }
  if (config.classes.size() == 1) return Invalid("classes", "expected at least two class names");
  const int64_t k = static_cast<int64_t>(config.classes.size());
  for (size_t i = 0; i < config.outputs.size(); ++i) {
    OutputSpec& out = config.outputs[i];
    const std::string where = "outputs[" + std::to_string(i) + "]";
    if (out.kind == OutputKind::kLabel && k < 2) {
      return Invalid(where, "a label output needs 'classes' with the class names");
    }
    if (k >= 3) {
      // A multi-class model scores every class.
      if (out.kind == OutputKind::kProbability || out.kind == OutputKind::kMargin) out.tensor.shape = {-1, k};
      if (out.kind == OutputKind::kPrediction) {
        return Invalid(where, "a multi-class model has no 'prediction' output: use 'probability' and 'label'");
      }
    }
  }
  VIGIL_RETURN_IF_ERROR(ParseEngineConfig(root, config.features, &config.engine));
  if (!config.engine.preprocessing.empty() && !config.is_tabular()) {
    return Invalid("preprocessing", "needs the model's features");
  }
  for (std::string_view key : kEngineKeys) {
    if (const YAML::Node& n = root[std::string(key)]; n) config.engine_yaml[std::string(key)] = YAML::Dump(n);
  }
  if (root["version_policy"]) {
    auto policy = ParseVersionPolicy(root["version_policy"]);
    if (!policy.ok()) return policy.status();
    config.version_policy = *policy;
  }
  if (const YAML::Node& params = root["parameters"]; params) {
    if (!params.IsMap()) return Invalid("parameters", "expected a mapping of names to values");
    for (const auto& kv : params) {
      config.parameters[kv.first.as<std::string>()] = kv.second.as<std::string>();
    }
  }
  if (const YAML::Node& monitoring = root["monitoring"]; monitoring) {
    std::vector<std::string> numeric, categorical;
    for (const FeatureSpec& f : config.features) {
      (f.kind == FeatureKind::kNumeric ? numeric : categorical).push_back(f.name);
    }
    auto parsed = ParseMonitoringConfig(monitoring, numeric, categorical);
    if (!parsed.ok()) return parsed.status();
    config.monitoring = std::move(*parsed);
    config.monitoring_yaml = YAML::Dump(monitoring);
  }
  if (const YAML::Node& gate = root["gate"]; gate) {
    auto parsed = ParseGateConfig(gate, !config.classes.empty());
    if (!parsed.ok()) return parsed.status();
    config.gate = std::move(*parsed);
    config.gate_yaml = YAML::Dump(gate);
  } else {
    config.gate.metric = config.classes.empty() ? "rmse" : "auc";
  }
  if (const YAML::Node& training = root["training"]; training) {
    auto parsed = ParseTrainingConfig(training);
    if (!parsed.ok()) return parsed.status();
    config.training = std::move(*parsed);
    config.training_yaml = YAML::Dump(training);
  }
  if (const YAML::Node& rollout = root["rollout"]; rollout) {
    auto parsed = ParseRolloutConfig(rollout);
    if (!parsed.ok()) return parsed.status();
    config.rollout = std::move(*parsed);
    config.rollout_yaml = YAML::Dump(rollout);
  }
  if (const YAML::Node& alerts = root["alerts"]; alerts) {
    std::vector<std::string> names;
    for (const FeatureSpec& f : config.features) names.push_back(f.name);
    auto rules = ParseAlertRules(alerts, names);
    if (!rules.ok()) return rules.status();
    config.alerts = std::move(*rules);
    config.alerts_yaml = YAML::Dump(alerts);
  }
  return Status::Ok();
}

}  // namespace

int ModelConfig::FeatureIndex(std::string_view feature) const {
  for (size_t i = 0; i < features.size(); ++i) {
    if (features[i].name == feature) return static_cast<int>(i);
  }
  return -1;
}

Result<ModelConfig> ParseModelConfig(std::string_view yaml_text, std::string_view model_name) {
  ModelConfig config;
  config.name = std::string(model_name);
  try {
    YAML::Node root = YAML::Load(std::string(yaml_text));
    Status s = ParseInto(root, config);
    if (!s.ok()) return s;
  } catch (const YAML::Exception& e) {
    return Status::InvalidArgument(std::string("model.yaml: ") + e.what());
  }
  return config;
}

Result<ModelConfig> LoadModelConfig(const std::filesystem::path& path,
                                    std::string_view model_name) {
  std::ifstream in(path);
  if (!in) return Status::NotFound("cannot read " + path.string());
  std::stringstream buffer;
  buffer << in.rdbuf();
  auto config = ParseModelConfig(buffer.str(), model_name);
  if (!config.ok()) return config.status().WithContext(path.string());
  return config;
}

std::string_view OutputKindName(OutputKind kind) {
  switch (kind) {
    case OutputKind::kProbability: return "probability";
    case OutputKind::kLabel: return "label";
    case OutputKind::kMargin: return "margin";
    case OutputKind::kPrediction: return "prediction";
  }
  return "";
}

std::string_view FeatureKindName(FeatureKind kind) {
  return kind == FeatureKind::kNumeric ? "numeric" : "categorical";
}

std::string ModelConfigToYaml(const ModelConfig& config) {
  YAML::Emitter out;
  out << YAML::BeginMap;
  out << YAML::Key << "backend" << YAML::Value << config.backend;
  if (!config.artifact.empty()) out << YAML::Key << "artifact" << YAML::Value << config.artifact;
  out << YAML::Key << "inputs" << YAML::Value << YAML::BeginSeq;
  for (const TensorSpec& in : config.inputs) {
    out << YAML::Flow << YAML::BeginMap << YAML::Key << "name" << YAML::Value << in.name
        << YAML::Key << "datatype" << YAML::Value << std::string(DataTypeName(in.type))
        << YAML::Key << "shape" << YAML::Value << YAML::Flow << in.shape << YAML::EndMap;
  }
  out << YAML::EndSeq;
  if (!config.features.empty()) {
    out << YAML::Key << "features" << YAML::Value << YAML::BeginSeq;
    for (const FeatureSpec& f : config.features) {
      out << YAML::Flow << YAML::BeginMap << YAML::Key << "name" << YAML::Value << f.name
          << YAML::Key << "type" << YAML::Value << std::string(FeatureKindName(f.kind));
      if (f.kind == FeatureKind::kCategorical) {
        // Quoted, so that YAML 1.1 readers (PyYAML) do not turn "no" or "yes"
        // into booleans.
        out << YAML::Key << "categories" << YAML::Value << YAML::Flow << YAML::BeginSeq;
        for (const std::string& c : f.categories) out << YAML::DoubleQuoted << c;
        out << YAML::EndSeq;
      }
      if (!f.allow_missing) out << YAML::Key << "allow_missing" << YAML::Value << false;
      out << YAML::EndMap;
    }
    out << YAML::EndSeq;
  }
  if (!config.classes.empty()) {
    out << YAML::Key << "classes" << YAML::Value << YAML::Flow << YAML::BeginSeq;
    for (const std::string& c : config.classes) out << YAML::DoubleQuoted << c;
    out << YAML::EndSeq;
    out << YAML::Key << "label_threshold" << YAML::Value << config.label_threshold;
  }
  out << YAML::Key << "outputs" << YAML::Value << YAML::BeginSeq;
  for (const OutputSpec& o : config.outputs) {
    out << YAML::Flow << YAML::BeginMap << YAML::Key << "name" << YAML::Value << o.name
        << YAML::Key << "kind" << YAML::Value << std::string(OutputKindName(o.kind))
        << YAML::EndMap;
  }
  out << YAML::EndSeq;
  out << YAML::Key << "version_policy" << YAML::Value;
  switch (config.version_policy.kind) {
    case VersionPolicy::Kind::kAll:
      out << "all";
      break;
    case VersionPolicy::Kind::kLatest:
      out << YAML::Flow << YAML::BeginMap << YAML::Key << "latest" << YAML::Value
          << config.version_policy.latest << YAML::EndMap;
      break;
    case VersionPolicy::Kind::kSpecific:
      out << YAML::Flow << YAML::BeginMap << YAML::Key << "specific" << YAML::Value
          << YAML::Flow << config.version_policy.specific << YAML::EndMap;
      break;
  }
  if (!config.parameters.empty()) {
    out << YAML::Key << "parameters" << YAML::Value << YAML::BeginMap;
    for (const auto& [k, v] : config.parameters) out << YAML::Key << k << YAML::Value << v;
    out << YAML::EndMap;
  }
  if (!config.monitoring_yaml.empty()) {
    out << YAML::Key << "monitoring" << YAML::Value << YAML::Load(config.monitoring_yaml);
  }
  if (!config.alerts_yaml.empty()) out << YAML::Key << "alerts" << YAML::Value << YAML::Load(config.alerts_yaml);
  if (!config.gate_yaml.empty()) out << YAML::Key << "gate" << YAML::Value << YAML::Load(config.gate_yaml);
  if (!config.rollout_yaml.empty()) {
    out << YAML::Key << "rollout" << YAML::Value << YAML::Load(config.rollout_yaml);
  }
  if (!config.training_yaml.empty()) {
    out << YAML::Key << "training" << YAML::Value << YAML::Load(config.training_yaml);
  }
  for (const auto& [key, yaml] : config.engine_yaml) out << YAML::Key << key << YAML::Value << YAML::Load(yaml);
  out << YAML::EndMap;
  return std::string(out.c_str()) + "\n";
}

}  // namespace vigil
