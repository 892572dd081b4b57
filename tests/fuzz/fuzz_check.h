// Helpers shared by the fuzz targets.
#ifndef VIGIL_TESTS_FUZZ_FUZZ_CHECK_H_
#define VIGIL_TESTS_FUZZ_FUZZ_CHECK_H_

#include <cstdio>
#include <cstdlib>
#include <string>

#include "common/status.h"

namespace vigil::fuzz {

// Aborts, which libFuzzer reports as a crash with its reproducer, when an
// invariant of the parser under test does not hold.
inline void Check(bool ok, const char* what, const std::string& detail = "") {
  if (!ok) {
    std::fprintf(stderr, "fuzz: invariant broken: %s\n%s\n", what, detail.c_str());
    std::abort();
  }
}

// With VIGIL_FUZZ_VERBOSE=1 in the environment, prints what the parser said
// about each input: handy when running a target over a corpus by hand
// (`VIGIL_FUZZ_VERBOSE=1 build-fuzz/feedback_fuzz tests/fuzz/corpus/feedback/*`).
inline void Report(const Status& status) {
  static const bool verbose = std::getenv("VIGIL_FUZZ_VERBOSE") != nullptr;
  if (verbose) std::fprintf(stderr, "fuzz: %s\n", status.ok() ? "accepted" : status.ToString().c_str());
}

}  // namespace vigil::fuzz

#endif  // VIGIL_TESTS_FUZZ_FUZZ_CHECK_H_
