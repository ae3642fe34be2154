#pragma once

// Registration tokens (DESIGN.md section 2, "Token") over the satellite database (table
// `tokens`, migration 4). A token is "opt_<12 hex id>_<43 base64url characters>" (see
// server/auth/secrets.h): 256 random bits, shown once at creation, stored only as SHA-256 and
// compared in constant time. The id is public: listings, audit objects "token:<id>".

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/sqlite/connection.h"
#include "common/sqlite/reader_pool.h"
#include "common/sqlite/writer.h"
#include "common/status.h"
#include "server/auth/principal.h"

namespace outpost::server::licensing {

inline constexpr std::string_view kTokenPrefix = "opt_";
inline constexpr size_t kMaxTokenDescriptionBytes = 256;

// From config::PolicyConfig. Both in 1..365 with default <= max (the config loader checks it).
struct TokenPolicy {
  int default_expiry_days = 30;
  int max_expiry_days = 365;
};

enum class TokenState { kActive, kExpired, kRevoked, kUsedUp };
// "ACTIVE", "EXPIRED", "REVOKED", "USED_UP".
std::string_view TokenStateName(TokenState state);

// A token as listed: everything but the secret.
struct Token {
  std::string id;  // 12 hex digits
  std::string va;
  std::string description;
  std::string prefix;  // "opt_<id>"
  TimePoint created_at;
  std::string created_by;           // audit actor
  TimePoint expires_at;             // refused from this instant on
  std::optional<int64_t> max_uses;  // nullopt: unlimited
  int64_t uses = 0;
  bool export_controlled = false;
  std::optional<TimePoint> revoked_at;
  std::string revoked_by;  // "" unless revoked

  // Revoked wins over expired, expired over used up.
  TokenState StateAt(TimePoint now) const;
};

struct TokenRequest {
  std::string va;                   // ValidateVaName
  std::optional<int> expires_days;  // 1..max_expiry_days; nullopt: default_expiry_days
  std::optional<int64_t> max_uses;  // >= 1; nullopt: unlimited
  std::string description;          // <= 256 bytes of UTF-8, no control characters
  bool export_controlled = false;
};

struct CreatedToken {
  Token record;
  std::string token;  // the whole token "opt_<id>_<secret>"; returned once, never stored
};

// What a consumed token allows the registering device.
struct TokenGrant {
  std::string token_id;
  std::string va;
  bool export_controlled = false;
};

// Thread-safe. Every change runs in one writer unit together with its audit record and returns
// after the commit; reads use the ReaderPool. Writer, pool and clock must outlive the store.
// Create, List and Revoke need auth::Permission::kManageTokens (kPermissionDenied otherwise).
// No secret reaches the database, the audit trail, a log or an error.
class TokenStore {
 public:
  TokenStore(sqlite::Writer& writer, sqlite::ReaderPool& readers, const Clock& clock,
             TokenPolicy policy);
  TokenStore(const TokenStore&) = delete;
  TokenStore& operator=(const TokenStore&) = delete;

  // A new token. kInvalidArgument (nothing written) for a bad VA name, expiry, max uses or
  // description. Audited as "token.create" with va, expiry, max uses, export flag and
  // description — never the secret.
  Result<CreatedToken> Create(const TokenRequest& request, const auth::Principal& by);
  // Tokens of `va` (every VA when nullopt), newest first, revoked and expired ones included.
  Result<std::vector<Token>> List(std::optional<std::string_view> va, const auth::Principal& by);
  // Revokes a token and returns it as it is afterwards. Devices already registered with it stay
  // registered. kInvalidArgument for an id that is not 12 hex digits, kNotFound for an unknown
  // one, kFailedPrecondition if already revoked. Audited as "token.revoke".
  Result<Token> Revoke(std::string_view id, const auth::Principal& by);

  // Checks a presented token and counts one use, in its own unit audited as "token.use" (actor
  // "anonymous": the device is not registered yet). kUnauthenticated, nothing changed, with a
  // message for the device: "malformed token ...", "unknown token" (also for a wrong secret),
  // "token revoked", "token expired on T; create a new one with `outpost token create`",
  // "token used up (N of N uses)".
  Result<TokenGrant> Consume(std::string_view token);
  // The same check and count on the writer connection `db` inside a unit of work the caller
  // owns (registration), without auditing: the caller records the use with its own change.
  Result<TokenGrant> ConsumeOn(sqlite::Connection& db, std::string_view token, TimePoint now);

  const TokenPolicy& policy() const { return policy_; }

 private:
  sqlite::Writer& writer_;
  sqlite::ReaderPool& readers_;
  const Clock& clock_;
  const TokenPolicy policy_;
};

}  // namespace outpost::server::licensing
