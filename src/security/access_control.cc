#include "security/access_control.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <spdlog/spdlog.h>

#include <pthread.h>

#include <cctype>
#include <condition_variable>

#include "common/hex.h"
#include "common/sha256.h"

namespace vigil {
namespace {

constexpr std::string_view kPrefix = "vigil_";
constexpr size_t kIdBytes = 8, kSecretBytes = 32, kSaltBytes = 16;

struct RoleName {
  Role role;
  std::string_view name;
};
constexpr RoleName kRoles[] = {
    {kRoleInfer, "infer"}, {kRoleFeedback, "feedback"}, {kRoleMetrics, "metrics"}, {kRoleAdmin, "admin"}};

Result<std::string> RandomHex(size_t bytes) {
  std::string raw(bytes, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(raw.data()), static_cast<int>(bytes)) != 1) {
    return Status::Internal("the random number generator failed");
  }
  return HexEncode(raw);
}

std::string SecretHash(std::string_view salt, std::string_view secret) {
  std::string input;
  input.reserve(salt.size() + 1 + secret.size());
  input.append(salt).push_back(':');
  input.append(secret);
  return Sha256Hex(input);
}

bool IsLowerHex(std::string_view s) {
  for (char c : s) {
    if (!std::isdigit(static_cast<unsigned char>(c)) && (c < 'a' || c > 'f')) return false;
  }
  return true;
}

bool Grants(uint32_t roles, Access needed) {
  if (roles & kRoleAdmin) return true;
  switch (needed) {
    case Access::kHealth: return roles != 0;
    case Access::kMetrics: return roles & kRoleMetrics;
    case Access::kInfer: return roles & kRoleInfer;
    case Access::kFeedback: return roles & kRoleFeedback;
    case Access::kAdmin: return false;
  }
  return false;
}

std::string_view NeededName(Access needed) {
  switch (needed) {
    case Access::kHealth: return "any";
    case Access::kMetrics: return "metrics";
    case Access::kInfer: return "infer";
    case Access::kFeedback: return "feedback";
    case Access::kAdmin: return "admin";
  }
  return "admin";
}

}  // namespace

Result<uint32_t> ParseRoles(const std::vector<std::string>& names) {
  uint32_t roles = 0;
  for (const std::string& list : names) {
    size_t i = 0;
    while (i <= list.size()) {
      size_t j = list.find(',', i);
      if (j == std::string::npos) j = list.size();
      const std::string_view name = std::string_view(list).substr(i, j - i);
      i = j + 1;
      if (name.empty()) continue;
      bool known = false;
      for (const RoleName& r : kRoles) {
        if (r.name == name) {
          roles |= r.role;
          known = true;
        }
      }
      if (!known) {
        return Status::InvalidArgument("unknown role '" + std::string(name) +
                                       "' (roles: infer, feedback, metrics, admin)");
      }
    }
  }
  if (roles == 0) return Status::InvalidArgument("a key needs at least one role (infer, feedback, metrics, admin)");
  return roles;
}

std::string RoleNames(uint32_t roles) {
  std::string out;
  for (const RoleName& r : kRoles) {
    if (!(roles & r.role)) continue;
    if (!out.empty()) out += ',';
    out += r.name;
  }
  return out;
}

Result<MintedKey> MintApiKey(uint32_t roles, const std::string& name, const std::string& created_by,
                             int64_t now_ms) {
  auto id = RandomHex(kIdBytes);
  auto secret = RandomHex(kSecretBytes);
  auto salt = RandomHex(kSaltBytes);
  if (!id.ok()) return id.status();
  if (!secret.ok()) return secret.status();
  if (!salt.ok()) return salt.status();
  MintedKey key;
  key.record.id = *id;
  key.record.name = name;
  key.record.roles = RoleNames(roles);
  key.record.salt = *salt;
  key.record.hash = SecretHash(*salt, *secret);
  key.record.created_by = created_by;
  key.record.created_ms = now_ms;
  key.token = std::string(kPrefix) + *id + "_" + *secret;
  return key;
}

AccessControl::AccessControl(KeyStore& keys, Options options)
    : store_(keys), options_(options), keys_(std::make_shared<Keys>()) {}

Status AccessControl::Load() {
  auto records = store_.ApiKeys();
  if (!records.ok()) return records.status().WithContext("reading API keys");
  auto keys = std::make_shared<Keys>();
  for (const ApiKeyRecord& r : *records) {
    if (r.revoked_ms != 0) continue;
    auto roles = ParseRoles({r.roles});
    if (!roles.ok()) {
      spdlog::warn("API key {} ({}) is ignored: {}", r.id, r.name, roles.status().message());
      continue;
    }
    (*keys)[r.id] = Key{r.name, *roles, r.salt, r.hash};
  }
  std::lock_guard lock(mu_);
  keys_ = std::move(keys);
  // Buckets of keys no longer in force go.
  std::erase_if(buckets_, [&](const auto& b) { return !keys_->count(b.first); });
  return Status::Ok();
}

size_t AccessControl::ActiveKeys() const {
  std::lock_guard lock(mu_);
  return keys_->size();
}

AccessControl::~AccessControl() {
  refresher_.request_stop();
  if (refresher_.joinable()) refresher_.join();
}

void AccessControl::StartRefreshing() {
  refresher_ = std::jthread([this](std::stop_token stop) {
    pthread_setname_np(pthread_self(), "vigil-keys");
    std::mutex mu;
    std::condition_variable_any cv;
    std::unique_lock lock(mu);
    while (!cv.wait_for(lock, stop, options_.refresh, [] { return false; }) && !stop.stop_requested()) {
      if (Status s = Load(); !s.ok()) {
        refresh_failures_.fetch_add(1);
        spdlog::warn("keeping the API keys read before: {}", s.ToString());
      }
    }
  });
}

AccessControl::Decision AccessControl::Check(std::string_view authorization, Access needed, Clock::time_point now) {
  Decision d;
  if (needed == Access::kHealth && options_.open_health) return d;
  if (needed == Access::kMetrics && options_.open_metrics) return d;
  if (authorization.empty()) {
    d.status = 401;
    d.message = "this endpoint needs an API key with the " + std::string(NeededName(needed)) +
                " role: send it as 'Authorization: Bearer <key>'";
    return d;
  }
  constexpr std::string_view kBearer = "Bearer ";
  std::string_view token = authorization;
  if (token.size() > kBearer.size() && strncasecmp(token.data(), kBearer.data(), kBearer.size()) == 0) {
    token.remove_prefix(kBearer.size());
  } else {
    d.status = 401;
    d.message = "the Authorization header must read 'Bearer <key>'";
    return d;
  }
  const size_t id_chars = 2 * kIdBytes, secret_chars = 2 * kSecretBytes;
  if (token.size() != kPrefix.size() + id_chars + 1 + secret_chars || token.substr(0, kPrefix.size()) != kPrefix ||
      token[kPrefix.size() + id_chars] != '_') {
    d.status = 401;
    d.message = "the API key is malformed (keys read vigil_<id>_<secret>, as `vigil keys create` prints them)";
    return d;
  }
  const std::string id(token.substr(kPrefix.size(), id_chars));
  const std::string_view secret = token.substr(kPrefix.size() + id_chars + 1);
  std::shared_ptr<const Keys> keys;
  {
    std::lock_guard lock(mu_);
    keys = keys_;
  }
  auto it = keys->find(id);
  // The same work whether or not the id exists, so that timing does not tell
  // which ids do.
  static const Key kNoKey{"", 0, std::string(2 * kSaltBytes, '0'), std::string(64, '0')};
  const Key& key = it == keys->end() ? kNoKey : it->second;
  const std::string presented = SecretHash(key.salt, secret);
  const bool match = presented.size() == key.hash.size() &&
                     CRYPTO_memcmp(presented.data(), key.hash.data(), presented.size()) == 0;
  if (it == keys->end() || !match || !IsLowerHex(secret)) {
    d.status = 401;
    d.message = "the API key is not valid (unknown, revoked or mistyped)";
    return d;
  }
  d.key_id = id;
  if (!Grants(key.roles, needed)) {
    d.status = 403;
    d.message = "API key " + id + " (" + key.name + ") has the role(s) " + RoleNames(key.roles) +
                "; this endpoint needs " + std::string(NeededName(needed));
    return d;
  }
  if (options_.key_rate > 0) {
    std::lock_guard lock(mu_);
    auto [b, inserted] = buckets_.try_emplace(
        id, options_.key_rate, options_.key_burst > 0 ? options_.key_burst : options_.key_rate, now);
    if (!b->second.Take(now, &d.retry_after_s)) {
      d.status = 429;
      d.message = "API key " + id + " is over its rate of " + std::to_string(options_.key_rate) +
                  " requests per second";
    }
  }
  return d;
}

}  // namespace vigil
