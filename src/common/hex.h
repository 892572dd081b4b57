// Lowercase hexadecimal text of bytes: digests, key ids and secrets.
//
// Thread-safety: pure functions.
#ifndef VIGIL_COMMON_HEX_H_
#define VIGIL_COMMON_HEX_H_

#include <string>
#include <string_view>

namespace vigil {

// Two lowercase hex digits per byte.
std::string HexEncode(std::string_view bytes);
// The value of one hex digit (either case), or -1 for any other character.
int HexDigitValue(char c);

}  // namespace vigil

#endif  // VIGIL_COMMON_HEX_H_
