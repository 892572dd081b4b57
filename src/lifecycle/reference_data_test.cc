// Reference profiles of real model versions on the credit data.
#include "lifecycle/reference_data.h"

#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <sstream>

#include "dataset/tabular_dataset.h"
#include "lifecycle/feature_matrix.h"
#include "monitor/drift.h"
#include "testing/test_repository.h"

namespace vigil {
namespace {

namespace fs = std::filesystem;

// The credit CSV with Income (its tenth column) doubled: a shift a drift
// check must see.
fs::path WriteShiftedCredit(const fs::path& dir) {
  std::ifstream in(testing::CreditCsv());
  std::ofstream out(dir / "shifted.csv");
  std::string line;
  std::getline(in, line);
  out << line << "\n";
  while (std::getline(in, line)) {
    std::vector<std::string> fields;
    std::stringstream ss(line);
    std::string field;
    while (std::getline(ss, field, ',')) fields.push_back(field);
    if (fields[9] != "NA" && !fields[9].empty()) fields[9] = std::to_string(2 * std::stod(fields[9]));
    for (size_t i = 0; i < fields.size(); ++i) out << (i ? "," : "") << fields[i];
    out << "\n";
  }
  return dir / "shifted.csv";
}

// Counts column `j` of a CSV into the reference's bins, as a production
// window does.
std::vector<double> WindowCounts(const ColumnProfile& ref, const fs::path& csv, const ModelConfig& config, size_t j) {
  auto data = TabularDataset::ReadCsv(csv);
  EXPECT_TRUE(data.ok());
  auto rows = FeatureMatrix(*data, config, "csv");
  EXPECT_TRUE(rows.ok());
  std::vector<double> counts(ref.counts.size(), 0.0);
  const size_t f = config.features.size();
  for (size_t r = 0; r < data->rows(); ++r) {
    const float v = (*rows)[r * f + j];
    if (std::isnan(v)) continue;
    counts[ref.categorical ? static_cast<size_t>(v) : ref.Bin(v)] += 1;
  }
  return counts;
}

TEST(ReferenceDataTest, TrainingWritesAProfileAndProfilingAnyDataComparesWithIt) {
  testing::TempDir repo;
  testing::TrainCreditModel(repo.path(), "credit", 1);
  // `vigil train` profiled its training rows.
  auto trained = ReadReferenceProfile(repo.path() / "credit/1/profile.json");
  ASSERT_TRUE(trained.ok()) << trained.status().ToString();
  ASSERT_EQ(trained->features.size(), 13u);
  EXPECT_GT(trained->rows, 2500);
  EXPECT_EQ(trained->features[1].name, "Home");
  EXPECT_TRUE(trained->features[1].categorical);

  // The whole data set, profiled with the model's own scores.
  auto whole = ProfileVersion({repo.path(), "credit", 0, testing::CreditCsv(), 10});
  ASSERT_TRUE(whole.ok()) << whole.status().ToString();
  EXPECT_EQ(whole->path, repo.path() / "credit/1/profile.json");
  EXPECT_EQ(whole->profile.rows, 4454);
  const ColumnProfile& income = whole->profile.features[8];
  ASSERT_EQ(income.name, "Income");
  EXPECT_GT(income.missing, 0);                      // The data set has NA incomes.
  EXPECT_GE(whole->profile.prediction.min, 0.0);     // Probabilities.
  EXPECT_LE(whole->profile.prediction.max, 1.0);

  // The whole data set against the training profile: no feature drifts.
  auto config = LoadModelConfig(repo.path() / "credit/model.yaml", "credit");
  ASSERT_TRUE(config.ok());
  for (size_t j = 0; j < 13; ++j) {
    const ColumnProfile& ref = trained->features[j];
    EXPECT_LT(PopulationStabilityIndex(ref.counts, WindowCounts(ref, testing::CreditCsv(), *config, j)), 0.1)
        << ref.name;
  }

  // Doubled incomes drift past the alarm, and only Income does.
  testing::TempDir dir;
  const fs::path shifted = WriteShiftedCredit(dir.path());
  ASSERT_EQ(trained->features[8].name, "Income");
  const std::vector<double> income_window = WindowCounts(trained->features[8], shifted, *config, 8);
  EXPECT_GT(PopulationStabilityIndex(trained->features[8].counts, income_window), 0.25);
  EXPECT_LT(KolmogorovSmirnov(trained->features[8].counts, income_window).p_value, 0.05);
  EXPECT_LT(PopulationStabilityIndex(trained->features[7].counts, WindowCounts(trained->features[7], shifted, *config, 7)),
            0.1);

  EXPECT_EQ(ProfileVersion({repo.path(), "credit", 7, testing::CreditCsv(), 10}).status().code(),
            StatusCode::kNotFound);
}

}  // namespace
}  // namespace vigil
