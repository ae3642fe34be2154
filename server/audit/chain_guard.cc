#include "server/audit/chain_guard.h"

#include <string_view>

#include "common/crypto/encoding.h"
#include "server/audit/archive.h"

namespace outpost::server::audit {
namespace {

constexpr std::string_view kSelectHash = "SELECT hash FROM audit_log WHERE seq = ?";

std::string ShortHex(const std::string& hash) { return crypto::HexEncode(hash).substr(0, 16); }

}  // namespace

Status ChainGuard::Observe(sqlite::Connection& db) {
  std::lock_guard lock(mu_);
  if (!problem_.empty()) return Unavailable(problem_);
  OUTPOST_ASSIGN_OR_RETURN(Head head, CurrentHead(db));
  std::string found;
  if (head.seq < known_.seq) {
    found = "the audit trail in " + db.path().string() + " now ends at record " +
            std::to_string(head.seq) + ", but this server has already seen record " +
            std::to_string(known_.seq) + " committed: records were removed behind its back";
  } else if (known_.seq > 0) {
    std::string stored;
    if (head.seq == known_.seq) {
      stored = head.hash;
    } else {
      OUTPOST_ASSIGN_OR_RETURN(sqlite::ScopedStatement statement,
                               db.Query(kSelectHash, known_.seq));
      OUTPOST_ASSIGN_OR_RETURN(bool row, statement->Step());
      if (row) {
        stored = statement->ColumnBlob(0);
      } else {
        // Archived meanwhile (archive.h): the archive table vouches for it, with a signed
        // checkpoint, or the record was removed behind the server's back.
        OUTPOST_ASSIGN_OR_RETURN(ArchivedHead archived, ReadArchivedHead(db));
        if (archived.last_seq > known_.seq ||
            (archived.last_seq == known_.seq && archived.hash == known_.hash)) {
          stored = known_.hash;
        }
      }
    }
    if (stored != known_.hash) {
      found = "audit record " + std::to_string(known_.seq) + " in " + db.path().string() +
              " no longer has the hash this server committed (" + ShortHex(known_.hash) +
              "...): the trail was rewritten behind its back";
    }
  }
  if (found.empty()) {
    known_ = std::move(head);
    return Status::Ok();
  }
  problem_ = found +
             ". Every write is refused so the chain is not continued from the cut. Stop the "
             "satellite, keep a copy of the data directory for the investigation, and compare "
             "it with the heads central holds (outpost audit verify, outpost audit "
             "compare-heads); a restart accepts the chain as it is then.";
  return Unavailable(problem_);
}

std::string ChainGuard::Problem() const {
  std::lock_guard lock(mu_);
  return problem_;
}

Head ChainGuard::Known() const {
  std::lock_guard lock(mu_);
  return known_;
}

}  // namespace outpost::server::audit
