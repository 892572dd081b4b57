#include "lifecycle/feature_matrix.h"

#include <cmath>
#include <limits>

namespace vigil {

Result<std::vector<float>> FeatureMatrix(const TabularDataset& data, const ModelConfig& config,
                                         const std::string& what) {
  std::vector<const Column*> columns;
  for (const FeatureSpec& f : config.features) {
    const int c = data.ColumnIndex(f.name);
    if (c < 0) return Status::InvalidArgument(what + ": no column for feature '" + f.name + "'");
    columns.push_back(&data.columns()[c]);
  }
  std::vector<float> rows;
  rows.reserve(data.rows() * columns.size());
  for (size_t r = 0; r < data.rows(); ++r) {
    for (size_t j = 0; j < columns.size(); ++j) {
      const Column& col = *columns[j];
      if (col.numeric) {
        rows.push_back(static_cast<float>(col.numbers[r]));
      } else {
        const int code = config.features[j].CategoryCode(col.strings[r]);
        rows.push_back(code < 0 ? std::numeric_limits<float>::quiet_NaN() : static_cast<float>(code));
      }
    }
  }
  return rows;
}

}  // namespace vigil
