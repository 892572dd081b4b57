#include "dataset/tabular_dataset.h"

#include <csv.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <fstream>
#include <limits>
#include <set>

namespace vigil {
namespace {

struct ParseState {
  std::vector<std::vector<std::string>> rows;
  std::vector<std::string> current;
};

void OnField(void* data, size_t len, void* state) {
  static_cast<ParseState*>(state)->current.emplace_back(static_cast<const char*>(data), len);
}

void OnRow(int, void* state) {
  auto* s = static_cast<ParseState*>(state);
  s->rows.push_back(std::move(s->current));
  s->current.clear();
}

bool IsMissing(const std::string& v) { return v.empty() || v == "NA"; }

bool ParseNumber(const std::string& v, double* out) {
  auto [ptr, ec] = std::from_chars(v.data(), v.data() + v.size(), *out);
  return ec == std::errc() && ptr == v.data() + v.size() && std::isfinite(*out);
}

}  // namespace

int Column::CodeAt(size_t row) const {
  const std::string& v = strings[row];
  if (v.empty()) return -1;
  auto it = std::lower_bound(categories.begin(), categories.end(), v);
  return it != categories.end() && *it == v ? static_cast<int>(it - categories.begin()) : -1;
}

Result<TabularDataset> TabularDataset::ReadCsv(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::NotFound("cannot open " + path.string());
  csv_parser parser;
  if (csv_init(&parser, CSV_STRICT | CSV_STRICT_FINI) != 0) {
    return Status::Internal("csv_init failed");
  }
  ParseState state;
  char buffer[1 << 16];
  while (in) {
    in.read(buffer, sizeof(buffer));
    size_t n = static_cast<size_t>(in.gcount());
    if (csv_parse(&parser, buffer, n, OnField, OnRow, &state) != n) {
      std::string error = csv_strerror(csv_error(&parser));
      csv_free(&parser);
      return Status::InvalidArgument(path.string() + ": " + error + " near row " +
                                     std::to_string(state.rows.size() + 1));
    }
  }
  csv_fini(&parser, OnField, OnRow, &state);
  csv_free(&parser);
  if (state.rows.size() < 2) {
    return Status::InvalidArgument(path.string() + ": expected a header row and data rows");
  }
  TabularDataset ds;
  const auto& header = state.rows[0];
  ds.rows_ = state.rows.size() - 1;
  for (const std::string& name : header) {
    Column col;
    col.name = name;
    ds.columns_.push_back(std::move(col));
  }
  for (size_t r = 1; r < state.rows.size(); ++r) {
    if (state.rows[r].size() != header.size()) {
      return Status::InvalidArgument(path.string() + ": row " + std::to_string(r + 1) + " has " +
                                     std::to_string(state.rows[r].size()) + " fields, the header " +
                                     std::to_string(header.size()));
    }
  }
  for (size_t c = 0; c < header.size(); ++c) {
    Column& col = ds.columns_[c];
    double v = 0;
    for (size_t r = 1; r < state.rows.size() && col.numeric; ++r) {
      const std::string& s = state.rows[r][c];
      if (!IsMissing(s) && !ParseNumber(s, &v)) col.numeric = false;
    }
    std::set<std::string> distinct;
    for (size_t r = 1; r < state.rows.size(); ++r) {
      const std::string& s = state.rows[r][c];
      if (col.numeric) {
        col.numbers.push_back(IsMissing(s) || !ParseNumber(s, &v) ? std::numeric_limits<double>::quiet_NaN() : v);
      } else {
        col.strings.push_back(IsMissing(s) ? "" : s);
        if (!IsMissing(s)) distinct.insert(s);
      }
    }
    col.categories.assign(distinct.begin(), distinct.end());
  }
  return ds;
}

int TabularDataset::ColumnIndex(const std::string& name) const {
  for (size_t i = 0; i < columns_.size(); ++i) {
    if (columns_[i].name == name) return static_cast<int>(i);
  }
  return -1;
}

}  // namespace vigil
