// Request ids that Vigil generates: UUIDv7 (RFC 9562), whose first 48 bits
// are the request's arrival time in Unix milliseconds. The prediction log
// relies on that: it finds a request by the time in its id, with no index of
// the ids it generated (store/sqlite_store.cc).
//
// Thread-safety: NewRequestId is thread-safe (a random generator per thread).
#ifndef VIGIL_COMMON_REQUEST_ID_H_
#define VIGIL_COMMON_REQUEST_ID_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace vigil {

// A UUIDv7 for a request that arrived at `unix_ms`: the time, then 74
// random bits. Ids of one period sort together.
std::string NewRequestId(int64_t unix_ms);

// The time in a UUIDv7 in the lower-case form NewRequestId writes; nullopt
// for any other string.
std::optional<int64_t> RequestIdTime(std::string_view id);

}  // namespace vigil

#endif  // VIGIL_COMMON_REQUEST_ID_H_
