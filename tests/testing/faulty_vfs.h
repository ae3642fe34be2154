#pragma once

// A SQLite VFS for tests that fails writes on command: disk full (SQLITE_FULL) or an I/O error
// (SQLITE_IOERR_WRITE / SQLITE_IOERR_FSYNC), without root or a small file system.
//
// Install() registers it as SQLite's default VFS, wrapping the default that was there before, so
// every connection opened afterwards (the writer's, the WAL checkpointer's, the readers') goes
// through it. Until a fault is armed it forwards every call unchanged. Thread-safe: the fault
// state is atomic and may be changed while connections write.

#include <atomic>
#include <cstdint>
#include <string>

namespace outpost::testing {

class FaultyVfs {
 public:
  enum class Fault {
    kNone,
    kDiskFull,  // xWrite and xTruncate that would grow a file fail with SQLITE_FULL
    kIoError,   // xWrite fails with SQLITE_IOERR_WRITE, xSync with SQLITE_IOERR_FSYNC
  };

  // Registers the VFS (once per process) as the default. Returns the instance to command.
  static FaultyVfs& Install();

  // Arms `fault` for files whose path contains `path_part` (empty: every file). Writes that
  // happened before are kept; writes from now on fail until Heal().
  void Arm(Fault fault, const std::string& path_part = "");
  void Heal() { Arm(Fault::kNone); }

  // Calls that were failed on purpose since Install().
  uint64_t injected() const { return injected_.load(); }

  // For the VFS callbacks only.
  int FailureFor(const char* path, bool is_sync);

 private:
  FaultyVfs() = default;
  std::atomic<Fault> fault_{Fault::kNone};
  std::atomic<uint64_t> injected_{0};
  std::atomic<const std::string*> path_part_{nullptr};  // kept for the process (faulty_vfs.cc)
};

}  // namespace outpost::testing
