// AccessControl: API keys with roles, checked on every request.
//
// A key reads "vigil_<id>_<secret>": a public id (16 hex digits) that names
// the record, and a 256-bit random secret that only its holder has. The store
// keeps the record with a salted SHA-256 of the secret (KeyStore); a request
// carries the key as "Authorization: Bearer <key>", and the check hashes the
// presented secret with the record's salt and compares in constant time.
// (A fast hash is right for random 256-bit secrets: there is nothing to guess
// a dictionary from, and a slow one would cost every request.)
//
// Roles: `infer` (inference, explanations, metadata), `feedback`, `metrics`
// (scraping /metrics only), `admin` (everything: registry, rollouts, jobs,
// alerts, silences, repository control, the monitor). A key holds one or
// more. Health endpoints, and /metrics if configured, need no key.
//
// Keys are read from the store at start and again every `refresh` on a
// thread of their own (StartRefreshing), never on a request's, so that
// `vigil keys create` and `vigil keys revoke` (which write the store) take
// effect within a second without a restart. Each key may be rate-limited (token bucket, 429 with
// Retry-After).
//
// Thread-safety: thread-safe.
#ifndef VIGIL_SECURITY_ACCESS_CONTROL_H_
#define VIGIL_SECURITY_ACCESS_CONTROL_H_

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include "common/status.h"
#include "common/token_bucket.h"
#include "store/key_store.h"

namespace vigil {

// Role bits. `kAdmin` grants every other role.
enum Role : uint32_t {
  kRoleInfer = 1,
  kRoleFeedback = 2,
  kRoleMetrics = 4,
  kRoleAdmin = 8,
};

// What an endpoint needs.
enum class Access {
  kHealth,    // /v2/health/*: open unless configured otherwise.
  kMetrics,   // /metrics: the metrics role, or open if configured.
  kInfer,     // Inference, explanations, metadata.
  kFeedback,  // Ground truth.
  kAdmin,     // Everything that changes or inspects the server's state.
};

// "infer", "feedback", "metrics", "admin" (repeatable or comma-separated) to
// role bits; INVALID_ARGUMENT names an unknown role.
Result<uint32_t> ParseRoles(const std::vector<std::string>& names);
// "infer,feedback".
std::string RoleNames(uint32_t roles);

struct MintedKey {
  ApiKeyRecord record;  // To store.
  std::string token;    // To show once: "vigil_<id>_<secret>".
};
// A new random key (OpenSSL's RAND_bytes). INTERNAL if the generator fails.
Result<MintedKey> MintApiKey(uint32_t roles, const std::string& name, const std::string& created_by,
                             int64_t now_ms);

class AccessControl {
 public:
  using Clock = TokenBucket::Clock;
  struct Options {
    bool open_health = true;    // /v2/health/* without a key.
    bool open_metrics = false;  // /metrics without a key.
    double key_rate = 0;        // Requests per second per key; 0: unlimited.
    double key_burst = 0;       // Burst per key; 0: one second's worth.
    std::chrono::milliseconds refresh{1000};
  };

  // What the check decided. `status` is 0 to go ahead, else 401, 403 or 429
  // with `message` (and `retry_after_s` for 429).
  struct Decision {
    int status = 0;
    std::string message;
    std::string key_id;  // The key that was presented and valid, if any.
    int retry_after_s = 0;
  };

  AccessControl(KeyStore& keys, Options options);

  ~AccessControl();

  // Reads the keys. Fails if the store cannot be read.
  Status Load();
  // Calls Load() every `refresh` until destruction. A failed read keeps the
  // keys read before, and is logged and counted in refresh_failures().
  void StartRefreshing();
  int64_t refresh_failures() const { return refresh_failures_.load(); }
  // The number of keys in force.
  size_t ActiveKeys() const;

  // Checks the request's Authorization header value against what `needed`
  // requires.
  Decision Check(std::string_view authorization, Access needed, Clock::time_point now = Clock::now());

 private:
  struct Key {
    std::string name;
    uint32_t roles = 0;
    std::string salt;  // Bytes.
    std::string hash;  // Bytes.
  };
  using Keys = std::unordered_map<std::string, Key>;

  KeyStore& store_;
  const Options options_;
  mutable std::mutex mu_;
  // Guarded by mu_.
  std::shared_ptr<const Keys> keys_;
  std::unordered_map<std::string, TokenBucket> buckets_;
  std::atomic<int64_t> refresh_failures_{0};
  std::jthread refresher_;
};

}  // namespace vigil

#endif  // VIGIL_SECURITY_ACCESS_CONTROL_H_
