#include "common/sqlite/reader_pool.h"

#include <utility>

namespace outpost::sqlite {

Result<std::unique_ptr<ReaderPool>> ReaderPool::Create(const std::filesystem::path& path,
                                                       const ReaderPoolOptions& options) {
  if (options.max_readers == 0) {
    return InvalidArgument("ReaderPoolOptions.max_readers must be at least 1");
  }
  OpenOptions open_options;
  open_options.mode = OpenMode::kReadOnly;
  open_options.busy_timeout = options.busy_timeout;
  OUTPOST_ASSIGN_OR_RETURN(Connection first, Connection::Open(path, open_options));
  return std::unique_ptr<ReaderPool>(
      new ReaderPool(path, options, std::make_unique<Connection>(std::move(first))));
}

ReaderPool::ReaderPool(std::filesystem::path path, const ReaderPoolOptions& options,
                       std::unique_ptr<Connection> first)
    : path_(std::move(path)),
      open_options_{OpenMode::kReadOnly, Synchronous::kFull, options.busy_timeout},
      max_readers_(options.max_readers) {
  idle_.push_back(std::move(first));
  open_ = 1;
}

Result<ReaderPool::Lease> ReaderPool::Acquire() {
  {
    std::unique_lock lock(mu_);
    returned_.wait(lock, [this] { return !idle_.empty() || open_ < max_readers_; });
    if (!idle_.empty()) {
      std::unique_ptr<Connection> connection = std::move(idle_.back());
      idle_.pop_back();
      return Lease(this, std::move(connection));
    }
    ++open_;  // reserve the slot; open outside the lock, opening reads the file
  }
  Result<Connection> opened = Connection::Open(path_, open_options_);
  if (!opened.ok()) {
    {
      std::lock_guard lock(mu_);
      --open_;
    }
    returned_.notify_one();
    return opened.status();
  }
  return Lease(this, std::make_unique<Connection>(std::move(opened).value()));
}

void ReaderPool::Return(std::unique_ptr<Connection> connection) {
  // A statement left mid-rows or a forgotten BEGIN would pin an old snapshot: the next user
  // would read stale data and the WAL could not be checkpointed past it.
  connection->ResetActiveStatements();
  if (connection->InTransaction()) (void)connection->Exec("ROLLBACK");
  {
    std::lock_guard lock(mu_);
    if (connection->InTransaction()) {
      --open_;  // cannot be cleaned: close it, a fresh one is opened on demand
    } else {
      idle_.push_back(std::move(connection));
    }
  }
  returned_.notify_one();
}

size_t ReaderPool::open_connections() const {
  std::lock_guard lock(mu_);
  return open_;
}

ReaderPool::Lease::Lease(ReaderPool* pool, std::unique_ptr<Connection> connection)
    : pool_(pool), connection_(std::move(connection)) {}

ReaderPool::Lease::~Lease() { Return(); }

ReaderPool::Lease::Lease(Lease&& other) noexcept
    : pool_(std::exchange(other.pool_, nullptr)), connection_(std::move(other.connection_)) {}

ReaderPool::Lease& ReaderPool::Lease::operator=(Lease&& other) noexcept {
  if (this != &other) {
    Return();
    pool_ = std::exchange(other.pool_, nullptr);
    connection_ = std::move(other.connection_);
  }
  return *this;
}

void ReaderPool::Lease::Return() {
  if (pool_ != nullptr && connection_ != nullptr) pool_->Return(std::move(connection_));
  pool_ = nullptr;
}

}  // namespace outpost::sqlite
