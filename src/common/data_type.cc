#include "common/data_type.h"

#include <array>
#include <utility>

namespace vigil {
namespace {

constexpr std::array<std::pair<DataType, std::string_view>, 13> kNames = {{
    {DataType::kBool, "BOOL"},     {DataType::kInt8, "INT8"},     {DataType::kInt16, "INT16"},
    {DataType::kInt32, "INT32"},   {DataType::kInt64, "INT64"},   {DataType::kUint8, "UINT8"},
    {DataType::kUint16, "UINT16"}, {DataType::kUint32, "UINT32"}, {DataType::kUint64, "UINT64"},
    {DataType::kFp16, "FP16"},     {DataType::kFp32, "FP32"},     {DataType::kFp64, "FP64"},
    {DataType::kBytes, "BYTES"},
}};

}  // namespace

std::string_view DataTypeName(DataType type) {
  for (const auto& [t, name] : kNames) {
    if (t == type) return name;
  }
  return "INVALID";
}

std::optional<DataType> ParseDataType(std::string_view name) {
  for (const auto& [t, n] : kNames) {
    if (n == name) return t;
  }
  return std::nullopt;
}

std::size_t DataTypeSize(DataType type) {
  switch (type) {
    case DataType::kBool: case DataType::kInt8: case DataType::kUint8: return 1;
    case DataType::kInt16: case DataType::kUint16: case DataType::kFp16: return 2;
    case DataType::kInt32: case DataType::kUint32: case DataType::kFp32: return 4;
    case DataType::kInt64: case DataType::kUint64: case DataType::kFp64: return 8;
    case DataType::kBytes: return 0;
  }
  return 0;
}

bool IsInteger(DataType type) {
  switch (type) {
    case DataType::kInt8: case DataType::kInt16: case DataType::kInt32: case DataType::kInt64:
    case DataType::kUint8: case DataType::kUint16: case DataType::kUint32: case DataType::kUint64:
      return true;
    default:
      return false;
  }
}

bool IsFloat(DataType type) {
  return type == DataType::kFp16 || type == DataType::kFp32 || type == DataType::kFp64;
}

}  // namespace vigil
