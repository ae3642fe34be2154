#pragma once

// The audit chain's head kept in memory for the writer, so that appending a record (Append,
// audit_log.h) needs no query for it.

#include <array>
#include <cstdint>
#include <string>

#include "common/sqlite/connection.h"
#include "common/sqlite/writer.h"

namespace outpost::server::audit {

// Observes one sqlite::Writer (Writer::SetTransactionObserver). While a transaction of that
// writer is open, Append on its connection takes the new record's seq and prev_hash from here:
// the head is read at the transaction's first Append, advanced by each Append that inserted its
// record, put back as it was when a unit began if that unit is rolled back to its savepoint, and
// forgotten when the transaction ends (another process may append between two transactions, and
// a transaction that did not commit leaves nothing). Units on that writer must not roll back to
// savepoints of their own after an Append (the writer's rules already forbid touching its
// savepoints). Writer thread only, like the writer's calls to it.
class HeadCache final : public sqlite::TransactionObserver {
 public:
  void TransactionBegun(sqlite::Connection& db) override;
  void UnitBegun() override;
  void UnitEnded(bool kept) override;
  void TransactionEnded(bool committed) override;

  // The cache watching the transaction open on `db` from this thread, or null.
  static HeadCache* For(const sqlite::Connection& db);
  // The head the open transaction holds, if read already: seq and the raw 32-byte hash.
  bool Get(int64_t& seq, std::string& hash) const;
  // A record `seq` with `hash` (32 raw bytes) was inserted: it is the head now.
  void Advance(int64_t seq, const std::string& hash);

 private:
  struct Known {
    bool read = false;  // false: not read in this transaction yet
    int64_t seq = 0;
    std::array<char, 32> hash{};
  };
  const sqlite::Connection* db_ = nullptr;  // the writer's, while a transaction is open
  Known head_;                              // as the open transaction holds it now
  Known unit_start_;                        // as it was when the current unit began
};

}  // namespace outpost::server::audit
