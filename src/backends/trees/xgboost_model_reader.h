// Reads an XGBoost model file (JSON or UBJ) into a Forest.
//
// Vigil reads the model itself, with nlohmann-json (which also parses
// Universal Binary JSON), rather than through the XGBoost C API: no Booster is
// created, and what the engine cannot reproduce is refused with a message
// naming it, so that the server can fall back to the XGBoost backend.
// Supported: XGBoost 1.x gbtree models with the objectives of forest.h,
// numeric and categorical splits, default directions, several classes and
// parallel trees. Refused: other boosters (gblinear, dart), other objectives,
// vector leaves. The forest comes with its prediction layout built.
//
// Thread-safety: a pure function.
#ifndef VIGIL_BACKENDS_TREES_XGBOOST_MODEL_READER_H_
#define VIGIL_BACKENDS_TREES_XGBOOST_MODEL_READER_H_

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "backends/trees/forest.h"
#include "common/status.h"

namespace vigil {

struct XGBoostModel {
  Forest forest;
  std::optional<int> best_iteration;  // From the model's attributes, if training set it.
  // Why the forest predicts from its general layout rather than from perfect
  // trees (Forest::BuildLayout); empty when it has the perfect layout.
  std::string general_layout_reason;
};

// Parses a model from memory; `ubj` selects Universal Binary JSON over JSON.
// INVALID_ARGUMENT names what is malformed or unsupported.
Result<XGBoostModel> ParseXGBoostModel(std::string_view bytes, bool ubj);
// Reads `path`; UBJ when the name ends in ".ubj", JSON otherwise.
Result<XGBoostModel> ReadXGBoostModel(const std::filesystem::path& path);

// Writes the XGBoost model in `source` (JSON or UBJ) to `destination` as
// JSON keeping only the trees listed in `keep` (ascending indices), for
// pruning. The result loads in XGBoost and in the native engine; attributes
// that described the full model (best_iteration, best_score) are dropped.
Status WriteXGBoostModelSubset(const std::filesystem::path& source, const std::vector<int>& keep,
                               const std::filesystem::path& destination);

}  // namespace vigil

#endif  // VIGIL_BACKENDS_TREES_XGBOOST_MODEL_READER_H_
