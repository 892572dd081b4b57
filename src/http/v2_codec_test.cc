#include "http/v2_codec.h"

#include <gtest/gtest.h>

#include <cmath>

namespace vigil {
namespace {

Result<InferenceRequest> Decode(std::string body) { return DecodeInferRequest(body); }

TEST(V2CodecTest, DecodesFlatAndNestedDataAlike) {
  auto flat = Decode(R"({"id":"r1","inputs":[{"name":"x","shape":[2,2],"datatype":"FP32","data":[1,2.5,3,4]}]})");
  auto nested = Decode(R"({"inputs":[{"name":"x","shape":[2,2],"datatype":"FP32","data":[[1,2.5],[3,4]]}],"outputs":[{"name":"probability"}]})");
  ASSERT_TRUE(flat.ok()) << flat.status().ToString();
  ASSERT_TRUE(nested.ok()) << nested.status().ToString();
  EXPECT_EQ(flat->id, "r1");
  EXPECT_EQ(nested->id, "");
  EXPECT_EQ(nested->requested_outputs, std::vector<std::string>{"probability"});
  for (const auto* r : {&*flat, &*nested}) {
    const Tensor& t = r->inputs[0];
    EXPECT_EQ(t.shape(), (std::vector<int64_t>{2, 2}));
    auto v = t.values<float>();
    EXPECT_EQ(std::vector<float>(v.begin(), v.end()), (std::vector<float>{1, 2.5f, 3, 4}));
  }
}

TEST(V2CodecTest, DecodesEveryDatatypeAndNull) {
  auto r = Decode(R"({"inputs":[
    {"name":"b","shape":[2],"datatype":"BOOL","data":[true,false]},
    {"name":"i8","shape":[1],"datatype":"INT8","data":[-128]},
    {"name":"u64","shape":[1],"datatype":"UINT64","data":[18446744073709551615]},
    {"name":"i64","shape":[1],"datatype":"INT64","data":[-9007199254740993]},
    {"name":"f64","shape":[2],"datatype":"FP64","data":[0.1,null]},
    {"name":"s","shape":[2],"datatype":"BYTES","data":["rent",null]}]})");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->inputs[0].values<uint8_t>()[0], 1);
  EXPECT_EQ(r->inputs[1].values<int8_t>()[0], -128);
  EXPECT_EQ(r->inputs[2].values<uint64_t>()[0], 18446744073709551615ULL);
  EXPECT_EQ(r->inputs[3].values<int64_t>()[0], -9007199254740993LL);
  EXPECT_EQ(r->inputs[4].values<double>()[0], 0.1);
  EXPECT_TRUE(r->inputs[4].is_missing(1));
  EXPECT_FALSE(r->inputs[4].is_missing(0));
  EXPECT_EQ(r->inputs[5].strings()[0], "rent");
  EXPECT_TRUE(r->inputs[5].is_missing(1));
}

struct BadRequest {
  const char* body;
  const char* message;
};

class V2CodecErrorTest : public ::testing::TestWithParam<BadRequest> {};

TEST_P(V2CodecErrorTest, NamesTheField) {
  auto r = Decode(GetParam().body);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(r.status().message(), GetParam().message);
}

INSTANTIATE_TEST_SUITE_P(
    Cases, V2CodecErrorTest,
    ::testing::Values(
        BadRequest{R"({"inputs":[)", "request body is not valid JSON: The JSON document has an improper structure: missing or superfluous commas, braces, missing keys, etc."},
        BadRequest{R"([1,2])", "request body: expected a JSON object, got an array"},
        BadRequest{R"({"id":"x"})", "inputs: an array of input tensors is required"},
        BadRequest{R"({"inputs":[]})", "inputs: at least one input is required"},
        BadRequest{R"({"inputs":[{"shape":[1],"datatype":"FP32","data":[1]}]})", "inputs[0].name: a string is required"},
        BadRequest{R"({"inputs":[{"name":"x","shape":[1],"datatype":"FP8","data":[1]}]})", "inputs[0].datatype: unknown datatype 'FP8'"},
        BadRequest{R"({"inputs":[{"name":"x","shape":[-1],"datatype":"FP32","data":[1]}]})", "inputs[0].shape[0]: a dimension is a non-negative integer"},
        BadRequest{R"({"inputs":[{"name":"x","shape":[3],"datatype":"FP32","data":[1,2]}]})", "inputs[0]: shape [3] needs 3 values, data has 2"},
        BadRequest{R"({"inputs":[{"name":"x","shape":[1],"datatype":"FP32","data":[1,2]}]})", "inputs[0].data: more values than shape [1] holds (1)"},
        // Shapes that claim more than the body holds are refused before anything is
        // allocated for them; products that overflow are too large, not wrapped.
        BadRequest{R"({"inputs":[{"name":"x","shape":[1073741824,2],"datatype":"BYTES","data":["a"]}]})", "inputs[0]: shape [1073741824, 2] needs 2147483648 values, data has 1"},
        BadRequest{R"({"inputs":[{"name":"x","shape":[3037000500,3037000500],"datatype":"BYTES","data":["a"]}]})", "inputs[0].shape: [3037000500, 3037000500] is too large"},
        BadRequest{R"({"inputs":[{"name":"x","shape":[4294967296,4294967296],"datatype":"FP32","data":[]}]})", "inputs[0].shape: [4294967296, 4294967296] is too large"},
        BadRequest{R"({"inputs":[{"name":"x","shape":[2],"datatype":"FP32","data":[1,"a"]}]})", "inputs[0].data[1]: expected FP32 value, got a string"},
        BadRequest{R"({"inputs":[{"name":"x","shape":[1],"datatype":"INT32","data":[1.5]}]})", "inputs[0].data[0]: expected INT32 value, got a number"},
        BadRequest{R"({"inputs":[{"name":"x","shape":[1],"datatype":"UINT8","data":[256]}]})", "inputs[0].data[0]: value does not fit UINT8"},
        BadRequest{R"({"inputs":[{"name":"x","shape":[1],"datatype":"INT8","data":[-129]}]})", "inputs[0].data[0]: value does not fit INT8"},
        BadRequest{R"({"inputs":[{"name":"x","shape":[1],"datatype":"BOOL","data":[1]}]})", "inputs[0].data[0]: expected BOOL value, got an integer"},
        BadRequest{R"({"inputs":[{"name":"x","shape":[1],"datatype":"BYTES","data":[1]}]})", "inputs[0].data[0]: expected BYTES value, got an integer"},
        BadRequest{R"({"inputs":[{"name":"x","shape":[1],"datatype":"FP32","data":[1e300]}]})", "inputs[0].data[0]: value does not fit FP32"},
        BadRequest{R"({"inputs":[{"name":"x","shape":[1],"datatype":"FP32"}]})", "inputs[0].data: is required"},
        BadRequest{R"({"inputs":[{"name":"x","shape":[1],"datatype":"FP32","data":[1]},{"name":"x","shape":[1],"datatype":"FP32","data":[1]}]})", "inputs[1].name: input 'x' appears twice"},
        BadRequest{R"({"id":7,"inputs":[{"name":"x","shape":[1],"datatype":"FP32","data":[1]}]})", "id: expected a string, got an integer"},
        BadRequest{R"({"inputs":[{"name":"x","shape":[1],"datatype":"FP32","data":[1]}],"outputs":[{"nom":"y"}]})", "outputs[0].name: a string is required"}),
    [](const ::testing::TestParamInfo<BadRequest>& info) { return "Case" + std::to_string(info.index); });

TEST(V2CodecTest, EncodesTheProtocolResponse) {
  InferenceResponse r;
  r.model_name = "credit";
  r.model_version = "2";
  r.id = "a\"b";
  Tensor p("probability", DataType::kFp32, {2});
  p.values<float>()[0] = 0.25f;
  p.values<float>()[1] = std::nanf("");
  Tensor l("label", DataType::kBytes, {2});
  l.strings() = {"good", "bad"};
  r.outputs.push_back(p);
  r.outputs.push_back(l);
  EXPECT_EQ(EncodeInferResponse(r),
            R"({"model_name":"credit","model_version":"2","id":"a\"b","outputs":[)"
            R"({"name":"probability","datatype":"FP32","shape":[2],"data":[0.25,null]},)"
            R"({"name":"label","datatype":"BYTES","shape":[2],"data":["good","bad"]}]})");
}

TEST(V2CodecTest, FloatsRoundTripExactly) {
  InferenceResponse r;
  Tensor p("p", DataType::kFp32, {1});
  p.values<float>()[0] = 0.13719839f;
  r.outputs.push_back(p);
  std::string body = EncodeInferResponse(r);
  size_t at = body.find("\"data\":[") + 8;
  EXPECT_EQ(std::strtof(body.c_str() + at, nullptr), 0.13719839f);
}

}  // namespace
}  // namespace vigil
