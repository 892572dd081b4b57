// ReferenceProfile: what a model version's training (or reference) data
// looked like, the baseline that production windows are compared with.
//
// Per numeric feature: bin edges at reference quantiles, the count in each
// bin and the mean of the values in it (for the Wasserstein distance), min,
// max, mean, variance and missing count. Per categorical feature: the count
// of each category and of missing values. The same for the model's output
// (its score). A production window counts into the same bins (Bin / the
// category index), so windows are count vectors that add up, and every
// drift statistic (drift.h) is a function of two of them.
//
// Stored beside the version as profile.json.
//
// Thread-safety: immutable values; functions are pure.
#ifndef VIGIL_MONITOR_REFERENCE_PROFILE_H_
#define VIGIL_MONITOR_REFERENCE_PROFILE_H_

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <span>
#include <string>
#include <vector>

#include "common/status.h"
#include "repository/model_config.h"

namespace vigil {

struct ColumnProfile {
  std::string name;
  bool categorical = false;
  int64_t count = 0;    // Values, missing included.
  int64_t missing = 0;  // NaN / null.
  // Numeric: bin b is (edges[b - 1], edges[b]], the first from -inf and the
  // last to +inf, so there are edges.size() + 1 bins.
  std::vector<double> edges;
  std::vector<double> centers;  // Numeric: mean of the reference values in each bin.
  double min = 0, max = 0, mean = 0, variance = 0;
  // Categorical: one bin per category of model.yaml, in its order.
  std::vector<std::string> categories;
  std::vector<double> counts;  // Per bin, missing values excluded.

  // The bin of a present numeric value: the number of edges below it.
  size_t Bin(double value) const {
    return static_cast<size_t>(std::lower_bound(edges.begin(), edges.end(), value) - edges.begin());
  }

  // For the drift windows, which bin every cell of every logged request:
  // `edges` rounded down to floats and padded with +inf to a multiple of 4.
  // For a float v, e < v exactly when e rounded down to a float is < v (a
  // float above the largest float <= e is above e), so BinOfFloat(v) ==
  // Bin(v) for every FP32 value, with four edges compared at a time.
  std::vector<float> float_edges;
  void PrepareFloatEdges();
  bool float_edges_ready() const { return float_edges.size() >= edges.size(); }
  size_t BinOfFloat(float value) const {
    typedef float Floats4 __attribute__((vector_size(16)));
    typedef int32_t Ints4 __attribute__((vector_size(16)));
    const Floats4 v = {value, value, value, value};
    Ints4 below = {0, 0, 0, 0};
    for (size_t i = 0; i < float_edges.size(); i += 4) {
      Floats4 e;
      std::memcpy(&e, float_edges.data() + i, sizeof e);
      below += e < v;  // -1 in each lane where the edge is below.
    }
    return static_cast<size_t>(-(below[0] + below[1] + below[2] + below[3]));
  }
};

struct ReferenceProfile {
  int64_t rows = 0;
  std::vector<ColumnProfile> features;  // In model.yaml order.
  ColumnProfile prediction;             // The model's score (probability, or prediction).

  std::string ToJson() const;
  static Result<ReferenceProfile> FromJson(const std::string& text);
};

// Builds the profile of `rows` rows in model order (`data`: rows x features,
// NaN for missing; categorical values are category codes) and the model's
// scores, with at most `bins` quantile bins per numeric column.
ReferenceProfile BuildReferenceProfile(const ModelConfig& config, std::span<const float> data, int64_t rows,
                                       std::span<const float> scores, int bins = 10);

Status WriteReferenceProfile(const ReferenceProfile& profile, const std::filesystem::path& path);
Result<ReferenceProfile> ReadReferenceProfile(const std::filesystem::path& path);

}  // namespace vigil

#endif  // VIGIL_MONITOR_REFERENCE_PROFILE_H_
