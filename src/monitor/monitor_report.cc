#include "monitor/monitor_report.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <nlohmann/json.hpp>

#include "monitor/drift_monitor.h"
#include "monitor/prediction_log.h"
#include "monitor/quality_metrics.h"
#include "monitor/reference_profile.h"
#include "repository/model_config.h"

namespace vigil {
namespace {

std::string Format(const char* format, auto... args) {
  char buf[512];
  std::snprintf(buf, sizeof(buf), format, args...);
  return buf;
}

std::string Band(const Estimate& e) {
  return Format("%.3f [%.3f, %.3f]", e.value, std::max(0.0, e.lower()), e.upper());
}

// Multi-class models: each labelled row's logged class probabilities (the
// probability output, [K] per row) and the label's class index.
std::vector<VersionQuality> MultiClassQualityByVersion(const ModelConfig& config,
                                                       const std::vector<LabeledPrediction>& labeled) {
  const size_t k = config.classes.size();
  std::string output;
  for (const OutputSpec& o : config.outputs) {
    if (o.kind == OutputKind::kProbability && output.empty()) output = o.name;
  }
  std::map<int64_t, std::pair<std::vector<float>, std::vector<int>>> by_version;  // Probabilities, labels.
  for (const LabeledPrediction& l : labeled) {
    const nlohmann::json label = nlohmann::json::parse(l.label, nullptr, false);
    if (!label.is_string()) continue;
    const auto cls = std::find(config.classes.begin(), config.classes.end(), label.get<std::string>());
    if (cls == config.classes.end()) continue;
    const StoredPrediction& p = *l.prediction;
    const auto t = std::find_if(p.outputs.begin(), p.outputs.end(), [&](const Tensor& t) { return t.name() == output; });
    if (t == p.outputs.end() || t->type() != DataType::kFp32 || t->shape().size() != 2 ||
        t->shape()[0] != p.rows || t->shape()[1] != static_cast<int64_t>(k) || l.row < 0 || l.row >= p.rows) {
      continue;
    }
    auto& [probabilities, labels] = by_version[p.version];
    const float* row = t->values<float>().data() + l.row * static_cast<int64_t>(k);
    probabilities.insert(probabilities.end(), row, row + k);
    labels.push_back(static_cast<int>(cls - config.classes.begin()));
  }
  std::vector<VersionQuality> out;
  for (const auto& [version, data] : by_version) {
    VersionQuality q;
    q.version = version;
    q.multiclass = true;
    q.multi = MultiClassClassificationQuality(data.first, k, data.second);
    out.push_back(q);
  }
  return out;
}

}  // namespace

std::vector<VersionQuality> QualityByVersion(const ModelConfig& config, const std::vector<LabeledPrediction>& labeled) {
  const bool binary = config.classes.size() == 2;
  if (config.classes.size() >= 3) return MultiClassQualityByVersion(config, labeled);
  if (!binary && !config.classes.empty()) return {};
  std::map<int64_t, std::pair<std::vector<float>, std::vector<float>>> by_version;  // Scores, labels.
  for (const LabeledPrediction& l : labeled) {
    const std::vector<float>& scores = l.prediction->scores;
    if (l.row < 0 || l.row >= static_cast<int64_t>(scores.size()) || std::isnan(scores[l.row])) continue;
    const nlohmann::json label = nlohmann::json::parse(l.label, nullptr, false);
    float y;
    if (binary && label.is_string()) {
      y = label.get<std::string>() == config.classes[1] ? 1.0f : 0.0f;
    } else if (!binary && label.is_number()) {
      y = label.get<float>();
    } else {
      continue;
    }
    by_version[l.prediction->version].first.push_back(scores[l.row]);
    by_version[l.prediction->version].second.push_back(y);
  }
  std::vector<VersionQuality> out;
  for (const auto& [version, data] : by_version) {
    VersionQuality q;
    q.version = version;
    q.binary = binary;
    if (binary) {
      q.classification = BinaryClassificationQuality(data.first, data.second, config.label_threshold);
    } else {
      q.regression = RegressionQualityOf(data.first, data.second);
    }
    out.push_back(q);
  }
  return out;
}

Result<std::string> MonitorReport(const std::vector<Store*>& stores, const MonitorReportOptions& options) {
  auto config = LoadModelConfig(options.repository / options.model_name / "model.yaml", options.model_name);
  if (!config.ok()) return config.status();
  // Every replica's requests, in arrival order (each store's are already).
  std::vector<StoredPrediction> all;
  std::vector<LabeledPrediction> labeled;
  for (Store* store : stores) {
    auto more = store->Predictions(options.model_name, options.from_ms, options.to_ms, 10'000'000);
    if (!more.ok()) return more.status();
    all.insert(all.end(), std::make_move_iterator(more->begin()), std::make_move_iterator(more->end()));
    auto labels = store->LabeledPredictions(options.model_name, options.from_ms, options.to_ms, 10'000'000);
    if (!labels.ok()) return labels.status();
    labeled.insert(labeled.end(), labels->begin(), labels->end());
  }
  if (stores.size() > 1) {
    std::stable_sort(all.begin(), all.end(),
                     [](const StoredPrediction& a, const StoredPrediction& b) { return a.time_ms < b.time_ms; });
  }
  const std::vector<StoredPrediction>* logged = &all;
  std::string out;
  if (logged->empty()) return "no logged predictions of '" + options.model_name + "' in the period\n";

  // Per version: its windows, replayed in logging order.
  struct VersionWindows {
    std::shared_ptr<ReferenceProfile> profile;
    std::string missing_profile;
    DriftMonitor::Counts open;
    std::vector<WindowReport> closed;
    int64_t rows = 0;
  };
  std::map<int64_t, VersionWindows> versions;
  Tensor features;
  std::vector<float> scores;
  for (const StoredPrediction& p : *logged) {
    auto [it, added] = versions.try_emplace(p.version);
    VersionWindows& v = it->second;
    if (added) {
      auto profile = ReadReferenceProfile(options.repository / options.model_name / std::to_string(p.version) /
                                          "profile.json");
      if (profile.ok() && profile->features.size() != config->features.size()) {
        v.missing_profile = "its profile has " + std::to_string(profile->features.size()) +
                            " features, model.yaml " + std::to_string(config->features.size());
      } else if (profile.ok()) {
        v.profile = std::make_shared<ReferenceProfile>(std::move(*profile));
        v.open = DriftMonitor::EmptyCounts(*v.profile);
      } else {
        v.missing_profile = profile.status().message();
      }
    }
    v.rows += p.rows;
    if (!v.profile) continue;
    PredictionLog::FromStored(*config, p, &features, &scores);
    const size_t f = config->features.size();
    for (int64_t r = 0; r < p.rows; ++r) {
      DriftMonitor::Count(*v.profile, features.values<float>().data() + r * f, 1, f, &scores[r], &v.open);
      if (v.open.rows >= options.window_rows) {
        v.closed.push_back(DriftMonitor::Report(*v.profile, v.open, config->monitoring.drift));
        v.open = DriftMonitor::EmptyCounts(*v.profile);
      }
    }
  }

  for (auto& [version, v] : versions) {
    out += Format("%s version %lld: %lld logged rows\n", options.model_name.c_str(), static_cast<long long>(version),
                  static_cast<long long>(v.rows));
    if (!v.profile) {
      out += "  no drift report: " + v.missing_profile + " (build one with `vigil profile`)\n\n";
      continue;
    }
    if (v.open.rows > 0) v.closed.push_back(DriftMonitor::Report(*v.profile, v.open, config->monitoring.drift));
    for (size_t i = 0; i < v.closed.size(); ++i) {
      const WindowReport& w = v.closed[i];
      std::string drifted;
      for (const FeatureDrift& d : w.features) {
        if (d.drifted) drifted += (drifted.empty() ? "" : ", ") + d.name;
      }
      out += Format("  window %zu: %5lld rows, drift share %4.0f%%%s%s\n", i + 1, static_cast<long long>(w.rows),
                    100 * w.drift_share, drifted.empty() ? "" : ", drifted: ", drifted.c_str());
    }
    const WindowReport& last = v.closed.back();
    out += Format("  last window, by feature:\n  %-14s %-14s %9s %9s %8s %8s %8s\n", "feature", "test", "score",
                  "p-value", "drifted", "PSI", "missing");
    auto line = [&](const FeatureDrift& d) {
      out += Format("  %-14s %-14s %9.4f %9.4f %8s %8.4f %7.1f%%\n", d.name.c_str(), d.test.empty() ? "-" : d.test.c_str(),
                    d.score, d.p_value, d.drifted ? "YES" : "no", d.psi, 100 * d.missing_rate);
    };
    for (const FeatureDrift& d : last.features) line(d);
    line(last.prediction);
    out += "\n";
  }

  // Quality from feedback, for binary classifiers and regressors.
  const std::vector<VersionQuality> quality = QualityByVersion(*config, labeled);
  if (quality.empty()) out += "model quality: no feedback in the period\n";
  for (const VersionQuality& v : quality) {
    if (v.binary) {
      const BinaryQuality& q = v.classification;
      out += Format("model quality, version %lld (%lld labelled rows; value [value - 3 SE, value + 3 SE]):\n",
                    static_cast<long long>(v.version), static_cast<long long>(q.n));
      out += "  accuracy  " + Band(q.accuracy) + "\n  precision " + Band(q.precision) + "\n  recall    " +
             Band(q.recall) + Format("\n  F1        %.3f\n", q.f1) + "  ROC AUC   " + Band(q.roc_auc) +
             "\n  log loss  " + Band(q.log_loss) +
             Format("\n  confusion: TP %lld  FP %lld  TN %lld  FN %lld\n", static_cast<long long>(q.true_positives),
                    static_cast<long long>(q.false_positives), static_cast<long long>(q.true_negatives),
                    static_cast<long long>(q.false_negatives));
    } else if (v.multiclass) {
      const MultiClassQuality& q = v.multi;
      out += Format("model quality, version %lld (%lld labelled rows; value [value - 3 SE, value + 3 SE]):\n",
                    static_cast<long long>(v.version), static_cast<long long>(q.n));
      out += "  accuracy  " + Band(q.accuracy) +
             Format("\n  precision %.3f (macro)\n  recall    %.3f (macro)\n  F1        %.3f (macro)\n", q.macro_precision,
                    q.macro_recall, q.macro_f1) +
             "  log loss  " + Band(q.log_loss) + "\n  confusion (rows actual, columns predicted):\n";
      for (size_t a = 0; a < q.confusion.size(); ++a) {
        out += "    " + Format("%-12s", config->classes[a].c_str());
        for (int64_t c : q.confusion[a]) out += Format(" %7lld", static_cast<long long>(c));
        out += "\n";
      }
    } else {
      const RegressionQuality& q = v.regression;
      out += Format("model quality, version %lld (%lld labelled rows):\n", static_cast<long long>(v.version),
                    static_cast<long long>(q.n));
      out += "  MAE  " + Band(q.mae) + "\n  RMSE " + Band(q.rmse) + "\n  MAPE " + Band(q.mape) + " %\n";
    }
  }
  return out;
}

// The estimate of a quality metric, and whether it has a standard error.
std::optional<Estimate> QualityEstimate(const VersionQuality& q, const std::string& metric) {
  if (q.multiclass) {
    const MultiClassQuality& m = q.multi;
    if (metric == "accuracy") return m.accuracy;
    if (metric == "precision") return Estimate{m.macro_precision, 0};
    if (metric == "recall") return Estimate{m.macro_recall, 0};
    if (metric == "f1") return Estimate{m.macro_f1, 0};
    if (metric == "log_loss") return m.log_loss;
    return std::nullopt;
  }
  if (q.binary) {
    const BinaryQuality& b = q.classification;
    if (metric == "accuracy") return b.accuracy;
    if (metric == "precision") return b.precision;
    if (metric == "recall") return b.recall;
    if (metric == "f1") return Estimate{b.f1, 0};
    if (metric == "roc_auc") return std::isnan(b.roc_auc.value) ? std::nullopt : std::optional(b.roc_auc);
    if (metric == "log_loss") return b.log_loss;
    return std::nullopt;
  }
  const RegressionQuality& r = q.regression;
  if (metric == "mae") return r.mae;
  if (metric == "rmse") return r.rmse;
  if (metric == "mape") return r.mape;
  return std::nullopt;
}

int64_t QualitySamples(const VersionQuality& q) {
  return q.multiclass ? q.multi.n : q.binary ? q.classification.n : q.regression.n;
}

}  // namespace vigil
