#include "manager/model_manager.h"

#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "testing/test_repository.h"

namespace vigil {
namespace {

using testing::CopyVersion;
using testing::TempDir;
using testing::TrainCreditModel;
using testing::WriteFile;

class ModelManagerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    trained_ = new TempDir();
    TrainCreditModel(trained_->path(), "credit", 1);
  }
  static void TearDownTestSuite() { delete trained_; }

  void SetUp() override {
    std::filesystem::copy(trained_->path(), repo_.path(), std::filesystem::copy_options::recursive);
  }

  std::unique_ptr<ModelManager> MakeManager(ModelControlMode mode = ModelControlMode::kNone) {
    ModelManager::Options options;
    options.repository = repo_.path();
    options.mode = mode;
    options.drain_check_ms = 5;
    return std::make_unique<ModelManager>(options, backends_, metrics_);
  }

  // Waits (bounded) for the unload counter of `model` to reach `n`.
  bool WaitForUnloads(int n) {
    for (int i = 0; i < 400; ++i) {
      if (registry_.Render().find("vigil_model_unloads_total{model=\"credit\"} " + std::to_string(n)) !=
          std::string::npos) {
        return true;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return false;
  }

  static TempDir* trained_;
  TempDir repo_;
  MetricsRegistry registry_;
  ServingMetrics metrics_{registry_};
  BackendRegistry backends_ = BackendRegistry::WithBuiltins();
};
TempDir* ModelManagerTest::trained_ = nullptr;

TEST_F(ModelManagerTest, StartLoadsTheLatestVersion) {
  CopyVersion(repo_.path(), "credit", 1, 2);
  auto manager = MakeManager();
  ASSERT_TRUE(manager->Start().ok());
  EXPECT_TRUE(manager->Ready());
  const ServingModel& m = manager->table()->models.at("credit");
  ASSERT_EQ(m.ready.size(), 1u);
  EXPECT_EQ(m.Default()->version(), 2);
  EXPECT_EQ(m.Default()->state(), VersionState::kReady);
}

TEST_F(ModelManagerTest, NewVersionIsPublishedBeforeTheOldOneDrains) {
  auto manager = MakeManager();
  ASSERT_TRUE(manager->Start().ok());
  std::shared_ptr<const Servable> held = manager->table()->models.at("credit").Default();
  ASSERT_EQ(held->version(), 1);

  CopyVersion(repo_.path(), "credit", 1, 2);
  manager->PollOnce();
  EXPECT_EQ(manager->table()->models.at("credit").Default()->version(), 2);
  // The request holding version 1 still has a working model.
  EXPECT_EQ(held->state(), VersionState::kDraining);
  std::vector<Tensor> inputs;
  inputs.emplace_back("input", DataType::kFp32, std::vector<int64_t>{1, 13});
  std::vector<const OutputSpec*> outs = {&held->config().outputs[0]};
  std::vector<Tensor> results;
  EXPECT_TRUE(held->backend().Infer(inputs, outs, &results).ok());
  EXPECT_FALSE(WaitForUnloads(1)) << "unloaded while a request held it";
  held.reset();
  EXPECT_TRUE(WaitForUnloads(1));
}

TEST_F(ModelManagerTest, CorruptNewVersionLeavesThePreviousServing) {
  auto manager = MakeManager();
  ASSERT_TRUE(manager->Start().ok());
  WriteFile(repo_.path() / "credit/2/model.json", "{\"learner\": this is not a model");
  manager->PollOnce();
  const ServingModel& m = manager->table()->models.at("credit");
  EXPECT_EQ(m.Default()->version(), 1);
  ASSERT_EQ(m.versions.size(), 2u);
  EXPECT_EQ(m.versions[1].version, 2);
  EXPECT_EQ(m.versions[1].state, VersionState::kFailed);
  EXPECT_NE(m.versions[1].reason.find("cannot load XGBoost model"), std::string::npos)
      << m.versions[1].reason;
  EXPECT_NE(registry_.Render().find(
                "vigil_model_loads_total{model=\"credit\",result=\"failure\",reason=\"invalid_artifact\"} 1"),
            std::string::npos);
  // Not retried while the files stay the same...
  manager->PollOnce();
  EXPECT_NE(registry_.Render().find("reason=\"invalid_artifact\"} 1"), std::string::npos);
  // ...and loaded once they are fixed.
  std::filesystem::copy_file(repo_.path() / "credit/1/model.json", repo_.path() / "credit/2/model.json",
                             std::filesystem::copy_options::overwrite_existing);
  manager->PollOnce();
  EXPECT_EQ(manager->table()->models.at("credit").Default()->version(), 2);
}

TEST_F(ModelManagerTest, ConfigMismatchIsRefused) {
  WriteFile(repo_.path() / "other/model.yaml", "backend: xgboost\nfeatures: [{name: a}, {name: b}]\n");
  std::filesystem::copy(repo_.path() / "credit/1", repo_.path() / "other/1");
  auto manager = MakeManager();
  ASSERT_TRUE(manager->Start().ok());
  const ServingModel& m = manager->table()->models.at("other");
  EXPECT_TRUE(m.ready.empty());
  ASSERT_EQ(m.versions.size(), 1u);
  EXPECT_NE(m.versions[0].reason.find("model.yaml lists 2 features but model.json was trained on 13"),
            std::string::npos)
      << m.versions[0].reason;
  EXPECT_FALSE(manager->Ready());
}

TEST_F(ModelManagerTest, RemovedVersionDrainsAndTheOlderServes) {
  CopyVersion(repo_.path(), "credit", 1, 2);
  auto manager = MakeManager();
  ASSERT_TRUE(manager->Start().ok());
  std::filesystem::remove_all(repo_.path() / "credit/2");
  manager->PollOnce();
  EXPECT_EQ(manager->table()->models.at("credit").Default()->version(), 1);
  EXPECT_TRUE(WaitForUnloads(1));
}

TEST_F(ModelManagerTest, ExplicitUnloadAndLoad) {
  auto manager = MakeManager(ModelControlMode::kExplicit);
  ASSERT_TRUE(manager->Start().ok());
  ASSERT_TRUE(manager->UnloadModel("credit").ok());
  EXPECT_EQ(manager->table()->models.count("credit"), 0u);
  EXPECT_EQ(manager->UnloadModel("credit").code(), StatusCode::kNotFound);
  ASSERT_TRUE(manager->LoadModel("credit").ok());
  EXPECT_EQ(manager->table()->models.at("credit").Default()->version(), 1);
  EXPECT_EQ(manager->LoadModel("nope").code(), StatusCode::kNotFound);
}

TEST_F(ModelManagerTest, ChangedConfigurationReloadsAndABrokenOneIsRefused) {
  auto manager = MakeManager();
  ASSERT_TRUE(manager->Start().ok());
  auto first = manager->table()->models.at("credit").Default();
  const std::filesystem::path yaml = repo_.path() / "credit/model.yaml";
  std::string text = testing::ReadFile(yaml);
  text.replace(text.find("label_threshold: 0.5"), 20, "label_threshold: 0.3");
  WriteFile(yaml, text);
  manager->PollOnce();
  auto second = manager->table()->models.at("credit").Default();
  EXPECT_NE(second, first) << "a new configuration loads the version again";
  EXPECT_EQ(second->config().label_threshold, 0.3);
  EXPECT_EQ(first->state(), VersionState::kDraining);

  WriteFile(yaml, "backend: xgboost\nfeatures: [{name: a, type: text}]\n");
  manager->PollOnce();
  const ServingModel& m = manager->table()->models.at("credit");
  EXPECT_EQ(m.Default(), second) << "a refused configuration leaves the version serving";
  EXPECT_NE(m.config_error.find("features[0].type"), std::string::npos) << m.config_error;
  EXPECT_NE(registry_.Render().find("vigil_model_loads_total{model=\"credit\",result=\"failure\",reason=\"config\"} 1"),
            std::string::npos);
}

TEST_F(ModelManagerTest, RemovedModelDirectoryUnloadsTheModel) {
  auto manager = MakeManager();
  ASSERT_TRUE(manager->Start().ok());
  std::filesystem::remove_all(repo_.path() / "credit");
  manager->PollOnce();
  EXPECT_EQ(manager->table()->models.count("credit"), 0u);
  EXPECT_TRUE(WaitForUnloads(1));
}

TEST(VersionStateTest, OnlyTheDrawnTransitionsAreLegal) {
  using S = VersionState;
  EXPECT_TRUE(IsLegalTransition(S::kLoading, S::kWarming));
  EXPECT_TRUE(IsLegalTransition(S::kWarming, S::kReady));
  EXPECT_TRUE(IsLegalTransition(S::kReady, S::kDraining));
  EXPECT_TRUE(IsLegalTransition(S::kDraining, S::kUnloaded));
  EXPECT_TRUE(IsLegalTransition(S::kWarming, S::kFailed));
  EXPECT_FALSE(IsLegalTransition(S::kLoading, S::kReady));
  EXPECT_FALSE(IsLegalTransition(S::kReady, S::kLoading));
  EXPECT_FALSE(IsLegalTransition(S::kUnloaded, S::kReady));
  EXPECT_FALSE(IsLegalTransition(S::kFailed, S::kLoading));
}

}  // namespace
}  // namespace vigil
