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

// API key: "opk_<12 hex id>_<43 base64url characters of 32 random bytes>". The id is public
// (listings, audit actor "apikey:<id>"); the secret is stored as SHA-256.
inline constexpr std::string_view kApiKeyPrefix = "opk_";
inline constexpr size_t kApiKeyIdChars = 12;
inline constexpr size_t kApiKeySecretChars = 43;
inline constexpr size_t kApiKeyChars = 4 + kApiKeyIdChars + 1 + kApiKeySecretChars;

struct ApiKeyParts {
  std::string id;      // 12 lower-case hex digits
  std::string secret;  // 43 base64url characters
  std::string key;     // the whole key, as handed to the user
};

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
