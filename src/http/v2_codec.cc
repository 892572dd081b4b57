#include "http/v2_codec.h"

#include "common/json_text.h"

#include <simdjson.h>

#include <charconv>
#include <cmath>
#include <limits>

#include "http/error_mapping.h"

namespace vigil {
namespace {

using simdjson::dom::element;
using simdjson::dom::element_type;

std::string TypeOfJson(const element& e) {
  switch (e.type()) {
    case element_type::ARRAY: return "an array";
    case element_type::OBJECT: return "an object";
    case element_type::INT64: case element_type::UINT64: return "an integer";
    case element_type::DOUBLE: return "a number";
    case element_type::STRING: return "a string";
    case element_type::BOOL: return "a boolean";
    case element_type::NULL_VALUE: return "null";
  }
  return "a value";
}

template <typename T>
bool IntegerFits(const element& e, T* out) {
  if (e.type() == element_type::INT64) {
    int64_t v = e.get_int64().value_unsafe();
    if constexpr (std::is_signed_v<T>) {
      if (v < std::numeric_limits<T>::min() || v > std::numeric_limits<T>::max()) return false;
    } else {
      if (v < 0 || static_cast<uint64_t>(v) > std::numeric_limits<T>::max()) return false;
    }
    *out = static_cast<T>(v);
    return true;
  }
  if (e.type() == element_type::UINT64) {
    uint64_t v = e.get_uint64().value_unsafe();
    if (v > static_cast<uint64_t>(std::numeric_limits<T>::max())) return false;
    *out = static_cast<T>(v);
    return true;
  }
  return false;
}

// Writes the JSON scalar `e` as element `index` of `t`. `data_where` names
// the data array ("inputs[0].data"); the element's name is only built for an
// error, since this runs for every value of every request.
Status StoreElement(const element& e, Tensor& t, int64_t index, const std::string& data_where) {
  if (e.type() == element_type::NULL_VALUE) {
    t.set_missing(index);
    if (t.type() == DataType::kFp32) t.values<float>()[index] = std::numeric_limits<float>::quiet_NaN();
    if (t.type() == DataType::kFp64) t.values<double>()[index] = std::numeric_limits<double>::quiet_NaN();
    return Status::Ok();
  }
  auto where = [&] { return data_where + "[" + std::to_string(index) + "]"; };
  auto mismatch = [&] {
    return Status::InvalidArgument(where() + ": expected " + std::string(DataTypeName(t.type())) +
                                   " value, got " + TypeOfJson(e));
  };
  auto out_of_range = [&] {
    return Status::InvalidArgument(where() + ": value does not fit " +
                                   std::string(DataTypeName(t.type())));
  };
  switch (t.type()) {
    case DataType::kBool:
      if (e.type() != element_type::BOOL) return mismatch();
      t.values<uint8_t>()[index] = e.get_bool().value_unsafe() ? 1 : 0;
      return Status::Ok();
    case DataType::kBytes:
      if (e.type() != element_type::STRING) return mismatch();
      t.strings()[index] = std::string(e.get_string().value_unsafe());
      return Status::Ok();
    case DataType::kFp32: case DataType::kFp64: {
      double v;
      if (e.type() == element_type::DOUBLE) v = e.get_double().value_unsafe();
      else if (e.type() == element_type::INT64) v = static_cast<double>(e.get_int64().value_unsafe());
      else if (e.type() == element_type::UINT64) v = static_cast<double>(e.get_uint64().value_unsafe());
      else return mismatch();
      if (t.type() == DataType::kFp32) {
        if (std::abs(v) > std::numeric_limits<float>::max()) return out_of_range();
        t.values<float>()[index] = static_cast<float>(v);
      } else {
        t.values<double>()[index] = v;
      }
      return Status::Ok();
    }
    default: break;
  }
  if (e.type() != element_type::INT64 && e.type() != element_type::UINT64) return mismatch();
  bool fits = false;
  switch (t.type()) {
    case DataType::kInt8: fits = IntegerFits(e, &t.values<int8_t>()[index]); break;
    case DataType::kInt16: fits = IntegerFits(e, &t.values<int16_t>()[index]); break;
    case DataType::kInt32: fits = IntegerFits(e, &t.values<int32_t>()[index]); break;
    case DataType::kInt64: fits = IntegerFits(e, &t.values<int64_t>()[index]); break;
    case DataType::kUint8: fits = IntegerFits(e, &t.values<uint8_t>()[index]); break;
    case DataType::kUint16: fits = IntegerFits(e, &t.values<uint16_t>()[index]); break;
    case DataType::kUint32: fits = IntegerFits(e, &t.values<uint32_t>()[index]); break;
    case DataType::kUint64: fits = IntegerFits(e, &t.values<uint64_t>()[index]); break;
    default: return mismatch();
  }
  return fits ? Status::Ok() : out_of_range();
}

// Walks `data` (flat or nested arrays) in row-major order into `t`.
Status StoreData(const element& data, Tensor& t, int64_t& next, const std::string& where, int depth) {
  if (depth > 32) return Status::InvalidArgument(where + ": arrays nested too deeply");
  simdjson::dom::array values = data.get_array().value_unsafe();
  for (element e : values) {
    if (e.type() == element_type::ARRAY) {
      VIGIL_RETURN_IF_ERROR(StoreData(e, t, next, where, depth + 1));
      continue;
    }
    if (next >= t.element_count()) {
      return Status::InvalidArgument(where + ": more values than shape " +
                                     ShapeToString(t.shape()) + " holds (" +
                                     std::to_string(t.element_count()) + ")");
    }
    VIGIL_RETURN_IF_ERROR(StoreElement(e, t, next, where));
    ++next;
  }
  return Status::Ok();
}

// The number of values in `data` (flat or nested arrays), counting at most
// to `limit` + 1: cheap on the parsed document, and known before anything is
// allocated for them. -1: nested more than 32 deep.
int64_t CountValues(const element& data, int64_t limit, int depth = 0) {
  if (depth > 32) return -1;
  int64_t n = 0;
  simdjson::dom::array values = data.get_array().value_unsafe();
  for (element e : values) {
    const int64_t inner = e.type() == element_type::ARRAY ? CountValues(e, limit - n, depth + 1) : 1;
    if (inner < 0) return -1;
    n += inner;
    if (n > limit) return n;
  }
  return n;
}

Result<Tensor> DecodeInput(const element& in, size_t i) {
  const std::string where = "inputs[" + std::to_string(i) + "]";
  if (in.type() != element_type::OBJECT) {
    return Status::InvalidArgument(where + ": expected an object, got " + TypeOfJson(in));
  }
  std::string_view name, datatype;
  if (in["name"].get_string().get(name) != simdjson::SUCCESS) {
    return Status::InvalidArgument(where + ".name: a string is required");
  }
  if (in["datatype"].get_string().get(datatype) != simdjson::SUCCESS) {
    return Status::InvalidArgument(where + ".datatype: a string is required");
  }
  auto type = ParseDataType(datatype);
  if (!type) {
    return Status::InvalidArgument(where + ".datatype: unknown datatype '" + std::string(datatype) + "'");
  }
  if (*type == DataType::kFp16) {
    return Status::InvalidArgument(where + ".datatype: FP16 is not supported in JSON; send FP32");
  }
  simdjson::dom::array shape_json;
  if (in["shape"].get_array().get(shape_json) != simdjson::SUCCESS) {
    return Status::InvalidArgument(where + ".shape: an array of dimensions is required");
  }
  std::vector<int64_t> shape;
  for (element d : shape_json) {
    int64_t v = 0;
    if (d.get_int64().get(v) != simdjson::SUCCESS || v < 0) {
      return Status::InvalidArgument(where + ".shape[" + std::to_string(shape.size()) +
                                     "]: a dimension is a non-negative integer");
    }
    shape.push_back(v);
  }
  const int64_t count = ElementCount(shape);
  if (count < 0 || count > (int64_t{1} << 31)) {
    return Status::InvalidArgument(where + ".shape: " + ShapeToString(shape) + " is too large");
  }
  element data;
  if (in["data"].get(data) != simdjson::SUCCESS) {
    if (in["parameters"]["binary_data_size"].error() == simdjson::SUCCESS) {
      return Status::InvalidArgument(where + ": the binary data extension is not supported; send data as JSON");
    }
    return Status::InvalidArgument(where + ".data: is required");
  }
  if (data.type() != element_type::ARRAY) {
    return Status::InvalidArgument(where + ".data: expected an array, got " + TypeOfJson(data));
  }
  // The shape must match the data before the tensor is allocated, so that a
  // small request cannot claim gigabytes.
  if (const int64_t values = CountValues(data, count); values < 0) {
    return Status::InvalidArgument(where + ".data: arrays nested too deeply");
  } else if (values > count) {
    return Status::InvalidArgument(where + ".data: more values than shape " + ShapeToString(shape) + " holds (" +
                                   std::to_string(count) + ")");
  } else if (values < count) {
    return Status::InvalidArgument(where + ": shape " + ShapeToString(shape) + " needs " + std::to_string(count) +
                                   " values, data has " + std::to_string(values));
  }
  Tensor t{std::string(name), *type, shape};
  int64_t filled = 0;
  VIGIL_RETURN_IF_ERROR(StoreData(data, t, filled, where + ".data", 0));
  return t;
}

void AppendData(std::string& out, const Tensor& t) {
  const int64_t n = t.element_count();
  for (int64_t i = 0; i < n; ++i) {
    if (i) out += ',';
    switch (t.type()) {
      case DataType::kBool: out += t.values<uint8_t>()[i] ? "true" : "false"; break;
      case DataType::kBytes: AppendJsonString(out, t.strings()[i]); break;
      case DataType::kInt8: AppendJsonNumber(out, static_cast<int>(t.values<int8_t>()[i])); break;
      case DataType::kInt16: AppendJsonNumber(out, t.values<int16_t>()[i]); break;
      case DataType::kInt32: AppendJsonNumber(out, t.values<int32_t>()[i]); break;
      case DataType::kInt64: AppendJsonNumber(out, t.values<int64_t>()[i]); break;
      case DataType::kUint8: AppendJsonNumber(out, static_cast<unsigned>(t.values<uint8_t>()[i])); break;
      case DataType::kUint16: AppendJsonNumber(out, t.values<uint16_t>()[i]); break;
      case DataType::kUint32: AppendJsonNumber(out, t.values<uint32_t>()[i]); break;
      case DataType::kUint64: AppendJsonNumber(out, t.values<uint64_t>()[i]); break;
      case DataType::kFp32: AppendJsonNumber(out, t.values<float>()[i]); break;
      case DataType::kFp64: AppendJsonNumber(out, t.values<double>()[i]); break;
      case DataType::kFp16: out += "null"; break;
    }
  }
}

}  // namespace

Result<InferenceRequest> DecodeInferRequest(std::string& body) {
  thread_local simdjson::dom::parser parser;
  const size_t length = body.size();
  body.reserve(length + simdjson::SIMDJSON_PADDING);
  element doc;
  if (auto error = parser.parse(body.data(), length, /*realloc_if_needed=*/false).get(doc); error) {
    return Status::InvalidArgument(std::string("request body is not valid JSON: ") +
                                   simdjson::error_message(error));
  }
  if (doc.type() != element_type::OBJECT) {
    return Status::InvalidArgument("request body: expected a JSON object, got " + TypeOfJson(doc));
  }
  InferenceRequest request;
  element id;
  if (doc["id"].get(id) == simdjson::SUCCESS) {
    std::string_view s;
    if (id.get_string().get(s) != simdjson::SUCCESS) {
      return Status::InvalidArgument("id: expected a string, got " + TypeOfJson(id));
    }
    request.id = std::string(s);
  }
  element params;
  if (doc["parameters"].get(params) == simdjson::SUCCESS && params.type() != element_type::OBJECT) {
    return Status::InvalidArgument("parameters: expected an object, got " + TypeOfJson(params));
  }
  simdjson::dom::array inputs;
  if (doc["inputs"].get_array().get(inputs) != simdjson::SUCCESS) {
    return Status::InvalidArgument("inputs: an array of input tensors is required");
  }
  size_t i = 0;
  for (element in : inputs) {
    auto t = DecodeInput(in, i);
    if (!t.ok()) return t.status();
    for (const Tensor& earlier : request.inputs) {
      if (earlier.name() == t->name()) {
        return Status::InvalidArgument("inputs[" + std::to_string(i) + "].name: input '" +
                                       t->name() + "' appears twice");
      }
    }
    request.inputs.push_back(std::move(*t));
    ++i;
  }
  if (request.inputs.empty()) return Status::InvalidArgument("inputs: at least one input is required");
  element outputs;
  if (doc["outputs"].get(outputs) == simdjson::SUCCESS) {
    if (outputs.type() != element_type::ARRAY) {
      return Status::InvalidArgument("outputs: expected an array, got " + TypeOfJson(outputs));
    }
    size_t j = 0;
    simdjson::dom::array requested = outputs.get_array().value_unsafe();
    for (element o : requested) {
      std::string_view name;
      if (o["name"].get_string().get(name) != simdjson::SUCCESS) {
        return Status::InvalidArgument("outputs[" + std::to_string(j) + "].name: a string is required");
      }
      request.requested_outputs.emplace_back(name);
      ++j;
    }
  }
  return request;
}

std::string EncodeInferResponse(const InferenceResponse& response) {
  std::string out;
  size_t estimate = 128;
  for (const Tensor& t : response.outputs) estimate += 64 + 12 * t.element_count();
  out.reserve(estimate);
  out += "{\"model_name\":";
  AppendJsonString(out, response.model_name);
  out += ",\"model_version\":";
  AppendJsonString(out, response.model_version);
  out += ",\"id\":";
  AppendJsonString(out, response.id);
  if (!response.feature_names.empty()) {
    out += ",\"parameters\":{\"feature_names\":[";
    for (size_t i = 0; i < response.feature_names.size(); ++i) {
      if (i) out += ',';
      AppendJsonString(out, response.feature_names[i]);
    }
    out += "]}";
  }
  out += ",\"outputs\":[";
  for (size_t i = 0; i < response.outputs.size(); ++i) {
    const Tensor& t = response.outputs[i];
    if (i) out += ',';
    out += "{\"name\":";
    AppendJsonString(out, t.name());
    out += ",\"datatype\":\"";
    out += DataTypeName(t.type());
    out += "\",\"shape\":[";
    for (size_t d = 0; d < t.shape().size(); ++d) {
      if (d) out += ',';
      AppendJsonNumber(out, t.shape()[d]);
    }
    out += "],\"data\":[";
    AppendData(out, t);
    out += "]}";
  }
  out += "]}";
  return out;
}

}  // namespace vigil
