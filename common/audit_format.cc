#include "common/audit_format.h"

namespace outpost {
namespace {

void AppendU64(uint64_t value, std::string& out) {
  for (int shift = 56; shift >= 0; shift -= 8) out.push_back(static_cast<char>(value >> shift));
}

}  // namespace

std::string AuditCheckpointMessage(int64_t seq, std::string_view hash, int64_t time_ms) {
  std::string message;
  message.reserve(8 + hash.size() + 8);
  AppendU64(static_cast<uint64_t>(seq), message);
  message.append(hash);
  AppendU64(static_cast<uint64_t>(time_ms), message);
  return message;
}

}  // namespace outpost
