#include "dataset/tabular_dataset.h"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>

namespace vigil {
namespace {
namespace fs = std::filesystem;

fs::path WriteCsv(const std::string& content) {
  fs::path p = fs::temp_directory_path() / ("vigil-csv-" + std::to_string(::getpid()) + ".csv");
  std::ofstream(p) << content;
  return p;
}

TEST(TabularDatasetTest, InfersTypesAndMissingValues) {
  fs::path p = WriteCsv("\"Status\",\"Age\",\"Home\"\n\"good\",30,\"rent\"\n\"bad\",NA,\"owner\"\n"
                        "\"good\",41.5,NA\n\"good\",,\"rent, with comma\"\n");
  auto ds = TabularDataset::ReadCsv(p);
  fs::remove(p);
  ASSERT_TRUE(ds.ok()) << ds.status().ToString();
  ASSERT_EQ(ds->rows(), 4u);
  const Column& age = ds->columns()[1];
  EXPECT_TRUE(age.numeric);
  EXPECT_EQ(age.numbers[0], 30);
  EXPECT_TRUE(std::isnan(age.numbers[1]));
  EXPECT_EQ(age.numbers[2], 41.5);
  EXPECT_TRUE(std::isnan(age.numbers[3]));
  const Column& home = ds->columns()[2];
  EXPECT_FALSE(home.numeric);
  EXPECT_EQ(home.categories, (std::vector<std::string>{"owner", "rent", "rent, with comma"}));
  EXPECT_EQ(home.CodeAt(0), 1);
  EXPECT_EQ(home.CodeAt(2), -1);
  EXPECT_EQ(ds->ColumnIndex("Home"), 2);
  EXPECT_EQ(ds->ColumnIndex("Nope"), -1);
}

TEST(TabularDatasetTest, RefusesRaggedRows) {
  fs::path p = WriteCsv("a,b\n1,2\n3\n");
  auto ds = TabularDataset::ReadCsv(p);
  fs::remove(p);
  ASSERT_FALSE(ds.ok());
  EXPECT_NE(ds.status().message().find("row 3 has 1 fields"), std::string::npos)
      << ds.status().message();
}

TEST(TabularDatasetTest, ReadsTheCreditData) {
  auto ds = TabularDataset::ReadCsv(VIGIL_CREDIT_CSV);
  ASSERT_TRUE(ds.ok());
  EXPECT_EQ(ds->rows(), 4454u);
  EXPECT_EQ(ds->columns().size(), 14u);
  EXPECT_EQ(ds->columns()[0].categories, (std::vector<std::string>{"bad", "good"}));
}

}  // namespace
}  // namespace vigil
