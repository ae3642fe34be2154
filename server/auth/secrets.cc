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

Result<BearerParts> NewBearer(std::string_view prefix) {
  OUTPOST_ASSIGN_OR_RETURN(std::string id_bytes, crypto::RandomBytes(kBearerIdChars / 2));
  OUTPOST_ASSIGN_OR_RETURN(std::string secret, crypto::RandomToken(kSecretBytes));
  BearerParts parts;
  parts.id = crypto::HexEncode(id_bytes);
  parts.secret = std::move(secret);
  parts.key = std::string(prefix) + parts.id + "_" + parts.secret;
  return parts;
}

Result<BearerParts> ParseBearer(std::string_view prefix, std::string_view text,
                                const Status& malformed) {
  if (prefix.size() != kPrefixChars || text.size() != kBearerChars || !text.starts_with(prefix) ||
      text[kPrefixChars + kBearerIdChars] != '_') {
    return malformed;
  }
  BearerParts parts;
  parts.id = std::string(text.substr(kPrefixChars, kBearerIdChars));
  parts.secret = std::string(text.substr(kPrefixChars + kBearerIdChars + 1));
  if (!IsBearerId(parts.id)) return malformed;
  // Strict decoding: 43 characters of canonical base64url are exactly 32 bytes.
  Result<std::string> raw = crypto::Base64UrlDecode(parts.secret);
  if (!raw.ok() || raw->size() != kSecretBytes) return malformed;
  parts.key = std::string(text);
  return parts;
}

bool IsBearerId(std::string_view id) { return id.size() == kBearerIdChars && IsLowerHex(id); }

Result<ApiKeyParts> NewApiKey() { return NewBearer(kApiKeyPrefix); }

Result<ApiKeyParts> ParseApiKey(std::string_view key) {
  return ParseBearer(
      kApiKeyPrefix, key,
      InvalidArgument("malformed API key; it looks like opk_<12 hex digits>_<43 characters>"));
}

bool IsApiKeyId(std::string_view id) { return IsBearerId(id); }

std::string HashSecret(std::string_view secret) { return crypto::Sha256(secret); }

bool SecretMatches(std::string_view secret, std::string_view stored_hash) {
  return crypto::ConstantTimeEquals(crypto::Sha256(secret), stored_hash);
}

Result<std::string> NewSessionSecret() { return crypto::RandomToken(kSecretBytes); }

std::string SessionId(std::string_view cookie_hash) {
  return crypto::HexEncode(cookie_hash).substr(0, 12);
}

}  // namespace outpost::server::auth
