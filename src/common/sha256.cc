#include "common/sha256.h"

#include <openssl/evp.h>

#include <array>
#include <cstdio>
#include <memory>

namespace vigil {
namespace {

struct DigestContext {
  DigestContext() : ctx(EVP_MD_CTX_new()) { EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr); }
  ~DigestContext() { EVP_MD_CTX_free(ctx); }
  void Update(const void* data, size_t size) { EVP_DigestUpdate(ctx, data, size); }
  std::string HexDigest() {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int size = 0;
    EVP_DigestFinal_ex(ctx, digest, &size);
    static constexpr char kHex[] = "0123456789abcdef";
    std::string hex;
    hex.reserve(2 * size);
    for (unsigned int i = 0; i < size; ++i) {
      hex += kHex[digest[i] >> 4];
      hex += kHex[digest[i] & 15];
    }
    return hex;
  }
  EVP_MD_CTX* ctx;
};

}  // namespace

std::string Sha256Hex(std::string_view bytes) {
  DigestContext digest;
  digest.Update(bytes.data(), bytes.size());
  return digest.HexDigest();
}

Result<std::string> Sha256File(const std::filesystem::path& path) {
  std::unique_ptr<FILE, int (*)(FILE*)> file(std::fopen(path.c_str(), "rb"), &std::fclose);
  if (!file) return Status::NotFound("cannot open " + path.string());
  DigestContext digest;
  std::array<char, 1 << 16> block;
  size_t n;
  while ((n = std::fread(block.data(), 1, block.size(), file.get())) > 0) digest.Update(block.data(), n);
  if (std::ferror(file.get())) return Status::Internal("reading " + path.string() + " failed");
  return digest.HexDigest();
}

}  // namespace vigil
