// TabularDataset: a CSV file read into typed columns.
//
// Training (lifecycle/xgboost_trainer.h) and, later, reference profiles read
// labelled data through it. The first row names the columns. A column is
// numeric when every present value parses as a number, categorical
// otherwise. Empty fields and NA (R's export of a missing value) are missing.
// Parsing is done by libcsv (RFC 4180 quoting).
//
// Thread-safety: a value type.
#ifndef VIGIL_DATASET_TABULAR_DATASET_H_
#define VIGIL_DATASET_TABULAR_DATASET_H_

#include <filesystem>
#include <string>
#include <vector>

#include "common/status.h"

namespace vigil {

struct Column {
  std::string name;
  bool numeric = true;
  std::vector<double> numbers;       // Numeric columns; NaN when missing.
  std::vector<std::string> strings;  // Categorical columns; "" when missing.
  std::vector<std::string> categories;  // Categorical: distinct present values, sorted.

  // Categorical: the code of row i (index in `categories`), or -1 if missing.
  int CodeAt(size_t row) const;
};

class TabularDataset {
 public:
  // INVALID_ARGUMENT for a file that is not rectangular CSV with a header;
  // NOT_FOUND if it cannot be opened.
  static Result<TabularDataset> ReadCsv(const std::filesystem::path& path);

  size_t rows() const { return rows_; }
  const std::vector<Column>& columns() const { return columns_; }
  // Index of the column named `name`, or -1.
  int ColumnIndex(const std::string& name) const;

 private:
  size_t rows_ = 0;
  std::vector<Column> columns_;
};

}  // namespace vigil

#endif  // VIGIL_DATASET_TABULAR_DATASET_H_
