#include "repository/version_policy.h"

#include <gtest/gtest.h>

namespace vigil {
namespace {

using Versions = std::vector<int64_t>;

TEST(VersionPolicyTest, LatestOneServesTheHighestVersion) {
  VersionPolicy p;
  EXPECT_EQ(p.Select({3, 1, 2}), Versions({3}));
}

TEST(VersionPolicyTest, LatestNKeepsAscendingOrderAndCopesWithFewerVersions) {
  VersionPolicy p;
  p.latest = 2;
  EXPECT_EQ(p.Select({5, 1, 9, 2}), Versions({5, 9}));
  p.latest = 4;
  EXPECT_EQ(p.Select({7}), Versions({7}));
  EXPECT_EQ(p.Select({}), Versions({}));
}

TEST(VersionPolicyTest, AllServesEveryVersion) {
  VersionPolicy p;
  p.kind = VersionPolicy::Kind::kAll;
  EXPECT_EQ(p.Select({2, 1}), Versions({1, 2}));
}

TEST(VersionPolicyTest, SpecificServesOnlyListedVersionsThatExist) {
  VersionPolicy p;
  p.kind = VersionPolicy::Kind::kSpecific;
  p.specific = {4, 1, 8};
  EXPECT_EQ(p.Select({1, 2, 3, 4}), Versions({1, 4}));
}

TEST(VersionPolicyTest, ToStringNamesThePolicy) {
  VersionPolicy p;
  EXPECT_EQ(p.ToString(), "latest: 1");
  p.kind = VersionPolicy::Kind::kSpecific;
  p.specific = {1, 3};
  EXPECT_EQ(p.ToString(), "specific: [1, 3]");
}

}  // namespace
}  // namespace vigil
