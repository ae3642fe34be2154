#include "server/licensing/tokens.h"

#include <boost/json.hpp>
#include <utility>

#include "common/time.h"
#include "server/audit/audit_log.h"
#include "server/auth/secrets.h"
#include "server/auth/text.h"
#include "server/licensing/core/types.h"

namespace outpost::server::licensing {
namespace {

constexpr int kTokenIdAttempts = 4;

constexpr std::string_view kColumns =
    "id, va, description, prefix, created_at, created_by, expires_at, max_uses, uses, "
    "export_controlled, revoked_at, revoked_by";

std::string TokenObject(std::string_view id) { return "token:" + std::string(id); }

Status Audit(sqlite::Connection& db, audit::Actor actor, std::string action, std::string object,
             const boost::json::object& details, TimePoint now) {
  return audit::Append(db,
                       audit::AuditEvent{std::move(actor), std::move(action), std::move(object),
                                         boost::json::serialize(details)},
                       now);
}

Token TokenFromRow(const sqlite::Statement& row) {
  Token token;
  token.id = row.ColumnText(0);
  token.va = row.ColumnText(1);
  token.description = row.ColumnText(2);
  token.prefix = row.ColumnText(3);
  token.created_at = FromUnixSeconds(row.ColumnInt64(4));
  token.created_by = row.ColumnText(5);
  token.expires_at = FromUnixSeconds(row.ColumnInt64(6));
  if (!row.ColumnIsNull(7)) token.max_uses = row.ColumnInt64(7);
  token.uses = row.ColumnInt64(8);
  token.export_controlled = row.ColumnInt64(9) != 0;
  if (!row.ColumnIsNull(10)) token.revoked_at = FromUnixSeconds(row.ColumnInt64(10));
  token.revoked_by = row.ColumnText(11);
  return token;
}

// The token row `id` as `db` sees it, with its secret hash; nullopt if there is none.
struct StoredToken {
  Token token;
  std::string secret_hash;
};
Result<std::optional<StoredToken>> ReadToken(sqlite::Connection& db, std::string_view id) {
  OUTPOST_ASSIGN_OR_RETURN(
      sqlite::ScopedStatement row,
      db.Query("SELECT " + std::string(kColumns) + ", secret_hash FROM tokens WHERE id = ?1", id));
  OUTPOST_ASSIGN_OR_RETURN(bool found, row->Step());
  if (!found) return std::optional<StoredToken>();
  return std::optional<StoredToken>(StoredToken{TokenFromRow(*row), row->ColumnBlob(12)});
}

Status CheckDescription(std::string_view description) {
  if (description.size() > kMaxTokenDescriptionBytes) {
    return InvalidArgument("token description is longer than " +
                           std::to_string(kMaxTokenDescriptionBytes) + " bytes; shorten it");
  }
  if (!auth::Utf8Length(description).has_value() || auth::HasControlCharacter(description)) {
    return InvalidArgument(
        "token description must be UTF-8 text without control characters (tabs, newlines)");
  }
  return Status::Ok();
}

Status NoSuchToken(std::string_view id) {
  return NotFound("no token with id " + std::string(id) + "; `outpost token list` shows them");
}

}  // namespace

std::string_view TokenStateName(TokenState state) {
  switch (state) {
    case TokenState::kActive:
      return "ACTIVE";
    case TokenState::kExpired:
      return "EXPIRED";
    case TokenState::kRevoked:
      return "REVOKED";
    case TokenState::kUsedUp:
      return "USED_UP";
  }
  return "UNKNOWN";
}

TokenState Token::StateAt(TimePoint now) const {
  if (revoked_at.has_value()) return TokenState::kRevoked;
  if (now >= expires_at) return TokenState::kExpired;
  if (max_uses.has_value() && uses >= *max_uses) return TokenState::kUsedUp;
  return TokenState::kActive;
}

TokenStore::TokenStore(sqlite::Writer& writer, sqlite::ReaderPool& readers, const Clock& clock,
                       TokenPolicy policy)
    : writer_(writer), readers_(readers), clock_(clock), policy_(policy) {}

Result<CreatedToken> TokenStore::Create(const TokenRequest& request, const auth::Principal& by) {
  OUTPOST_RETURN_IF_ERROR(auth::Require(by, auth::Permission::kManageTokens));
  OUTPOST_RETURN_IF_ERROR(ValidateVaName(request.va));
  const int days = request.expires_days.value_or(policy_.default_expiry_days);
  if (days < 1 || days > policy_.max_expiry_days) {
    return InvalidArgument("token expiry must be 1 to " + std::to_string(policy_.max_expiry_days) +
                           " days, not " + std::to_string(days));
  }
  if (request.max_uses.has_value() && *request.max_uses < 1) {
    return InvalidArgument("max uses must be at least 1 (leave it out for unlimited), not " +
                           std::to_string(*request.max_uses));
  }
  OUTPOST_RETURN_IF_ERROR(CheckDescription(request.description));

  const TimePoint now = clock_.Now();
  CreatedToken created;
  Token& t = created.record;
  t.va = request.va;
  t.description = request.description;
  t.created_at = FromUnixSeconds(ToUnixSeconds(now));
  t.created_by = by.actor().ToString();
  t.expires_at = t.created_at + std::chrono::days(days);
  t.max_uses = request.max_uses;
  t.export_controlled = request.export_controlled;
  OUTPOST_RETURN_IF_ERROR(writer_.Run([&](sqlite::Connection& db) -> Status {
    // 48-bit ids: a collision is unlikely but possible, so pick again rather than fail.
    for (int attempt = 0;; ++attempt) {
      OUTPOST_ASSIGN_OR_RETURN(auth::BearerParts parts, auth::NewBearer(kTokenPrefix));
      OUTPOST_ASSIGN_OR_RETURN(
          int64_t taken, db.QueryInt64("SELECT count(*) FROM tokens WHERE id = ?1", parts.id));
      if (taken != 0) {
        if (attempt + 1 < kTokenIdAttempts) continue;
        return Internal("could not find a free token id; try again");
      }
      t.id = parts.id;
      t.prefix = std::string(kTokenPrefix) + parts.id;
      created.token = std::move(parts.key);
      OUTPOST_RETURN_IF_ERROR(db.ExecPrepared(
          "INSERT INTO tokens (id, va, description, secret_hash, prefix, created_at, created_by, "
          "expires_at, max_uses, export_controlled) "
          "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
          t.id, t.va, t.description, sqlite::Blob{auth::HashSecret(parts.secret)}, t.prefix,
          ToUnixSeconds(t.created_at), t.created_by, ToUnixSeconds(t.expires_at), t.max_uses,
          t.export_controlled ? 1 : 0));
      break;
    }
    boost::json::object details{{"va", t.va},
                                {"expires_at", FormatRfc3339(t.expires_at)},
                                {"export_controlled", t.export_controlled},
                                {"description", t.description}};
    if (t.max_uses.has_value()) {
      details["max_uses"] = *t.max_uses;
    } else {
      details["max_uses"] = nullptr;
    }
    return Audit(db, by.actor(), "token.create", TokenObject(t.id), details, now);
  }));
  return created;
}

Result<std::vector<Token>> TokenStore::List(std::optional<std::string_view> va,
                                            const auth::Principal& by) {
  OUTPOST_RETURN_IF_ERROR(auth::Require(by, auth::Permission::kManageTokens));
  if (va.has_value()) OUTPOST_RETURN_IF_ERROR(ValidateVaName(*va));
  OUTPOST_ASSIGN_OR_RETURN(sqlite::ReaderPool::Lease reader, readers_.Acquire());
  const std::string select = "SELECT " + std::string(kColumns) + " FROM tokens ";
  const std::string order = " ORDER BY created_at DESC, id";
  Result<sqlite::ScopedStatement> query = va.has_value()
                                              ? reader->Query(select + "WHERE va = ?1" + order, *va)
                                              : reader->Query(select + order);
  OUTPOST_ASSIGN_OR_RETURN(sqlite::ScopedStatement rows, std::move(query));
  std::vector<Token> tokens;
  while (true) {
    OUTPOST_ASSIGN_OR_RETURN(bool more, rows->Step());
    if (!more) return tokens;
    tokens.push_back(TokenFromRow(*rows));
  }
}

Result<Token> TokenStore::Revoke(std::string_view id, const auth::Principal& by) {
  OUTPOST_RETURN_IF_ERROR(auth::Require(by, auth::Permission::kManageTokens));
  if (!auth::IsBearerId(id)) {
    return InvalidArgument("a token id is 12 hex digits, the part after \"opt_\"");
  }
  const TimePoint now = clock_.Now();
  Token revoked;
  OUTPOST_RETURN_IF_ERROR(writer_.Run([&](sqlite::Connection& db) -> Status {
    OUTPOST_ASSIGN_OR_RETURN(std::optional<StoredToken> stored, ReadToken(db, id));
    if (!stored.has_value()) return NoSuchToken(id);
    if (stored->token.revoked_at.has_value()) {
      return FailedPrecondition("token " + std::string(id) + " was already revoked on " +
                                FormatRfc3339(*stored->token.revoked_at));
    }
    revoked = std::move(stored->token);
    revoked.revoked_at = FromUnixSeconds(ToUnixSeconds(now));
    revoked.revoked_by = by.actor().ToString();
    // Only the token row changes: devices registered with it keep their registration.
    OUTPOST_RETURN_IF_ERROR(
        db.ExecPrepared("UPDATE tokens SET revoked_at = ?1, revoked_by = ?2 WHERE id = ?3",
                        ToUnixSeconds(*revoked.revoked_at), revoked.revoked_by, revoked.id));
    return Audit(db, by.actor(), "token.revoke", TokenObject(revoked.id),
                 {{"va", revoked.va}, {"uses", revoked.uses}}, now);
  }));
  return revoked;
}

Result<TokenGrant> TokenStore::ConsumeOn(sqlite::Connection& db, std::string_view token,
                                         TimePoint now) {
  OUTPOST_ASSIGN_OR_RETURN(
      auth::BearerParts parts,
      auth::ParseBearer(kTokenPrefix, token,
                        Unauthenticated("malformed token; it looks like opt_<12 hex digits>_<43 "
                                        "characters>, as `outpost token create` printed it")));
  OUTPOST_ASSIGN_OR_RETURN(std::optional<StoredToken> stored, ReadToken(db, parts.id));
  // A wrong secret reads like an unknown id, so that ids (which are public) reveal nothing.
  if (!stored.has_value() || !auth::SecretMatches(parts.secret, stored->secret_hash)) {
    return Unauthenticated("unknown token");
  }
  const Token& t = stored->token;
  switch (t.StateAt(now)) {
    case TokenState::kRevoked:
      return Unauthenticated("token " + t.id + " was revoked on " + FormatRfc3339(*t.revoked_at) +
                             "; ask an operator for a new token (`outpost token create --va " +
                             t.va + "`)");
    case TokenState::kExpired:
      return Unauthenticated("token expired on " + FormatRfc3339(t.expires_at) +
                             "; create a new one with `outpost token create`");
    case TokenState::kUsedUp:
      return Unauthenticated("token used up (" + std::to_string(t.uses) + " of " +
                             std::to_string(*t.max_uses) + " uses)");
    case TokenState::kActive:
      break;
  }
  OUTPOST_RETURN_IF_ERROR(db.ExecPrepared("UPDATE tokens SET uses = uses + 1 WHERE id = ?1", t.id));
  return TokenGrant{t.id, t.va, t.export_controlled};
}

Result<TokenGrant> TokenStore::Consume(std::string_view token) {
  const TimePoint now = clock_.Now();
  TokenGrant grant;
  OUTPOST_RETURN_IF_ERROR(writer_.Run([&](sqlite::Connection& db) -> Status {
    OUTPOST_ASSIGN_OR_RETURN(grant, ConsumeOn(db, token, now));
    return Audit(db, audit::Actor{"anonymous", ""}, "token.use", TokenObject(grant.token_id),
                 {{"va", grant.va}}, now);
  }));
  return grant;
}

}  // namespace outpost::server::licensing
