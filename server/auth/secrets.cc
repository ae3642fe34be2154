#include "server/auth/secrets.h"

#include "common/crypto/encoding.h"
#include "common/crypto/hash.h"
#include "common/crypto/random.h"

namespace outpost::server::auth {
namespace {

constexpr size_t kSecretBytes = 32;

bool IsLowerHex(std::string_view text) {
  for (char c : text) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

}  // namespace

Result<ApiKeyParts> NewApiKey() {
  OUTPOST_ASSIGN_OR_RETURN(std::string id_bytes, crypto::RandomBytes(kApiKeyIdChars / 2));
  OUTPOST_ASSIGN_OR_RETURN(std::string secret, crypto::RandomToken(kSecretBytes));
  ApiKeyParts parts;
  parts.id = crypto::HexEncode(id_bytes);
  parts.secret = std::move(secret);
  parts.key = std::string(kApiKeyPrefix) + parts.id + "_" + parts.secret;
  return parts;
}

Result<ApiKeyParts> ParseApiKey(std::string_view key) {
  const Status malformed =
      InvalidArgument("malformed API key; it looks like opk_<12 hex digits>_<43 characters>");
  if (key.size() != kApiKeyChars || !key.starts_with(kApiKeyPrefix) ||
      key[kApiKeyPrefix.size() + kApiKeyIdChars] != '_') {
    return malformed;
  }
  ApiKeyParts parts;
  parts.id = std::string(key.substr(kApiKeyPrefix.size(), kApiKeyIdChars));
  parts.secret = std::string(key.substr(kApiKeyPrefix.size() + kApiKeyIdChars + 1));
  if (!IsApiKeyId(parts.id)) return malformed;
  // Strict decoding: 43 characters of canonical base64url are exactly 32 bytes.
  Result<std::string> raw = crypto::Base64UrlDecode(parts.secret);
  if (!raw.ok() || raw->size() != kSecretBytes) return malformed;
  parts.key = std::string(key);
  return parts;
}

bool IsApiKeyId(std::string_view id) { return id.size() == kApiKeyIdChars && IsLowerHex(id); }

std::string HashSecret(std::string_view secret) { return crypto::Sha256(secret); }

bool SecretMatches(std::string_view secret, std::string_view stored_hash) {
  return crypto::ConstantTimeEquals(crypto::Sha256(secret), stored_hash);
}

Result<std::string> NewSessionSecret() { return crypto::RandomToken(kSecretBytes); }

std::string SessionId(std::string_view cookie_hash) {
  return crypto::HexEncode(cookie_hash).substr(0, 12);
}

}  // namespace outpost::server::auth
