#include "server/auth/store.h"

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/log/logging.h"
#include "common/text.h"
#include "common/time.h"
#include "server/auth/convert.h"
#include "server/auth/secrets.h"
#include "server/auth/store_util.h"
#include "server/auth/text.h"

namespace outpost::server::auth {

namespace internal {

void LogBackgroundFailure(std::string_view what, const Status& status) {
  if (status.ok()) return;
  log::Warn("auth background write failed", {{"what", what}, {"error", status.ToString()}});
}

}  // namespace internal

namespace {

using internal::Audit;

constexpr size_t kMaxDescriptionBytes = 256;
constexpr int kApiKeyIdAttempts = 4;

constexpr std::string_view kSelectUsers =
    "SELECT id, name, role, created_at, created_by, disabled, password_hash IS NOT NULL "
    "FROM users ORDER BY name";
constexpr std::string_view kSelectKeys =
    "SELECT k.id, u.name, k.description, k.created_at, k.created_by, k.last_used_at, "
    "k.revoked_at, k.expires_at FROM api_keys k JOIN users u ON u.id = k.user_id "
    "ORDER BY k.created_at DESC, k.id";
constexpr std::string_view kSelectKeysOfUser =
    "SELECT k.id, u.name, k.description, k.created_at, k.created_by, k.last_used_at, "
    "k.revoked_at, k.expires_at FROM api_keys k JOIN users u ON u.id = k.user_id WHERE u.name = ?1 "
    "ORDER BY k.created_at DESC, k.id";

std::string UserObject(std::string_view name) { return "user:" + std::string(name); }
std::string KeyObject(std::string_view id) { return "apikey:" + std::string(id); }

Status NoSuchUser(std::string_view name) {
  if (!IsValidUserName(name)) return NotFound("no such user (user names are a-z 0-9 . _ -)");
  return NotFound("no user named \"" + std::string(name) + "\"; `outpost user list` shows them");
}

Status CheckDescription(std::string_view description) {
  if (description.size() > kMaxDescriptionBytes) {
    return InvalidArgument("API key description is longer than " +
                           std::to_string(kMaxDescriptionBytes) + " bytes; shorten it");
  }
  if (!Utf8Length(description).has_value() || HasControlCharacter(description)) {
    return InvalidArgument(
        "API key description must be UTF-8 text without control characters (tabs, newlines)");
  }
  return Status::Ok();
}

std::optional<TimePoint> OptionalTime(const sqlite::Statement& row, int column) {
  if (row.ColumnIsNull(column)) return std::nullopt;
  return FromUnixSeconds(row.ColumnInt64(column));
}

Result<User> UserFromRow(const sqlite::Statement& row) {
  User user;
  user.id = row.ColumnInt64(0);
  user.name = row.ColumnText(1);
  Result<Role> role = ParseRole(row.ColumnText(2));
  if (!role.ok()) return DataLoss("user \"" + user.name + "\" has a bad role in the database");
  user.role = *role;
  user.created_at = FromUnixSeconds(row.ColumnInt64(3));
  user.created_by = row.ColumnText(4);
  user.disabled = row.ColumnInt64(5) != 0;
  user.has_password = row.ColumnInt64(6) != 0;
  return user;
}

ApiKey KeyFromRow(const sqlite::Statement& row) {
  ApiKey key;
  key.id = row.ColumnText(0);
  key.user = row.ColumnText(1);
  key.description = row.ColumnText(2);
  key.created_at = FromUnixSeconds(row.ColumnInt64(3));
  key.created_by = row.ColumnText(4);
  key.last_used_at = OptionalTime(row, 5);
  key.revoked_at = OptionalTime(row, 6);
  key.expires_at = OptionalTime(row, 7);
  return key;
}

// id and disabled flag of a user, read on `db`; nullopt if there is no such user.
struct UserState {
  int64_t id = 0;
  Role role = Role::kAuditor;
  bool disabled = false;
};
Result<std::optional<UserState>> ReadUserState(sqlite::Connection& db, std::string_view name) {
  OUTPOST_ASSIGN_OR_RETURN(sqlite::ScopedStatement row,
                           db.Query("SELECT id, role, disabled FROM users WHERE name = ?1", name));
  OUTPOST_ASSIGN_OR_RETURN(bool found, row->Step());
  if (!found) return std::optional<UserState>();
  OUTPOST_ASSIGN_OR_RETURN(Role role, ParseRole(row->ColumnText(1)));
  return std::optional<UserState>(UserState{row->ColumnInt64(0), role, row->ColumnInt64(2) != 0});
}

}  // namespace

bool IsValidUserName(std::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  for (char c : name) {
    const bool ok =
        (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

AuthStore::AuthStore(sqlite::Writer& writer, sqlite::ReaderPool& readers, const Clock& clock,
                     AuthPolicy policy)
    : writer_(writer),
      readers_(readers),
      clock_(clock),
      policy_(std::move(policy)),
      hasher_(policy_.scrypt),
      key_failures_(clock, policy_.failed_api_keys_per_minute),
      address_failures_(AddressRule(), policy_.max_lockout_entries),
      phantom_failures_(UserRule(), policy_.max_lockout_entries) {}

// ---------------------------------------------------------------------------------------------
// Users

Result<User> AuthStore::CreateUser(std::string_view name, Role role,
                                   std::optional<std::string_view> password, const Principal& by) {
  OUTPOST_RETURN_IF_ERROR(Require(by, Permission::kManageUsers));
  if (!IsValidUserName(name)) {
    return InvalidArgument(
        "invalid user name: use 1 to 64 characters from a-z, 0-9, '.', '_' and '-'");
  }
  std::optional<std::string> password_hash;
  if (password.has_value()) {
    OUTPOST_RETURN_IF_ERROR(CheckPasswordStrength(*password, name));
    // Hashed before entering the writer: scrypt takes long enough to stall every other write.
    OUTPOST_ASSIGN_OR_RETURN(password_hash, hasher_.Hash(*password));
  }
  const TimePoint now = clock_.Now();
  User user;
  user.name = std::string(name);
  user.role = role;
  user.created_at = FromUnixSeconds(ToUnixSeconds(now));
  user.created_by = by.actor().ToString();
  user.has_password = password_hash.has_value();
  OUTPOST_RETURN_IF_ERROR(writer_.Run([&](sqlite::Connection& db) -> Status {
    OUTPOST_ASSIGN_OR_RETURN(std::optional<UserState> existing, ReadUserState(db, name));
    if (existing.has_value()) {
      return AlreadyExists("user \"" + user.name + "\" already exists; pick another name");
    }
    OUTPOST_RETURN_IF_ERROR(db.ExecPrepared(
        "INSERT INTO users (name, role, password_hash, created_at, created_by) "
        "VALUES (?1, ?2, ?3, ?4, ?5)",
        user.name, RoleName(role), password_hash, ToUnixSeconds(now), user.created_by));
    user.id = db.LastInsertRowId();
    return Audit(db, by.actor(), "user.create", UserObject(name),
                 {{"role", RoleName(role)}, {"has_password", user.has_password}}, now);
  }));
  return user;
}

Result<std::vector<User>> AuthStore::ListUsers(const Principal& by) {
  OUTPOST_RETURN_IF_ERROR(Require(by, Permission::kReadUsers));
  OUTPOST_ASSIGN_OR_RETURN(sqlite::ReaderPool::Lease reader, readers_.Acquire());
  OUTPOST_ASSIGN_OR_RETURN(sqlite::ScopedStatement rows, reader->Query(kSelectUsers));
  std::vector<User> users;
  while (true) {
    OUTPOST_ASSIGN_OR_RETURN(bool more, rows->Step());
    if (!more) return users;
    OUTPOST_ASSIGN_OR_RETURN(User user, UserFromRow(*rows));
    users.push_back(std::move(user));
  }
}

Status AuthStore::SetPassword(std::string_view name, std::string_view password,
                              const Principal& by) {
  OUTPOST_RETURN_IF_ERROR(Require(by, Permission::kManageUsers));
  if (!IsValidUserName(name)) return NoSuchUser(name);
  if (!by.is_system() && by.user_name == name) {
    // Whoever holds an admin's session or key must not be able to take over the account
    // without knowing its password (the Cisco On-Prem CVE-2024-20419 class).
    return FailedPrecondition(
        "to change your own password, give the current one too: `outpost passwd` "
        "(POST /v1/admin/password); this route sets other users' passwords");
  }
  OUTPOST_RETURN_IF_ERROR(CheckPasswordStrength(password, name));
  OUTPOST_ASSIGN_OR_RETURN(std::string password_hash, hasher_.Hash(password));
  const TimePoint now = clock_.Now();
  OUTPOST_RETURN_IF_ERROR(writer_.Run([&](sqlite::Connection& db) -> Status {
    OUTPOST_ASSIGN_OR_RETURN(std::optional<UserState> user, ReadUserState(db, name));
    if (!user.has_value()) return NoSuchUser(name);
    OUTPOST_RETURN_IF_ERROR(db.ExecPrepared(
        "UPDATE users SET password_hash = ?1, failed_logins = 0, locked_until = 0 WHERE id = ?2",
        password_hash, user->id));
    // A new password ends every console session: whoever knew the old one is logged out.
    OUTPOST_ASSIGN_OR_RETURN(int ended,
                             db.ExecPrepared("DELETE FROM sessions WHERE user_id = ?1", user->id));
    return Audit(db, by.actor(), "user.password", UserObject(name), {{"sessions_ended", ended}},
                 now);
  }));
  // The new password starts with a clean slate on every address, too.
  address_failures_.ResetPrefix(std::string(name) + "\n");
  return Status::Ok();
}

Status AuthStore::DisableUser(std::string_view name, const Principal& by) {
  return SetDisabled(name, true, by);
}

Status AuthStore::EnableUser(std::string_view name, const Principal& by) {
  return SetDisabled(name, false, by);
}

Status AuthStore::SetDisabled(std::string_view name, bool disabled, const Principal& by) {
  OUTPOST_RETURN_IF_ERROR(Require(by, Permission::kManageUsers));
  if (!IsValidUserName(name)) return NoSuchUser(name);
  const TimePoint now = clock_.Now();
  return writer_.Run([&](sqlite::Connection& db) -> Status {
    OUTPOST_ASSIGN_OR_RETURN(std::optional<UserState> user, ReadUserState(db, name));
    if (!user.has_value()) return NoSuchUser(name);
    if (user->disabled == disabled) {
      return FailedPrecondition("user \"" + std::string(name) + "\" is already " +
                                (disabled ? "disabled" : "enabled"));
    }
    int ended = 0;
    if (disabled) {
      if (user->role == Role::kAdmin) {
        OUTPOST_ASSIGN_OR_RETURN(
            int64_t other_admins,
            db.QueryInt64("SELECT count(*) FROM users WHERE role = 'admin' AND disabled = 0 "
                          "AND id != ?1",
                          user->id));
        if (other_admins == 0) {
          return FailedPrecondition("\"" + std::string(name) +
                                    "\" is the last enabled admin; create or enable another "
                                    "admin first");
        }
      }
      OUTPOST_ASSIGN_OR_RETURN(
          ended, db.ExecPrepared("DELETE FROM sessions WHERE user_id = ?1", user->id));
    }
    OUTPOST_RETURN_IF_ERROR(db.ExecPrepared("UPDATE users SET disabled = ?1 WHERE id = ?2",
                                            disabled ? 1 : 0, user->id));
    if (!disabled) {
      return Audit(db, by.actor(), "user.enable", UserObject(name), {}, now);
    }
    return Audit(db, by.actor(), "user.disable", UserObject(name), {{"sessions_ended", ended}},
                 now);
  });
}

// ---------------------------------------------------------------------------------------------
// API keys

Status AuthStore::CheckApiKeyAccess(std::string_view owner, const Principal& by) const {
  if (!by.is_system() && by.user_name == owner) return Status::Ok();
  return Require(by, Permission::kManageApiKeys);
}

Result<CreatedApiKey> AuthStore::CreateApiKey(std::string_view user, std::string_view description,
                                              const Principal& by,
                                              std::optional<TimePoint> expires_at) {
  OUTPOST_RETURN_IF_ERROR(CheckApiKeyAccess(user, by));
  if (!IsValidUserName(user)) return NoSuchUser(user);
  OUTPOST_RETURN_IF_ERROR(CheckDescription(description));
  const TimePoint now = clock_.Now();
  std::optional<int64_t> expires_s;
  if (expires_at.has_value()) {
    expires_s = ToUnixSeconds(*expires_at);
    if (*expires_s <= ToUnixSeconds(now)) {
      return InvalidArgument("API key expiry " + FormatRfc3339Seconds(*expires_s) +
                             " is not in the future; give a later date or a duration such as "
                             "--expires-in 90d");
    }
    if (*expires_at > now + kMaxApiKeyLifetime) {
      return InvalidArgument("API key expiry " + FormatRfc3339Seconds(*expires_s) +
                             " is more than 10 years away; give an earlier one, or none for a "
                             "key that never expires");
    }
  }
  CreatedApiKey created;
  created.record.user = std::string(user);
  created.record.description = std::string(description);
  created.record.created_at = FromUnixSeconds(ToUnixSeconds(now));
  created.record.created_by = by.actor().ToString();
  if (expires_s.has_value()) created.record.expires_at = FromUnixSeconds(*expires_s);
  OUTPOST_RETURN_IF_ERROR(writer_.Run([&](sqlite::Connection& db) -> Status {
    OUTPOST_ASSIGN_OR_RETURN(std::optional<UserState> owner, ReadUserState(db, user));
    if (!owner.has_value()) return NoSuchUser(user);
    if (owner->disabled) {
      return FailedPrecondition("user \"" + std::string(user) +
                                "\" is disabled; enable it before creating API keys for it");
    }
    // 48-bit ids: a collision is unlikely but possible, so pick again rather than fail.
    for (int attempt = 0;; ++attempt) {
      OUTPOST_ASSIGN_OR_RETURN(ApiKeyParts parts, NewApiKey());
      OUTPOST_ASSIGN_OR_RETURN(
          int64_t taken, db.QueryInt64("SELECT count(*) FROM api_keys WHERE id = ?1", parts.id));
      if (taken != 0) {
        if (attempt + 1 < kApiKeyIdAttempts) continue;
        return Internal("could not find a free API key id; try again");
      }
      created.record.id = parts.id;
      created.key = std::move(parts.key);
      OUTPOST_RETURN_IF_ERROR(db.ExecPrepared(
          "INSERT INTO api_keys (id, user_id, secret_hash, description, created_at, created_by, "
          "expires_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
          parts.id, owner->id, sqlite::Blob{HashSecret(parts.secret)}, description,
          ToUnixSeconds(now), created.record.created_by, expires_s));
      break;
    }
    boost::json::object details{{"user", user}, {"description", description}};
    if (expires_s.has_value()) details["expires_at"] = *expires_s;
    return Audit(db, by.actor(), "apikey.create", KeyObject(created.record.id), details, now);
  }));
  return created;
}

Result<std::vector<ApiKey>> AuthStore::ListApiKeys(std::optional<std::string_view> user,
                                                   const Principal& by) {
  // Listing shows ids and metadata, never secrets: read_users (auditors) may list anyone's.
  const bool may_read_all = Allows(by.role, Permission::kReadUsers);
  if (user.has_value()) {
    if (!may_read_all) OUTPOST_RETURN_IF_ERROR(CheckApiKeyAccess(*user, by));
    if (!IsValidUserName(*user)) return NoSuchUser(*user);
  } else if (!may_read_all) {
    OUTPOST_RETURN_IF_ERROR(Require(by, Permission::kReadUsers));
  }
  OUTPOST_ASSIGN_OR_RETURN(sqlite::ReaderPool::Lease reader, readers_.Acquire());
  if (user.has_value()) {
    OUTPOST_ASSIGN_OR_RETURN(std::optional<UserState> owner, ReadUserState(*reader, *user));
    if (!owner.has_value()) return NoSuchUser(*user);
  }
  Result<sqlite::ScopedStatement> query =
      user.has_value() ? reader->Query(kSelectKeysOfUser, *user) : reader->Query(kSelectKeys);
  OUTPOST_ASSIGN_OR_RETURN(sqlite::ScopedStatement rows, std::move(query));
  std::vector<ApiKey> keys;
  while (true) {
    OUTPOST_ASSIGN_OR_RETURN(bool more, rows->Step());
    if (!more) return keys;
    keys.push_back(KeyFromRow(*rows));
  }
}

Status AuthStore::RevokeApiKey(std::string_view id, const Principal& by) {
  if (!IsApiKeyId(id)) {
    return InvalidArgument("an API key id is 12 hex digits, the part after \"opk_\"");
  }
  const TimePoint now = clock_.Now();
  return writer_.Run([&](sqlite::Connection& db) -> Status {
    std::string owner;
    bool revoked = false;
    {
      OUTPOST_ASSIGN_OR_RETURN(sqlite::ScopedStatement row,
                               db.Query("SELECT u.name, k.revoked_at IS NOT NULL FROM api_keys k "
                                        "JOIN users u ON u.id = k.user_id WHERE k.id = ?1",
                                        id));
      OUTPOST_ASSIGN_OR_RETURN(bool found, row->Step());
      if (!found) return NotFound("no API key with id " + std::string(id));
      owner = row->ColumnText(0);
      revoked = row->ColumnInt64(1) != 0;
    }
    OUTPOST_RETURN_IF_ERROR(CheckApiKeyAccess(owner, by));
    if (revoked) return FailedPrecondition("API key " + std::string(id) + " is already revoked");
    OUTPOST_RETURN_IF_ERROR(
        db.ExecPrepared("UPDATE api_keys SET revoked_at = ?1, revoked_by = ?2 WHERE id = ?3",
                        ToUnixSeconds(now), by.actor().ToString(), id));
    return Audit(db, by.actor(), "apikey.revoke", KeyObject(id), {{"user", owner}}, now);
  });
}

struct AuthStore::KeyRow {
  std::string secret_hash;
  bool revoked = false;
  std::optional<int64_t> last_used_at;
  std::optional<int64_t> expires_at;
  int64_t user_id = 0;
  std::string user_name;
  std::string role;
  bool disabled = false;
};

Result<std::optional<AuthStore::KeyRow>> AuthStore::ReadKey(std::string_view id) {
  OUTPOST_ASSIGN_OR_RETURN(sqlite::ReaderPool::Lease reader, readers_.Acquire());
  OUTPOST_ASSIGN_OR_RETURN(
      sqlite::ScopedStatement row,
      reader->Query("SELECT k.secret_hash, k.revoked_at IS NOT NULL, k.last_used_at, u.id, "
                    "u.name, u.role, u.disabled, k.expires_at FROM api_keys k "
                    "JOIN users u ON u.id = k.user_id WHERE k.id = ?1",
                    id));
  OUTPOST_ASSIGN_OR_RETURN(bool found, row->Step());
  if (!found) return std::optional<KeyRow>();
  KeyRow key;
  key.secret_hash = row->ColumnBlob(0);
  key.revoked = row->ColumnInt64(1) != 0;
  if (!row->ColumnIsNull(2)) key.last_used_at = row->ColumnInt64(2);
  key.user_id = row->ColumnInt64(3);
  key.user_name = row->ColumnText(4);
  key.role = row->ColumnText(5);
  key.disabled = row->ColumnInt64(6) != 0;
  if (!row->ColumnIsNull(7)) key.expires_at = row->ColumnInt64(7);
  return std::optional<KeyRow>(std::move(key));
}

void AuthStore::AuditFailureAsync(std::string object, std::string action, std::string details) {
  const TimePoint now = clock_.Now();
  writer_.Submit(
      [object = std::move(object), action = std::move(action), details = std::move(details),
       now](sqlite::Connection& db) -> Status {
        return audit::Append(db, audit::AuditEvent{internal::Anonymous(), action, object, details},
                             now);
      },
      [](const Status& status) { internal::LogBackgroundFailure("audit auth failure", status); });
}

Result<Principal> AuthStore::AuthenticateApiKey(std::string_view key,
                                                std::string_view remote_address) {
  const Status rejected = Unauthenticated(
      "invalid API key; check that it was copied whole and has not been revoked, or create a "
      "new one with `outpost apikey create`");
  const std::string address(remote_address);
  // An address that keeps failing is refused before any lookup, and only the first refusal of a
  // run is audited: guessing costs neither database reads nor an audit record per try.
  if (const std::optional<int> wait = key_failures_.Check(address)) {
    int64_t suppressed = 0;
    {
      std::lock_guard lock(suppressed_mu_);
      suppressed = suppressed_[address]++;
    }
    if (suppressed == 0) {
      AuditFailureAsync("apikey", "auth.failure",
                        internal::Details({{"method", "apikey"},
                                           {"reason", "rate limited"},
                                           {"remote_address", remote_address}}));
    }
    return ResourceExhausted("too many failed API keys from " + address + " (limit " +
                             std::to_string(policy_.failed_api_keys_per_minute) +
                             " per minute); retry in " + DurationText(*wait));
  }
  auto fail = [&](std::string object, std::string_view reason) {
    (void)key_failures_.Take(address);
    int64_t suppressed = 0;
    {
      std::lock_guard lock(suppressed_mu_);
      if (auto it = suppressed_.find(address); it != suppressed_.end()) {
        suppressed = it->second;
        suppressed_.erase(it);
      }
    }
    // Refusals of this address while it was limited are counted here: the first of them was
    // recorded ("rate limited"), the others only in this number.
    boost::json::object details{
        {"method", "apikey"}, {"reason", reason}, {"remote_address", remote_address}};
    if (suppressed > 1) details["refused_unrecorded"] = suppressed - 1;
    AuditFailureAsync(std::move(object), "auth.failure", internal::Details(details));
    return rejected;
  };
  Result<ApiKeyParts> parts = ParseApiKey(key);
  if (!parts.ok()) return fail("apikey", "malformed");
  OUTPOST_ASSIGN_OR_RETURN(std::optional<KeyRow> row, ReadKey(parts->id));
  const std::string object = KeyObject(parts->id);
  if (!row.has_value()) return fail(object, "unknown key");
  if (!SecretMatches(parts->secret, row->secret_hash)) return fail(object, "wrong secret");
  // The caller holds the whole key, so saying why it no longer works gives nothing away.
  if (row->revoked) {
    (void)fail(object, "revoked");
    return Unauthenticated("API key " + parts->id + " (user \"" + row->user_name +
                           "\") was revoked; create a new one with `outpost apikey create` or "
                           "ask an admin for one");
  }
  const TimePoint now = clock_.Now();
  const int64_t now_s = ToUnixSeconds(now);
  if (row->expires_at.has_value() && *row->expires_at <= now_s) {
    (void)fail(object, "expired");
    return Unauthenticated("API key " + parts->id + " expired on " +
                           FormatRfc3339Seconds(*row->expires_at) +
                           "; create a new one with `outpost apikey create`");
  }
  if (row->disabled) {
    (void)fail(object, "user disabled");
    return Unauthenticated("API key " + parts->id + " belongs to user \"" + row->user_name +
                           "\", who is disabled; ask an admin to run `outpost user enable " +
                           row->user_name + "`, or use another user's key");
  }
  Result<Role> role = ParseRole(row->role);
  if (!role.ok()) return DataLoss("user \"" + row->user_name + "\" has a bad role in the database");

  const int64_t stale_before = now_s - policy_.touch_interval.count();
  if (!row->last_used_at.has_value() || *row->last_used_at <= stale_before) {
    // The condition is repeated in SQL so concurrent requests racing here write once.
    writer_.Submit(
        [id = parts->id, now_s, stale_before](sqlite::Connection& db) -> Status {
          return db
              .ExecPrepared(
                  "UPDATE api_keys SET last_used_at = ?1 WHERE id = ?2 AND "
                  "(last_used_at IS NULL OR last_used_at <= ?3)",
                  now_s, id, stale_before)
              .status();
        },
        [](const Status& status) {
          internal::LogBackgroundFailure("record API key last use", status);
        });
  }
  Principal principal;
  principal.user_id = row->user_id;
  principal.user_name = row->user_name;
  principal.role = *role;
  principal.credential = KeyObject(parts->id);
  return principal;
}

}  // namespace outpost::server::auth
