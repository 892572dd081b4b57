// Classification quality metrics computed from scores and labels.
//
// Thread-safety: pure functions.
#ifndef VIGIL_MONITOR_CLASSIFICATION_METRICS_H_
#define VIGIL_MONITOR_CLASSIFICATION_METRICS_H_

#include <span>

namespace vigil {

// Area under the ROC curve: the probability that a random positive scores
// above a random negative, ties counting one half (Mann-Whitney U with
// midranks). `labels` are 0 or 1. NaN when either class is absent.
double RocAuc(std::span<const float> scores, std::span<const float> labels);

}  // namespace vigil

#endif  // VIGIL_MONITOR_CLASSIFICATION_METRICS_H_
