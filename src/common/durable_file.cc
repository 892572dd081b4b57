#include "common/durable_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace vigil {

Status SyncPath(const std::filesystem::path& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Status::Internal("cannot open " + path.string() + ": " + std::strerror(errno));
  const int rc = ::fsync(fd);
  const int saved = errno;
  ::close(fd);
  if (rc != 0) return Status::Internal("cannot sync " + path.string() + ": " + std::strerror(saved));
  return Status::Ok();
}

Status WriteNewFile(const std::filesystem::path& path, std::string_view bytes, mode_t mode) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0) return Status::Internal("cannot create " + path.string() + ": " + std::strerror(errno));
  auto fail = [&](const char* what) {
    const int saved = errno;
    ::close(fd);
    return Status::Internal(std::string(what) + " " + path.string() + ": " + std::strerror(saved));
  };
  for (size_t done = 0; done < bytes.size();) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return fail("writing");
    done += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0) return fail("syncing");
  if (::close(fd) != 0) return Status::Internal("closing " + path.string() + ": " + std::strerror(errno));
  return Status::Ok();
}

Status ReplaceFile(const std::filesystem::path& path, std::string_view bytes, mode_t mode) {
  std::filesystem::path tmp = path;
  tmp += ".tmp";
  std::error_code ec;
  std::filesystem::remove(tmp, ec);  // Left by an earlier attempt that crashed.
  VIGIL_RETURN_IF_ERROR(WriteNewFile(tmp, bytes, mode));
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const Status failed = Status::Internal("renaming " + tmp.string() + " to " + path.string() + ": " +
                                           std::strerror(errno));
    std::filesystem::remove(tmp, ec);
    return failed;
  }
  return SyncPath(path.has_parent_path() ? path.parent_path() : std::filesystem::path("."));
}

}  // namespace vigil
