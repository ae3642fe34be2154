#include "server/audit/audit_proto.h"

#include <cinttypes>
#include <cstdio>

#include "common/crypto/encoding.h"
#include "server/audit/utf8.h"

namespace outpost::server::audit {
namespace {

// Floor division: times before 1970 must fall into the previous day, not towards zero.
int64_t FloorDiv(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

// Howard Hinnant's days-to-civil algorithm (proleptic Gregorian), valid for any int64 day
// count that this function can be given (|days| < 2^38).
void CivilFromDays(int64_t days, int64_t& year, unsigned& month, unsigned& day) {
  days += 719468;
  const int64_t era = FloorDiv(days, 146097);
  const int64_t doe = days - era * 146097;
  const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const int64_t mp = (5 * doy + 2) / 153;
  day = static_cast<unsigned>(doy - (153 * mp + 2) / 5 + 1);
  month = static_cast<unsigned>(mp < 10 ? mp + 3 : mp - 9);
  year = yoe + era * 400 + (month <= 2 ? 1 : 0);
}

std::string Text(const std::string& text) { return IsValidUtf8(text) ? text : SanitizeUtf8(text); }

}  // namespace

std::string Rfc3339FromUnixMillis(int64_t time_ms) {
  constexpr int64_t kMsPerDay = 86'400'000;
  const int64_t days = FloorDiv(time_ms, kMsPerDay);
  // Not time_ms - days * kMsPerDay: that product overflows near the ends of the int64 range,
  // which a tampered row may hold.
  int64_t ms_of_day = time_ms % kMsPerDay;
  if (ms_of_day < 0) ms_of_day += kMsPerDay;
  int64_t year = 0;
  unsigned month = 0;
  unsigned day = 0;
  CivilFromDays(days, year, month, day);
  const int64_t seconds_of_day = ms_of_day / 1000;
  char buffer[64];
  std::snprintf(buffer, sizeof(buffer), "%04" PRId64 "-%02u-%02uT%02d:%02d:%02d.%03dZ", year, month,
                day, static_cast<int>(seconds_of_day / 3600),
                static_cast<int>(seconds_of_day / 60 % 60), static_cast<int>(seconds_of_day % 60),
                static_cast<int>(ms_of_day % 1000));
  return buffer;
}

v1::AuditRecord ToProto(const Record& record) {
  v1::AuditRecord proto;
  proto.set_seq(record.seq);
  proto.set_time(Rfc3339FromUnixMillis(record.time_ms));
  proto.set_time_ms(record.time_ms);
  proto.set_actor(Text(record.actor));
  proto.set_action(Text(record.action));
  proto.set_object(Text(record.object));
  proto.set_details(Text(record.details));
  proto.set_prev_hash(crypto::HexEncode(record.prev_hash));
  proto.set_hash(crypto::HexEncode(record.hash));
  return proto;
}

v1::AuditHead ToProto(const Head& head) {
  v1::AuditHead proto;
  proto.set_seq(head.seq);
  proto.set_hash(crypto::HexEncode(head.hash));
  if (head.seq != 0) proto.set_time(Rfc3339FromUnixMillis(head.time_ms));
  proto.set_time_ms(head.time_ms);
  return proto;
}

v1::AuditVerifyResponse ToProto(const VerifyReport& report) {
  v1::AuditVerifyResponse proto;
  proto.set_ok(report.ok);
  proto.set_records_checked(report.records_checked);
  proto.set_checkpoints_checked(report.checkpoints_checked);
  proto.set_last_seq(report.last_seq);
  proto.set_head_hash(report.head_hash);
  proto.set_first_bad_seq(report.first_bad_seq);
  proto.set_problem_kind(std::string(ProblemName(report.problem_kind)));
  proto.set_problem(Text(report.problem));
  proto.set_key_fingerprint(report.key_fingerprint);
  proto.set_saved_head_seq(report.saved_head_seq);
  return proto;
}

Result<SavedHead> SavedHeadFromProto(const v1::AuditHead& head, std::string source) {
  if (head.seq() < 1) {
    return InvalidArgument(source + " names record " + std::to_string(head.seq()) +
                           "; a saved head names a record (seq 1 or more): save one with "
                           "`outpost audit head --json > FILE` once the log has records");
  }
  auto hash = crypto::HexDecode(head.hash());
  if (!hash.ok() || hash->size() != 32) {
    return InvalidArgument(source + " has a hash of " + std::to_string(head.hash().size()) +
                           " characters that is not 64 hex digits (a SHA-256 as `outpost audit "
                           "head --json` prints it)");
  }
  return SavedHead{head.seq(), std::move(*hash), std::move(source)};
}

}  // namespace outpost::server::audit
