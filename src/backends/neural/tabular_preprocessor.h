// TabularPreprocessor: turns the raw feature matrix the serving layer
// assembles (FP32 [N, F]: NaN for missing, categories as codes) into what a
// network trained on prepared features takes (FP32 [N, D]), by the steps of
// repository/engine_config.h. The monitor and the prediction log see the raw
// matrix; only the engine sees this one.
//
// Thread-safety: immutable after construction; Apply() is thread-safe.
#ifndef VIGIL_BACKENDS_NEURAL_TABULAR_PREPROCESSOR_H_
#define VIGIL_BACKENDS_NEURAL_TABULAR_PREPROCESSOR_H_

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"
#include "common/tensor.h"
#include "repository/model_config.h"

namespace vigil {

class TabularPreprocessor {
 public:
  // `steps` were parsed against config.features (ParsePreprocessing).
  TabularPreprocessor(const ModelConfig& config, const std::vector<PreprocessStep>& steps);

  // Columns of the prepared matrix (D).
  int64_t width() const { return width_; }
  // `raw` is FP32 [N, F]; `out` becomes FP32 [N, D] named `name`.
  // INVALID_ARGUMENT naming the row and feature for a missing value with no
  // fill step.
  Status Apply(const Tensor& raw, const std::string& name, Tensor* out) const;

 private:
  struct Column {
    std::string feature;
    bool fill = false;
    float fill_value = 0;
    float offset = 0, divisor = 1;
    // One-hot: the output column of each category code (-1: not listed),
    // and how many columns it takes.
    std::vector<int> one_hot_of_code;
    int width = 1;
  };
  std::vector<Column> columns_;  // Per feature, in order.
  int64_t width_ = 0;
};

}  // namespace vigil

#endif  // VIGIL_BACKENDS_NEURAL_TABULAR_PREPROCESSOR_H_
