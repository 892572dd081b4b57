#include "http/alert_api.h"

#include <gtest/gtest.h>

namespace vigil {
namespace {

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
