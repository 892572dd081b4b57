#include "monitor/quality_metrics.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "monitor/classification_metrics.h"

namespace vigil {
namespace {

// A proportion k / n with the Agresti-Coull standard error (two successes
// and two failures added): unlike the plain binomial one, it is not zero when
// k is 0 or n, so two wrong answers out of two do not look certain.
Estimate Proportion(double k, double n) {
  if (n <= 0) return {std::numeric_limits<double>::quiet_NaN(), 0};
  const double adjusted = (k + 2) / (n + 4);
  return {k / n, std::sqrt(adjusted * (1 - adjusted) / (n + 4))};
}

// The mean of `values` with its standard error (sample standard deviation
// over the square root of n).
Estimate Mean(const std::vector<double>& values) {
  const double n = static_cast<double>(values.size());
  if (n == 0) return {std::numeric_limits<double>::quiet_NaN(), 0};
  double mean = 0;
  for (double v : values) mean += v;
  mean /= n;
  double ss = 0;
  for (double v : values) ss += (v - mean) * (v - mean);
  return {mean, n > 1 ? std::sqrt(ss / (n - 1) / n) : 0.0};
}

}  // namespace

BinaryQuality BinaryClassificationQuality(std::span<const float> probabilities, std::span<const float> labels,
                                          double threshold) {
  BinaryQuality q;
  const size_t n = std::min(probabilities.size(), labels.size());
  q.n = static_cast<int64_t>(n);
  std::vector<double> losses;
  losses.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    const bool positive = labels[i] > 0.5f;
    const bool predicted = probabilities[i] >= threshold;
    q.true_positives += positive && predicted;
    q.false_positives += !positive && predicted;
    q.true_negatives += !positive && !predicted;
    q.false_negatives += positive && !predicted;
    const double p = std::clamp(static_cast<double>(probabilities[i]), 1e-15, 1 - 1e-15);
    losses.push_back(-std::log(positive ? p : 1 - p));
  }
  q.accuracy = Proportion(static_cast<double>(q.true_positives + q.true_negatives), static_cast<double>(n));
  q.precision = Proportion(static_cast<double>(q.true_positives), static_cast<double>(q.true_positives + q.false_positives));
  q.recall = Proportion(static_cast<double>(q.true_positives), static_cast<double>(q.true_positives + q.false_negatives));
  const double pr = q.precision.value, re = q.recall.value;
  q.f1 = (pr + re > 0) ? 2 * pr * re / (pr + re) : 0.0;
  q.log_loss = Mean(losses);
  const double auc = RocAuc(probabilities.subspan(0, n), labels.subspan(0, n));
  const double positives = static_cast<double>(q.true_positives + q.false_negatives);
  const double negatives = static_cast<double>(q.true_negatives + q.false_positives);
  double se = 0;
  if (!std::isnan(auc) && positives > 0 && negatives > 0) {
    // Hanley and McNeil: Q1 = A / (2 - A), Q2 = 2A^2 / (1 + A).
    const double q1 = auc / (2 - auc), q2 = 2 * auc * auc / (1 + auc);
    se = std::sqrt((auc * (1 - auc) + (positives - 1) * (q1 - auc * auc) + (negatives - 1) * (q2 - auc * auc)) /
                   (positives * negatives));
  }
  q.roc_auc = {auc, se};
  return q;
}

MultiClassQuality MultiClassClassificationQuality(std::span<const float> probabilities, size_t classes,
                                                  std::span<const int> labels) {
  MultiClassQuality q;
  if (classes == 0) return q;
  const size_t n = std::min(probabilities.size() / classes, labels.size());
  q.confusion.assign(classes, std::vector<int64_t>(classes, 0));
  std::vector<double> losses;
  int64_t right = 0;
  for (size_t i = 0; i < n; ++i) {
    const int actual = labels[i];
    if (actual < 0 || static_cast<size_t>(actual) >= classes) continue;
    const float* p = probabilities.data() + i * classes;
    const size_t predicted = static_cast<size_t>(std::max_element(p, p + classes) - p);
    ++q.confusion[static_cast<size_t>(actual)][predicted];
    right += predicted == static_cast<size_t>(actual) ? 1 : 0;
    losses.push_back(-std::log(std::clamp(static_cast<double>(p[actual]), 1e-15, 1.0)));
    ++q.n;
  }
  q.accuracy = Proportion(static_cast<double>(right), static_cast<double>(q.n));
  q.log_loss = Mean(losses);
  double precision_sum = 0, recall_sum = 0, f1_sum = 0;
  int precision_classes = 0, recall_classes = 0, f1_classes = 0;
  for (size_t k = 0; k < classes; ++k) {
    int64_t predicted = 0, actual = 0;
    for (size_t j = 0; j < classes; ++j) {
      predicted += q.confusion[j][k];
      actual += q.confusion[k][j];
    }
    const double tp = static_cast<double>(q.confusion[k][k]);
    const double precision = predicted > 0 ? tp / static_cast<double>(predicted) : 0.0;
    const double recall = actual > 0 ? tp / static_cast<double>(actual) : 0.0;
    if (predicted > 0) {
      precision_sum += precision;
      ++precision_classes;
    }
    if (actual > 0) {
      recall_sum += recall;
      ++recall_classes;
    }
    if (predicted > 0 || actual > 0) {
      f1_sum += precision + recall > 0 ? 2 * precision * recall / (precision + recall) : 0.0;
      ++f1_classes;
    }
  }
  q.macro_precision = precision_classes ? precision_sum / precision_classes : 0.0;
  q.macro_recall = recall_classes ? recall_sum / recall_classes : 0.0;
  q.macro_f1 = f1_classes ? f1_sum / f1_classes : 0.0;
  return q;
}

RegressionQuality RegressionQualityOf(std::span<const float> predictions, std::span<const float> actuals) {
  RegressionQuality q;
  const size_t n = std::min(predictions.size(), actuals.size());
  q.n = static_cast<int64_t>(n);
  std::vector<double> absolute, squared, percent;
  for (size_t i = 0; i < n; ++i) {
    const double e = static_cast<double>(predictions[i]) - actuals[i];
    absolute.push_back(std::abs(e));
    squared.push_back(e * e);
    if (actuals[i] != 0) percent.push_back(100.0 * std::abs(e / actuals[i]));
  }
  q.mae = Mean(absolute);
  const Estimate mse = Mean(squared);
  const double rmse = std::sqrt(mse.value);
  q.rmse = {rmse, rmse > 0 ? mse.standard_error / (2 * rmse) : 0.0};
  q.mape = Mean(percent);
  return q;
}

}  // namespace vigil
