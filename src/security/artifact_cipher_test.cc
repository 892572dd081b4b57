// AES-256-GCM artifacts: round trips, and every way a file or key can be wrong.
#include "security/artifact_cipher.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include "testing/test_repository.h"

namespace vigil {
namespace {

const char kKeyA[] = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
const char kKeyB[] = "ff0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

TEST(ArtifactCipherTest, RoundTripAndNothingInTheClear) {
  const ModelKey key = *ParseModelKey(kKeyA);
  const std::string plain = R"({"learner":{"gradient_booster":{"trees":[1,2,3]}}})";
  auto sealed = SealArtifact(plain, key);
  ASSERT_TRUE(sealed.ok());
  EXPECT_TRUE(IsSealedArtifact(*sealed));
  EXPECT_FALSE(IsSealedArtifact(plain));
  EXPECT_EQ(sealed->size(), 8 + 8 + 12 + plain.size() + 16);
  EXPECT_EQ(sealed->find("learner"), std::string::npos);
  auto opened = OpenArtifact(*sealed, key);
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  EXPECT_EQ(*opened, plain);
  // A fresh nonce every time: the same plaintext never seals the same.
  EXPECT_NE(*SealArtifact(plain, key), *sealed);
  // Empty artifacts too.
  EXPECT_EQ(*OpenArtifact(*SealArtifact("", key), key), "");
}

TEST(ArtifactCipherTest, WrongKeyAndEveryModifiedByteAreRefused) {
  const ModelKey a = *ParseModelKey(kKeyA), b = *ParseModelKey(kKeyB);
  EXPECT_NE(a.fingerprint, b.fingerprint);
  const std::string sealed = *SealArtifact("model bytes that matter", a);
  auto wrong = OpenArtifact(sealed, b);
  ASSERT_EQ(wrong.status().code(), StatusCode::kPermissionDenied);
  EXPECT_NE(wrong.status().message().find(a.fingerprint), std::string::npos) << wrong.status().message();
  // Flip one bit anywhere after the magic: fingerprint, nonce, ciphertext or
  // tag. Each is refused as a whole.
  for (size_t i = 8; i < sealed.size(); ++i) {
    std::string bad = sealed;
    bad[i] = static_cast<char>(bad[i] ^ 0x01);
    auto opened = OpenArtifact(bad, a);
    EXPECT_EQ(opened.status().code(), StatusCode::kPermissionDenied) << "byte " << i;
  }
  EXPECT_FALSE(OpenArtifact(sealed.substr(0, sealed.size() - 1), a).ok());
  EXPECT_FALSE(OpenArtifact(sealed.substr(0, 20), a).ok());
  EXPECT_FALSE(OpenArtifact(sealed + "x", a).ok());
}

TEST(ArtifactCipherTest, KeysAreParsedAndTheirFilesMustBePrivate) {
  EXPECT_FALSE(ParseModelKey("abc").ok());
  EXPECT_FALSE(ParseModelKey(std::string(64, 'g')).ok());
  EXPECT_TRUE(ParseModelKey(std::string(kKeyA) + "\n").ok());
  EXPECT_EQ(ParseModelKey(kKeyA)->fingerprint.size(), 16u);
  auto generated = GenerateModelKeyHex();
  ASSERT_TRUE(generated.ok());
  EXPECT_TRUE(ParseModelKey(*generated).ok());
  EXPECT_NE(*generated, *GenerateModelKeyHex());

  testing::TempDir dir;
  const auto path = dir.path() / "model.key";
  testing::WriteFile(path, std::string(kKeyA) + "\n");
  chmod(path.c_str(), 0644);
  auto shared = ReadModelKeyFile(path);
  EXPECT_EQ(shared.status().code(), StatusCode::kPermissionDenied);
  EXPECT_NE(shared.status().message().find("chmod 600"), std::string::npos);
  chmod(path.c_str(), 0600);
  auto key = ReadModelKeyFile(path);
  ASSERT_TRUE(key.ok()) << key.status().ToString();
  EXPECT_EQ(key->bytes[1], 1);
  EXPECT_EQ(ReadModelKeyFile(dir.path() / "missing").status().code(), StatusCode::kNotFound);
}

}  // namespace
}  // namespace vigil
