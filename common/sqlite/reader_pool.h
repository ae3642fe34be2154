#pragma once

// A pool of read-only connections to one database file.

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <filesystem>
#include <memory>
#include <mutex>
#include <vector>

#include "common/sqlite/connection.h"
#include "common/status.h"

namespace outpost::sqlite {

struct ReaderPoolOptions {
  size_t max_readers = 4;  // connections opened at most; at least 1
  std::chrono::milliseconds busy_timeout{5000};
};

// Read-only connections to the database the Writer writes. Thread-safe. Connections are opened
// lazily, up to max_readers, and reused. A reader sees only committed data: each read
// transaction (one statement, or an explicit BEGIN ... COMMIT) sees the database as of its start
// (WAL snapshot). Writing through a reader fails with kFailedPrecondition.
//
// The pool must outlive its leases.
class ReaderPool {
 public:
  // Exclusive use of one reader connection until destroyed. Move-only. On return to the pool its
  // active statements are reset and an open transaction is rolled back, so no read snapshot
  // outlives the lease.
  class Lease {
   public:
    ~Lease();
    Lease(Lease&& other) noexcept;
    Lease& operator=(Lease&& other) noexcept;
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;

    Connection& operator*() const { return *connection_; }
    Connection* operator->() const { return connection_.get(); }
    Connection& connection() const { return *connection_; }

   private:
    friend class ReaderPool;
    Lease(ReaderPool* pool, std::unique_ptr<Connection> connection);
    void Return();

    ReaderPool* pool_;
    std::unique_ptr<Connection> connection_;
  };

  // Opens the first connection now, so that a missing or invalid database (kUnavailable,
  // kDataLoss) is reported at startup rather than at the first read. The file must exist: create
  // it with the Writer first.
  static Result<std::unique_ptr<ReaderPool>> Create(const std::filesystem::path& path,
                                                    const ReaderPoolOptions& options = {});

  ReaderPool(const ReaderPool&) = delete;
  ReaderPool& operator=(const ReaderPool&) = delete;

  // An idle connection, a newly opened one if fewer than max_readers exist, or else waits until
  // one is returned. A thread must not hold two leases of the same pool at once: with every
  // connection leased that way, it would wait for itself. Fails only if opening a new connection
  // fails.
  Result<Lease> Acquire();

  size_t open_connections() const;  // opened so far and not discarded

 private:
  ReaderPool(std::filesystem::path path, const ReaderPoolOptions& options,
             std::unique_ptr<Connection> first);
  void Return(std::unique_ptr<Connection> connection);

  const std::filesystem::path path_;
  const OpenOptions open_options_;
  const size_t max_readers_;

  mutable std::mutex mu_;
  std::condition_variable returned_;
  std::vector<std::unique_ptr<Connection>> idle_;  // guarded by mu_
  size_t open_ = 0;                                // guarded by mu_; idle + leased + opening
};

}  // namespace outpost::sqlite
