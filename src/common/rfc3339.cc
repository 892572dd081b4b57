#include "common/rfc3339.h"

#include <cstdio>
#include <cstring>
#include <ctime>

namespace vigil {

std::string FormatRfc3339(int64_t ms) {
  const std::time_t seconds = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char buffer[96];
  std::snprintf(buffer, sizeof(buffer), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms % 1000));
  return buffer;
}

bool ParseRfc3339(const std::string& text, int64_t* ms) {
  std::tm tm{};
  int frac_ms = 0;
  const char* rest = strptime(text.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
  if (rest == nullptr) return false;
  if (*rest == '.') {
    ++rest;
    int digits = 0;
    while (*rest >= '0' && *rest <= '9') {
      if (digits < 3) frac_ms = frac_ms * 10 + (*rest - '0');
      ++digits;
      ++rest;
    }
    if (digits == 0) return false;
    for (int d = digits; d < 3; ++d) frac_ms *= 10;
  }
  int64_t offset_s = 0;
  if (*rest == 'Z' || *rest == 'z') {
    ++rest;
  } else if (*rest == '+' || *rest == '-') {
    // Exactly "+HH:MM".
    const int sign = *rest == '-' ? -1 : 1;
    auto digit = [](char c) { return c >= '0' && c <= '9'; };
    if (std::strlen(rest) != 6 || !digit(rest[1]) || !digit(rest[2]) || rest[3] != ':' || !digit(rest[4]) ||
        !digit(rest[5])) {
      return false;
    }
    const int hh = (rest[1] - '0') * 10 + (rest[2] - '0');
    const int mm = (rest[4] - '0') * 10 + (rest[5] - '0');
    if (hh > 23 || mm > 59) return false;
    offset_s = sign * (hh * 3600 + mm * 60);
    rest += 6;
  } else {
    return false;
  }
  if (*rest != '\0') return false;
  *ms = (static_cast<int64_t>(timegm(&tm)) - offset_s) * 1000 + frac_ms;
  return true;
}

}  // namespace vigil
