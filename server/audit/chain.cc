#include "server/audit/chain.h"

#include <chrono>

#include "common/crypto/hash.h"

namespace outpost::server::audit {
namespace {

void AppendU64(uint64_t value, std::string& out) {
  for (int shift = 56; shift >= 0; shift -= 8) {
    out.push_back(static_cast<char>((value >> shift) & 0xff));
  }
}

void AppendU32(uint32_t value, std::string& out) {
  for (int shift = 24; shift >= 0; shift -= 8) {
    out.push_back(static_cast<char>((value >> shift) & 0xff));
  }
}

// Fields longer than 4 GiB cannot be stored (SQLite's limit is 1 GB), so the u32 length
// never truncates for a record that came out of the database.
void AppendLengthPrefixed(std::string_view field, std::string& out) {
  AppendU32(static_cast<uint32_t>(field.size()), out);
  out.append(field);
}

}  // namespace

std::string GenesisHash() { return std::string(kHashSize, '\0'); }

void AppendRecordEncoding(const Record& record, std::string& out) {
  out.append(kRecordDomain);
  out.push_back('\0');
  AppendU64(static_cast<uint64_t>(record.seq), out);
  // Two's complement, as the header states; the cast is value-preserving modulo 2^64.
  AppendU64(static_cast<uint64_t>(record.time_ms), out);
  AppendLengthPrefixed(record.actor, out);
  AppendLengthPrefixed(record.action, out);
  AppendLengthPrefixed(record.object, out);
  AppendLengthPrefixed(record.details, out);
  out.append(record.prev_hash);
}

std::string ComputeRecordHash(const Record& record) {
  std::string encoding;
  encoding.reserve(kRecordDomain.size() + 1 + 16 + 16 + record.actor.size() + record.action.size() +
                   record.object.size() + record.details.size() + record.prev_hash.size());
  AppendRecordEncoding(record, encoding);
  return crypto::Sha256(encoding);
}

std::string CheckpointMessage(int64_t seq, std::string_view hash, int64_t time_ms) {
  return AuditCheckpointMessage(seq, hash, time_ms);
}

int64_t ToUnixMillis(TimePoint t) {
  return std::chrono::floor<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

}  // namespace outpost::server::audit
