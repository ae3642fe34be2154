#pragma once

// Export of the audit trail as JSON lines or CSV, filtered, in constant memory.
//
// JSON lines: one v1::AuditRecord per line in the project's JSON mapping (common/proto_json.h:
// snake_case names, every field printed, int64 as strings), each line ending in "\n", except
// that `details` is the JSON object itself, not a string holding it: the stored bytes are
// written as they are, so the text between "details": and ,"prev_hash" is exactly what was
// hashed (ParseJsonLine recovers it). Details that are not a one-line JSON object (only after
// the database was edited) stay a string.
// CSV (RFC 4180): a header row "seq,time,time_ms,actor,action,object,details,prev_hash,hash",
// then one row per record, every row ending in CRLF; a field holding a comma, a double quote,
// CR or LF is enclosed in double quotes with each double quote doubled. Fields are written
// byte for byte as stored (no spreadsheet-formula escaping), so an export can be re-hashed;
// spreadsheet users should import it as text.
//
// Records come in seq order. Thread-safety: each call uses only `db`, which one thread at a
// time may use.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/sqlite/connection.h"
#include "common/status.h"
#include "outpost/v1/audit.pb.h"

namespace outpost::server::audit {

// Which records to export; an empty or unset field does not filter. String matches are
// case-sensitive.
struct ExportFilter {
  std::optional<TimePoint> since;  // time >= since (millisecond precision)
  std::optional<TimePoint> until;  // time < until
  // Exact actor ("user:alice"), or a prefix: a value ending in ':' ("device:") or '*'
  // ("user:a*", the '*' itself not matched) matches every actor that starts with it. An exact
  // "user:alice" also matches alice's API keys ("apikey:<id> (alice)"), and an exact
  // "apikey:<id>" matches that key whichever user it names.
  std::string actor;
  // Exact action ("token.create"), or a prefix: a value ending in '.' ("token.") or '*'.
  std::string action;
  // A device's instance id: matches the records about it, those whose object is "device:<id>"
  // (the device's own calls, and what operators and the sweep did to it). Uses an index.
  std::string device;
};

enum class ExportFormat { kJsonLines, kCsv };

// One line of a JSON-lines export back into the record, `details` as the exact stored text.
// Errors: kInvalidArgument when the line is not such a record.
Result<v1::AuditRecord> ParseJsonLine(std::string_view line);

// "jsonl" or "csv" (the CLI's --format values); kInvalidArgument naming them otherwise.
Result<ExportFormat> ParseExportFormat(std::string_view name);

// Chunks given to the sink are at most this size, unless a single record is larger (then that
// record alone is one chunk).
inline constexpr size_t kExportChunkBytes = 64 * 1024;

// Streams every matching record to `sink`, in chunks (see kExportChunkBytes) of whole lines,
// stepping one statement, so memory does not grow with the number of records. An empty
// result gives the CSV header alone (CSV) or no call at all (JSON lines). The statement holds
// a read snapshot of `db` until the export ends, so use a reader connection. Stops at the
// first error of `sink` and returns it. Errors: kInvalidArgument for a filter whose since is
// not before its until; otherwise SQLite's.
Status Export(sqlite::Connection& db, const ExportFilter& filter, ExportFormat format,
              const std::function<Status(std::string_view chunk)>& sink);

// One page of a paged export (a struct name distinct from the function below).
struct ExportedPage {
  std::string text;            // the records, formatted as above
  int64_t records = 0;         // how many records `text` holds
  int64_t next_after_seq = 0;  // pass as after_seq for the next page: the last seq in `text`,
                               // or the given after_seq when the page is empty
  bool more = false;           // whether records after next_after_seq match the filter
};

// Largest max_records accepted by ExportPage.
inline constexpr int64_t kMaxPageRecords = 10'000;

// The matching records with seq > after_seq, at most max_records of them, for clients (HTTP)
// that pull an export page by page; each page is one short read. With the CSV format the header
// row leads the first page (after_seq == 0) only, so pages concatenate into one CSV file.
// Errors: kInvalidArgument for after_seq < 0, max_records outside 1..kMaxPageRecords, or a bad
// filter; otherwise SQLite's.
Result<ExportedPage> ExportPage(sqlite::Connection& db, const ExportFilter& filter,
                                ExportFormat format, int64_t after_seq, int64_t max_records);

// The same newest first: the matching records with seq < before_seq (0: from the newest), in
// descending seq order; next_after_seq is then the lowest seq of the page (pass it as before_seq
// for the next, older page), `more` whether older records match. CSV: the header row leads the
// first page (before_seq == 0) only.
Result<ExportedPage> ExportPageNewestFirst(sqlite::Connection& db, const ExportFilter& filter,
                                           ExportFormat format, int64_t before_seq,
                                           int64_t max_records);

// The newest `limit` records that match, newest first.
Result<std::vector<v1::AuditRecord>> NewestRecords(sqlite::Connection& db,
                                                   const ExportFilter& filter, int64_t limit);

// The newest `limit` records about the (va, tag) pool — reservations, moves, releases, rehosts
// and sweeps naming it (the audit_tag_events table, schema version 9) — newest first.
Result<std::vector<v1::AuditRecord>> NewestTagRecords(sqlite::Connection& db, std::string_view va,
                                                      std::string_view tag, int64_t limit);

}  // namespace outpost::server::audit
