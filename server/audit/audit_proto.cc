#include "server/audit/audit_proto.h"

#include "common/crypto/encoding.h"
#include "common/time.h"
#include "server/audit/utf8.h"

namespace outpost::server::audit {
namespace {

std::string Text(const std::string& text) { return IsValidUtf8(text) ? text : SanitizeUtf8(text); }

}  // namespace

v1::AuditRecord ToProto(const Record& record) {
  v1::AuditRecord proto;
  proto.set_seq(record.seq);
  proto.set_time(FormatRfc3339Millis(record.time_ms));
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
  if (head.seq != 0) proto.set_time(FormatRfc3339Millis(head.time_ms));
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
  proto.set_archived_seq(report.archived_seq);
  proto.set_archived_hash(report.archived_hash);
  proto.set_archive_files_checked(report.archive_files_checked);
  proto.set_archive_records_checked(report.archive_records_checked);
  proto.set_problem_file(Text(report.problem_file));
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
