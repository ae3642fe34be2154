#pragma once

// What an all-or-nothing command (`outpost init`, `outpost central init`) created on disk, removed
// again unless the command got to the end: a step that fails leaves no half-made data directory
// behind.
//
// Thread-safety: used by one thread.

#include <filesystem>
#include <vector>

#include "common/status.h"

namespace outpost {

class CreatedFiles {
 public:
  CreatedFiles() = default;
  // Unless Commit() was called, removes every path added, newest first (files before the
  // directories that hold them). Best effort: a path that cannot be removed stays.
  ~CreatedFiles();
  CreatedFiles(const CreatedFiles&) = delete;
  CreatedFiles& operator=(const CreatedFiles&) = delete;

  // Records `path` as created by this command: add it once it exists (or, for files a library
  // creates beside it, such as SQLite's -wal, before).
  void Add(std::filesystem::path path);
  // Creates `dir` (and any missing parents) with `perms` and adds it; Ok without adding it when
  // it already exists. kUnavailable naming the directory when it cannot be created.
  Status MakeDirectory(const std::filesystem::path& dir, std::filesystem::perms perms);
  // Keeps everything: the command succeeded.
  void Commit() { committed_ = true; }

  const std::vector<std::filesystem::path>& paths() const { return paths_; }

 private:
  std::vector<std::filesystem::path> paths_;
  bool committed_ = false;
};

}  // namespace outpost
