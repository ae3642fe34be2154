#include "server/audit/export.h"

#include <boost/json.hpp>
#include <optional>
#include <utility>

#include "common/crypto/encoding.h"
#include "common/csv.h"
#include "common/proto_json.h"
#include "common/time.h"
#include "server/audit/audit_proto.h"
#include "server/audit/chain.h"
#include "server/audit/record_row.h"
#include "server/audit/utf8.h"

namespace outpost::server::audit {
namespace {

// An exact actor also matches the API-key form that names the same key or user:
// "apikey:<id>" matches "apikey:<id> (alice)", and "user:alice" matches "apikey:<any> (alice)",
// so one filter finds what a user did by console session and with every one of their keys.
// One constant statement for every filter combination (so it is prepared once per
// connection): an unset filter binds NULL. The unary '+' keeps the planner off the time index:
// walking the primary key gives seq order without a sort, which is what keeps memory
// constant (a sort would buffer the whole result).
// The device filter matches records about the device (object "device:<id>") and those the device
// made about nothing else (no object: a compact device.renew), with the expression of the
// audit_log_device index (schema version 11) written exactly as the index has it, so that it
// walks that index in seq order instead of the whole log: one statement per order, with and
// without it.
#define OUTPOST_AUDIT_FILTERS                                                       \
  "AND (?2 IS NULL OR +time_ms >= ?2) "                                             \
  "AND (?3 IS NULL OR +time_ms < ?3) "                                              \
  "AND (?4 IS NULL OR actor = ?4 OR substr(actor, 1, length(?4) + 2) = ?4 || ' (' " \
  "     OR (substr(?4, 1, 5) = 'user:' AND substr(actor, 1, 7) = 'apikey:' "        \
  "         AND substr(actor, -(length(?4) - 2)) = ' (' || substr(?4, 6) || ')')) " \
  "AND (?5 IS NULL OR substr(actor, 1, length(?5)) = ?5) "                          \
  "AND (?6 IS NULL OR action = ?6) "                                                \
  "AND (?7 IS NULL OR substr(action, 1, length(?7)) = ?7) "
#define OUTPOST_AUDIT_DEVICE \
  "WHERE CASE WHEN object = '' THEN actor ELSE object END = 'device:' || ?8 "
#define OUTPOST_AUDIT_COLUMNS \
  "SELECT seq, time_ms, actor, action, object, details, prev_hash, hash FROM audit_log "
constexpr std::string_view kSelectRecords =
    OUTPOST_AUDIT_COLUMNS "WHERE seq > ?1 " OUTPOST_AUDIT_FILTERS "ORDER BY seq LIMIT ?9";
constexpr std::string_view kSelectDeviceRecords = OUTPOST_AUDIT_COLUMNS OUTPOST_AUDIT_DEVICE
    "AND seq > ?1 " OUTPOST_AUDIT_FILTERS "ORDER BY seq LIMIT ?9";
// Newest first: ?1 is the seq to stay below.
constexpr std::string_view kSelectRecordsDesc =
    OUTPOST_AUDIT_COLUMNS "WHERE seq < ?1 " OUTPOST_AUDIT_FILTERS "ORDER BY seq DESC LIMIT ?9";
constexpr std::string_view kSelectDeviceRecordsDesc = OUTPOST_AUDIT_COLUMNS OUTPOST_AUDIT_DEVICE
    "AND seq < ?1 " OUTPOST_AUDIT_FILTERS "ORDER BY seq DESC LIMIT ?9";
#undef OUTPOST_AUDIT_DEVICE
#undef OUTPOST_AUDIT_COLUMNS
#undef OUTPOST_AUDIT_FILTERS

constexpr std::string_view kCsvHeader =
    "seq,time,time_ms,actor,action,object,details,prev_hash,hash\r\n";

// A filter value as an exact match and a prefix match, at most one of them set.
struct Match {
  std::optional<std::string> exact;
  std::optional<std::string> prefix;
};

Match SplitMatch(const std::string& value, char prefix_marker) {
  Match match;
  if (value.empty()) return match;
  if (value.back() == '*') {
    match.prefix = value.substr(0, value.size() - 1);
  } else if (value.back() == prefix_marker) {
    match.prefix = value;
  } else {
    match.exact = value;
  }
  return match;
}

std::optional<int64_t> Millis(const std::optional<TimePoint>& t) {
  if (!t) return std::nullopt;
  return ToUnixMillis(*t);
}

std::optional<std::string> NonEmpty(const std::string& value) {
  if (value.empty()) return std::nullopt;
  return value;
}

Status CheckFilter(const ExportFilter& filter) {
  if (filter.since && filter.until && !(*filter.since < *filter.until)) {
    return InvalidArgument(
        "the export's since (" + FormatRfc3339Millis(ToUnixMillis(*filter.since)) +
        ") must be before its until (" + FormatRfc3339Millis(ToUnixMillis(*filter.until)) + ")");
  }
  return Status::Ok();
}

// Calls `visit` for each matching record with seq > after_seq, at most `limit` of them
// (negative: no limit), in seq order; newest first: those with seq < bound (0: every record).
template <typename Visit>
Status Scan(sqlite::Connection& db, const ExportFilter& filter, int64_t bound, int64_t limit,
            Visit&& visit, bool newest_first = false) {
  const Match actor = SplitMatch(filter.actor, ':');
  const Match action = SplitMatch(filter.action, '.');
  const bool device = !filter.device.empty();
  const std::string_view sql = newest_first
                                   ? (device ? kSelectDeviceRecordsDesc : kSelectRecordsDesc)
                                   : (device ? kSelectDeviceRecords : kSelectRecords);
  if (newest_first && bound == 0) bound = INT64_MAX;
  OUTPOST_ASSIGN_OR_RETURN(
      sqlite::ScopedStatement statement,
      db.Query(sql, bound, Millis(filter.since), Millis(filter.until), actor.exact, actor.prefix,
               action.exact, action.prefix, NonEmpty(filter.device), limit));
  while (true) {
    OUTPOST_ASSIGN_OR_RETURN(bool row, statement->Step());
    if (!row) return Status::Ok();
    OUTPOST_RETURN_IF_ERROR(visit(ReadRecord(*statement)));
  }
}

constexpr std::string_view kDetailsKey = "\"details\":";
constexpr std::string_view kEmptyDetails = "\"details\":\"\"";
constexpr std::string_view kPrevHashKey = ",\"prev_hash\":\"";

// Whether stored details can be written into a JSON line as they are: a JSON object on one line.
// Anything else (only possible if the database was edited) stays a string.
bool IsOneLineJsonObject(std::string_view details) {
  if (details.empty() || details.front() != '{' ||
      details.find_first_of("\r\n") != std::string_view::npos || !IsValidUtf8(details)) {
    return false;
  }
  boost::system::error_code ec;
  const boost::json::value parsed = boost::json::parse(details, ec);
  return !ec && parsed.is_object();
}

void AppendJsonLine(const Record& record, std::string& out) {
  v1::AuditRecord proto = ToProto(record);
  if (!IsOneLineJsonObject(record.details)) {
    out.append(ToJson(proto));
    out.push_back('\n');
    return;
  }
  // The stored bytes themselves, spliced in for the empty string: an object for JSON readers,
  // and exactly the hashed text for anyone who re-hashes (ParseJsonLine recovers it). The first
  // "details":"" is the key: quotes inside the string fields before it are escaped.
  proto.clear_details();
  std::string line = ToJson(proto);
  const size_t at = line.find(kEmptyDetails);
  if (at == std::string::npos) {  // cannot happen with the printer's fixed field order
    proto.set_details(record.details);
    out.append(ToJson(proto));
  } else {
    line.replace(at + kDetailsKey.size(), kEmptyDetails.size() - kDetailsKey.size(),
                 record.details);
    out.append(line);
  }
  out.push_back('\n');
}

void AppendFormatted(const Record& record, ExportFormat format, std::string& out) {
  if (format == ExportFormat::kJsonLines) {
    AppendJsonLine(record, out);
    return;
  }
  out.append(std::to_string(record.seq));
  out.push_back(',');
  out.append(FormatRfc3339Millis(record.time_ms));
  out.push_back(',');
  out.append(std::to_string(record.time_ms));
  for (const std::string* field :
       {&record.actor, &record.action, &record.object, &record.details}) {
    out.push_back(',');
    csv::AppendField(*field, out);
  }
  out.push_back(',');
  out.append(crypto::HexEncode(record.prev_hash));
  out.push_back(',');
  out.append(crypto::HexEncode(record.hash));
  out.append("\r\n");
}

}  // namespace

Result<v1::AuditRecord> ParseJsonLine(std::string_view line) {
  v1::AuditRecord record;
  const size_t key = line.find(kDetailsKey);
  const size_t end = line.rfind(kPrevHashKey);
  if (key != std::string_view::npos && end != std::string_view::npos && end > key &&
      line.substr(key + kDetailsKey.size(), 1) == "{") {
    const size_t start = key + kDetailsKey.size();
    std::string as_string(line.substr(0, start));
    as_string += "\"\"";
    as_string += line.substr(end);
    OUTPOST_RETURN_IF_ERROR(FromJson(as_string, &record));
    record.set_details(std::string(line.substr(start, end - start)));
    return record;
  }
  OUTPOST_RETURN_IF_ERROR(FromJson(line, &record));
  return record;
}

Result<ExportFormat> ParseExportFormat(std::string_view name) {
  if (name == "jsonl") return ExportFormat::kJsonLines;
  if (name == "csv") return ExportFormat::kCsv;
  return InvalidArgument("unknown audit export format '" + std::string(name) +
                         "'; use jsonl or csv");
}

Status Export(sqlite::Connection& db, const ExportFilter& filter, ExportFormat format,
              const std::function<Status(std::string_view chunk)>& sink) {
  OUTPOST_RETURN_IF_ERROR(CheckFilter(filter));
  std::string buffer;
  buffer.reserve(kExportChunkBytes);
  if (format == ExportFormat::kCsv) buffer.append(kCsvHeader);
  std::string line;
  OUTPOST_RETURN_IF_ERROR(Scan(db, filter, 0, -1, [&](const Record& record) -> Status {
    line.clear();
    AppendFormatted(record, format, line);
    // Flush before the buffer would exceed a chunk, so chunks stay bounded and whole lines.
    if (!buffer.empty() && buffer.size() + line.size() > kExportChunkBytes) {
      OUTPOST_RETURN_IF_ERROR(sink(buffer));
      buffer.clear();
    }
    buffer.append(line);
    return Status::Ok();
  }));
  if (!buffer.empty()) return sink(buffer);
  return Status::Ok();
}

namespace {

// One page in either order: `bound` is the seq to go beyond (after it, or before it newest
// first; 0 starts at the first or the newest record), named `bound_name` in errors.
Result<ExportedPage> Page(sqlite::Connection& db, const ExportFilter& filter, ExportFormat format,
                          int64_t bound, int64_t max_records, bool newest_first,
                          std::string_view bound_name) {
  if (bound < 0) {
    return InvalidArgument(std::string(bound_name) + " must be 0 (first page) or the next_" +
                           std::string(bound_name) + " of a page, not " + std::to_string(bound));
  }
  if (max_records < 1 || max_records > kMaxPageRecords) {
    return InvalidArgument("max_records must be between 1 and " + std::to_string(kMaxPageRecords) +
                           ", not " + std::to_string(max_records));
  }
  OUTPOST_RETURN_IF_ERROR(CheckFilter(filter));
  ExportedPage page;
  page.next_after_seq = bound;
  if (format == ExportFormat::kCsv && bound == 0) page.text.append(kCsvHeader);
  // One record beyond the page tells whether there is more, without a second query.
  OUTPOST_RETURN_IF_ERROR(Scan(
      db, filter, bound, max_records + 1,
      [&](const Record& record) -> Status {
        if (page.records == max_records) {
          page.more = true;
          return Status::Ok();
        }
        AppendFormatted(record, format, page.text);
        ++page.records;
        page.next_after_seq = record.seq;
        return Status::Ok();
      },
      newest_first));
  return page;
}

}  // namespace

Result<ExportedPage> ExportPage(sqlite::Connection& db, const ExportFilter& filter,
                                ExportFormat format, int64_t after_seq, int64_t max_records) {
  return Page(db, filter, format, after_seq, max_records, /*newest_first=*/false, "after_seq");
}

Result<ExportedPage> ExportPageNewestFirst(sqlite::Connection& db, const ExportFilter& filter,
                                           ExportFormat format, int64_t before_seq,
                                           int64_t max_records) {
  return Page(db, filter, format, before_seq, max_records, /*newest_first=*/true, "before_seq");
}

Result<std::vector<v1::AuditRecord>> NewestRecords(sqlite::Connection& db,
                                                   const ExportFilter& filter, int64_t limit) {
  OUTPOST_RETURN_IF_ERROR(CheckFilter(filter));
  std::vector<v1::AuditRecord> out;
  OUTPOST_RETURN_IF_ERROR(Scan(
      db, filter, 0, limit,
      [&](const Record& record) -> Status {
        out.push_back(ToProto(record));
        return Status::Ok();
      },
      /*newest_first=*/true));
  return out;
}

Result<std::vector<v1::AuditRecord>> NewestTagRecords(sqlite::Connection& db, std::string_view va,
                                                      std::string_view tag, int64_t limit) {
  OUTPOST_ASSIGN_OR_RETURN(
      sqlite::ScopedStatement statement,
      db.Query("SELECT a.seq, a.time_ms, a.actor, a.action, a.object, a.details, a.prev_hash, "
               "a.hash FROM audit_tag_events e CROSS JOIN audit_log a ON a.seq = e.seq "
               "WHERE e.tag = ?1 AND e.va = ?2 ORDER BY e.seq DESC LIMIT ?3",
               tag, va, limit));
  std::vector<v1::AuditRecord> out;
  while (true) {
    OUTPOST_ASSIGN_OR_RETURN(bool row, statement->Step());
    if (!row) return out;
    out.push_back(ToProto(ReadRecord(*statement)));
  }
}

}  // namespace outpost::server::audit
