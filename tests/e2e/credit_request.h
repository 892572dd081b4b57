// Credit applicants as v2 inference requests, for end-to-end tests.
#ifndef VIGIL_TESTS_E2E_CREDIT_REQUEST_H_
#define VIGIL_TESTS_E2E_CREDIT_REQUEST_H_

#include <chrono>
#include <cstddef>
#include <string>
#include <thread>
#include <vector>

#include "dataset/tabular_dataset.h"
#include "repository/model_config.h"

namespace vigil::testing {

// The rows `rows` of `ds` as one request in the columns form (a named input
// per feature of `config`: numbers as FP64, categories as BYTES, null for
// missing), with id `id` and `age_shift` years added to every age.
std::string CreditRequest(const TabularDataset& ds, const ModelConfig& config, const std::vector<size_t>& rows,
                          const std::string& id, double age_shift = 0);

// [begin, end).
std::vector<size_t> RowRange(size_t begin, size_t end);

// One applicant as a v2 request in the tensor form the example model (and
// TrainCreditModel's) takes: thirteen FP32 features.
inline constexpr char kCreditRow[] =
    R"({"inputs":[{"name":"input","datatype":"FP32","shape":[1,13],"data":[9,5,60,30,1,0,1,73,129,0,0,800,846]}]})";

// Polls `condition` every `every` until it holds or `seconds` pass; returns
// its last value.
template <typename F>
bool WaitFor(F condition, int seconds = 20, std::chrono::milliseconds every = std::chrono::milliseconds(20)) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(every);
  }
  return condition();
}

}  // namespace vigil::testing

#endif  // VIGIL_TESTS_E2E_CREDIT_REQUEST_H_
