// Tensor: a named, typed, shaped block of values, as the protocol carries it.
//
// Numeric and BOOL elements live in one contiguous little-endian buffer in
// row-major order; BYTES elements live in a vector of strings. Missing values
// (JSON null) are kept as a per-element mask so that tabular models can treat
// them as "missing" rather than as zero.
//
// Thread-safety: a value type; not synchronised.
#ifndef VIGIL_COMMON_TENSOR_H_
#define VIGIL_COMMON_TENSOR_H_

#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <vector>

#include "common/data_type.h"

namespace vigil {

class Tensor {
 public:
  Tensor() = default;
  // An all-zero tensor of `shape` (every dimension >= 0).
  Tensor(std::string name, DataType type, std::vector<int64_t> shape);

  const std::string& name() const { return name_; }
  DataType type() const { return type_; }
  const std::vector<int64_t>& shape() const { return shape_; }
  int64_t element_count() const { return element_count_; }

  // Typed access to the element buffer; T must match type() in size.
  template <typename T>
  std::span<T> values() {
    return {reinterpret_cast<T*>(buffer_.data()), static_cast<size_t>(element_count_)};
  }
  template <typename T>
  std::span<const T> values() const {
    return {reinterpret_cast<const T*>(buffer_.data()), static_cast<size_t>(element_count_)};
  }
  // The element buffer as bytes (numeric and BOOL tensors).
  std::span<unsigned char> bytes() { return buffer_; }
  std::span<const unsigned char> bytes() const { return buffer_; }
  std::vector<std::string>& strings() { return strings_; }
  const std::vector<std::string>& strings() const { return strings_; }

  // Missing-value mask: empty when no element is missing, else one flag per element.
  bool has_missing() const { return !missing_.empty(); }
  bool is_missing(int64_t i) const { return !missing_.empty() && missing_[i] != 0; }
  void set_missing(int64_t i);

 private:
  std::string name_;
  DataType type_ = DataType::kFp32;
  std::vector<int64_t> shape_;
  int64_t element_count_ = 0;
  std::vector<unsigned char> buffer_;  // Aligned enough for 8-byte types (new[]).
  std::vector<std::string> strings_;
  std::vector<unsigned char> missing_;
};

// Product of `shape`'s dimensions; -1 if any is negative or the product
// overflows int64.
int64_t ElementCount(const std::vector<int64_t>& shape);
// "[2, 13]".
std::string ShapeToString(const std::vector<int64_t>& shape);

}  // namespace vigil

#endif  // VIGIL_COMMON_TENSOR_H_
