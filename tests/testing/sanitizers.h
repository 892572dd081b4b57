// Whether this build runs under a sanitizer (tests/sanitize), for the few
// checks whose figures a sanitizer changes: resident memory (ASan keeps freed
// blocks in quarantine and adds shadow memory) and elapsed time.
#ifndef VIGIL_TESTS_TESTING_SANITIZERS_H_
#define VIGIL_TESTS_TESTING_SANITIZERS_H_

namespace vigil::testing {

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
inline constexpr bool kSanitized = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
inline constexpr bool kSanitized = true;
#else
inline constexpr bool kSanitized = false;
#endif
#else
inline constexpr bool kSanitized = false;
#endif

}  // namespace vigil::testing

#endif  // VIGIL_TESTS_TESTING_SANITIZERS_H_
