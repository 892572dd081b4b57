// DataType: the element types of the Open Inference Protocol.
//
// The names ("FP32", "BYTES", ...) are the protocol's. BOOL is stored as one
// byte per element; BYTES elements are strings.
#ifndef VIGIL_COMMON_DATA_TYPE_H_
#define VIGIL_COMMON_DATA_TYPE_H_

#include <cstddef>
#include <optional>
#include <string_view>

namespace vigil {

enum class DataType {
  kBool, kInt8, kInt16, kInt32, kInt64, kUint8, kUint16, kUint32, kUint64,
  kFp16, kFp32, kFp64, kBytes,
};

// The protocol name of `type`, e.g. "FP32".
std::string_view DataTypeName(DataType type);
// Parses a protocol name; nullopt for anything else (names are case-sensitive,
// as in the protocol).
std::optional<DataType> ParseDataType(std::string_view name);
// Bytes per element in a Tensor's buffer; 0 for BYTES, which lives in strings.
std::size_t DataTypeSize(DataType type);
bool IsInteger(DataType type);
bool IsFloat(DataType type);
inline bool IsNumeric(DataType type) { return IsInteger(type) || IsFloat(type); }

}  // namespace vigil

#endif  // VIGIL_COMMON_DATA_TYPE_H_
