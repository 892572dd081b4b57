// The prediction log's binary format: round trips, and malformed bytes refused.
#include "store/log_segment.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

namespace vigil {
namespace {

std::string TwoRowRecord() {
  Tensor features("input", DataType::kFp32, {2, 3});
  auto x = features.values<float>();
  for (int i = 0; i < 6; ++i) x[i] = 0.5f * static_cast<float>(i);
  x[4] = std::numeric_limits<float>::quiet_NaN();
  Tensor probability("probability", DataType::kFp32, {2, 3});
  for (int i = 0; i < 6; ++i) probability.values<float>()[i] = static_cast<float>(i) / 6;
  Tensor label("label", DataType::kBytes, {2});
  label.strings() = {"good", ""};
  Tensor count("count", DataType::kInt64, {2});
  count.values<int64_t>()[0] = -7;
  count.values<int64_t>()[1] = int64_t{1} << 40;
  const std::vector<float> scores = {0.75f, std::numeric_limits<float>::quiet_NaN()};
  const std::vector<int64_t> unseen = {4};
  return EncodeLogRecord("req-1", true, 1'700'000'000'123, "canary", features, scores, unseen,
                         {probability, label, count});
}

TEST(LogSegmentTest, RecordsRoundTripThroughASegment) {
  LogSchema schema;
  schema.features = {{"Age", false, {}}, {"Home", true, {"owner", "rent", "other"}}, {"Income", false, {}}};
  std::string data;
  LogSegmentBuilder builder(schema, &data);
  builder.Add(TwoRowRecord());
  builder.Add(TwoRowRecord());
  EXPECT_EQ(builder.records(), 2);
  EXPECT_EQ(builder.Finish().size(), data.size());

  auto reader = LogSegmentReader::Open(data);
  ASSERT_TRUE(reader.ok()) << reader.status().ToString();
  EXPECT_EQ(reader->size(), 2);
  ASSERT_EQ(reader->schema()->features.size(), 3u);
  EXPECT_TRUE(reader->schema()->features[1].categorical);
  EXPECT_EQ(reader->schema()->features[1].categories[2], "other");
  std::string_view record;
  int n = 0;
  while (reader->Next(&record)) {
    ++n;
    LogRecordHeader h;
    ASSERT_TRUE(ReadLogRecordHeader(record, &h).ok());
    EXPECT_EQ(h.request_id, "req-1");
    EXPECT_EQ(h.rows, 2);
    EXPECT_EQ(h.features, 3);
    StoredPrediction p;
    ASSERT_TRUE(DecodeLogRecord(record, &p).ok());
    EXPECT_EQ(p.request_id, "req-1");
    EXPECT_TRUE(p.client_id);
    EXPECT_EQ(p.time_ms, 1'700'000'000'123);
    EXPECT_EQ(p.route, "canary");
    EXPECT_EQ(p.rows, 2);
    ASSERT_EQ(p.features.shape(), (std::vector<int64_t>{2, 3}));
    EXPECT_EQ(p.features.values<float>()[5], 2.5f);
    EXPECT_TRUE(std::isnan(p.features.values<float>()[4]));
    ASSERT_EQ(p.scores.size(), 2u);
    EXPECT_EQ(p.scores[0], 0.75f);
    EXPECT_TRUE(std::isnan(p.scores[1]));
    EXPECT_EQ(p.unseen, std::vector<int64_t>{4});
    ASSERT_EQ(p.outputs.size(), 3u);
    EXPECT_EQ(p.outputs[0].name(), "probability");
    EXPECT_EQ(p.outputs[0].shape(), (std::vector<int64_t>{2, 3}));
    EXPECT_EQ(p.outputs[0].values<float>()[5], 5.0f / 6);
    EXPECT_EQ(p.outputs[1].type(), DataType::kBytes);
    EXPECT_EQ(p.outputs[1].strings(), (std::vector<std::string>{"good", ""}));
    EXPECT_EQ(p.outputs[2].values<int64_t>()[0], -7);
    EXPECT_EQ(p.outputs[2].values<int64_t>()[1], int64_t{1} << 40);
  }
  EXPECT_EQ(n, 2);
}

TEST(LogSegmentTest, TruncatedOrForeignBytesAreRefusedNotRead) {
  const std::string record = TwoRowRecord();
  // Every proper prefix of a record is refused, whichever field it cuts.
  for (size_t n = 0; n < record.size(); ++n) {
    StoredPrediction p;
    EXPECT_FALSE(DecodeLogRecord(std::string_view(record).substr(0, n), &p).ok()) << n;
  }
  // A shape that claims more elements than there are bytes.
  std::string huge = record;
  const size_t at = huge.find("count") + 5 + 2;  // Past the name, the datatype and the rank.
  const int64_t big = int64_t{1} << 31;
  huge.replace(at, 8, reinterpret_cast<const char*>(&big), 8);
  StoredPrediction p;
  EXPECT_FALSE(DecodeLogRecord(huge, &p).ok());

  EXPECT_FALSE(LogSegmentReader::Open("").ok());
  EXPECT_FALSE(LogSegmentReader::Open("{\"Age\": [30]}").ok());
  LogSchema schema;
  schema.features = {{"Home", true, {"owner"}}};
  std::string data;
  LogSegmentBuilder builder(schema, &data);
  builder.Add(record);
  builder.Finish();
  data.resize(data.size() - 1);  // The last record is cut: the reader stops before it.
  auto reader = LogSegmentReader::Open(data);
  ASSERT_TRUE(reader.ok());
  std::string_view r;
  EXPECT_FALSE(reader->Next(&r));
}

}  // namespace
}  // namespace vigil
