#include "common/rfc3339.h"

#include <gtest/gtest.h>

namespace vigil {
namespace {

TEST(Rfc3339Test, ParsesRfc3339TimesAndOnlyThose) {
  int64_t ms = 0;
  ASSERT_TRUE(ParseRfc3339("2027-01-15T08:00:00Z", &ms));
  EXPECT_EQ(ms, 1'800'000'000'000);
  ASSERT_TRUE(ParseRfc3339("2027-01-15T08:00:00.25Z", &ms));
  EXPECT_EQ(ms, 1'800'000'000'250);
  ASSERT_TRUE(ParseRfc3339("2027-01-15T09:30:00+01:30", &ms));
  EXPECT_EQ(ms, 1'800'000'000'000);
  ASSERT_TRUE(ParseRfc3339("2027-01-15T06:00:00.000-02:00", &ms));
  EXPECT_EQ(ms, 1'800'000'000'000);
  for (const char* bad : {"2027-01-15", "2027-01-15T08:00:00", "2027-01-15T08:00:00+1:2", "2027-01-15T08:00:00+01",
                          "2027-01-15T08:00:00+0100", "2027-01-15T08:00:00.Z", "2027-01-15T08:00:00Zjunk",
                          "2027-01-15T08:00:00+25:00", "tomorrow", ""}) {
    EXPECT_FALSE(ParseRfc3339(bad, &ms)) << bad;
  }
}

TEST(Rfc3339Test, FormatsUtcWithMilliseconds) {
  EXPECT_EQ(FormatRfc3339(1'800'000'000'250), "2027-01-15T08:00:00.250Z");
  int64_t ms = 0;
  ASSERT_TRUE(ParseRfc3339(FormatRfc3339(1'800'000'123'456), &ms));
  EXPECT_EQ(ms, 1'800'000'123'456);
}

}  // namespace
}  // namespace vigil
