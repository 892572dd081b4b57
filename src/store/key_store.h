// KeyStore: where the server's API keys are kept (security/access_control.h).
//
// A key is a public id and a random secret; only a salted hash of the secret
// is stored, so a copy of the store does not let anyone in. Revoking keeps
// the record (who had access when) and stops the key at once.
//
// Thread-safety: implementations are thread-safe.
#ifndef VIGIL_STORE_KEY_STORE_H_
#define VIGIL_STORE_KEY_STORE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"

namespace vigil {

struct ApiKeyRecord {
  std::string id;          // The key's public part, e.g. "3f9a1c0d2b7e4a55".
  std::string name;        // What it is for, e.g. "fraud-service".
  std::string roles;       // Comma-separated role names, e.g. "infer,feedback".
  std::string salt;        // Hex.
  std::string hash;        // Hex SHA-256 of the salt and the secret.
  std::string created_by;
  int64_t created_ms = 0;
  int64_t revoked_ms = 0;  // 0: in force.
};

class KeyStore {
 public:
  virtual ~KeyStore() = default;
  // ALREADY_EXISTS if a key has this id.
  virtual Status AddApiKey(const ApiKeyRecord& key) = 0;
  // Every key, revoked ones too, oldest first.
  virtual Result<std::vector<ApiKeyRecord>> ApiKeys() = 0;
  // False if there is no key with this id or it was revoked already.
  virtual Result<bool> RevokeApiKey(const std::string& id, int64_t now_ms) = 0;
};

}  // namespace vigil

#endif  // VIGIL_STORE_KEY_STORE_H_
