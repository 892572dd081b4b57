#include "common/sha256.h"

#include <gtest/gtest.h>

#include <fstream>

#include "testing/test_repository.h"

namespace vigil {
namespace {

// FIPS 180-2's examples and the empty string.
TEST(Sha256Test, MatchesTheStandardsTestVectors) {
  EXPECT_EQ(Sha256Hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(Sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(Sha256Hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

TEST(Sha256Test, AFileHashesAsItsBytesAcrossBlocks) {
  testing::TempDir dir;
  // A million 'a's spans several read blocks (FIPS 180-2's third example).
  const std::string bytes(1'000'000, 'a');
  std::ofstream(dir.path() / "a.bin", std::ios::binary) << bytes;
  auto digest = Sha256File(dir.path() / "a.bin");
  ASSERT_TRUE(digest.ok()) << digest.status().ToString();
  EXPECT_EQ(*digest, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
  EXPECT_EQ(Sha256File(dir.path() / "missing").status().code(), StatusCode::kNotFound);
}

}  // namespace
}  // namespace vigil
