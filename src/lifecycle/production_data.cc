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
  // Read an hour at a time (a thousandth of the range for long ones): each
  // call holds the store's durable connection, which feedback and alert
  // writes also use, only as long as one chunk's rows take to decode.
  const int64_t kChunkMs = std::max<int64_t>(3'600'000, (options.to_ms - options.from_ms) / 1000 + 1);
  std::vector<LabeledPrediction> labeled;
  for (int64_t from = options.from_ms; from < options.to_ms && static_cast<int64_t>(labeled.size()) < options.max_rows;
       from += kChunkMs) {
    auto chunk = store.LabeledPredictions(config.name, from, std::min(options.to_ms, from + kChunkMs),
                                          options.max_rows - static_cast<int64_t>(labeled.size()));
    if (!chunk.ok()) return chunk.status();
    labeled.insert(labeled.end(), std::make_move_iterator(chunk->begin()), std::make_move_iterator(chunk->end()));
  }

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
  for (const LabeledPrediction& l : labeled) {
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
    const Column& labels = original->columns()[target];
    for (size_t r : order) {
      // The label as production rows write it: a class name (from a name or
      // 0/1 for a binary classifier), or a number for a regressor.
      std::string label;
      if (labels.numeric) {
        std::string number;
        AppendNumber(number, labels.numbers[r]);
        label = config.classes.empty() ? number : LabelText(config, number);
      } else if (!config.classes.empty()) {
        std::string quoted;
        AppendJsonString(quoted, labels.strings[r]);
        label = LabelText(config, quoted);
      }
      if (label.empty()) {
        ++report.skipped_labels;
        continue;
      }
      AppendField(out, label, !config.classes.empty());
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

Result<int64_t> SplitCsvRows(const std::filesystem::path& csv, double holdout_fraction, uint64_t seed,
                             const std::filesystem::path& train, const std::filesystem::path& holdout) {
  std::ifstream in(csv, std::ios::binary);
  if (!in) return Status::NotFound("cannot open " + csv.string());
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  // Records end at a line break outside quotes.
  std::vector<std::string_view> records;
  bool quoted = false;
  size_t start = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '"') quoted = !quoted;
    if (text[i] == '\n' && !quoted) {
      if (i > start) records.emplace_back(text.data() + start, i - start);
      start = i + 1;
    }
  }
  if (start < text.size()) records.emplace_back(text.data() + start, text.size() - start);
  if (records.size() < 3) return Status::InvalidArgument(csv.string() + ": too few rows to hold some out");
  const size_t rows = records.size() - 1;
  const size_t held = std::clamp<size_t>(static_cast<size_t>(std::llround(static_cast<double>(rows) * holdout_fraction)),
                                         1, rows - 1);
  std::vector<size_t> order(rows);
  std::iota(order.begin(), order.end(), 1);
  std::mt19937_64 rng(seed);
  for (size_t i = order.size(); i > 1; --i) std::swap(order[i - 1], order[rng() % i]);  // Fisher-Yates.
  std::vector<bool> in_holdout(records.size(), false);
  for (size_t k = 0; k < held; ++k) in_holdout[order[k]] = true;
  std::string a(records[0]), b(records[0]);
  a += '\n';
  b += '\n';
  for (size_t r = 1; r < records.size(); ++r) {
    std::string& out = in_holdout[r] ? b : a;
    out += records[r];
    out += '\n';
  }
  for (const auto& [path, bytes] : {std::pair{train, &a}, std::pair{holdout, &b}}) {
    std::ofstream file(path, std::ios::binary | std::ios::trunc);
    file.write(bytes->data(), static_cast<std::streamsize>(bytes->size()));
    file.close();
    if (!file) return Status::Internal("writing " + path.string() + " failed");
  }
  return static_cast<int64_t>(held);
}

}  // namespace vigil
