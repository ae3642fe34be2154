#include "common/created_files.h"

namespace outpost {
namespace fs = std::filesystem;

CreatedFiles::~CreatedFiles() {
  if (committed_) return;
  std::error_code ec;
  for (auto it = paths_.rbegin(); it != paths_.rend(); ++it) fs::remove(*it, ec);
}

void CreatedFiles::Add(fs::path path) { paths_.push_back(std::move(path)); }

Status CreatedFiles::MakeDirectory(const fs::path& dir, fs::perms perms) {
  std::error_code ec;
  if (fs::exists(dir, ec)) return Status::Ok();
  if (!fs::create_directories(dir, ec) || ec) {
    return Unavailable("cannot create directory " + dir.string() + ": " + ec.message());
  }
  Add(dir);
  fs::permissions(dir, perms, ec);
  return Status::Ok();
}

}  // namespace outpost
