// The main() of every test binary (in place of gtest_main).
//
// It touches spdlog's default logger on the main thread before any test
// starts a thread. The logger lives in a function-local static of
// libspdlog.so; its initialisation is thread-safe, but the library is not
// built with ThreadSanitizer, so when two test threads log first at the
// same moment the guard's synchronisation is invisible to TSan and it
// reports a race on the registry (RegistryTest.ConcurrentRegistrations...
// in a CI run). `vigil` itself sets the log level in main() before it
// starts a thread, which is the same first touch.
#include <gtest/gtest.h>
#include <spdlog/spdlog.h>

int main(int argc, char** argv) {
  spdlog::default_logger();
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
