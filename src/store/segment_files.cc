#include "store/segment_files.h"

#include <fcntl.h>
#include <unistd.h>
#include <xxhash.h>

#include <cerrno>
#include <cstring>
#include <system_error>

namespace vigil {
namespace {

constexpr std::string_view kSuffix = ".vlog";

std::string Errno() { return std::strerror(errno); }

// The number of a segment file's name ("12.vlog"), or -1.
int64_t FileNumber(const std::filesystem::path& name) {
  const std::string s = name.filename().string();
  if (s.size() <= kSuffix.size() || !s.ends_with(kSuffix)) return -1;
  int64_t n = 0;
  for (size_t i = 0; i < s.size() - kSuffix.size(); ++i) {
    if (s[i] < '0' || s[i] > '9' || n > (INT64_MAX - 9) / 10) return -1;
    n = n * 10 + (s[i] - '0');
  }
  return n;
}

}  // namespace

SegmentFiles::~SegmentFiles() {
  if (fd_ >= 0) {
    (void)Sync();
    CloseFile();
  }
}

uint64_t SegmentFiles::Checksum(std::string_view data) { return XXH3_64bits(data.data(), data.size()); }

std::filesystem::path SegmentFiles::Path(int64_t file) const {
  return dir_ / (std::to_string(file) + std::string(kSuffix));
}

void SegmentFiles::CloseFile() {
  ::close(fd_);
  fd_ = -1;
  size_ = 0;
}

Status SegmentFiles::StartFile(int64_t min_file) {
  std::error_code ec;
  std::filesystem::create_directories(dir_, ec);
  if (ec) return Status::Internal("cannot create " + dir_.string() + ": " + ec.message());
  int64_t next = std::max(min_file, file_) + 1;
  for (const auto& entry : std::filesystem::directory_iterator(dir_, ec)) {
    next = std::max(next, FileNumber(entry.path()) + 1);
  }
  if (ec) return Status::Internal("cannot list " + dir_.string() + ": " + ec.message());
  // O_EXCL: a file is only ever written by the process that created it.
  for (;; ++next) {
    fd_ = ::open(Path(next).c_str(), O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0644);
    if (fd_ >= 0) break;
    if (errno != EEXIST) return Status::Internal("cannot create " + Path(next).string() + ": " + Errno());
  }
  file_ = next;
  size_ = 0;
  return Status::Ok();
}

Result<SegmentLocation> SegmentFiles::Append(std::string_view data, int64_t min_file) {
  if (fd_ >= 0 && size_ > 0 && size_ + static_cast<int64_t>(data.size()) > max_file_bytes_) {
    (void)Sync();  // Best effort: a full file goes to the disk now rather than at the kernel's pace.
    CloseFile();
  }
  if (fd_ < 0) VIGIL_RETURN_IF_ERROR(StartFile(min_file));
  SegmentLocation at{file_, size_, static_cast<int64_t>(data.size()), Checksum(data)};
  for (size_t done = 0; done < data.size();) {
    const ssize_t n = ::write(fd_, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      Status s = Status::Internal("writing " + Path(file_).string() + ": " + (n < 0 ? Errno() : "no progress"));
      CloseFile();  // Abandoned: its tail may hold part of this segment.
      return s;
    }
    done += static_cast<size_t>(n);
  }
  size_ += static_cast<int64_t>(data.size());
  return at;
}

Status SegmentFiles::Sync() {
  if (fd_ >= 0 && ::fdatasync(fd_) != 0) return Status::Internal("syncing " + Path(file_).string() + ": " + Errno());
  return Status::Ok();
}

Result<std::string> SegmentFiles::Read(const SegmentLocation& at) const {
  const std::filesystem::path path = Path(at.file);
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return Status::NotFound(path.string() + " is gone");
    return Status::Internal("cannot open " + path.string() + ": " + Errno());
  }
  std::string data(static_cast<size_t>(at.length), '\0');
  size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = ::pread(fd, data.data() + done, data.size() - done, at.offset + static_cast<off_t>(done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    done += static_cast<size_t>(n);
  }
  ::close(fd);
  const std::string where = path.string() + " at " + std::to_string(at.offset);
  if (done != data.size()) {
    return Status::Internal(where + ": " + std::to_string(done) + " of " + std::to_string(at.length) +
                            " bytes (the file is short)");
  }
  if (Checksum(data) != at.checksum) return Status::Internal(where + ": checksum mismatch");
  return data;
}

int64_t SegmentFiles::RemoveBelow(int64_t file) {
  std::error_code ec;
  int64_t removed = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir_, ec)) {
    const int64_t n = FileNumber(entry.path());
    if (n < 0 || n >= file || (fd_ >= 0 && n == file_)) continue;
    if (std::filesystem::remove(entry.path(), ec)) ++removed;
  }
  return removed;
}

}  // namespace vigil
