#pragma once

// The signed form of an audit checkpoint: one definition for the satellite, which signs its
// chain's head (server/audit/chain.h), and central, which verifies the heads it receives.
// The signature covers  kAuditCheckpointDomain || 0x00 || AuditCheckpointMessage(...)
// (crypto::PublicKey::Verify).
//
// Thread-safety: pure.

#include <cstdint>
#include <string>
#include <string_view>

namespace outpost {

inline constexpr std::string_view kAuditCheckpointDomain = "outpost/audit-checkpoint/v1";

// u64be(seq) || hash (raw 32 bytes) || i64be(time_ms).
std::string AuditCheckpointMessage(int64_t seq, std::string_view hash, int64_t time_ms);

}  // namespace outpost
