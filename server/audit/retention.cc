#include "server/audit/retention.h"

#include <sys/stat.h>

#include <chrono>
#include <string_view>

#include "common/time.h"
#include "server/audit/archive.h"
#include "server/audit/chain.h"

namespace outpost::server::audit {
namespace {

constexpr std::string_view kSelectOldest =
    "SELECT time_ms FROM audit_log WHERE seq > ? ORDER BY seq LIMIT 1";

// "2026-09-05" of a unix-milliseconds time (UTC).
std::string Day(int64_t time_ms) { return FormatRfc3339Millis(time_ms).substr(0, 10); }

// An existing file for exactly this segment (a round interrupted after writing it): reusable.
Result<bool> SameSegment(const std::filesystem::path& path, const v1::AuditArchiveSegment& s) {
  OUTPOST_ASSIGN_OR_RETURN(ArchiveContents contents, ReadArchive(path, nullptr));
  return contents.header.first_seq() == s.header().first_seq() &&
         contents.header.last_seq() == s.header().last_seq() &&
         contents.header.prev_hash() == s.header().prev_hash() &&
         contents.checkpoint.SerializeAsString() == s.checkpoint().SerializeAsString() &&
         contents.records == s.header().last_seq() - s.header().first_seq() + 1;
}

}  // namespace

Retention::Retention(sqlite::Writer& writer, sqlite::ReaderPool& readers,
                     const crypto::PrivateKey& key, std::string satellite_id, const Clock& clock,
                     RetentionOptions options)
    : writer_(writer),
      readers_(readers),
      key_(key),
      satellite_id_(std::move(satellite_id)),
      clock_(clock),
      options_(std::move(options)) {}

Result<int64_t> Retention::RunOnce() {
  if (options_.retention <= Duration::zero()) return int64_t{0};
  // A removal interrupted last time comes first.
  OUTPOST_RETURN_IF_ERROR(RemoveArchivedRecords(writer_).status());
  const int64_t cutoff_ms = ToUnixMillis(clock_.Now() - options_.retention);
  constexpr int64_t kDayMs = 24 * 60 * 60 * 1000;
  int64_t archived = 0;
  for (int round = 0; round < options_.max_segments_per_run; ++round) {
    int64_t oldest_ms = 0;
    {
      OUTPOST_ASSIGN_OR_RETURN(sqlite::ReaderPool::Lease lease, readers_.Acquire());
      OUTPOST_ASSIGN_OR_RETURN(ArchivedHead head, ReadArchivedHead(*lease));
      OUTPOST_ASSIGN_OR_RETURN(sqlite::ScopedStatement row,
                               lease->Query(kSelectOldest, head.last_seq));
      OUTPOST_ASSIGN_OR_RETURN(bool found, row->Step());
      if (!found) break;
      oldest_ms = row->ColumnInt64(0);
    }
    // Whole UTC days only: the day of the oldest record must have ended before the cutoff.
    const int64_t day_start = oldest_ms >= 0 ? oldest_ms / kDayMs * kDayMs
                                             : -((-oldest_ms + kDayMs - 1) / kDayMs) * kDayMs;
    const int64_t day_end = day_start + kDayMs;
    if (day_end > cutoff_ms) break;
    const TimePoint before{std::chrono::milliseconds(day_end)};
    v1::AuditArchiveSegment segment;
    OUTPOST_RETURN_IF_ERROR(writer_.Run([&](sqlite::Connection& db) -> Status {
      OUTPOST_ASSIGN_OR_RETURN(segment, SealSegment(db, key_, satellite_id_, before, clock_.Now()));
      return Status::Ok();
    }));
    if (segment.header().last_seq() == 0) break;
    if (hold_) {
      // Not yet forwarded to the SIEM: the day waits (its sealed checkpoint is reused later).
      if (const std::optional<int64_t> held = hold_();
          held && segment.header().last_seq() > *held) {
        break;
      }
    }
    std::error_code ec;
    std::filesystem::create_directories(options_.archive_dir, ec);
    if (ec) {
      return Internal("cannot create the audit archive directory " + options_.archive_dir.string() +
                      ": " + ec.message() +
                      " (set [audit] archive_dir to a directory this user may write)");
    }
    ::chmod(options_.archive_dir.c_str(), 0700);
    const std::string name =
        "audit-" + Day(day_start) + "-" + std::to_string(segment.header().first_seq()) + "-" +
        std::to_string(segment.header().last_seq()) + std::string(kArchiveExtension);
    const std::filesystem::path path = options_.archive_dir / name;
    bool reuse = false;
    if (std::filesystem::exists(path, ec)) {
      auto same = SameSegment(path, segment);
      if (!same.ok() || !*same) {
        return FailedPrecondition("the audit archive " + path.string() +
                                  " exists but does not hold the segment being archived; move it "
                                  "away and the next round writes it again");
      }
      reuse = true;
    }
    if (!reuse) {
      OUTPOST_RETURN_IF_ERROR(
          WriteSegmentFile(readers_, key_.public_key(), segment, path).status());
    }
    if (after_file_written_) OUTPOST_RETURN_IF_ERROR(after_file_written_(path));
    segment.set_file_name(name);
    OUTPOST_RETURN_IF_ERROR(
        CommitSegment(writer_, key_.public_key(), segment, Actor::System(), clock_).status());
    ++archived;
  }
  return archived;
}

}  // namespace outpost::server::audit
