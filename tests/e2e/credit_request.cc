#include "e2e/credit_request.h"

#include <cmath>
#include <nlohmann/json.hpp>

namespace vigil::testing {

using nlohmann::json;

std::string CreditRequest(const TabularDataset& ds, const ModelConfig& config, const std::vector<size_t>& rows,
                          const std::string& id, double age_shift) {
  json inputs = json::array();
  for (const FeatureSpec& f : config.features) {
    const Column& col = ds.columns()[ds.ColumnIndex(f.name)];
    json data = json::array();
    for (size_t r : rows) {
      if (col.numeric) {
        const double v = col.numbers[r] + (f.name == "Age" ? age_shift : 0.0);
        data.push_back(std::isnan(v) ? json(nullptr) : json(v));
      } else {
        data.push_back(col.strings[r].empty() ? json(nullptr) : json(col.strings[r]));
      }
    }
    inputs.push_back({{"name", f.name}, {"datatype", col.numeric ? "FP64" : "BYTES"}, {"shape", {rows.size()}},
                      {"data", data}});
  }
  return json({{"id", id}, {"inputs", inputs}}).dump();
}

std::vector<size_t> RowRange(size_t begin, size_t end) {
  std::vector<size_t> rows;
  for (size_t r = begin; r < end; ++r) rows.push_back(r);
  return rows;
}

}  // namespace vigil::testing
