#include "repository/model_repository.h"

#include <gtest/gtest.h>

#include <fstream>

namespace vigil {
namespace {
namespace fs = std::filesystem;

class ModelRepositoryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() / ("vigil-repo-test-" + std::to_string(::getpid()));
    fs::remove_all(root_);
    fs::create_directories(root_);
  }
  void TearDown() override { fs::remove_all(root_); }
  void Touch(const fs::path& p, const std::string& content = "x") {
    fs::create_directories(p.parent_path());
    std::ofstream(p) << content;
  }
  fs::path root_;
};

TEST_F(ModelRepositoryTest, ListsModelsAndIntegerVersionsOnly) {
  Touch(root_ / "credit/model.yaml", "backend: xgboost\n");
  Touch(root_ / "credit/1/model.json");
  Touch(root_ / "credit/10/model.json");
  Touch(root_ / "credit/2/model.json");
  Touch(root_ / "credit/.staging-3/model.json");  // Being copied: ignored.
  Touch(root_ / "credit/latest/model.json");      // Not a version.
  Touch(root_ / "credit/007/model.json");         // Leading zero: not a version.
  Touch(root_ / "fraud/1/model.json");
  Touch(root_ / ".hidden/1/model.json");
  Touch(root_ / "README.md");

  auto models = ModelRepository(root_).Scan();
  ASSERT_TRUE(models.ok());
  ASSERT_EQ(models->size(), 2u);
  const ModelDirectory& credit = (*models)[0];
  EXPECT_EQ(credit.name, "credit");
  EXPECT_EQ(credit.config_text, "backend: xgboost\n");
  ASSERT_EQ(credit.versions.size(), 3u);
  EXPECT_EQ(credit.versions[0].version, 1);
  EXPECT_EQ(credit.versions[1].version, 2);
  EXPECT_EQ(credit.versions[2].version, 10);
  EXPECT_EQ((*models)[1].name, "fraud");
  EXPECT_EQ((*models)[1].config_text, "");
}

TEST_F(ModelRepositoryTest, FingerprintChangesWhenAFileChanges) {
  Touch(root_ / "m/1/model.json", "one");
  ModelRepository repo(root_);
  auto before = repo.ScanModel("m");
  ASSERT_TRUE(before.ok());
  Touch(root_ / "m/1/model.json", "longer content");
  auto after = repo.ScanModel("m");
  ASSERT_TRUE(after.ok());
  EXPECT_NE(before->versions[0].fingerprint, after->versions[0].fingerprint);
  auto again = repo.ScanModel("m");
  EXPECT_EQ(after->versions[0].fingerprint, again->versions[0].fingerprint);
}

TEST_F(ModelRepositoryTest, MissingRootAndModelAreNotFound) {
  EXPECT_EQ(ModelRepository(root_ / "nope").Scan().status().code(), StatusCode::kNotFound);
  EXPECT_EQ(ModelRepository(root_).ScanModel("nope").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(ModelRepository(root_).ScanModel("../etc").status().code(), StatusCode::kNotFound);
}

TEST(ModelRepositoryNamesTest, ValidatesNamesAndVersions) {
  EXPECT_TRUE(ModelRepository::IsValidModelName("credit-v2.1_a"));
  EXPECT_FALSE(ModelRepository::IsValidModelName(".staging"));
  EXPECT_FALSE(ModelRepository::IsValidModelName("a/b"));
  EXPECT_FALSE(ModelRepository::IsValidModelName(""));
  EXPECT_EQ(ModelRepository::ParseVersion("12"), 12);
  EXPECT_EQ(ModelRepository::ParseVersion("0"), std::nullopt);
  EXPECT_EQ(ModelRepository::ParseVersion("-1"), std::nullopt);
  EXPECT_EQ(ModelRepository::ParseVersion("1a"), std::nullopt);
  EXPECT_EQ(ModelRepository::ParseVersion("99999999999999999999"), std::nullopt);
}

}  // namespace
}  // namespace vigil
