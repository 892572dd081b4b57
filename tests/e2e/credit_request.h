// Credit applicants as v2 inference requests, for end-to-end tests.
#ifndef VIGIL_TESTS_E2E_CREDIT_REQUEST_H_
#define VIGIL_TESTS_E2E_CREDIT_REQUEST_H_

#include <cstddef>
#include <string>
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

}  // namespace vigil::testing

#endif  // VIGIL_TESTS_E2E_CREDIT_REQUEST_H_
