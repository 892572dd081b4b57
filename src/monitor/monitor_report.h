// `vigil monitor`: a drift and quality report for a model, read from the
// store and the versions' reference profiles, with no server running.
//
// The logged requests of the period are replayed, per version, through the
// same windows and statistics as the server's drift monitor
// (drift_monitor.h), and the predictions with feedback give model quality
// (quality_metrics.h). Given several stores (one per replica), it reports
// on all their requests together, in arrival order.
//
// Thread-safety: a pure function of its inputs, the store and the files.
#ifndef VIGIL_MONITOR_MONITOR_REPORT_H_
#define VIGIL_MONITOR_MONITOR_REPORT_H_

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "monitor/quality_metrics.h"
#include "repository/model_config.h"
#include "store/store.h"

namespace vigil {

struct MonitorReportOptions {
  std::filesystem::path repository;
  std::string model_name;
  int64_t from_ms = 0, to_ms = 0;  // Logged in [from_ms, to_ms).
  int64_t window_rows = 1000;
};

// The report as text for a terminal: per version, a line per window and the
// last window's statistics per feature, then quality from feedback.
Result<std::string> MonitorReport(const std::vector<Store*>& stores, const MonitorReportOptions& options);

// Model quality per version from a model's labelled predictions: the score
// monitoring counted when it was logged against the label, for binary classifiers
// (positive: classes[1], at label_threshold) and regressors; the logged
// class probabilities against the label for multi-class models (which need
// their probability output requested). Empty without usable labels.
// Versions ascending.
struct VersionQuality {
  int64_t version = 0;
  bool binary = false;
  bool multiclass = false;
  BinaryQuality classification;   // When binary.
  MultiClassQuality multi;        // When multiclass (K >= 3 classes).
  RegressionQuality regression;   // Otherwise.
};
std::vector<VersionQuality> QualityByVersion(const ModelConfig& config, const std::vector<LabeledPrediction>& labeled);

// The estimate of a quality metric (accuracy, precision, recall, f1,
// roc_auc, log_loss, mae, rmse, mape), with its standard error where it has
// one (else 0); nullopt when the version's kind has no such metric or it is
// undefined (AUC with one class).
std::optional<Estimate> QualityEstimate(const VersionQuality& q, const std::string& metric);
// Labelled rows behind `q`.
int64_t QualitySamples(const VersionQuality& q);

}  // namespace vigil

#endif  // VIGIL_MONITOR_MONITOR_REPORT_H_
