#pragma once

// The audit trail's values as the protobuf messages of proto/outpost/v1/audit.proto (what the
// admin API, the CLI's --json and the JSON-lines export print).

#include <cstdint>
#include <string>

#include "outpost/v1/audit.pb.h"
#include "server/audit/audit_log.h"
#include "server/audit/chain.h"
#include "server/audit/verify.h"

namespace outpost::server::audit {

// Hashes become lowercase hex. Text that is not valid UTF-8 (only possible if the database
// was edited behind Append's back) has the bad bytes replaced by U+FFFD, because protobuf
// strings and JSON must be UTF-8.
v1::AuditRecord ToProto(const Record& record);
v1::AuditHead ToProto(const Head& head);
v1::AuditVerifyResponse ToProto(const VerifyReport& report);

// A head an auditor saved (`outpost audit head --json` or `audit checkpoint --json`), to verify
// the chain against. `source` names it in messages ("the saved head in FILE"). Errors:
// kInvalidArgument when seq is below 1 or hash is not 64 hex digits.
Result<SavedHead> SavedHeadFromProto(const v1::AuditHead& head, std::string source);

}  // namespace outpost::server::audit
