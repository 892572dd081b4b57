#include "common/sha256.h"

#include <openssl/evp.h>

#include <array>
#include <cstdio>
#include <memory>

#include "common/hex.h"

namespace vigil {
namespace {

struct DigestContext {
  DigestContext() : ctx(EVP_MD_CTX_new()) { EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr); }
  ~DigestContext() { EVP_MD_CTX_free(ctx); }
  void Update(const void* data, size_t size) { EVP_DigestUpdate(ctx, data, size); }
  std::string Digest() {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int size = 0;
    EVP_DigestFinal_ex(ctx, digest, &size);
    return std::string(reinterpret_cast<const char*>(digest), size);
  }
  EVP_MD_CTX* ctx;
};

}  // namespace

std::string Sha256Bytes(std::string_view bytes) {
  DigestContext digest;
  digest.Update(bytes.data(), bytes.size());
  return digest.Digest();
}

std::string Sha256Hex(std::string_view bytes) { return HexEncode(Sha256Bytes(bytes)); }

Result<std::string> Sha256File(const std::filesystem::path& path) {
  std::unique_ptr<FILE, int (*)(FILE*)> file(std::fopen(path.c_str(), "rb"), &std::fclose);
  if (!file) return Status::NotFound("cannot open " + path.string());
  DigestContext digest;
  std::array<char, 1 << 16> block;
  size_t n;
  while ((n = std::fread(block.data(), 1, block.size(), file.get())) > 0) digest.Update(block.data(), n);
  if (std::ferror(file.get())) return Status::Internal("reading " + path.string() + " failed");
  return HexEncode(digest.Digest());
}

}  // namespace vigil
