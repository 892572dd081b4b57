// SegmentFiles: the bytes of the prediction log's segments, in append-only
// files beside the SQLite database; the database keeps a row per segment
// with where its bytes are (file, offset, length) and their checksum.
//
// Why files: SQLite stores a large blob as a chain of overflow pages, and in
// WAL mode writes each page twice (to the log, then to the database at the
// checkpoint) and reads every page of a chain to free it. That cost the log's
// writer about 3.5 µs of CPU per KiB, 15 times an append to a file
// (docs/monitoring.md has the measurement); at 64 rows per request it was
// the largest part of the writer's time.
//
// Layout: DIR/NUMBER.vlog, numbers increasing, each file the concatenation
// of segments (store/log_segment.h) of one writing process, up to
// kMaxFileBytes. A file is never appended to after its process closes it,
// so bytes written but not committed to the database (a crash between the
// two) are never referenced. Retention deletes whole files once no segment
// row refers to them.
//
// Durability: best effort, as the prediction log is: a file is synced when
// it is full and when the store closes. After a crash of the machine a
// segment row may refer to bytes that never reached the disk; its checksum
// (XXH3-64) then fails and readers skip it.
//
// Thread-safety: Append, Sync and RemoveBelow must be serialised by the
// caller (the store's log connection does); Read may run concurrently with
// them.
#ifndef VIGIL_STORE_SEGMENT_FILES_H_
#define VIGIL_STORE_SEGMENT_FILES_H_

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

#include "common/status.h"

namespace vigil {

// Where a segment's bytes are.
struct SegmentLocation {
  int64_t file = 0;
  int64_t offset = 0;
  int64_t length = 0;
  uint64_t checksum = 0;  // XXH3-64 of the bytes.
};

class SegmentFiles {
 public:
  static constexpr int64_t kMaxFileBytes = 64 << 20;

  // Files in `dir`, which is created on the first Append, each up to
  // `max_file_bytes` (or one segment, if longer).
  explicit SegmentFiles(std::filesystem::path dir, int64_t max_file_bytes = kMaxFileBytes)
      : dir_(std::move(dir)), max_file_bytes_(max_file_bytes) {}
  ~SegmentFiles();
  SegmentFiles(const SegmentFiles&) = delete;
  SegmentFiles& operator=(const SegmentFiles&) = delete;

  const std::filesystem::path& dir() const { return dir_; }
  // Whether a file is open for appending.
  bool writing() const { return fd_ >= 0; }

  // Appends `data` to the current file, starting a new one (numbered above
  // `min_file` and every file in the directory) when there is none or it is
  // full. On a failed write the file is abandoned: the next Append starts a
  // new one.
  Result<SegmentLocation> Append(std::string_view data, int64_t min_file);
  // Syncs the current file to the disk.
  Status Sync();

  // The bytes at `location`, checked against its checksum. NOT_FOUND if the
  // file is gone, INTERNAL if the bytes are short or do not match.
  Result<std::string> Read(const SegmentLocation& location) const;

  // Deletes the files numbered below `file`, except the one being written.
  // Returns how many were deleted.
  int64_t RemoveBelow(int64_t file);

  static uint64_t Checksum(std::string_view data);

 private:
  std::filesystem::path Path(int64_t file) const;
  Status StartFile(int64_t min_file);
  void CloseFile();

  const std::filesystem::path dir_;
  const int64_t max_file_bytes_;
  int fd_ = -1;
  int64_t file_ = 0;   // The number of the file being written (fd_).
  int64_t size_ = 0;   // Its length.
};

}  // namespace vigil

#endif  // VIGIL_STORE_SEGMENT_FILES_H_
