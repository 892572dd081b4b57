// RFC 3339 times, as the alerting API and Alertmanager speak them.
//
// Thread-safety: pure functions.
#ifndef VIGIL_COMMON_RFC3339_H_
#define VIGIL_COMMON_RFC3339_H_

#include <cstdint>
#include <string>

namespace vigil {

// "2027-01-15T08:00:00.000Z" for Unix milliseconds.
std::string FormatRfc3339(int64_t ms);

// Parses an RFC 3339 time ("2026-11-28T12:00:00Z", fractional seconds and a
// "+HH:MM" offset allowed) into Unix milliseconds; false if it is not one.
bool ParseRfc3339(const std::string& text, int64_t* ms);

}  // namespace vigil

#endif  // VIGIL_COMMON_RFC3339_H_
