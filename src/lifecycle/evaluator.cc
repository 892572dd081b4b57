#include "lifecycle/evaluator.h"

#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>

#include "backends/backend.h"
#include "dataset/tabular_dataset.h"
#include "lifecycle/feature_matrix.h"
#include "monitor/alert_engine.h"
#include "monitor/quality_metrics.h"
#include "repository/model_repository.h"

namespace vigil {
namespace {

using nlohmann::json;
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

json Number(double v) { return std::isfinite(v) ? json(v) : json(nullptr); }

std::string Format(double v) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.4f", v);
  return buf;
}

// The labelled rows of every set, as the model sees them.
struct Rows {
  std::vector<float> features;  // Row-major.
  std::vector<float> labels;    // Classifiers: 1 for classes[1]; regressors: the value.
  std::vector<std::pair<std::string, int64_t>> sets;  // Name and row count, in order.
};

Result<Rows> ReadRows(const ModelConfig& config, const std::vector<EvaluationSet>& sets, const std::string& target) {
  Rows rows;
  const bool classifier = !config.classes.empty();
  for (const EvaluationSet& set : sets) {
    auto data = TabularDataset::ReadCsv(set.csv);
    if (!data.ok()) return data.status().WithContext(set.name);
    const int t = data->ColumnIndex(target);
    if (t < 0) return Status::InvalidArgument(set.name + ": no label column '" + target + "'");
    auto matrix = FeatureMatrix(*data, config, set.name);
    if (!matrix.ok()) return matrix.status();
    const Column& label = data->columns()[t];
    for (size_t r = 0; r < data->rows(); ++r) {
      float y = std::numeric_limits<float>::quiet_NaN();
      if (classifier) {
        if (label.numeric) {
          if (label.numbers[r] == 0 || label.numbers[r] == 1) y = static_cast<float>(label.numbers[r]);
        } else if (label.strings[r] == config.classes[1]) {
          y = 1;
        } else if (label.strings[r] == config.classes[0]) {
          y = 0;
        }
      } else if (label.numeric) {
        y = static_cast<float>(label.numbers[r]);
      }
      if (std::isnan(y)) {
        return Status::InvalidArgument(set.name + ": row " + std::to_string(r + 1) + " has no usable label in '" +
                                       target + "'" + (classifier ? " (expected a class of the model, or 0/1)" : ""));
      }
      rows.labels.push_back(y);
    }
    rows.features.insert(rows.features.end(), matrix->begin(), matrix->end());
    rows.sets.emplace_back(set.name, static_cast<int64_t>(data->rows()));
  }
  if (rows.labels.empty()) return Status::InvalidArgument("no labelled rows to evaluate on");
  return rows;
}

// The version's score per row: the positive class's probability, or the prediction.
Result<std::vector<float>> Score(const ModelConfig& config, const std::filesystem::path& dir, const Rows& rows) {
  const OutputSpec* output = nullptr;
  for (const OutputSpec& o : config.outputs) {
    const bool wanted = config.classes.empty() ? o.kind == OutputKind::kPrediction : o.kind == OutputKind::kProbability;
    if (!output && wanted) output = &o;
  }
  if (!output) {
    return Status::FailedPrecondition(std::string("the gate needs a ") +
                                      (config.classes.empty() ? "prediction" : "probability") + " output");
  }
  auto backend = BackendRegistry::WithBuiltins().Create(config, dir);
  if (!backend.ok()) return backend.status().WithContext("loading " + dir.string());
  const int64_t n = static_cast<int64_t>(rows.labels.size());
  const int64_t f = static_cast<int64_t>(config.features.size());
  Tensor input("input", DataType::kFp32, {n, f});
  std::copy(rows.features.begin(), rows.features.end(), input.values<float>().begin());
  std::vector<Tensor> outputs;
  VIGIL_RETURN_IF_ERROR((*backend)->Infer({input}, {output}, &outputs));
  const auto values = outputs[0].values<float>();
  return std::vector<float>(values.begin(), values.begin() + n);
}

double Metric(const ModelConfig& config, const std::string& metric, std::span<const float> scores,
              std::span<const float> labels) {
  if (config.classes.empty()) {
    const RegressionQuality q = RegressionQualityOf(scores, labels);
    return metric == "mae" ? q.mae.value : q.rmse.value;
  }
  const BinaryQuality q = BinaryClassificationQuality(scores, labels, config.label_threshold);
  if (metric == "auc") return q.roc_auc.value;
  if (metric == "accuracy") return q.accuracy.value;
  if (metric == "precision") return q.precision.value;
  if (metric == "recall") return q.recall.value;
  if (metric == "f1") return q.f1;
  return q.log_loss.value;
}

}  // namespace

std::string Evaluation::ToJson() const {
  json per_set = json::array();
  for (const PerSet& s : sets) {
    per_set.push_back({{"name", s.name}, {"rows", s.rows}, {"challenger", Number(s.challenger)},
                       {"champion", Number(s.champion)}});
  }
  return json{{"blessed", blessed},
              {"metric", metric},
              {"higher_is_better", higher_is_better},
              {"challenger_version", challenger_version},
              {"champion_version", champion_version > 0 ? json(champion_version) : json(nullptr)},
              {"challenger", Number(challenger)},
              {"champion", Number(champion)},
              {"rows", rows},
              {"sets", per_set},
              {higher_is_better ? "min" : "max", has_bound ? json(bound) : json(nullptr)},
              {"max_drop", max_drop},
              {"reasons", reasons}}
      .dump();
}

Result<Evaluation> EvaluateVersion(Registry& registry, Store& store, const EvaluateOptions& options) {
  ModelRepository repository(options.repository);
  auto dir = repository.ScanModel(options.model);
  if (!dir.ok()) return dir.status();
  auto config = ParseModelConfig(dir->config_text, options.model);
  if (!config.ok()) return config.status().WithContext(options.model + "/model.yaml");
  if (!config->is_tabular()) return Status::FailedPrecondition("the gate evaluates tabular models");
  if (config->classes.size() > 2) {
    return Status::FailedPrecondition("the gate judges binary classifiers and regressors; model '" + options.model +
                                      "' has " + std::to_string(config->classes.size()) + " classes");
  }
  const GateConfig& gate = config->gate;
  Evaluation e;
  e.model = options.model;
  e.challenger_version = options.challenger;
  e.champion_version = options.champion;
  if (e.champion_version == 0) {
    auto aliases = registry.AliasesOf(options.model);
    if (!aliases.ok()) return aliases.status();
    if (auto it = aliases->find("champion"); it != aliases->end()) e.champion_version = it->second;
  }
  if (e.champion_version == e.challenger_version) e.champion_version = 0;  // Nothing to compare with.
  e.metric = gate.metric;
  e.higher_is_better = GateConfig::HigherIsBetter(gate.metric);
  e.has_bound = gate.bound.has_value();
  e.bound = gate.bound.value_or(0);
  e.max_drop = gate.max_drop;

  std::vector<EvaluationSet> sets = options.sets;
  if (!gate.golden.empty()) sets.push_back({"golden", dir->path / gate.golden});
  auto rows = ReadRows(*config, sets, options.target);
  if (!rows.ok()) return rows.status();
  e.rows = static_cast<int64_t>(rows->labels.size());

  auto version_dir = [&](int64_t v) -> Result<std::filesystem::path> {
    auto found = dir->Version(v);
    if (!found.ok()) return found.status();
    return (*found)->path;
  };
  auto challenger_dir = version_dir(e.challenger_version);
  if (!challenger_dir.ok()) return challenger_dir.status();
  auto challenger = Score(*config, *challenger_dir, *rows);
  if (!challenger.ok()) return challenger.status();
  std::vector<float> champion;
  if (e.champion_version > 0) {
    auto champion_dir = version_dir(e.champion_version);
    if (!champion_dir.ok()) return champion_dir.status().WithContext("the champion");
    auto scored = Score(*config, *champion_dir, *rows);
    if (!scored.ok()) return scored.status().WithContext("the champion");
    champion = std::move(*scored);
  }

  e.challenger = Metric(*config, e.metric, *challenger, rows->labels);
  e.champion = champion.empty() ? kNaN : Metric(*config, e.metric, champion, rows->labels);
  size_t at = 0;
  for (const auto& [name, n] : rows->sets) {
    const std::span<const float> labels(rows->labels.data() + at, static_cast<size_t>(n));
    Evaluation::PerSet s{name, n, Metric(*config, e.metric, std::span<const float>(challenger->data() + at, n), labels),
                         champion.empty() ? kNaN
                                          : Metric(*config, e.metric, std::span<const float>(champion.data() + at, n),
                                                   labels)};
    e.sets.push_back(s);
    at += static_cast<size_t>(n);
  }

  // The judgement.
  if (!std::isfinite(e.challenger)) {
    e.reasons.push_back(e.metric + " is undefined on these rows (a single class?)");
  } else {
    if (e.has_bound && (e.higher_is_better ? e.challenger < e.bound : e.challenger > e.bound)) {
      e.reasons.push_back(e.metric + " " + Format(e.challenger) + " is " + (e.higher_is_better ? "below" : "above") +
                          " the gate's " + (e.higher_is_better ? "floor " : "ceiling ") + Format(e.bound));
    }
    if (e.champion_version > 0 && std::isfinite(e.champion)) {
      const double drop = e.higher_is_better ? e.champion - e.challenger : e.challenger - e.champion;
      if (drop > e.max_drop) {
        e.reasons.push_back(e.metric + " " + Format(e.challenger) + " is " + Format(drop) + " worse than champion " +
                            "version " + std::to_string(e.champion_version) + "'s " + Format(e.champion) +
                            " (at most " + Format(e.max_drop) + " allowed)");
      }
    }
  }
  e.blessed = e.reasons.empty();

  ModelEvent event;
  event.time_ms = SystemClock()();
  event.model = options.model;
  event.version = e.challenger_version;
  event.kind = "evaluation";
  event.actor = options.actor;
  event.reason = e.blessed ? "blessed" : e.reasons.front();
  event.detail = e.ToJson();
  auto added = store.AddModelEvent(event);
  if (!added.ok()) return added.status();
  return e;
}

Result<ModelEvent> LatestEvaluation(Store& store, const std::string& model, int64_t version) {
  ModelEventQuery query;
  query.model = model;
  query.kind = "evaluation";
  query.limit = 10000;
  auto events = store.ModelEvents(query);
  if (!events.ok()) return events.status();
  for (const ModelEvent& e : *events) {
    if (e.version == version) return e;
  }
  return Status::NotFound("model '" + model + "' version " + std::to_string(version) + " has not been evaluated");
}

}  // namespace vigil
