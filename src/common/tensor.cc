#include "common/tensor.h"

#include <utility>

namespace vigil {

Tensor::Tensor(std::string name, DataType type, std::vector<int64_t> shape)
    : name_(std::move(name)), type_(type), shape_(std::move(shape)) {
  element_count_ = ElementCount(shape_);
  if (element_count_ < 0) element_count_ = 0;
  if (type_ == DataType::kBytes) {
    strings_.resize(element_count_);
  } else {
    buffer_.assign(element_count_ * DataTypeSize(type_), 0);
  }
}

void Tensor::set_missing(int64_t i) {
  if (missing_.empty()) missing_.assign(element_count_, 0);
  missing_[i] = 1;
}

int64_t ElementCount(const std::vector<int64_t>& shape) {
  int64_t n = 1;
  for (int64_t d : shape) {
    if (d < 0 || __builtin_mul_overflow(n, d, &n)) return -1;
  }
  return n;
}

std::string ShapeToString(const std::vector<int64_t>& shape) {
  std::string out = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i) out += ", ";
    out += std::to_string(shape[i]);
  }
  out += "]";
  return out;
}

}  // namespace vigil
