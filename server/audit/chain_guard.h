#pragma once

// The running satellite's witness of its own audit chain: it remembers the highest head it has
// seen committed and refuses every further write once the chain in the database no longer
// extends that head (records deleted or rewritten behind the server's back, e.g. with the
// sqlite3 shell on the live file). Without it, a server would continue the chain from the cut,
// and the result would verify. See docs/security.md, "What `audit verify` proves".
//
// The memory is the process's: a restart forgets it (then central's witness, checked at every
// sync, and an auditor's saved head, `audit verify --since-checkpoint`, remain).
//
// Thread-safety: all members may be called from any thread.

#include <cstdint>
#include <mutex>
#include <string>

#include "common/sqlite/connection.h"
#include "common/status.h"
#include "server/audit/audit_log.h"

namespace outpost::server::audit {

class ChainGuard {
 public:
  // `start`: the head as read before the server began writing.
  explicit ChainGuard(Head start) : known_(std::move(start)) {}

  // Compares the chain as `db` sees it with the highest head seen so far. When it extends that
  // head (the same record at the same seq, perhaps followed by more), adopts the new head and
  // returns Ok. Otherwise trips, for good: from then on every call returns kUnavailable with
  // Problem(), so a writer that runs this before each transaction (Writer::SetTransactionGuard)
  // refuses all writes. Errors reading the database are returned as they are and trip nothing.
  Status Observe(sqlite::Connection& db);

  // "" while the chain is intact; once tripped, what was found and what to do.
  std::string Problem() const;

  // The highest head seen so far.
  Head Known() const;

 private:
  mutable std::mutex mu_;
  Head known_;           // guarded by mu_
  std::string problem_;  // guarded by mu_; set once
};

}  // namespace outpost::server::audit
