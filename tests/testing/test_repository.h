// Test helpers: temporary directories and a model repository holding the
// credit example, trained for real (XGBoost, seeded, about 0.2 s).
#ifndef VIGIL_TESTS_TESTING_TEST_REPOSITORY_H_
#define VIGIL_TESTS_TESTING_TEST_REPOSITORY_H_

#include <cstdint>
#include <filesystem>
#include <string>

namespace vigil::testing {

// A fresh directory under the system temp dir, removed by the destructor.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// The credit data set shipped in examples/credit.
std::filesystem::path CreditCsv();

// Trains the credit classifier into repo/<model>/<version> (and model.yaml if
// absent). A different seed gives a different model. Aborts the test binary
// on failure, since nothing else can run without it.
void TrainCreditModel(const std::filesystem::path& repo, const std::string& model,
                      int64_t version, uint64_t seed = 42, int rounds = 60);

// Copies repo/<model>/<from> to repo/<model>/<to> through a hidden staging
// directory and a rename, as a deployment tool should.
void CopyVersion(const std::filesystem::path& repo, const std::string& model, int64_t from,
                 int64_t to);

// Writes `content` to `path`, creating parent directories.
void WriteFile(const std::filesystem::path& path, const std::string& content);
std::string ReadFile(const std::filesystem::path& path);

}  // namespace vigil::testing

#endif  // VIGIL_TESTS_TESTING_TEST_REPOSITORY_H_
