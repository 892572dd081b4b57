#include "common/hex.h"

#include <gtest/gtest.h>

namespace vigil {
namespace {

TEST(HexTest, EncodesEveryByteAsTwoLowercaseDigits) {
  EXPECT_EQ(HexEncode(""), "");
  EXPECT_EQ(HexEncode(std::string("\x00\x01\x7f\x80\xab\xff", 6)), "00017f80abff");
}

TEST(HexTest, DigitValuesInEitherCaseAndNothingElse) {
  EXPECT_EQ(HexDigitValue('0'), 0);
  EXPECT_EQ(HexDigitValue('9'), 9);
  EXPECT_EQ(HexDigitValue('a'), 10);
  EXPECT_EQ(HexDigitValue('F'), 15);
  for (char c : std::string("gG/:@`\x00 ", 8)) EXPECT_EQ(HexDigitValue(c), -1) << int(c);
}

}  // namespace
}  // namespace vigil
