#include "testing/test_repository.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <random>
#include <sstream>

#include "lifecycle/xgboost_trainer.h"

namespace vigil::testing {
namespace fs = std::filesystem;

TempDir::TempDir() {
  std::random_device rd;
  path_ = fs::temp_directory_path() /
          ("vigil-test-" + std::to_string(getpid()) + "-" + std::to_string(rd()));
  fs::create_directories(path_);
}

TempDir::~TempDir() {
  std::error_code ec;
  fs::remove_all(path_, ec);
}

fs::path CreditCsv() { return VIGIL_CREDIT_CSV; }

void TrainCreditModel(const fs::path& repo, const std::string& model, int64_t version,
                      uint64_t seed, int rounds) {
  TrainOptions options;
  options.data = CreditCsv();
  options.repository = repo;
  options.model_name = model;
  options.version = version;
  options.seed = seed;
  options.rounds = rounds;
  auto report = TrainXGBoostClassifier(options, [](const std::string&) {});
  if (!report.ok()) {
    std::fprintf(stderr, "training the test model failed: %s\n", report.status().ToString().c_str());
    std::abort();
  }
}

void CopyVersion(const fs::path& repo, const std::string& model, int64_t from, int64_t to) {
  const fs::path staging = repo / model / (".copy-" + std::to_string(to));
  fs::remove_all(staging);
  fs::copy(repo / model / std::to_string(from), staging, fs::copy_options::recursive);
  fs::rename(staging, repo / model / std::to_string(to));
}

void WriteFile(const fs::path& path, const std::string& content) {
  fs::create_directories(path.parent_path());
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << content;
}

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace vigil::testing
