// Writing JSON text by hand, for the hot paths (responses, the prediction
// log) where building a document object first would cost more than the
// work. Everything else uses nlohmann-json.
//
// Thread-safety: pure functions.
#ifndef VIGIL_COMMON_JSON_TEXT_H_
#define VIGIL_COMMON_JSON_TEXT_H_

#include <algorithm>
#include <charconv>
#include <cmath>
#include <string>
#include <string_view>
#include <type_traits>

namespace vigil {

// Appends `s` as a JSON string literal, quotes included.
void AppendJsonString(std::string& out, std::string_view s);

// Appends a number in its shortest exact form; a NaN or infinite float is
// null, which JSON has no other way to say.
template <typename T>
void AppendJsonNumber(std::string& out, T v) {
  if constexpr (std::is_floating_point_v<T>) {
    if (!std::isfinite(v)) {
      out += "null";
      return;
    }
  }
  char buf[32];
  auto [ptr, ec] = std::to_chars(buf, buf + sizeof(buf), v);
  if constexpr (std::is_floating_point_v<T>) {
    // A float of 2^63 or more may come out as digits only ("1e+20" is
    // "100000000000000000000"), which JSON parsers (simdjson among them) read
    // as an integer too large for 64 bits: write those in exponent form.
    if (std::fabs(v) >= 9.2e18 && std::find(buf, ptr, 'e') == ptr) {
      ptr = std::to_chars(buf, buf + sizeof(buf), v, std::chars_format::scientific).ptr;
    }
  }
  out.append(buf, ptr);
}

}  // namespace vigil

#endif  // VIGIL_COMMON_JSON_TEXT_H_
