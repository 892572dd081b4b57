// SHA-256 of bytes and of files (OpenSSL's EVP interface), as lowercase hex:
// the registry's checksum of model artifacts and training data.
//
// Thread-safety: pure functions.
#ifndef VIGIL_COMMON_SHA256_H_
#define VIGIL_COMMON_SHA256_H_

#include <filesystem>
#include <string>
#include <string_view>

#include "common/status.h"

namespace vigil {

// 64 lowercase hex digits.
std::string Sha256Hex(std::string_view bytes);
// The 32 bytes of the digest.
std::string Sha256Bytes(std::string_view bytes);
// Reads `path` in blocks. NOT_FOUND if it cannot be opened, INTERNAL if a
// read fails.
Result<std::string> Sha256File(const std::filesystem::path& path);

}  // namespace vigil

#endif  // VIGIL_COMMON_SHA256_H_
