// API keys and roles against a real SQLite store.
#include "security/access_control.h"

#include <gtest/gtest.h>

#include <thread>

#include "store/sqlite_store.h"
#include "testing/test_repository.h"

namespace vigil {
namespace {

using Clock = AccessControl::Clock;

class AccessControlTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = SqliteStore::Open(dir_.path() / "vigil.db");
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = std::move(*store);
  }

  // Creates a key with `roles` and returns its token.
  std::string Create(const std::string& roles, const std::string& name = "svc") {
    auto parsed = ParseRoles({roles});
    EXPECT_TRUE(parsed.ok());
    auto key = MintApiKey(*parsed, name, "ana", 1000);
    EXPECT_TRUE(key.ok());
    EXPECT_TRUE(store_->AddApiKey(key->record).ok());
    return key->token;
  }

  testing::TempDir dir_;
  std::unique_ptr<SqliteStore> store_;
};

TEST(RolesTest, ParseAndName) {
  EXPECT_EQ(*ParseRoles({"infer"}), kRoleInfer);
  EXPECT_EQ(*ParseRoles({"infer,feedback"}), kRoleInfer | kRoleFeedback);
  EXPECT_EQ(*ParseRoles({"metrics", "admin"}), kRoleMetrics | kRoleAdmin);
  EXPECT_EQ(RoleNames(kRoleInfer | kRoleFeedback), "infer,feedback");
  auto bad = ParseRoles({"infer,root"});
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("'root'"), std::string::npos);
  EXPECT_FALSE(ParseRoles({""}).ok());
}

TEST(TokenBucketTest, RefillsAtItsRateUpToTheBurst) {
  const auto t0 = Clock::now();
  TokenBucket bucket(2, 3, t0);  // 2/s, bursts of 3.
  int retry = 0;
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(bucket.Take(t0, &retry));
  EXPECT_FALSE(bucket.Take(t0, &retry));
  EXPECT_EQ(retry, 1);  // Half a second to the next token, rounded up.
  EXPECT_TRUE(bucket.Take(t0 + std::chrono::milliseconds(500), &retry));
  EXPECT_FALSE(bucket.Take(t0 + std::chrono::milliseconds(500), &retry));
  // Ten idle seconds refill only to the burst.
  const auto t1 = t0 + std::chrono::seconds(10);
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(bucket.Take(t1, &retry));
  EXPECT_FALSE(bucket.Take(t1, &retry));
  TokenBucket slow(0.1, 1, t0);  // One per ten seconds.
  EXPECT_TRUE(slow.Take(t0, &retry));
  EXPECT_FALSE(slow.Take(t0, &retry));
  EXPECT_EQ(retry, 10);
}

TEST_F(AccessControlTest, OnlyTheSaltedHashIsStored) {
  const std::string token = Create("infer");
  auto keys = store_->ApiKeys();
  ASSERT_TRUE(keys.ok());
  ASSERT_EQ(keys->size(), 1u);
  const ApiKeyRecord& r = keys->front();
  const std::string secret = token.substr(token.rfind('_') + 1);
  EXPECT_EQ(secret.size(), 64u);
  EXPECT_EQ(token, "vigil_" + r.id + "_" + secret);
  EXPECT_EQ(r.hash.find(secret), std::string::npos);
  EXPECT_EQ(r.hash.size(), 64u);
  EXPECT_EQ(r.salt.size(), 32u);
  EXPECT_EQ(r.roles, "infer");
  // Two keys never share a salt, so equal secrets would not share a hash.
  Create("infer");
  auto both = store_->ApiKeys();
  EXPECT_NE((*both)[0].salt, (*both)[1].salt);
}

TEST_F(AccessControlTest, MissingWrongAndUnderprivilegedKeys) {
  const std::string infer = Create("infer", "scorer");
  const std::string admin = Create("admin");
  AccessControl access(*store_, {});
  ASSERT_TRUE(access.Load().ok());
  EXPECT_EQ(access.ActiveKeys(), 2u);

  EXPECT_EQ(access.Check("", Access::kInfer).status, 401);
  EXPECT_EQ(access.Check("Basic dXNlcjpwYXNz", Access::kInfer).status, 401);
  EXPECT_EQ(access.Check("Bearer nonsense", Access::kInfer).status, 401);
  std::string flipped = infer;
  flipped.back() = flipped.back() == 'a' ? 'b' : 'a';
  EXPECT_EQ(access.Check("Bearer " + flipped, Access::kInfer).status, 401);
  std::string unknown_id = infer;
  unknown_id[6] = unknown_id[6] == 'a' ? 'b' : 'a';
  EXPECT_EQ(access.Check("Bearer " + unknown_id, Access::kInfer).status, 401);

  const auto ok = access.Check("Bearer " + infer, Access::kInfer);
  EXPECT_EQ(ok.status, 0) << ok.message;
  EXPECT_EQ(ok.key_id, infer.substr(6, 16));
  EXPECT_EQ(access.Check("bearer " + infer, Access::kInfer).status, 0);  // The scheme is case-insensitive.
  const auto denied = access.Check("Bearer " + infer, Access::kFeedback);
  EXPECT_EQ(denied.status, 403);
  EXPECT_NE(denied.message.find("scorer"), std::string::npos);
  EXPECT_NE(denied.message.find("needs feedback"), std::string::npos);
  EXPECT_EQ(access.Check("Bearer " + infer, Access::kAdmin).status, 403);
  EXPECT_EQ(access.Check("Bearer " + infer, Access::kMetrics).status, 403);
  for (Access a : {Access::kInfer, Access::kFeedback, Access::kMetrics, Access::kAdmin}) {
    EXPECT_EQ(access.Check("Bearer " + admin, a).status, 0);
  }
  // Health is open by default; metrics is not.
  EXPECT_EQ(access.Check("", Access::kHealth).status, 0);
  EXPECT_EQ(access.Check("", Access::kMetrics).status, 401);
  AccessControl::Options open;
  open.open_health = false;
  open.open_metrics = true;
  AccessControl other(*store_, open);
  ASSERT_TRUE(other.Load().ok());
  EXPECT_EQ(other.Check("", Access::kHealth).status, 401);
  EXPECT_EQ(other.Check("Bearer " + infer, Access::kHealth).status, 0);
  EXPECT_EQ(other.Check("", Access::kMetrics).status, 0);
}

TEST_F(AccessControlTest, NewAndRevokedKeysTakeEffectOnTheNextRead) {
  AccessControl access(*store_, {});
  ASSERT_TRUE(access.Load().ok());
  const std::string token = Create("feedback");
  EXPECT_EQ(access.Check("Bearer " + token, Access::kFeedback).status, 401);  // Not read yet.
  ASSERT_TRUE(access.Load().ok());
  EXPECT_EQ(access.Check("Bearer " + token, Access::kFeedback).status, 0);
  auto revoked = store_->RevokeApiKey(token.substr(6, 16), 2000);
  ASSERT_TRUE(revoked.ok());
  EXPECT_TRUE(*revoked);
  EXPECT_FALSE(*store_->RevokeApiKey(token.substr(6, 16), 2000));  // Once.
  EXPECT_FALSE(*store_->RevokeApiKey("0000000000000000", 2000));
  ASSERT_TRUE(access.Load().ok());
  EXPECT_EQ(access.Check("Bearer " + token, Access::kFeedback).status, 401);
  EXPECT_EQ(access.ActiveKeys(), 0u);
  // The record stays, marked.
  auto keys = store_->ApiKeys();
  ASSERT_EQ(keys->size(), 1u);
  EXPECT_EQ(keys->front().revoked_ms, 2000);
}

TEST_F(AccessControlTest, TheRefresherReadsNewKeysOnItsOwnThread) {
  AccessControl::Options options;
  options.refresh = std::chrono::milliseconds(50);
  AccessControl access(*store_, options);
  ASSERT_TRUE(access.Load().ok());
  access.StartRefreshing();
  const std::string token = Create("infer");
  int status = 401;
  for (int i = 0; i < 200 && status != 0; ++i) {
    status = access.Check("Bearer " + token, Access::kInfer).status;
    if (status != 0) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(status, 0);
  EXPECT_EQ(access.refresh_failures(), 0);
}

TEST_F(AccessControlTest, EachKeyHasItsOwnRate) {
  const std::string a = Create("infer"), b = Create("infer");
  AccessControl::Options options;
  options.key_rate = 5;
  options.key_burst = 2;
  AccessControl access(*store_, options);
  ASSERT_TRUE(access.Load().ok());
  const auto t0 = Clock::now();
  EXPECT_EQ(access.Check("Bearer " + a, Access::kInfer, t0).status, 0);
  EXPECT_EQ(access.Check("Bearer " + a, Access::kInfer, t0).status, 0);
  const auto limited = access.Check("Bearer " + a, Access::kInfer, t0);
  EXPECT_EQ(limited.status, 429);
  EXPECT_EQ(limited.retry_after_s, 1);
  EXPECT_EQ(access.Check("Bearer " + b, Access::kInfer, t0).status, 0);  // Another key is not affected.
  EXPECT_EQ(access.Check("Bearer " + a, Access::kInfer, t0 + std::chrono::milliseconds(200)).status, 0);
  // A wrong key is refused before it could use anyone's tokens.
  EXPECT_EQ(access.Check("Bearer vigil_" + std::string(16, '0') + "_" + std::string(64, '0'), Access::kInfer, t0)
                .status,
            401);
}

}  // namespace
}  // namespace vigil
