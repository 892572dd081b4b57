#include "common/json_text.h"

#include <gtest/gtest.h>

#include <cmath>
#include <nlohmann/json.hpp>

namespace vigil {
namespace {

TEST(JsonTextTest, StringsAreEscapedAsJsonRequires) {
  std::string out;
  AppendJsonString(out, "plain");
  EXPECT_EQ(out, R"("plain")");
  out.clear();
  AppendJsonString(out, std::string("a\"b\\c\nd\re\tf\x01g\x1fh", 15));
  EXPECT_EQ(out, R"("a\"b\\c\nd\re\tf\u0001g\u001fh")");
  out.clear();
  AppendJsonString(out, "\"");
  EXPECT_EQ(out, R"("\"")");
  out.clear();
  AppendJsonString(out, "");
  EXPECT_EQ(out, R"("")");
  // UTF-8 passes through, and an independent parser reads every case back.
  for (const std::string& s : {std::string("caf\xc3\xa9"), std::string("x\x7fy"), std::string("\\\\\"\"\n")}) {
    out.clear();
    AppendJsonString(out, s);
    EXPECT_EQ(nlohmann::json::parse(out).get<std::string>(), s) << out;
  }
}

TEST(JsonTextTest, NumbersAreShortestAndNonFiniteIsNull) {
  std::string out;
  AppendJsonNumber(out, 0.1f);
  out += ',';
  AppendJsonNumber(out, NAN);
  out += ',';
  AppendJsonNumber(out, int64_t{-7});
  EXPECT_EQ(out, "0.1,null,-7");
}

}  // namespace
}  // namespace vigil
