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

// Digits alone beyond 64 bits are an integer no parser can hold; such floats
// are written with an exponent, and read back as the same double.
TEST(JsonTextTest, HugeFloatsKeepAnExponent) {
  for (double v : {1e20, -1e20, 18446744073709551616.0, 1e300, 1234567890123456789.0}) {
    std::string out;
    AppendJsonNumber(out, v);
    if (std::fabs(v) >= 1e19) {
      EXPECT_NE(out.find('e'), std::string::npos) << out;
    }
    EXPECT_EQ(nlohmann::json::parse(out).get<double>(), v) << out;
  }
  std::string small;
  AppendJsonNumber(small, 1234567890123456789.0);
  EXPECT_EQ(small.find('e'), std::string::npos) << small;  // Digits alone, within 64 bits.
  EXPECT_EQ(nlohmann::json::parse(small).get<double>(), 1234567890123456789.0) << small;
}

}  // namespace
}  // namespace vigil
