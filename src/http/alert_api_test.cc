#include "http/alert_api.h"

#include <gtest/gtest.h>

namespace vigil {
namespace {

TEST(AlertApiTest, Rfc3339TimesAndOnlyThose) {
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

TEST(AlertApiTest, QueryStringsDecode) {
  std::vector<std::pair<std::string, std::string>> q;
  ASSERT_TRUE(ParseQuery("state=firing&model=credit%20v2&flag&limit=5&&x=a+b", &q));
  const std::vector<std::pair<std::string, std::string>> want = {
      {"state", "firing"}, {"model", "credit v2"}, {"flag", ""}, {"limit", "5"}, {"x", "a b"}};
  EXPECT_EQ(q, want);
  q.clear();
  EXPECT_TRUE(ParseQuery("", &q));
  EXPECT_TRUE(q.empty());
  for (const char* bad : {"a=%", "a=%4", "a=%zz", "%g1=b"}) {
    q.clear();
    EXPECT_FALSE(ParseQuery(bad, &q)) << bad;
  }
}

}  // namespace
}  // namespace vigil
