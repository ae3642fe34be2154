#pragma once

// Reading and writing the small files that hold key material and certificates.
//
// Thread-safety: the functions may be called concurrently (on different paths).
// Errors: kNotFound (no such file), kAlreadyExists (would overwrite), kFailedPrecondition
// (wrong file type or permissions), kInvalidArgument (file too large), kInternal (I/O error).
// Messages name the path and say what to do.

#include <cstddef>
#include <filesystem>
#include <string>
#include <string_view>

#include "common/status.h"

namespace outpost::crypto {

enum class IfExists {
  kFail,     // leave an existing file untouched and return kAlreadyExists
  kReplace,  // atomically replace an existing file
};

// Writes `content` to `path` so that readers only ever see no file, the old file or the whole
// new file: it goes to a temporary file in the same directory (created with `permissions`,
// never wider), is fsync'ed, then linked (kFail) or renamed (kReplace) into place, and the
// directory is fsync'ed. The directory must exist.
Status WriteFileAtomically(const std::filesystem::path& path, std::string_view content,
                           std::filesystem::perms permissions, IfExists if_exists);

// What WriteFileAtomically would refuse, checked without writing anything: an existing `path`
// (with kFail: kAlreadyExists, suggesting `force_flag`), a missing directory, a directory this
// process may not write, or a `path` that is a directory. Commands call it before they change any
// state, so a refused output file leaves nothing half done.
Status CheckWritable(const std::filesystem::path& path, IfExists if_exists,
                     std::string_view force_flag = "--force");

// The contents of the regular file `path`, refusing files larger than `max_bytes`.
Result<std::string> ReadSmallFile(const std::filesystem::path& path, size_t max_bytes);

// As ReadSmallFile, but also refuses (kFailedPrecondition) a file that group or others may
// read, write or execute, telling the operator to `chmod 600` it. Used for private keys.
Result<std::string> ReadSecretFile(const std::filesystem::path& path, size_t max_bytes);

}  // namespace outpost::crypto
