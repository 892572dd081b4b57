// Training data from production: the logged requests of a model joined with
// the feedback labels that arrived for them, over a time range, optionally
// mixed with the original training data, written as a CSV file that the
// trainer (or an external trainer) reads like any other.
//
// Columns: the label column (named `target`), then the model's features in
// model.yaml order with raw values: numbers as they were sent, categories by
// name, empty for missing. Rows are labelled rows of logged requests (a batch
// request gives one row per labelled row), oldest first; rows of the
// original data are drawn without replacement with a seeded shuffle, so the
// same inputs give the same file.
//
// Thread-safety: a pure function of its inputs and the store.
#ifndef VIGIL_LIFECYCLE_PRODUCTION_DATA_H_
#define VIGIL_LIFECYCLE_PRODUCTION_DATA_H_

#include <cstdint>
#include <filesystem>
#include <string>

#include "common/status.h"
#include "repository/model_config.h"
#include "store/store.h"

namespace vigil {

struct ProductionDataOptions {
  int64_t from_ms = 0, to_ms = 0;  // Request time range [from, to).
  int64_t max_rows = 1'000'000;    // Labelled production rows at most (the newest are dropped beyond).
  std::string target = "Status";   // The label column's name.
  // Original training data to mix in, and the share of the written rows to
  // take from it, in [0, 1): 0.5 writes as many original rows as production
  // rows (fewer if the original has fewer).
  std::filesystem::path original;
  double original_share = 0;
  uint64_t seed = 42;
};

struct ProductionDataReport {
  int64_t production_rows = 0;
  int64_t original_rows = 0;
  int64_t skipped_labels = 0;  // Feedback whose label is not a class of the model.
};

// FAILED_PRECONDITION when no labelled production row is in the range.
Result<ProductionDataReport> WriteProductionData(Store& store, const ModelConfig& config,
                                                 const ProductionDataOptions& options,
                                                 const std::filesystem::path& csv);

// Splits the data rows of `csv` (RFC 4180 records, so quoted line breaks
// stay inside their row) into `train` and `holdout`, each with the header:
// a seeded shuffle puts round(rows * holdout_fraction) rows, at least one,
// in `holdout`, both in file order. Returns the holdout's row count.
Result<int64_t> SplitCsvRows(const std::filesystem::path& csv, double holdout_fraction, uint64_t seed,
                             const std::filesystem::path& train, const std::filesystem::path& holdout);

}  // namespace vigil

#endif  // VIGIL_LIFECYCLE_PRODUCTION_DATA_H_
