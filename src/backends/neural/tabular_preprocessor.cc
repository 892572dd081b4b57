#include "backends/neural/tabular_preprocessor.h"

#include <cmath>

namespace vigil {

TabularPreprocessor::TabularPreprocessor(const ModelConfig& config, const std::vector<PreprocessStep>& steps) {
  columns_.resize(config.features.size());
  for (size_t j = 0; j < config.features.size(); ++j) columns_[j].feature = config.features[j].name;
  for (const PreprocessStep& step : steps) {
    Column& c = columns_[step.feature_index];
    if (step.fill) {
      c.fill = true;
      c.fill_value = static_cast<float>(*step.fill);
    }
    if (step.scale) {
      c.offset = static_cast<float>(step.scale->offset);
      c.divisor = static_cast<float>(step.scale->divisor);
    }
    if (step.one_hot) {
      const FeatureSpec& f = config.features[step.feature_index];
      c.one_hot_of_code.assign(f.categories.size(), -1);
      for (size_t k = 0; k < step.one_hot->size(); ++k) {
        c.one_hot_of_code[f.CategoryCode((*step.one_hot)[k])] = static_cast<int>(k);
      }
      c.width = static_cast<int>(step.one_hot->size());
    }
  }
  for (const Column& c : columns_) width_ += c.width;
}

Status TabularPreprocessor::Apply(const Tensor& raw, const std::string& name, Tensor* out) const {
  const int64_t rows = raw.shape()[0], features = static_cast<int64_t>(columns_.size());
  *out = Tensor(name, DataType::kFp32, {rows, width_});
  const float* in = raw.values<float>().data();
  float* o = out->values<float>().data();
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t j = 0; j < features; ++j) {
      const Column& c = columns_[j];
      const float v = in[r * features + j];
      if (!c.one_hot_of_code.empty()) {
        for (int k = 0; k < c.width; ++k) o[k] = 0;
        // A missing or unlisted category sets no column.
        if (!std::isnan(v)) {
          const int at = c.one_hot_of_code[static_cast<size_t>(v)];
          if (at >= 0) o[at] = 1;
        }
        o += c.width;
        continue;
      }
      float x = v;
      if (std::isnan(x)) {
        if (!c.fill) {
          return Status::InvalidArgument("row " + std::to_string(r) + ": feature '" + c.feature +
                                         "' is missing and the model has no fill value for it");
        }
        x = c.fill_value;
      }
      *o++ = (x - c.offset) / c.divisor;
    }
  }
  return Status::Ok();
}

}  // namespace vigil
