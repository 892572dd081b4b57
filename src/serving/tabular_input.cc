#include "serving/tabular_input.h"

#include <cmath>
#include <limits>
#include <string>

namespace vigil {
namespace {

constexpr float kMissing = std::numeric_limits<float>::quiet_NaN();

// Element i of a numeric or BOOL tensor as a double.
double NumericAt(const Tensor& t, int64_t i) {
  switch (t.type()) {
    case DataType::kBool: case DataType::kUint8: return t.values<uint8_t>()[i];
    case DataType::kInt8: return t.values<int8_t>()[i];
    case DataType::kInt16: return t.values<int16_t>()[i];
    case DataType::kInt32: return t.values<int32_t>()[i];
    case DataType::kInt64: return static_cast<double>(t.values<int64_t>()[i]);
    case DataType::kUint16: return t.values<uint16_t>()[i];
    case DataType::kUint32: return t.values<uint32_t>()[i];
    case DataType::kUint64: return static_cast<double>(t.values<uint64_t>()[i]);
    case DataType::kFp32: return t.values<float>()[i];
    case DataType::kFp64: return t.values<double>()[i];
    default: return std::numeric_limits<double>::quiet_NaN();
  }
}

std::string Where(size_t input, int64_t element) {
  return "inputs[" + std::to_string(input) + "].data[" + std::to_string(element) + "]";
}

// Encodes one value of `feature` into `matrix[cell]`. `input` and `element`
// locate it in the request for error messages. An unseen category is encoded
// as missing, and its cell added to `unseen` (when not null).
Status EncodeValue(const FeatureSpec& feature, const Tensor& t, int64_t element, size_t input, float* matrix,
                   int64_t cell, std::vector<int64_t>* unseen) {
  float* out = matrix + cell;
  if (t.is_missing(element)) {
    if (!feature.allow_missing) {
      return Status::InvalidArgument(Where(input, element) + ": feature '" + feature.name +
                                     "' may not be missing");
    }
    *out = kMissing;
    return Status::Ok();
  }
  if (feature.kind == FeatureKind::kCategorical) {
    if (t.type() == DataType::kBytes) {
      int code = feature.CategoryCode(t.strings()[element]);
      *out = code < 0 ? kMissing : static_cast<float>(code);  // Unseen: missing.
      if (code < 0 && unseen) unseen->push_back(cell);
      return Status::Ok();
    }
    double v = NumericAt(t, element);
    if (!(v == std::floor(v)) || v < 0) {
      return Status::InvalidArgument(
          Where(input, element) + ": categorical feature '" + feature.name +
          "' takes a category name or a code from 0 to " +
          std::to_string(feature.categories.size() - 1));
    }
    const bool known = v < static_cast<double>(feature.categories.size());
    *out = known ? static_cast<float>(v) : kMissing;
    if (!known && unseen) unseen->push_back(cell);
    return Status::Ok();
  }
  if (t.type() == DataType::kBytes) {
    return Status::InvalidArgument("inputs[" + std::to_string(input) + "]: numeric feature '" +
                                   feature.name + "' cannot be BYTES");
  }
  *out = static_cast<float>(NumericAt(t, element));
  return Status::Ok();
}

Result<Tensor> FromMatrix(const ModelConfig& config, const Tensor& in, std::vector<int64_t>* unseen) {
  const int64_t f = static_cast<int64_t>(config.features.size());
  if (in.shape().size() != 2 || in.shape()[1] != f) {
    return Status::InvalidArgument("inputs[0].shape: input '" + in.name() + "' must be [N, " +
                                   std::to_string(f) + "], got " + ShapeToString(in.shape()));
  }
  if (in.type() == DataType::kBytes) {
    return Status::InvalidArgument("inputs[0].datatype: input '" + in.name() +
                                   "' must be numeric; send categorical strings one input per "
                                   "feature");
  }
  const int64_t rows = in.shape()[0];
  Tensor out("input", DataType::kFp32, {rows, f});
  float* dst = out.values<float>().data();
  if (in.type() == DataType::kFp32 && !in.has_missing()) {
    // The common case: numbers only, categorical codes checked in place.
    std::copy(in.values<float>().begin(), in.values<float>().end(), dst);
    for (int64_t j = 0; j < f; ++j) {
      if (config.features[j].kind != FeatureKind::kCategorical) continue;
      for (int64_t r = 0; r < rows; ++r) {
        VIGIL_RETURN_IF_ERROR(EncodeValue(config.features[j], in, r * f + j, 0, dst, r * f + j, unseen));
      }
    }
    return out;
  }
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t j = 0; j < f; ++j) {
      VIGIL_RETURN_IF_ERROR(EncodeValue(config.features[j], in, r * f + j, 0, dst, r * f + j, unseen));
    }
  }
  return out;
}

Result<Tensor> FromColumns(const ModelConfig& config, const std::vector<Tensor>& inputs,
                           std::vector<int64_t>* unseen) {
  const int64_t f = static_cast<int64_t>(config.features.size());
  std::vector<int> column_of(inputs.size(), -1);
  std::vector<int> input_of(f, -1);
  int64_t rows = -1;
  for (size_t i = 0; i < inputs.size(); ++i) {
    const Tensor& t = inputs[i];
    int j = config.FeatureIndex(t.name());
    if (j < 0) {
      return Status::InvalidArgument("inputs[" + std::to_string(i) + "].name: unknown input '" +
                                     t.name() + "'; send '" + config.inputs[0].name + "' [N, " +
                                     std::to_string(f) + "] or one input per feature");
    }
    if (input_of[j] >= 0) {
      return Status::InvalidArgument("inputs[" + std::to_string(i) + "].name: feature '" +
                                     t.name() + "' is sent twice");
    }
    const auto& shape = t.shape();
    if (!(shape.size() == 1 || (shape.size() == 2 && shape[1] == 1))) {
      return Status::InvalidArgument("inputs[" + std::to_string(i) + "].shape: feature '" +
                                     t.name() + "' must be [N] or [N, 1], got " +
                                     ShapeToString(shape));
    }
    if (rows >= 0 && shape[0] != rows) {
      return Status::InvalidArgument("inputs[" + std::to_string(i) + "].shape: feature '" +
                                     t.name() + "' has " + std::to_string(shape[0]) +
                                     " rows, earlier inputs have " + std::to_string(rows));
    }
    rows = shape[0];
    column_of[i] = j;
    input_of[j] = static_cast<int>(i);
  }
  for (int64_t j = 0; j < f; ++j) {
    if (input_of[j] < 0) {
      return Status::InvalidArgument("inputs: feature '" + config.features[j].name +
                                     "' is missing (send null values for unknown ones)");
    }
  }
  Tensor out("input", DataType::kFp32, {rows, f});
  float* dst = out.values<float>().data();
  for (size_t i = 0; i < inputs.size(); ++i) {
    const int j = column_of[i];
    for (int64_t r = 0; r < rows; ++r) {
      VIGIL_RETURN_IF_ERROR(EncodeValue(config.features[j], inputs[i], r, i, dst, r * f + j, unseen));
    }
  }
  return out;
}

}  // namespace

Result<Tensor> AssembleTabularInput(const ModelConfig& config, const std::vector<Tensor>& inputs,
                                    std::vector<int64_t>* unseen) {
  if (inputs.empty()) return Status::InvalidArgument("inputs: at least one input is required");
  if (inputs.size() == 1 && inputs[0].name() == config.inputs[0].name) {
    return FromMatrix(config, inputs[0], unseen);
  }
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (inputs[i].name() == config.inputs[0].name) {
      return Status::InvalidArgument("inputs[" + std::to_string(i) + "]: '" + inputs[i].name() +
                                     "' carries all features and cannot be mixed with others");
    }
  }
  return FromColumns(config, inputs, unseen);
}

}  // namespace vigil
