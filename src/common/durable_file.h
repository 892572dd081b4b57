// Files that survive a crash: written, flushed to disk, and renamed into place.
//
// Thread-safety: functions of the file system only.
#ifndef VIGIL_COMMON_DURABLE_FILE_H_
#define VIGIL_COMMON_DURABLE_FILE_H_

#include <sys/types.h>

#include <filesystem>
#include <string_view>

#include "common/status.h"

namespace vigil {

// Flushes a file or a directory (its entries) to disk.
Status SyncPath(const std::filesystem::path& path);

// Creates `path` (it must not exist) with permissions `mode`, writes `bytes`
// and flushes them to disk.
Status WriteNewFile(const std::filesystem::path& path, std::string_view bytes, mode_t mode);

// Replaces `path` with `bytes` so that a reader, or the file system after a
// crash, sees the old content or the new one, never a part: written to
// `path`.tmp, flushed, renamed over `path`, and the directory flushed.
Status ReplaceFile(const std::filesystem::path& path, std::string_view bytes, mode_t mode);

}  // namespace vigil

#endif  // VIGIL_COMMON_DURABLE_FILE_H_
