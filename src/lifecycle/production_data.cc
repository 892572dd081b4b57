#include "lifecycle/production_data.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <numeric>
#include <random>
#include <vector>

#include "common/json_text.h"
#include "dataset/tabular_dataset.h"
#include "monitor/prediction_log.h"

namespace vigil {
namespace {

// A CSV field: quoted when it holds a quote, comma or line break (RFC 4180).
void AppendField(std::string& line, std::string_view value, bool quote) {
  if (!quote && value.find_first_of(",\"\r\n") == std::string_view::npos) {
    line += value;
    return;
  }
  line += '"';
  for (char c : value) {
    if (c == '"') line += '"';
    line += c;
  }
  line += '"';
}

void AppendNumber(std::string& line, double v) {
  if (std::isfinite(v)) AppendJsonNumber(line, v);  // Empty when missing.
}

// The label's CSV text: a class name for classifiers (from a name or an
// index), a number otherwise; empty if it is neither.
std::string LabelText(const ModelConfig& config, const std::string& json_label) {
  const auto label = nlohmann::json::parse(json_label, nullptr, false);
  if (!config.classes.empty()) {
    if (label.is_string()) {
      const std::string name = label.get<std::string>();
      return std::find(config.classes.begin(), config.classes.end(), name) != config.classes.end() ? name : "";
    }
    if (label.is_number_integer()) {
      const int64_t index = label.get<int64_t>();
      return index >= 0 && index < static_cast<int64_t>(config.classes.size()) ? config.classes[index] : "";
    }
    return "";
  }
  if (!label.is_number()) return "";
  std::string text;
  AppendJsonNumber(text, label.get<double>());
  return text;
}

}  // namespace

Result<ProductionDataReport> WriteProductionData(Store& store, const ModelConfig& config,
                                                 const ProductionDataOptions& options,
                                                 const std::filesystem::path& csv) {
  if (!config.is_tabular()) return Status::FailedPrecondition("training from production needs a tabular model");
  if (options.original_share < 0 || options.original_share >= 1) {
    return Status::InvalidArgument("original_share: expected a share in [0, 1), got " +
                                   std::to_string(options.original_share));
  }
  auto labeled = store.LabeledPredictions(config.name, options.from_ms, options.to_ms, options.max_rows);
  if (!labeled.ok()) return labeled.status();

  ProductionDataReport report;
  std::string out;
  AppendField(out, options.target, false);
  for (const FeatureSpec& f : config.features) {
    out += ',';
    AppendField(out, f.name, false);
  }
  out += '\n';
  // Rows of one request share its decoded features.
  const StoredPrediction* decoded_for = nullptr;
  Tensor features;
  std::vector<float> scores;
  const size_t nf = config.features.size();
  for (const LabeledPrediction& l : *labeled) {
    const std::string label = LabelText(config, l.label);
    if (label.empty()) {
      ++report.skipped_labels;
      continue;
    }
    if (decoded_for != l.prediction.get()) {
      PredictionLog::FromStored(config, *l.prediction, &features, &scores);
      decoded_for = l.prediction.get();
    }
    if (l.row < 0 || l.row >= l.prediction->rows) continue;
    const float* x = features.values<float>().data() + l.row * static_cast<int64_t>(nf);
    AppendField(out, label, !config.classes.empty());
    for (size_t j = 0; j < nf; ++j) {
      out += ',';
      const FeatureSpec& f = config.features[j];
      if (f.kind == FeatureKind::kCategorical) {
        const float code = x[j];
        if (!std::isnan(code) && code >= 0 && code < static_cast<float>(f.categories.size())) {
          AppendField(out, f.categories[static_cast<size_t>(code)], true);
        }
      } else {
        AppendNumber(out, x[j]);
      }
    }
    out += '\n';
    ++report.production_rows;
  }
  if (report.production_rows == 0) {
    return Status::FailedPrecondition("model '" + config.name + "' has no labelled predictions in the range" +
                                      (report.skipped_labels ? " (" + std::to_string(report.skipped_labels) +
                                                                   " labels are not its classes)"
                                                             : std::string()));
  }

  if (!options.original.empty() && options.original_share > 0) {
    auto original = TabularDataset::ReadCsv(options.original);
    if (!original.ok()) return original.status().WithContext("original training data");
    const int target = original->ColumnIndex(options.target);
    if (target < 0) {
      return Status::InvalidArgument("original training data: no column '" + options.target + "'");
    }
    std::vector<int> columns;
    for (const FeatureSpec& f : config.features) {
      const int c = original->ColumnIndex(f.name);
      if (c < 0) return Status::InvalidArgument("original training data: no column for feature '" + f.name + "'");
      columns.push_back(c);
    }
    const int64_t wanted = std::llround(static_cast<double>(report.production_rows) * options.original_share /
                                        (1 - options.original_share));
    std::vector<size_t> order(original->rows());
    std::iota(order.begin(), order.end(), 0);
    std::mt19937_64 rng(options.seed);
    for (size_t i = order.size(); i > 1; --i) std::swap(order[i - 1], order[rng() % i]);  // Fisher-Yates.
    order.resize(std::min<size_t>(order.size(), static_cast<size_t>(std::max<int64_t>(wanted, 0))));
    std::sort(order.begin(), order.end());  // In file order.
    auto cell = [&](int c, size_t r, bool quote_strings) {
      const Column& col = original->columns()[c];
      if (col.numeric) {
        AppendNumber(out, col.numbers[r]);
      } else if (!col.strings[r].empty()) {
        AppendField(out, col.strings[r], quote_strings);
      }
    };
    for (size_t r : order) {
      cell(target, r, true);
      for (int c : columns) {
        out += ',';
        cell(c, r, true);
      }
      out += '\n';
      ++report.original_rows;
    }
  }

  std::ofstream file(csv, std::ios::binary | std::ios::trunc);
  file.write(out.data(), static_cast<std::streamsize>(out.size()));
  file.close();
  if (!file) return Status::Internal("writing " + csv.string() + " failed");
  return report;
}

}  // namespace vigil
