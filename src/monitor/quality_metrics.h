// Model quality from predictions and the ground truth that came back for
// them, each estimate with its standard error, so that a window of a few
// labelled rows does not raise a false alarm: an alert compares the band
// (value +- 3 standard errors) with its threshold, not the value alone.
//
// Thread-safety: pure functions.
#ifndef VIGIL_MONITOR_QUALITY_METRICS_H_
#define VIGIL_MONITOR_QUALITY_METRICS_H_

#include <cstdint>
#include <span>
#include <vector>

namespace vigil {

struct Estimate {
  double value = 0;
  double standard_error = 0;
  double lower() const { return value - 3 * standard_error; }
  double upper() const { return value + 3 * standard_error; }
};

struct BinaryQuality {
  int64_t n = 0;
  int64_t true_positives = 0, false_positives = 0, true_negatives = 0, false_negatives = 0;
  Estimate accuracy, precision, recall;  // Agresti-Coull standard errors.
  double f1 = 0;
  Estimate roc_auc;   // Standard error by Hanley and McNeil (1982); NaN value if a class is absent.
  Estimate log_loss;  // Mean of -ln p(actual), probabilities clipped to [1e-15, 1 - 1e-15].
};

// `probabilities` of the positive class, `labels` 1 (positive) or 0; a row is
// predicted positive at or above `threshold`.
BinaryQuality BinaryClassificationQuality(std::span<const float> probabilities, std::span<const float> labels,
                                          double threshold);

// K >= 3 classes. The predicted class is the most probable one (the
// label output's choice). Precision, recall and F1 are macro averages: the
// unweighted mean over the classes where each is defined (precision over
// classes predicted at least once, recall over classes present).
struct MultiClassQuality {
  int64_t n = 0;
  std::vector<std::vector<int64_t>> confusion;  // [actual][predicted], K x K.
  Estimate accuracy;  // Agresti-Coull standard error.
  double macro_precision = 0, macro_recall = 0, macro_f1 = 0;
  Estimate log_loss;  // Mean of -ln p(actual class), clipped to [1e-15, 1].
};

// `probabilities`: n rows of `classes` values; `labels`: the actual class
// index of each row.
MultiClassQuality MultiClassClassificationQuality(std::span<const float> probabilities, size_t classes,
                                                  std::span<const int> labels);

struct RegressionQuality {
  int64_t n = 0;
  Estimate mae, rmse;  // RMSE's standard error by the delta method.
  Estimate mape;       // In percent, over the rows whose actual value is not 0.
};

RegressionQuality RegressionQualityOf(std::span<const float> predictions, std::span<const float> actuals);

}  // namespace vigil

#endif  // VIGIL_MONITOR_QUALITY_METRICS_H_
