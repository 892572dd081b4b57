#include "common/request_id.h"

#include <random>

namespace vigil {

std::string NewRequestId(int64_t unix_ms) {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  const uint64_t ms = static_cast<uint64_t>(unix_ms) & 0xffffffffffffULL;
  const uint64_t hi = (ms << 16) | (rng() & 0x0fffULL) | 0x7000ULL;  // Version 7 in bits 12-15.
  const uint64_t lo = (rng() & 0x3fffffffffffffffULL) | 0x8000000000000000ULL;  // Variant 10.
  static constexpr char kHex[] = "0123456789abcdef";
  std::string id(36, '-');
  int pos = 0;
  for (int i = 0; i < 32; ++i) {
    if (pos == 8 || pos == 13 || pos == 18 || pos == 23) ++pos;  // Dashes stay.
    const uint64_t word = i < 16 ? hi : lo;
    id[pos++] = kHex[(word >> (60 - 4 * (i % 16))) & 0xf];
  }
  return id;
}

std::optional<int64_t> RequestIdTime(std::string_view id) {
  if (id.size() != 36 || id[8] != '-' || id[13] != '-' || id[18] != '-' || id[23] != '-' || id[14] != '7') {
    return std::nullopt;
  }
  if (id[19] != '8' && id[19] != '9' && id[19] != 'a' && id[19] != 'b') return std::nullopt;
  int64_t ms = 0;
  for (size_t i = 0; i < 13; ++i) {
    if (i == 8) continue;  // The dash between the time's two groups.
    const char c = id[i];
    int v;
    if (c >= '0' && c <= '9') {
      v = c - '0';
    } else if (c >= 'a' && c <= 'f') {
      v = c - 'a' + 10;
    } else {
      return std::nullopt;
    }
    ms = ms * 16 + v;
  }
  return ms;
}

}  // namespace vigil
