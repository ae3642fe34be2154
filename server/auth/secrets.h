#pragma once

// The bearer secrets of the admin API: API keys, console session cookies and CSRF tokens.
// Only hashes (API keys, cookies) are stored; comparisons are constant-time.
//
// Thread-safety: all functions may be called concurrently.
// Errors never contain a secret.

#include <string>
#include <string_view>

#include "common/status.h"

namespace outpost::server::auth {

// A prefixed bearer secret: "<4-character prefix><12 hex id>_<43 base64url characters of 32
// random bytes>". The id is public (listings, audit objects); the secret is stored as SHA-256.
// API keys use the prefix "opk_", registration tokens "opt_".
inline constexpr size_t kPrefixChars = 4;
inline constexpr size_t kBearerIdChars = 12;
inline constexpr size_t kBearerSecretChars = 43;
inline constexpr size_t kBearerChars = kPrefixChars + kBearerIdChars + 1 + kBearerSecretChars;

struct BearerParts {
  std::string id;      // 12 lower-case hex digits
  std::string secret;  // 43 base64url characters
  std::string key;     // the whole text, as handed to the user
};

// A new bearer secret with `prefix` (kPrefixChars characters) from the CSPRNG. kInternal if the
// CSPRNG fails.
Result<BearerParts> NewBearer(std::string_view prefix);

// Splits `text` if it has exactly the form above with `prefix` (canonical base64url of 32 bytes
// included); otherwise returns `malformed`.
Result<BearerParts> ParseBearer(std::string_view prefix, std::string_view text,
                                const Status& malformed);

// True if `id` has the form of a bearer id (12 lower-case hex digits).
bool IsBearerId(std::string_view id);

// API key: "opk_<id>_<secret>" (see above); the audit actor is "apikey:<id>".
inline constexpr std::string_view kApiKeyPrefix = "opk_";
inline constexpr size_t kApiKeyIdChars = kBearerIdChars;
inline constexpr size_t kApiKeySecretChars = kBearerSecretChars;
inline constexpr size_t kApiKeyChars = kBearerChars;

using ApiKeyParts = BearerParts;

// A new key from the CSPRNG. kInternal if it fails.
Result<ApiKeyParts> NewApiKey();

// Splits a presented key. kInvalidArgument ("malformed API key; it looks like opk_<id>_<secret>")
// if it does not have exactly the form above (canonical base64url of 32 bytes included).
Result<ApiKeyParts> ParseApiKey(std::string_view key);

// True if `id` has the form of an API key id (12 lower-case hex digits).
bool IsApiKeyId(std::string_view id);

// SHA-256 (raw, 32 bytes) of a secret: what is stored for API keys and session cookies.
std::string HashSecret(std::string_view secret);

// True if SHA-256 of `secret` equals `stored_hash`; constant-time in the hash.
bool SecretMatches(std::string_view secret, std::string_view stored_hash);

// A console session cookie value or CSRF token: 32 random bytes as base64url (43 characters).
Result<std::string> NewSessionSecret();

// The public id of a session: the first 12 hex digits of SHA-256 of its cookie. Safe to log.
std::string SessionId(std::string_view cookie_hash);

}  // namespace outpost::server::auth
