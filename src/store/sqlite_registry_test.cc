// The registry's tables on a real SQLite file.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "store/sqlite_store.h"
#include "testing/test_repository.h"

namespace vigil {
namespace {

ModelVersionRecord Version(int64_t version, const std::string& sha256) {
  ModelVersionRecord v;
  v.model = "credit";
  v.version = version;
  v.artifact = "model.json";
  v.sha256 = sha256;
  v.artifact_bytes = 1234;
  v.origin = "trained";
  v.parent_version = version - 1;
  v.data_fingerprint = "f00d";
  v.data_rows = 4454;
  v.parameters = R"({"max_depth":4})";
  v.metrics = R"({"test_auc":0.83})";
  v.author = "ana";
  v.created_ms = 1000 * version;
  return v;
}

ModelEventQuery Query(const std::string& alias = "") {
  ModelEventQuery query;
  query.model = "credit";
  query.alias = alias;
  return query;
}

ModelEvent Event(const std::string& kind, int64_t time_ms, const std::string& actor = "ana",
                 const std::string& reason = "") {
  ModelEvent e;
  e.model = "credit";
  e.kind = kind;
  e.time_ms = time_ms;
  e.actor = actor;
  e.reason = reason;
  return e;
}

class SqliteRegistryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = SqliteStore::Open(dir_.path() / "vigil.db");
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = std::move(*store);
  }
  testing::TempDir dir_;
  std::unique_ptr<SqliteStore> store_;
};

TEST_F(SqliteRegistryTest, VersionsAreStoredWholeAndNeverReplaced) {
  ASSERT_TRUE(store_->AddModelVersion(Version(1, "aa"), Event("registered", 1000)).ok());
  ASSERT_TRUE(store_->AddModelVersion(Version(2, "bb"), Event("registered", 2000)).ok());
  const Status again = store_->AddModelVersion(Version(2, "cc"), Event("registered", 3000));
  EXPECT_EQ(again.code(), StatusCode::kAlreadyExists);
  EXPECT_NE(again.message().find("sha256 bb"), std::string::npos) << again.message();

  auto v2 = store_->GetModelVersion("credit", 2);
  ASSERT_TRUE(v2.ok() && v2->has_value());
  const ModelVersionRecord& r = **v2;
  EXPECT_EQ(r.sha256, "bb");
  EXPECT_EQ(r.origin, "trained");
  EXPECT_EQ(r.parent_version, 1);
  EXPECT_EQ(r.data_rows, 4454);
  EXPECT_EQ(r.parameters, R"({"max_depth":4})");
  EXPECT_EQ(r.metrics, R"({"test_auc":0.83})");
  EXPECT_EQ(r.author, "ana");
  EXPECT_EQ(r.created_ms, 2000);
  EXPECT_FALSE(store_->GetModelVersion("credit", 3)->has_value());
  ASSERT_EQ(store_->ModelVersions("credit")->size(), 2u);
  EXPECT_TRUE(store_->ModelVersions("other")->empty());
  // Only the two registrations were recorded: the refused one left nothing.
  auto events = store_->ModelEvents(Query());
  ASSERT_TRUE(events.ok());
  ASSERT_EQ(events->size(), 2u);
  EXPECT_EQ((*events)[0].time_ms, 2000);  // Newest first.
}

TEST_F(SqliteRegistryTest, AliasMovesAreRecordedWithWhoWhyAndFrom) {
  ASSERT_TRUE(store_->AddModelVersion(Version(1, "aa"), Event("registered", 1000)).ok());
  ASSERT_TRUE(store_->AddModelVersion(Version(2, "bb"), Event("registered", 2000)).ok());
  EXPECT_EQ(*store_->MoveAlias("champion", 1, -1, Event("", 3000, "ana", "first release")), 0);
  EXPECT_EQ(*store_->MoveAlias("champion", 2, 1, Event("", 4000, "bo", "better AUC")), 1);
  EXPECT_EQ(*store_->MoveAlias("challenger", 1, 0, Event("", 5000)), 0);
  // Not registered, and a compare-and-set that lost.
  EXPECT_EQ(store_->MoveAlias("champion", 7, -1, Event("", 6000)).status().code(), StatusCode::kNotFound);
  const auto lost = store_->MoveAlias("champion", 1, 1, Event("", 6000));
  EXPECT_EQ(lost.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(lost.status().message().find("points at version 2, not version 1"), std::string::npos)
      << lost.status().message();
  EXPECT_EQ(*store_->MoveAlias("challenger", 0, -1, Event("", 7000, "bo", "done")), 1);

  auto aliases = store_->Aliases("credit");
  ASSERT_TRUE(aliases.ok());
  ASSERT_EQ(aliases->size(), 1u);
  EXPECT_EQ((*aliases)[0].alias, "champion");
  EXPECT_EQ((*aliases)[0].version, 2);
  EXPECT_EQ((*aliases)[0].updated_ms, 4000);

  auto history = store_->ModelEvents(Query("champion"));
  ASSERT_TRUE(history.ok());
  ASSERT_EQ(history->size(), 2u);
  const ModelEvent& last = (*history)[0];
  EXPECT_EQ(last.kind, "alias");
  EXPECT_EQ(last.actor, "bo");
  EXPECT_EQ(last.reason, "better AUC");
  EXPECT_EQ(last.version, 2);
  EXPECT_EQ(nlohmann::json::parse(last.detail), nlohmann::json::parse(R"({"alias":"champion","from":1,"to":2})"));
  EXPECT_EQ(nlohmann::json::parse((*history)[1].detail)["from"], nullptr);
  auto removed = store_->ModelEvents(Query("challenger"));
  ASSERT_EQ(removed->size(), 2u);
  EXPECT_EQ(nlohmann::json::parse((*removed)[0].detail)["to"], nullptr);
  EXPECT_EQ(*store_->LastModelEventId(), 6);  // 2 registrations, 4 moves.
}

TEST_F(SqliteRegistryTest, OneRolloutRunsPerModelAndItsDecisionsAreCompareAndSet) {
  RolloutRecord r;
  r.model = "credit";
  r.candidate = 2;
  r.baseline = 1;
  r.mode = "canary";
  r.state = "running";
  r.plan = R"({"steps":[10,100]})";
  r.step_started_ms = r.created_ms = r.updated_ms = 5000;
  r.actor = "ana";
  ModelEvent started = Event("rollout", 5000);
  started.detail = R"({"action":"started"})";
  auto id = store_->AddRollout(r, started);
  ASSERT_TRUE(id.ok()) << id.status().ToString();
  r.id = *id;
  // The event names the rollout.
  auto events = store_->ModelEvents(Query());
  ASSERT_TRUE(events.ok());
  EXPECT_EQ(nlohmann::json::parse(events->front().detail),
            nlohmann::json::parse(R"({"action":"started","rollout":)" + std::to_string(*id) + "}"));
  EXPECT_EQ(store_->AddRollout(r, started).status().code(), StatusCode::kAlreadyExists);

  // A step decided on step 0 lands once; a second decider finds it moved.
  RolloutRecord next = r;
  next.step = 1;
  next.step_started_ms = 9000;
  ASSERT_TRUE(store_->UpdateRollout(next, 0, nullptr).ok());
  EXPECT_EQ(store_->UpdateRollout(next, 0, nullptr).code(), StatusCode::kFailedPrecondition);
  RolloutRecord ended = next;
  ended.state = "promoted";
  ended.ended_ms = 12000;
  ModelEvent promoted = Event("rollout", 12000, "vigil");
  ASSERT_TRUE(store_->UpdateRollout(ended, 1, &promoted).ok());
  EXPECT_EQ(store_->UpdateRollout(ended, 1, &promoted).code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(store_->ModelEvents(Query())->size(), 2u);  // The refused update recorded nothing.

  auto got = store_->GetRollout(*id);
  ASSERT_TRUE(got.ok() && *got);
  EXPECT_EQ((*got)->state, "promoted");
  EXPECT_EQ((*got)->step, 1);
  EXPECT_EQ((*got)->step_started_ms, 9000);
  EXPECT_EQ((*got)->ended_ms, 12000);
  EXPECT_EQ((*got)->plan, r.plan);
  EXPECT_TRUE(store_->Rollouts("credit", /*running_only=*/true, 10)->empty());
  // Ended, a new one may start.
  auto second = store_->AddRollout(r, started);
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  auto all = store_->Rollouts("credit", false, 10);
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ(all->front().id, *second);  // Newest first.
  EXPECT_EQ(store_->Rollouts("", true, 10)->size(), 1u);
  EXPECT_TRUE(store_->Rollouts("other", false, 10)->empty());
}

TEST_F(SqliteRegistryTest, PromotionMovesTheChampionAndEndsTheRolloutTogetherOrNotAtAll) {
  ASSERT_TRUE(store_->AddModelVersion(Version(1, "aa"), Event("registered", 1000)).ok());
  ASSERT_TRUE(store_->AddModelVersion(Version(2, "bb"), Event("registered", 2000)).ok());
  ASSERT_TRUE(store_->AddModelVersion(Version(3, "cc"), Event("registered", 3000)).ok());
  ASSERT_TRUE(store_->MoveAlias("champion", 1, -1, Event("alias", 3000)).ok());
  RolloutRecord r;
  r.model = "credit";
  r.candidate = 2;
  r.baseline = 1;
  r.mode = "canary";
  r.state = "running";
  r.actor = "ana";
  auto id = store_->AddRollout(r, Event("rollout", 4000));
  ASSERT_TRUE(id.ok());
  r.id = *id;
  RolloutRecord promoted = r;
  promoted.state = "promoted";
  promoted.ended_ms = 5000;

  // Someone moved the champion meanwhile: neither the alias nor the rollout changes.
  ASSERT_TRUE(store_->MoveAlias("champion", 3, 1, Event("alias", 4500, "bo")).ok());
  const size_t events = store_->ModelEvents(Query())->size();
  auto refused = store_->PromoteRollout(promoted, 0, Event("alias", 5000, "vigil"), Event("rollout", 5000, "vigil"));
  EXPECT_EQ(refused.code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(store_->Aliases("credit")->front().version, 3);
  EXPECT_EQ((*store_->GetRollout(*id))->state, "running");
  EXPECT_EQ(store_->ModelEvents(Query())->size(), events);

  ASSERT_TRUE(store_->MoveAlias("champion", 1, 3, Event("alias", 4600, "bo")).ok());
  ASSERT_TRUE(store_->PromoteRollout(promoted, 0, Event("alias", 5000, "vigil"), Event("rollout", 5000, "vigil")).ok());
  EXPECT_EQ(store_->Aliases("credit")->front().version, 2);
  EXPECT_EQ((*store_->GetRollout(*id))->state, "promoted");
  // Once ended it cannot be promoted again, nor the champion moved by it.
  EXPECT_EQ(store_->PromoteRollout(promoted, 0, Event("alias", 6000), Event("rollout", 6000)).code(),
            StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace vigil
