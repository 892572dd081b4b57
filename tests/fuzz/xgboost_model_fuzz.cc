// Fuzzes the XGBoost model reader, ParseXGBoostModel
// (src/backends/trees/xgboost_model_reader.cc, nlohmann-json, then the
// forest builder of src/backends/trees/forest.cc and perfect_layout.cc).
//
// The first byte chooses the format: even for JSON, odd for UBJ (Universal
// Binary JSON); the rest is the model file. A refusal (a Status error) is a
// correct answer. A crash, a sanitizer report, an uncaught exception, a
// timeout or a broken invariant below is a finding. A model that is read
// must also predict: a row of NaN (the server's warm-up request after
// loading) and a row of zeros go through it.
#include <cmath>
#include <cstdint>
#include <string_view>
#include <vector>

#include "backends/trees/xgboost_model_reader.h"
#include "fuzz_check.h"

using vigil::fuzz::Check;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const bool ubj = (data[0] & 1) != 0;
  const std::string_view bytes(reinterpret_cast<const char*>(data + 1), size - 1);
  auto model = vigil::ParseXGBoostModel(bytes, ubj);
  vigil::fuzz::Report(model.status());
  if (!model.ok()) return 0;
  const vigil::Forest& forest = model->forest;
  Check(forest.num_groups() >= 1, "a forest has at least one group");
  Check(forest.num_features() >= 0, "a forest has a non-negative number of features");
  // A row has num_features floats: keep the row small here (a model may
  // declare up to INT_MAX features, which the server then expects per row).
  if (forest.num_features() > (1 << 16) || forest.num_groups() > (1 << 12)) return 0;
  // One row at a time, as the warm-up request and most requests come: the
  // batch path with several rows is UB in forest.cc for now (docs/fuzzing.md).
  const size_t f = static_cast<size_t>(forest.num_features());
  std::vector<float> margins(static_cast<size_t>(forest.num_groups()));
  for (float value : {std::nanf(""), 0.0f}) {
    const std::vector<float> row(f, value);
    forest.PredictRowMargins(row.data(), margins.data());
    forest.PredictMargins(row.data(), 1, margins.data());
    forest.Transform(margins.data(), 1);
  }
  return 0;
}
