// Model artifacts encrypted at rest: AES-256-GCM (OpenSSL's EVP interface).
//
// A sealed file reads:
//   "VIGILAES" (8 bytes) | key fingerprint (8) | nonce (12) | ciphertext | tag (16)
// The magic and the fingerprint are authenticated as associated data, so a
// modified header, ciphertext or tag, or the wrong key, fails
// authentication: the artifact is refused, never half-loaded. The
// fingerprint (the first 8 bytes of SHA-256 of the key) only lets the error
// say which key a file needs; it does not weaken the key. A fresh random
// nonce is drawn for every file.
//
// The key is 32 bytes, written as 64 hex digits in a file
// (--model-key-file, or the environment variable VIGIL_MODEL_KEY_FILE) or in
// VIGIL_MODEL_KEY itself; it is never written next to an artifact.
// Decryption happens in memory at load.
//
// Thread-safety: pure functions; a ModelKey is immutable.
#ifndef VIGIL_SECURITY_ARTIFACT_CIPHER_H_
#define VIGIL_SECURITY_ARTIFACT_CIPHER_H_

#include <array>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "common/status.h"

namespace vigil {

struct ModelKey {
  std::array<unsigned char, 32> bytes{};
  std::string fingerprint;  // 16 hex digits, for messages.
};

// 64 hex digits (surrounding whitespace ignored). INVALID_ARGUMENT otherwise.
Result<ModelKey> ParseModelKey(std::string_view hex);
// Reads a key file. The file should be readable by its owner only; a key
// file that others can read is refused.
Result<ModelKey> ReadModelKeyFile(const std::filesystem::path& path);
// VIGIL_MODEL_KEY_FILE or VIGIL_MODEL_KEY; nullopt if neither is set.
Result<std::optional<ModelKey>> ModelKeyFromEnvironment();
// A new random key as 64 hex digits.
Result<std::string> GenerateModelKeyHex();

// Whether `bytes` begin like a sealed artifact.
bool IsSealedArtifact(std::string_view bytes);
// Encrypts `plain`.
Result<std::string> SealArtifact(std::string_view plain, const ModelKey& key);
// Decrypts `sealed`. PERMISSION_DENIED when it was sealed with another key
// or fails authentication (modified), naming which.
Result<std::string> OpenArtifact(std::string_view sealed, const ModelKey& key);

}  // namespace vigil

#endif  // VIGIL_SECURITY_ARTIFACT_CIPHER_H_
