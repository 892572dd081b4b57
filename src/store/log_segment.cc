#include "store/log_segment.h"

#include <bit>
#include <cstring>
#include <limits>

namespace vigil {
namespace {

static_assert(std::endian::native == std::endian::little, "the log's format is little-endian");

constexpr char kMagic[4] = {'V', 'L', 'G', '1'};

template <typename T>
void Put(std::string& out, T v) {
  out.append(reinterpret_cast<const char*>(&v), sizeof(T));
}
void PutBytes(std::string& out, const void* data, size_t n) { out.append(static_cast<const char*>(data), n); }
// A string of at most 65,535 bytes (longer ones are cut: names and ids are short).
void PutShortString(std::string& out, std::string_view s) {
  const size_t n = std::min<size_t>(s.size(), std::numeric_limits<uint16_t>::max());
  Put<uint16_t>(out, static_cast<uint16_t>(n));
  out.append(s.data(), n);
}

// Reads from a byte range; every read checks the bounds, and a failed one
// leaves the reader failed.
class Cursor {
 public:
  explicit Cursor(std::string_view data) : p_(data.data()), end_(data.data() + data.size()) {}
  bool ok() const { return ok_; }
  std::string_view rest() const { return {p_, static_cast<size_t>(end_ - p_)}; }
  template <typename T>
  T Get() {
    T v{};
    if (!Need(sizeof(T))) return v;
    std::memcpy(&v, p_, sizeof(T));
    p_ += sizeof(T);
    return v;
  }
  const unsigned char* Take(uint64_t n) {
    if (!Need(n)) return nullptr;
    const char* at = p_;
    p_ += n;
    return reinterpret_cast<const unsigned char*>(at);
  }
  std::string_view Bytes(uint64_t n) {
    const unsigned char* at = Take(n);
    return at ? std::string_view(reinterpret_cast<const char*>(at), n) : std::string_view();
  }
  std::string_view ShortString() { return Bytes(Get<uint16_t>()); }

 private:
  bool Need(uint64_t n) {
    if (!ok_ || n > static_cast<uint64_t>(end_ - p_)) ok_ = false;
    return ok_;
  }
  const char* p_;
  const char* end_;
  bool ok_ = true;
};

Status Malformed(const char* what) { return Status::InvalidArgument(std::string("malformed log record: ") + what); }

}  // namespace

void EncodeLogRecord(std::string_view request_id, bool client_id, int64_t time_ms, std::string_view route,
                     const Tensor& features, std::span<const float> scores, std::span<const int64_t> unseen,
                     const std::vector<Tensor>& outputs, std::string* out_string) {
  const int64_t rows = features.shape().size() == 2 ? features.shape()[0] : 0;
  const int64_t f = features.shape().size() == 2 ? features.shape()[1] : 0;
  size_t size = 64 + request_id.size() + route.size() + 4 * static_cast<size_t>(rows * (f + 1)) + 4 * unseen.size();
  for (const Tensor& t : outputs) size += 32 + t.name().size() + 8 * t.shape().size() + t.bytes().size();
  std::string& out = *out_string;
  out.clear();
  out.reserve(size);
  PutShortString(out, request_id);
  Put<uint8_t>(out, client_id ? 1 : 0);
  Put<int64_t>(out, time_ms);
  Put<uint8_t>(out, static_cast<uint8_t>(std::min<size_t>(route.size(), 255)));
  out.append(route.data(), std::min<size_t>(route.size(), 255));
  Put<uint32_t>(out, static_cast<uint32_t>(rows));
  Put<uint32_t>(out, static_cast<uint32_t>(f));
  if (rows * f > 0) PutBytes(out, features.bytes().data(), static_cast<size_t>(rows * f) * sizeof(float));
  for (int64_t r = 0; r < rows; ++r) {
    Put<float>(out, static_cast<size_t>(r) < scores.size() ? scores[r] : std::numeric_limits<float>::quiet_NaN());
  }
  Put<uint32_t>(out, static_cast<uint32_t>(unseen.size()));
  for (int64_t cell : unseen) Put<uint32_t>(out, static_cast<uint32_t>(cell));
  Put<uint8_t>(out, static_cast<uint8_t>(std::min<size_t>(outputs.size(), 255)));
  for (size_t i = 0; i < outputs.size() && i < 255; ++i) {
    const Tensor& t = outputs[i];
    PutShortString(out, t.name());
    Put<uint8_t>(out, static_cast<uint8_t>(t.type()));
    Put<uint8_t>(out, static_cast<uint8_t>(t.shape().size()));
    for (int64_t d : t.shape()) Put<int64_t>(out, d);
    if (t.type() == DataType::kBytes) {
      for (const std::string& s : t.strings()) {
        Put<uint32_t>(out, static_cast<uint32_t>(s.size()));
        out += s;
      }
    } else {
      PutBytes(out, t.bytes().data(), t.bytes().size());
    }
  }
}

std::string EncodeLogRecord(std::string_view request_id, bool client_id, int64_t time_ms, std::string_view route,
                            const Tensor& features, std::span<const float> scores, std::span<const int64_t> unseen,
                            const std::vector<Tensor>& outputs) {
  std::string out;
  EncodeLogRecord(request_id, client_id, time_ms, route, features, scores, unseen, outputs, &out);
  return out;
}

namespace {

// Reads the header from `c`, leaving it at the outputs.
Status ReadHeader(Cursor& c, LogRecordHeader* h) {
  h->request_id = c.ShortString();
  h->client_id = c.Get<uint8_t>() & 1;
  h->time_ms = c.Get<int64_t>();
  h->route = c.Bytes(c.Get<uint8_t>());
  h->rows = c.Get<uint32_t>();
  h->features = c.Get<uint32_t>();
  const uint64_t cells = static_cast<uint64_t>(h->rows) * static_cast<uint64_t>(h->features);
  if (cells > c.rest().size()) return Malformed("truncated features");
  h->feature_data = c.Take(static_cast<uint64_t>(h->rows) * static_cast<uint64_t>(h->features) * 4);
  h->score_data = c.Take(static_cast<uint64_t>(h->rows) * 4);
  h->unseen_count = c.Get<uint32_t>();
  h->unseen_data = c.Take(static_cast<uint64_t>(h->unseen_count) * 4);
  return c.ok() ? Status::Ok() : Malformed("truncated header");
}

}  // namespace

Status ReadLogRecordHeader(std::string_view record, LogRecordHeader* header) {
  Cursor c(record);
  return ReadHeader(c, header);
}

Status DecodeLogRecord(std::string_view record, StoredPrediction* out) {
  Cursor c(record);
  LogRecordHeader h;
  if (Status s = ReadHeader(c, &h); !s.ok()) return s;
  out->request_id = std::string(h.request_id);
  out->client_id = h.client_id;
  out->time_ms = h.time_ms;
  out->route = std::string(h.route);
  out->rows = h.rows;
  out->features = Tensor("input", DataType::kFp32, {h.rows, h.features});
  if (h.rows * h.features > 0) std::memcpy(out->features.bytes().data(), h.feature_data, out->features.bytes().size());
  out->scores.resize(static_cast<size_t>(h.rows));
  if (h.rows > 0) std::memcpy(out->scores.data(), h.score_data, 4 * static_cast<size_t>(h.rows));
  out->unseen.resize(h.unseen_count);
  for (uint32_t i = 0; i < h.unseen_count; ++i) {
    uint32_t cell;
    std::memcpy(&cell, h.unseen_data + 4 * i, 4);
    out->unseen[i] = cell;
  }
  out->outputs.clear();
  const int n = c.Get<uint8_t>();
  for (int i = 0; i < n && c.ok(); ++i) {
    std::string name(c.ShortString());
    const int type = c.Get<uint8_t>();
    const int rank = c.Get<uint8_t>();
    if (type > static_cast<int>(DataType::kBytes)) return Malformed("unknown datatype");
    std::vector<int64_t> shape(rank);
    for (int64_t& d : shape) {
      d = c.Get<int64_t>();
      if (d < 0 || d > (int64_t{1} << 32)) return Malformed("bad shape");
    }
    if (!c.ok()) break;
    // The elements must be there before the tensor is allocated for them.
    const int64_t count = ElementCount(shape);
    const DataType dt = static_cast<DataType>(type);
    if (dt != DataType::kBytes &&
        static_cast<uint64_t>(count) * DataTypeSize(dt) > static_cast<uint64_t>(c.rest().size())) {
      return Malformed("truncated output");
    }
    if (dt == DataType::kBytes && static_cast<uint64_t>(count) * 4 > static_cast<uint64_t>(c.rest().size())) {
      return Malformed("truncated output");
    }
    Tensor t(std::move(name), dt, std::move(shape));
    if (dt == DataType::kBytes) {
      for (std::string& s : t.strings()) s = std::string(c.Bytes(c.Get<uint32_t>()));
    } else if (const unsigned char* data = c.Take(t.bytes().size()); data && !t.bytes().empty()) {
      std::memcpy(t.bytes().data(), data, t.bytes().size());
    }
    out->outputs.push_back(std::move(t));
  }
  return c.ok() ? Status::Ok() : Malformed("truncated output");
}

LogSegmentBuilder::LogSegmentBuilder(const LogSchema& schema, std::string* buffer) : buffer_(buffer) {
  std::string& out = *buffer_;
  out.clear();
  out.append(kMagic, sizeof(kMagic));
  Put<uint32_t>(out, static_cast<uint32_t>(schema.features.size()));
  for (const LogSchema::Feature& f : schema.features) {
    PutShortString(out, f.name);
    Put<uint8_t>(out, f.categorical ? 1 : 0);
    Put<uint32_t>(out, static_cast<uint32_t>(f.categories.size()));
    for (const std::string& category : f.categories) PutShortString(out, category);
  }
  count_at_ = out.size();
  Put<uint32_t>(out, 0);
}

void LogSegmentBuilder::Add(std::string_view record) {
  Put<uint32_t>(*buffer_, static_cast<uint32_t>(record.size()));
  buffer_->append(record);
  ++records_;
}

std::string_view LogSegmentBuilder::Finish() {
  const uint32_t n = static_cast<uint32_t>(records_);
  std::memcpy(buffer_->data() + count_at_, &n, sizeof(n));
  return *buffer_;
}

Result<LogSegmentReader> LogSegmentReader::Open(std::string_view data) {
  Cursor c(data);
  const std::string_view magic = c.Bytes(sizeof(kMagic));
  if (!c.ok() || magic != std::string_view(kMagic, sizeof(kMagic))) {
    return Status::InvalidArgument("not a prediction log segment (no VLG1 header)");
  }
  auto schema = std::make_shared<LogSchema>();
  const uint32_t f = c.Get<uint32_t>();
  for (uint32_t j = 0; j < f && c.ok(); ++j) {
    LogSchema::Feature feature;
    feature.name = std::string(c.ShortString());
    feature.categorical = c.Get<uint8_t>() & 1;
    const uint32_t categories = c.Get<uint32_t>();
    if (categories > c.rest().size() / 2) return Status::InvalidArgument("malformed log segment: category count");
    for (uint32_t i = 0; i < categories && c.ok(); ++i) feature.categories.emplace_back(c.ShortString());
    schema->features.push_back(std::move(feature));
  }
  LogSegmentReader reader;
  reader.count_ = c.Get<uint32_t>();
  if (!c.ok()) return Status::InvalidArgument("malformed log segment: truncated header");
  reader.schema_ = std::move(schema);
  reader.rest_ = c.rest();
  return reader;
}

bool LogSegmentReader::Next(std::string_view* record) {
  Cursor c(rest_);
  const uint32_t n = c.Get<uint32_t>();
  *record = c.Bytes(n);
  if (!c.ok()) return false;
  rest_ = c.rest();
  return true;
}

}  // namespace vigil
