#include "security/artifact_cipher.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <sstream>

#include "common/hex.h"
#include "common/sha256.h"

namespace vigil {
namespace {

constexpr std::string_view kMagic = "VIGILAES";
constexpr size_t kFingerprintBytes = 8, kNonceBytes = 12, kTagBytes = 16;
constexpr size_t kHeaderBytes = 8 + kFingerprintBytes + kNonceBytes;

struct CipherContextFree {
  void operator()(EVP_CIPHER_CTX* ctx) const { EVP_CIPHER_CTX_free(ctx); }
};
using CipherContext = std::unique_ptr<EVP_CIPHER_CTX, CipherContextFree>;

// Encrypts or decrypts (as `ctx` was set up) `in` into `out`, adding the bytes
// written to `*written`. EVP takes int lengths: large artifacts go in chunks.
bool UpdateInChunks(EVP_CIPHER_CTX* ctx, std::string_view in, unsigned char* out, size_t* written) {
  for (size_t done = 0; done < in.size();) {
    const int chunk = static_cast<int>(std::min<size_t>(in.size() - done, 1 << 30));
    int len = 0;
    if (EVP_CipherUpdate(ctx, out + *written, &len, reinterpret_cast<const unsigned char*>(in.data() + done), chunk) !=
        1) {
      return false;
    }
    done += static_cast<size_t>(chunk);
    *written += static_cast<size_t>(len);
  }
  return true;
}

// The first 8 bytes of SHA-256 of the key, as they appear in the header.
std::string FingerprintBytes(const ModelKey& key) {
  return Sha256Bytes(std::string_view(reinterpret_cast<const char*>(key.bytes.data()), key.bytes.size()))
      .substr(0, kFingerprintBytes);
}

}  // namespace

Result<ModelKey> ParseModelKey(std::string_view hex) {
  while (!hex.empty() && std::isspace(static_cast<unsigned char>(hex.back()))) hex.remove_suffix(1);
  while (!hex.empty() && std::isspace(static_cast<unsigned char>(hex.front()))) hex.remove_prefix(1);
  ModelKey key;
  if (hex.size() != 2 * key.bytes.size()) {
    return Status::InvalidArgument("a model key is 64 hex digits (32 bytes), got " + std::to_string(hex.size()) +
                                   " characters; make one with `vigil encrypt --new-key FILE`");
  }
  for (size_t i = 0; i < key.bytes.size(); ++i) {
    const int hi = HexDigitValue(hex[2 * i]), lo = HexDigitValue(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return Status::InvalidArgument("a model key is 64 hex digits; found other characters");
    key.bytes[i] = static_cast<unsigned char>(hi * 16 + lo);
  }
  key.fingerprint = HexEncode(FingerprintBytes(key));
  return key;
}

Result<ModelKey> ReadModelKeyFile(const std::filesystem::path& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return Status::NotFound("model key file " + path.string() + " does not exist");
  if (st.st_mode & (S_IRWXG | S_IRWXO)) {
    return Status::PermissionDenied("model key file " + path.string() +
                                    " can be read by others; chmod 600 it (only its owner may read a key)");
  }
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  if (!in) return Status::NotFound("cannot read model key file " + path.string());
  auto key = ParseModelKey(text.str());
  if (!key.ok()) return key.status().WithContext(path.string());
  return key;
}

Result<std::optional<ModelKey>> ModelKeyFromEnvironment() {
  if (const char* file = std::getenv("VIGIL_MODEL_KEY_FILE"); file && *file) {
    auto key = ReadModelKeyFile(file);
    if (!key.ok()) return key.status().WithContext("VIGIL_MODEL_KEY_FILE");
    return std::optional<ModelKey>(*key);
  }
  if (const char* hex = std::getenv("VIGIL_MODEL_KEY"); hex && *hex) {
    auto key = ParseModelKey(hex);
    if (!key.ok()) return key.status().WithContext("VIGIL_MODEL_KEY");
    return std::optional<ModelKey>(*key);
  }
  return std::optional<ModelKey>();
}

Result<std::string> GenerateModelKeyHex() {
  std::string raw(32, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(raw.data()), static_cast<int>(raw.size())) != 1) {
    return Status::Internal("the random number generator failed");
  }
  return HexEncode(raw);
}

bool IsSealedArtifact(std::string_view bytes) { return bytes.substr(0, kMagic.size()) == kMagic; }

Result<std::string> SealArtifact(std::string_view plain, const ModelKey& key) {
  std::string out;
  out.reserve(kHeaderBytes + plain.size() + kTagBytes);
  out.append(kMagic);
  out.append(FingerprintBytes(key));
  std::string nonce(kNonceBytes, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(nonce.data()), static_cast<int>(nonce.size())) != 1) {
    return Status::Internal("the random number generator failed");
  }
  out.append(nonce);
  CipherContext ctx(EVP_CIPHER_CTX_new());
  int len = 0;
  const auto* aad = reinterpret_cast<const unsigned char*>(out.data());
  if (!ctx || EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, nullptr, nullptr) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN, kNonceBytes, nullptr) != 1 ||
      EVP_EncryptInit_ex(ctx.get(), nullptr, nullptr, key.bytes.data(),
                         reinterpret_cast<const unsigned char*>(nonce.data())) != 1 ||
      EVP_EncryptUpdate(ctx.get(), nullptr, &len, aad, 8 + kFingerprintBytes) != 1) {
    return Status::Internal("AES-256-GCM: cannot start encrypting");
  }
  const size_t at = out.size();
  out.resize(at + plain.size() + kTagBytes);
  auto* dst = reinterpret_cast<unsigned char*>(out.data() + at);
  size_t written = 0;
  if (!UpdateInChunks(ctx.get(), plain, dst, &written)) return Status::Internal("AES-256-GCM: encryption failed");
  if (EVP_EncryptFinal_ex(ctx.get(), dst + written, &len) != 1) return Status::Internal("AES-256-GCM: final failed");
  written += static_cast<size_t>(len);
  if (EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, kTagBytes, dst + written) != 1) {
    return Status::Internal("AES-256-GCM: cannot read the tag");
  }
  out.resize(at + written + kTagBytes);
  return out;
}

Result<std::string> OpenArtifact(std::string_view sealed, const ModelKey& key) {
  if (!IsSealedArtifact(sealed) || sealed.size() < kHeaderBytes + kTagBytes) {
    return Status::InvalidArgument("not an encrypted artifact (too short or no VIGILAES header)");
  }
  const std::string_view fingerprint = sealed.substr(8, kFingerprintBytes);
  if (fingerprint != FingerprintBytes(key)) {
    return Status::PermissionDenied("the artifact was encrypted with another key (fingerprint " + HexEncode(fingerprint) +
                                    "; this process has key " + key.fingerprint + ")");
  }
  const std::string_view nonce = sealed.substr(8 + kFingerprintBytes, kNonceBytes);
  const std::string_view body = sealed.substr(kHeaderBytes, sealed.size() - kHeaderBytes - kTagBytes);
  const std::string_view tag = sealed.substr(sealed.size() - kTagBytes);
  CipherContext ctx(EVP_CIPHER_CTX_new());
  int len = 0;
  if (!ctx || EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, nullptr, nullptr) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN, kNonceBytes, nullptr) != 1 ||
      EVP_DecryptInit_ex(ctx.get(), nullptr, nullptr, key.bytes.data(),
                         reinterpret_cast<const unsigned char*>(nonce.data())) != 1 ||
      EVP_DecryptUpdate(ctx.get(), nullptr, &len, reinterpret_cast<const unsigned char*>(sealed.data()),
                        8 + kFingerprintBytes) != 1) {
    return Status::Internal("AES-256-GCM: cannot start decrypting");
  }
  std::string plain(body.size(), '\0');
  auto* dst = reinterpret_cast<unsigned char*>(plain.data());
  size_t written = 0;
  if (!UpdateInChunks(ctx.get(), body, dst, &written)) return Status::Internal("AES-256-GCM: decryption failed");
  std::string tag_copy(tag);
  if (EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, kTagBytes, tag_copy.data()) != 1 ||
      EVP_DecryptFinal_ex(ctx.get(), dst + written, &len) != 1) {
    // Nothing decrypted is returned: the whole file is refused.
    OPENSSL_cleanse(plain.data(), plain.size());
    return Status::PermissionDenied("the encrypted artifact fails authentication: it was modified or truncated");
  }
  plain.resize(written + static_cast<size_t>(len));
  return plain;
}

}  // namespace vigil
