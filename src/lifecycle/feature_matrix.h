// The rows of a CSV file as a model sees them: its features in model.yaml
// order, numeric values as they are, categorical ones as category codes,
// NaN for missing values and unknown categories.
//
// Thread-safety: pure functions.
#ifndef VIGIL_LIFECYCLE_FEATURE_MATRIX_H_
#define VIGIL_LIFECYCLE_FEATURE_MATRIX_H_

#include <vector>

#include "common/status.h"
#include "dataset/tabular_dataset.h"
#include "repository/model_config.h"

namespace vigil {

// Row-major rows x features. INVALID_ARGUMENT names a feature with no column
// (`what` names the file's role in the message, e.g. "--holdout").
Result<std::vector<float>> FeatureMatrix(const TabularDataset& data, const ModelConfig& config,
                                         const std::string& what);

}  // namespace vigil

#endif  // VIGIL_LIFECYCLE_FEATURE_MATRIX_H_
