// The registry on a real repository (the credit model, trained for real), a
// real SQLite store and the real backends; and the manager serving by it.
#include "lifecycle/registry.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "common/sha256.h"
#include "manager/model_manager.h"
#include "store/sqlite_store.h"
#include "testing/test_repository.h"

namespace vigil {
namespace {

using testing::TempDir;

class RegistryTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    trained_ = new TempDir();
    testing::TrainCreditModel(trained_->path(), "credit", 1);
    testing::TrainCreditModel(trained_->path(), "other", 1, /*seed=*/7);
  }
  static void TearDownTestSuite() { delete trained_; }

  void SetUp() override {
    std::filesystem::copy(trained_->path() / "credit", repo_.path() / "credit",
                          std::filesystem::copy_options::recursive);
    auto store = SqliteStore::Open(dir_.path() / "vigil.db");
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = std::move(*store);
    registry_ = std::make_unique<Registry>(*store_, repo_.path(), backends_, [this] { return now_ms_; });
  }

  // A second, different model artifact (another seed).
  static std::filesystem::path OtherArtifact() { return trained_->path() / "other" / "1" / "model.json"; }

  RegisterOptions Options(const std::filesystem::path& artifact) {
    RegisterOptions options;
    options.model = "credit";
    options.artifact_file = artifact;
    options.author = "ana";
    return options;
  }

  std::vector<std::string> Hidden() const {
    std::vector<std::string> names;
    for (const auto& e : std::filesystem::directory_iterator(repo_.path() / "credit")) {
      if (e.is_directory() && e.path().filename().string().starts_with(".")) {
        names.push_back(e.path().filename().string());
      }
    }
    return names;
  }

  static TempDir* trained_;
  TempDir repo_, dir_;
  std::unique_ptr<SqliteStore> store_;
  BackendRegistry backends_ = BackendRegistry::WithBuiltins();
  std::unique_ptr<Registry> registry_;
  int64_t now_ms_ = 1'000'000;
};
TempDir* RegistryTest::trained_ = nullptr;

TEST_F(RegistryTest, RegisterCopiesValidatesProfilesAndRecordsTheArtifact) {
  RegisterOptions options = Options(OtherArtifact());
  options.training_data = testing::CreditCsv();
  options.parameters = R"({"max_depth":4})";
  options.description = "seed 7";
  auto record = registry_->Register(options);
  ASSERT_TRUE(record.ok()) << record.status().ToString();
  EXPECT_EQ(record->version, 2);  // Above the version on disk.
  EXPECT_EQ(record->artifact, "model.json");
  EXPECT_EQ(record->sha256, *Sha256File(OtherArtifact()));
  EXPECT_EQ(record->sha256, *Sha256File(repo_.path() / "credit" / "2" / "model.json"));
  EXPECT_EQ(record->artifact_bytes, static_cast<int64_t>(std::filesystem::file_size(OtherArtifact())));
  EXPECT_EQ(record->origin, "registered");
  EXPECT_EQ(record->data_fingerprint, *Sha256File(testing::CreditCsv()));
  EXPECT_EQ(record->data_rows, 4454);  // examples/credit/credit_data.csv's rows.
  EXPECT_TRUE(std::filesystem::exists(repo_.path() / "credit" / "2" / "profile.json"));
  EXPECT_EQ(nlohmann::json::parse(record->profile)["features"].size(), 13u);
  EXPECT_TRUE(Hidden().empty());

  auto stored = registry_->Version("credit", 2);
  ASSERT_TRUE(stored.ok());
  EXPECT_EQ(stored->sha256, record->sha256);
  EXPECT_EQ(stored->author, "ana");
  EXPECT_EQ(stored->description, "seed 7");
  EXPECT_EQ(stored->parameters, R"({"max_depth":4})");
  EXPECT_EQ(stored->created_ms, 1'000'000);
  EXPECT_EQ(registry_->Version("credit", 3).status().code(), StatusCode::kNotFound);
}

TEST_F(RegistryTest, RefusesWhatDoesNotLoadAndLeavesNothingBehind) {
  RegisterOptions options = Options("");
  options.artifact_bytes = R"({"learner": "not really"})";
  auto refused = registry_->Register(options);
  ASSERT_EQ(refused.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(refused.status().message().find("does not load as model 'credit'"), std::string::npos)
      << refused.status().message();
  EXPECT_FALSE(std::filesystem::exists(repo_.path() / "credit" / "2"));
  EXPECT_TRUE(Hidden().empty());
  EXPECT_TRUE(registry_->Versions("credit")->empty());

  options.model = "nope";
  EXPECT_EQ(registry_->Register(options).status().code(), StatusCode::kNotFound);
  options = Options(OtherArtifact());
  options.artifact_name = "weights.bin";
  auto named = registry_->Register(options);
  EXPECT_EQ(named.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(named.status().message().find("loads its artifact from model.json"), std::string::npos)
      << named.status().message();
}

TEST_F(RegistryTest, ConcurrentRegistrationsGetDistinctVersions) {
  std::vector<Result<ModelVersionRecord>> results(4, Status::Internal("not run"));
  std::vector<std::thread> threads;
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&, i] { results[i] = registry_->Register(Options(OtherArtifact())); });
  }
  for (std::thread& t : threads) t.join();
  std::set<int64_t> versions;
  for (const auto& r : results) {
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    versions.insert(r->version);
  }
  EXPECT_EQ(versions, (std::set<int64_t>{2, 3, 4, 5}));
  EXPECT_EQ(registry_->Versions("credit")->size(), 4u);
}

TEST_F(RegistryTest, AliasesMoveWithHistoryAndRollBackInOneStep) {
  RegisterOptions adopted = Options("");
  adopted.origin = "trained";
  ASSERT_TRUE(registry_->Adopt(1, adopted).ok());
  ASSERT_TRUE(registry_->Register(Options(OtherArtifact())).ok());  // Version 2.

  EXPECT_EQ(registry_->Rollback("credit", "ana", "").status().code(), StatusCode::kFailedPrecondition);
  ASSERT_TRUE(registry_->SetAlias("credit", "champion", 1, "ana", "first release").ok());
  EXPECT_EQ(registry_->Rollback("credit", "ana", "").status().code(), StatusCode::kFailedPrecondition);
  now_ms_ += 1000;
  auto promoted = registry_->SetAlias("credit", "champion", 2, "bo", "better AUC");
  ASSERT_TRUE(promoted.ok());
  EXPECT_EQ(promoted->from, 1);
  EXPECT_EQ(promoted->to, 2);
  // Setting it where it is changes and records nothing.
  ASSERT_TRUE(registry_->SetAlias("credit", "champion", 2, "bo", "again").ok());

  now_ms_ += 1000;
  auto back = registry_->Rollback("credit", "cy", "complaints");
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->from, 2);
  EXPECT_EQ(back->to, 1);
  EXPECT_EQ(registry_->AliasesOf("credit")->at("champion"), 1);
  // A second rollback undoes the first.
  ASSERT_EQ(registry_->Rollback("credit", "cy", "")->to, 2);

  auto history = registry_->History("credit", "champion", 10);
  ASSERT_TRUE(history.ok());
  ASSERT_EQ(history->size(), 4u);
  EXPECT_EQ((*history)[1].actor, "cy");
  EXPECT_EQ((*history)[1].reason, "complaints");
  EXPECT_EQ((*history)[1].time_ms, 1'002'000);
  EXPECT_EQ(nlohmann::json::parse((*history)[1].detail), nlohmann::json::parse(R"({"alias":"champion","from":2,"to":1})"));
  EXPECT_EQ((*history)[0].reason, "rollback");

  // Names, versions and removal.
  EXPECT_EQ(registry_->SetAlias("credit", "Champion", 1, "ana", "").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(registry_->SetAlias("credit", "2", 1, "ana", "").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(registry_->SetAlias("credit", "challenger", 9, "ana", "").status().code(), StatusCode::kNotFound);
  ASSERT_TRUE(registry_->SetAlias("credit", "challenger", 1, "ana", "").ok());
  EXPECT_EQ(registry_->RemoveAlias("credit", "challenger", "ana", "done")->from, 1);
  EXPECT_EQ(registry_->RemoveAlias("credit", "challenger", "ana", "").status().code(), StatusCode::kNotFound);
  // A registered version whose directory is gone cannot take an alias.
  std::filesystem::remove_all(repo_.path() / "credit" / "1");
  EXPECT_EQ(registry_->SetAlias("credit", "challenger", 1, "ana", "").status().code(), StatusCode::kNotFound);
}

// The manager with the registry as its catalog.
class RegistryServingTest : public RegistryTest {
 protected:
  std::unique_ptr<ModelManager> MakeManager() {
    ModelManager::Options options;
    options.repository = repo_.path();
    options.mode = ModelControlMode::kNone;
    options.catalog = registry_.get();
    options.alias_poll_ms = 10;
    return std::make_unique<ModelManager>(options, backends_, metrics_);
  }
  int64_t DefaultVersion(const ModelManager& manager) {
    auto servable = manager.table()->models.at("credit").Default();
    return servable ? servable->version() : 0;
  }
  MetricsRegistry metrics_registry_;
  ServingMetrics metrics_{metrics_registry_};
};

TEST_F(RegistryServingTest, RequestsGoToTheChampionAndFollowItsMoves) {
  ASSERT_TRUE(registry_->Register(Options(OtherArtifact())).ok());  // Version 2.
  std::filesystem::copy(repo_.path() / "credit" / "2", repo_.path() / "credit" / "3");  // Copied by hand.
  auto manager = MakeManager();
  ASSERT_TRUE(manager->Start().ok());
  // No champion yet: the policy's newest. The hand-copied version was recorded.
  EXPECT_EQ(DefaultVersion(*manager), 3);
  auto discovered = registry_->Version("credit", 3);
  ASSERT_TRUE(discovered.ok()) << discovered.status().ToString();
  EXPECT_EQ(discovered->origin, "discovered");

  // Version 1 (not picked by `latest: 1`) loads because an alias points at it.
  ASSERT_TRUE(registry_->Version("credit", 1).status().code() == StatusCode::kNotFound);
  RegisterOptions adopted = Options("");
  ASSERT_TRUE(registry_->Adopt(1, adopted).ok());
  ASSERT_TRUE(registry_->SetAlias("credit", "champion", 1, "ana", "").ok());
  ASSERT_TRUE(manager->ApplyRoutes().ok());
  EXPECT_EQ(DefaultVersion(*manager), 1);
  EXPECT_EQ(manager->table()->models.at("credit").ready.size(), 2u);  // 1 (champion) and 3 (policy).

  // A move by another process (the CLI) arrives through the poll.
  {
    auto other = SqliteStore::Open(dir_.path() / "vigil.db");
    ASSERT_TRUE(other.ok());
    Registry cli(**other, repo_.path(), backends_);
    ASSERT_TRUE(cli.SetAlias("credit", "champion", 2, "bo", "").ok());
  }
  for (int i = 0; i < 500 && DefaultVersion(*manager) != 2; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(DefaultVersion(*manager), 2);
  EXPECT_EQ(manager->table()->models.at("credit").aliases.at("champion"), 2);
  manager->Stop();
}

TEST_F(RegistryServingTest, AnArtifactChangedAfterRegistrationIsRefused) {
  ASSERT_TRUE(registry_->Register(Options(OtherArtifact())).ok());  // Version 2.
  // Someone overwrites version 2's artifact with another model.
  std::filesystem::copy_file(repo_.path() / "credit" / "1" / "model.json", repo_.path() / "credit" / "2" / "model.json",
                             std::filesystem::copy_options::overwrite_existing);
  auto manager = MakeManager();
  ASSERT_TRUE(manager->Start().ok());
  const auto table = manager->table();
  const ServingModel& model = table->models.at("credit");
  EXPECT_EQ(DefaultVersion(*manager), 1);  // The previous version keeps serving.
  bool refused = false;
  for (const VersionStatus& v : model.versions) {
    if (v.version == 2) {
      refused = v.state == VersionState::kFailed &&
                v.reason.find("is not the one registered") != std::string::npos;
      EXPECT_TRUE(refused) << v.reason;
    }
  }
  EXPECT_TRUE(refused);
  manager->Stop();
}

}  // namespace
}  // namespace vigil
