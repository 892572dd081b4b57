#include "common/request_id.h"

#include <gtest/gtest.h>

#include <regex>

namespace vigil {
namespace {

TEST(RequestIdTest, GeneratedIdsAreTimeOrderedVersion7UuidsThatCarryTheirTime) {
  std::regex uuid("[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}");
  constexpr int64_t t = 1'795'940'013'226;  // 2026-11-29T07:53:33.226Z
  const std::string a = NewRequestId(t), b = NewRequestId(t);
  EXPECT_TRUE(std::regex_match(a, uuid)) << a;
  EXPECT_NE(a, b);
  // The first 48 bits are the time, as hex: 0x01a2265d_d4aa.
  EXPECT_EQ(a.substr(0, 13), "01a2265d-d4aa");
  EXPECT_EQ(RequestIdTime(a), t);
  EXPECT_LT(a, NewRequestId(t + 1));  // Later ids sort after.
}

TEST(RequestIdTest, OnlyVersion7UuidsHaveATime) {
  const std::string id = NewRequestId(1000);
  EXPECT_EQ(RequestIdTime(id), 1000);
  EXPECT_EQ(RequestIdTime(id.substr(1)), std::nullopt);                  // Too short.
  EXPECT_EQ(RequestIdTime("application-0001"), std::nullopt);
  EXPECT_EQ(RequestIdTime("0193a1c2-59db-4cf5-ae67-85fbcbe3acc7"), std::nullopt);  // Version 4.
  EXPECT_EQ(RequestIdTime("0193a1c2-59db-7cf5-ce67-85fbcbe3acc7"), std::nullopt);  // Another variant.
  EXPECT_EQ(RequestIdTime("0193A1C2-59DB-7CF5-AE67-85FBCBE3ACC7"), std::nullopt);  // Not the form Vigil writes.
}

}  // namespace
}  // namespace vigil
