// The prediction log's storage format: requests encoded in binary, stored
// as segments.
//
// A record is one answered request: its id, time, route, the [N, F] feature
// matrix the model saw (FP32, NaN for missing, category codes), the score
// monitoring counted per row, the cells that held an unseen category, and
// the output tensors as answered. The request path encodes it (a few
// memcpy's, one allocation), so the log's writer only copies bytes.
//
// A segment is the records of one model version that the writer drained
// together, behind a header that names the features (and their categories)
// as they were when logged, so a segment reads back without the version's
// model.yaml. The store keeps one row per segment: a request costs no SQL
// statement of its own (see docs/monitoring.md for the measurements).
//
// Layout (little-endian): a record is
//   u16 id length, id; u8 flags (1: the id came from the client); i64 time
//   (Unix ms); u8 route length, route; u32 rows N; u32 features F;
//   f32[N*F] features; f32[N] scores; u32 count, u32[count] unseen cells;
//   u8 outputs, each: u16 name length, name; u8 datatype; u8 rank;
//   i64[rank] shape; its elements (raw, or u32 length + bytes for BYTES).
// A segment is "VLG1"; u32 F, each feature: u16 name length, name;
// u8 categorical; u32 categories, each u16 length + name; then u32 records,
// each u32 length + record.
//
// Thread-safety: functions are pure; a LogSegmentReader is a value.
#ifndef VIGIL_STORE_LOG_SEGMENT_H_
#define VIGIL_STORE_LOG_SEGMENT_H_

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "common/tensor.h"

namespace vigil {

// The features of a model version as the log records them.
struct LogSchema {
  struct Feature {
    std::string name;
    bool categorical = false;
    std::vector<std::string> categories;  // Code i is categories[i].
  };
  std::vector<Feature> features;
};

// One logged request, decoded.
struct StoredPrediction {
  std::string model;
  int64_t version = 0;
  std::string request_id;  // The inference response's id.
  bool client_id = false;  // The client chose the id (else Vigil generated it).
  int64_t time_ms = 0;     // When the request arrived, Unix ms.
  std::string route;       // "champion", "canary" or "shadow".
  int64_t rows = 0;        // Rows in the request's batch.
  std::shared_ptr<const LogSchema> schema;  // Names `features`' columns.
  Tensor features;                 // FP32 [rows, F].
  std::vector<float> scores;       // Per row: what monitoring counted (NaN: none).
  std::vector<int64_t> unseen;     // Cells (row * F + feature) that held an unseen category.
  std::vector<Tensor> outputs;     // As answered, first dimension `rows`.
};

// Encodes one request into `out`, replacing its contents and keeping its
// capacity (the request path reuses buffers). `features` is FP32 [N, F];
// `scores` has N values.
void EncodeLogRecord(std::string_view request_id, bool client_id, int64_t time_ms, std::string_view route,
                     const Tensor& features, std::span<const float> scores, std::span<const int64_t> unseen,
                     const std::vector<Tensor>& outputs, std::string* out);
// The same into a new string.
std::string EncodeLogRecord(std::string_view request_id, bool client_id, int64_t time_ms, std::string_view route,
                            const Tensor& features, std::span<const float> scores, std::span<const int64_t> unseen,
                            const std::vector<Tensor>& outputs);

// A record's fixed part, read in place (the writer's view: no allocation).
struct LogRecordHeader {
  std::string_view request_id;
  bool client_id = false;
  int64_t time_ms = 0;
  std::string_view route;
  int64_t rows = 0, features = 0;
  const unsigned char* feature_data = nullptr;  // rows * features FP32, unaligned.
  const unsigned char* score_data = nullptr;    // rows FP32, unaligned.
  uint32_t unseen_count = 0;
  const unsigned char* unseen_data = nullptr;   // unseen_count u32, unaligned.
};
// INVALID_ARGUMENT if `record` is truncated or malformed.
Status ReadLogRecordHeader(std::string_view record, LogRecordHeader* header);
// Decodes every field of `record` except model, version and schema.
Status DecodeLogRecord(std::string_view record, StoredPrediction* out);

// Builds a segment in `buffer` (cleared first; its capacity is reused, so a
// writer that keeps one buffer allocates nothing per segment): the schema,
// then records appended one by one.
class LogSegmentBuilder {
 public:
  LogSegmentBuilder(const LogSchema& schema, std::string* buffer);
  void Add(std::string_view record);
  int64_t records() const { return records_; }
  // The segment's bytes, in the buffer.
  std::string_view Finish();

 private:
  std::string* buffer_;
  size_t count_at_ = 0;  // Where the record count goes.
  int64_t records_ = 0;
};

// Reads a segment's records in order.
class LogSegmentReader {
 public:
  // INVALID_ARGUMENT if `data` is not a segment. `data` must outlive the reader.
  static Result<LogSegmentReader> Open(std::string_view data);
  const std::shared_ptr<const LogSchema>& schema() const { return schema_; }
  int64_t size() const { return count_; }
  // The next record, or false at the end (or at a malformed length).
  bool Next(std::string_view* record);

 private:
  std::shared_ptr<const LogSchema> schema_;
  std::string_view rest_;
  int64_t count_ = 0;
};

}  // namespace vigil

#endif  // VIGIL_STORE_LOG_SEGMENT_H_
