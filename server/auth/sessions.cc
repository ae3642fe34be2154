// AuthStore: console login, sessions and lockout. Users and API keys are in store.cc.

#include <algorithm>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/crypto/encoding.h"
#include "common/crypto/hash.h"
#include "common/log/logging.h"
#include "server/auth/secrets.h"
#include "server/auth/store.h"
#include "server/auth/store_util.h"
#include "server/auth/text.h"

namespace outpost::server::auth {
namespace {

using internal::Audit;

constexpr size_t kCookieChars = 43;  // base64url of 32 bytes

std::string UserObject(std::string_view name) { return "user:" + std::string(name); }
std::string SessionObject(std::string_view id_hash) { return "session:" + SessionId(id_hash); }

bool IsWellFormedCookie(std::string_view cookie) {
  return cookie.size() == kCookieChars && crypto::Base64UrlDecode(cookie).ok();
}

// Deletes one session and records why, if it still exists.
Status ExpireSession(sqlite::Connection& db, const std::string& id_hash, const std::string& user,
                     std::string_view reason, TimePoint now) {
  OUTPOST_ASSIGN_OR_RETURN(int deleted, db.ExecPrepared("DELETE FROM sessions WHERE id_hash = ?1",
                                                        sqlite::Blob{id_hash}));
  if (deleted == 0) return Status::Ok();
  return Audit(db, audit::Actor::System(), "session.expire", SessionObject(id_hash),
               {{"user", user}, {"reason", reason}}, now);
}

}  // namespace

struct AuthStore::SessionRow {
  int64_t user_id = 0;
  std::string user_name;
  std::string role;
  bool disabled = false;
  std::string csrf_token;
  int64_t last_seen_at = 0;
  int64_t expires_at = 0;
};

LockoutRule AuthStore::AddressRule() const {
  return {policy_.lockout_threshold, policy_.lockout_initial, policy_.lockout_max};
}

LockoutRule AuthStore::UserRule() const {
  return {policy_.user_lockout_threshold, policy_.lockout_initial, policy_.lockout_max};
}

namespace {

// Key of the per-(name, address) count; '\n' appears in neither a name nor an address.
std::string AddressKey(std::string_view name, std::string_view remote_address) {
  return std::string(name) + "\n" + std::string(remote_address);
}

}  // namespace

Status AuthStore::CheckLoginLocks(std::string_view name, std::string_view remote_address,
                                  bool found, int64_t user_locked_until, int64_t now_s) {
  // Both messages are the same for names that exist and names that do not.
  if (const int64_t wait = address_failures_.LockedFor(AddressKey(name, remote_address), now_s);
      wait > 0) {
    return ResourceExhausted(
        "too many failed logins for this user from this address; try again in " + WaitText(wait) +
        " (logins from other addresses are not affected)");
  }
  const int64_t wait = found ? std::max<int64_t>(user_locked_until - now_s, 0)
                             : phantom_failures_.LockedFor(std::string(name), now_s);
  if (wait > 0) {
    return ResourceExhausted(
        "too many failed logins for this user from several addresses; try again in " +
        WaitText(wait));
  }
  return Status::Ok();
}

void AuthStore::BurnPasswordCheck(std::string_view password) {
  std::call_once(dummy_hash_once_, [this] {
    Result<std::string> hash = hasher_.Hash("outpost timing equalizer");
    if (hash.ok()) dummy_hash_ = std::move(hash).value();
  });
  (void)VerifyPassword(password, dummy_hash_);
}

Status AuthStore::RecordLoginFailure(std::optional<int64_t> user_id, std::string_view name,
                                     std::string object, std::string_view reason,
                                     std::string_view remote_address, TimePoint now, bool counts) {
  const int64_t now_s = ToUnixSeconds(now);
  boost::json::object details{{"reason", reason}, {"remote_address", remote_address}};
  if (counts && !name.empty()) {
    const FailureCounter::Counted pair =
        address_failures_.Fail(AddressKey(name, remote_address), now_s);
    details["address_failures"] = pair.failed;
    if (pair.lock_s > 0) details["address_locked_for_s"] = pair.lock_s;
    if (!user_id.has_value()) (void)phantom_failures_.Fail(std::string(name), now_s);
  }
  return writer_.Run([&](sqlite::Connection& db) -> Status {
    if (counts && user_id.has_value()) {
      // Counted in the writer, so concurrent failures cannot overwrite each other's count.
      OUTPOST_RETURN_IF_ERROR(db.ExecPrepared(
          "UPDATE users SET failed_logins = failed_logins + 1 WHERE id = ?1", *user_id));
      OUTPOST_ASSIGN_OR_RETURN(
          int64_t failed, db.QueryInt64("SELECT failed_logins FROM users WHERE id = ?1", *user_id));
      details["failed_logins"] = failed;
      const int64_t lock_s = LockDuration(UserRule(), failed).count();
      if (lock_s > 0) {
        OUTPOST_RETURN_IF_ERROR(db.ExecPrepared("UPDATE users SET locked_until = ?1 WHERE id = ?2",
                                                now_s + lock_s, *user_id));
        details["locked_for_s"] = lock_s;
      }
    }
    return Audit(db, internal::Anonymous(), "login.failure", object, details, now);
  });
}

Result<Session> AuthStore::RecordLoginSuccess(int64_t user_id, std::string_view name, Role role,
                                              const std::string& verified_hash,
                                              std::string_view remote_address, TimePoint now) {
  OUTPOST_ASSIGN_OR_RETURN(std::string cookie, NewSessionSecret());
  OUTPOST_ASSIGN_OR_RETURN(std::string csrf_token, NewSessionSecret());
  const std::string id_hash = HashSecret(cookie);
  const int64_t now_s = ToUnixSeconds(now);
  const int64_t expires_s = now_s + policy_.session_absolute_timeout.count();
  bool still_valid = false;
  OUTPOST_RETURN_IF_ERROR(writer_.Run([&](sqlite::Connection& db) -> Status {
    // An admin may have changed the password or disabled the user while scrypt ran.
    {
      OUTPOST_ASSIGN_OR_RETURN(
          sqlite::ScopedStatement row,
          db.Query("SELECT password_hash, disabled, locked_until FROM users WHERE id = ?1",
                   user_id));
      OUTPOST_ASSIGN_OR_RETURN(bool found, row->Step());
      still_valid = found && row->ColumnText(0) == verified_hash && row->ColumnInt64(1) == 0 &&
                    row->ColumnInt64(2) <= now_s;
    }
    if (!still_valid) {
      return Audit(db, internal::Anonymous(), "login.failure", UserObject(name),
                   {{"reason", "user changed during login"}, {"remote_address", remote_address}},
                   now);
    }
    OUTPOST_RETURN_IF_ERROR(db.ExecPrepared(
        "UPDATE users SET failed_logins = 0, locked_until = 0 WHERE id = ?1", user_id));
    OUTPOST_RETURN_IF_ERROR(db.ExecPrepared(
        "INSERT INTO sessions (id_hash, user_id, csrf_token, created_at, last_seen_at, "
        "expires_at, remote_address) VALUES (?1, ?2, ?3, ?4, ?4, ?5, ?6)",
        sqlite::Blob{id_hash}, user_id, csrf_token, now_s, expires_s, remote_address));
    return Audit(db, audit::Actor{"user", std::string(name)}, "login.success",
                 SessionObject(id_hash),
                 {{"remote_address", remote_address}, {"expires_at", expires_s}}, now);
  }));
  if (!still_valid) return Unauthenticated("wrong user name or password");
  address_failures_.Reset(AddressKey(name, remote_address));
  Session session;
  session.cookie = std::move(cookie);
  session.csrf_token = std::move(csrf_token);
  session.expires_at = FromUnixSeconds(expires_s);
  session.user = std::string(name);
  session.role = role;
  return session;
}

Result<Session> AuthStore::Login(std::string_view name, std::string_view password,
                                 std::string_view remote_address) {
  const Status rejected = Unauthenticated("wrong user name or password");
  if (!IsValidUserName(name)) {
    // Not echoed into the audit trail: people type passwords into the user field.
    BurnPasswordCheck(password);
    OUTPOST_RETURN_IF_ERROR(RecordLoginFailure(std::nullopt, "", "user", "invalid user name",
                                               remote_address, clock_.Now(), false));
    return rejected;
  }
  // One attempt per user at a time: the lock check, the password check and the recorded
  // outcome must not interleave with another attempt, or parallel guesses would slip past the
  // lockout.
  KeyedMutex::Lock turn = login_locks_.Acquire(name);
  const TimePoint now = clock_.Now();
  const int64_t now_s = ToUnixSeconds(now);
  const std::string object = UserObject(name);

  int64_t user_id = 0;
  std::string role_text;
  std::optional<std::string> stored_hash;
  int64_t locked_until = 0;
  bool disabled = false;
  bool found = false;
  {
    OUTPOST_ASSIGN_OR_RETURN(sqlite::ReaderPool::Lease reader, readers_.Acquire());
    OUTPOST_ASSIGN_OR_RETURN(
        sqlite::ScopedStatement row,
        reader->Query("SELECT id, role, password_hash, locked_until, disabled FROM users "
                      "WHERE name = ?1",
                      name));
    OUTPOST_ASSIGN_OR_RETURN(found, row->Step());
    if (found) {
      user_id = row->ColumnInt64(0);
      role_text = row->ColumnText(1);
      if (!row->ColumnIsNull(2)) stored_hash = row->ColumnText(2);
      locked_until = row->ColumnInt64(3);
      disabled = row->ColumnInt64(4) != 0;
    }
  }
  const std::optional<int64_t> counted_id = found ? std::optional<int64_t>(user_id) : std::nullopt;
  if (Status locked = CheckLoginLocks(name, remote_address, found, locked_until, now_s);
      !locked.ok()) {
    OUTPOST_RETURN_IF_ERROR(
        RecordLoginFailure(counted_id, name, object, "locked", remote_address, now, false));
    return locked;
  }
  // Unknown users, disabled users and users without a password cost the same scrypt run as a
  // wrong password and count towards the same locks, so neither timing nor a later 429 tells
  // them apart.
  std::string_view reason;
  if (!found) {
    reason = "unknown user";
  } else if (disabled) {
    reason = "user disabled";
  } else if (!stored_hash.has_value()) {
    reason = "no password set";
  }
  if (!reason.empty()) {
    BurnPasswordCheck(password);
    OUTPOST_RETURN_IF_ERROR(
        RecordLoginFailure(counted_id, name, object, reason, remote_address, now, true));
    return rejected;
  }
  Result<bool> match = VerifyPassword(password, *stored_hash);
  if (!match.ok()) {
    log::Error("stored password hash is unreadable",
               {{"user", name}, {"error", match.status().message()}});
    OUTPOST_RETURN_IF_ERROR(RecordLoginFailure(std::nullopt, name, object, "stored hash unreadable",
                                               remote_address, now, false));
    return rejected;
  }
  if (!*match) {
    OUTPOST_RETURN_IF_ERROR(
        RecordLoginFailure(user_id, name, object, "wrong password", remote_address, now, true));
    return rejected;
  }
  Result<Role> role = ParseRole(role_text);
  if (!role.ok()) return DataLoss("user \"" + std::string(name) + "\" has a bad role");
  return RecordLoginSuccess(user_id, name, *role, *stored_hash, remote_address, now);
}

Status AuthStore::ChangeOwnPassword(const Principal& by, std::string_view current_password,
                                    std::string_view new_password,
                                    std::string_view remote_address) {
  if (by.is_system() || by.user_name.empty()) {
    return FailedPrecondition("only a user can change their own password");
  }
  const std::string name = by.user_name;
  // The new password is checked first: a refusal for its strength costs no attempt.
  OUTPOST_RETURN_IF_ERROR(CheckPasswordStrength(new_password, name));
  KeyedMutex::Lock turn = login_locks_.Acquire(name);
  const TimePoint now = clock_.Now();
  const int64_t now_s = ToUnixSeconds(now);
  const std::string object = UserObject(name);
  std::optional<std::string> stored_hash;
  int64_t locked_until = 0;
  {
    OUTPOST_ASSIGN_OR_RETURN(sqlite::ReaderPool::Lease reader, readers_.Acquire());
    OUTPOST_ASSIGN_OR_RETURN(
        sqlite::ScopedStatement row,
        reader->Query("SELECT password_hash, locked_until FROM users WHERE id = ?1", by.user_id));
    OUTPOST_ASSIGN_OR_RETURN(bool found, row->Step());
    if (!found) return NotFound("your user no longer exists");
    if (!row->ColumnIsNull(0)) stored_hash = row->ColumnText(0);
    locked_until = row->ColumnInt64(1);
  }
  if (!stored_hash.has_value()) {
    return FailedPrecondition("user \"" + name +
                              "\" has no password (API keys only); an admin sets the first one "
                              "with `outpost user passwd " +
                              name + " --password-stdin`");
  }
  if (Status locked = CheckLoginLocks(name, remote_address, true, locked_until, now_s);
      !locked.ok()) {
    OUTPOST_RETURN_IF_ERROR(
        RecordLoginFailure(by.user_id, name, object, "locked", remote_address, now, false));
    return locked;
  }
  OUTPOST_ASSIGN_OR_RETURN(bool match, VerifyPassword(current_password, *stored_hash));
  if (!match) {
    OUTPOST_RETURN_IF_ERROR(RecordLoginFailure(by.user_id, name, object, "wrong current password",
                                               remote_address, now, true));
    return PermissionDenied(
        "the current password is wrong; nothing was changed (this counts as a failed login; an "
        "admin can set a new password with `outpost user passwd " +
        name + " --password-stdin`)");
  }
  OUTPOST_ASSIGN_OR_RETURN(std::string password_hash, hasher_.Hash(new_password));
  OUTPOST_RETURN_IF_ERROR(writer_.Run([&](sqlite::Connection& db) -> Status {
    // The password may have changed while scrypt ran: the check above must still hold.
    OUTPOST_ASSIGN_OR_RETURN(
        int64_t changed,
        db.ExecPrepared("UPDATE users SET password_hash = ?1, failed_logins = 0, locked_until = 0 "
                        "WHERE id = ?2 AND password_hash = ?3",
                        password_hash, by.user_id, *stored_hash));
    if (changed == 0) {
      return FailedPrecondition(
          "your password was changed by someone else meanwhile; nothing was changed");
    }
    OUTPOST_ASSIGN_OR_RETURN(
        int ended, db.ExecPrepared("DELETE FROM sessions WHERE user_id = ?1", by.user_id));
    return Audit(db, by.actor(), "user.password", object,
                 {{"self", true}, {"sessions_ended", ended}}, now);
  }));
  address_failures_.ResetPrefix(name + "\n");
  return Status::Ok();
}

Result<std::optional<AuthStore::SessionRow>> AuthStore::ReadSession(std::string_view id_hash) {
  OUTPOST_ASSIGN_OR_RETURN(sqlite::ReaderPool::Lease reader, readers_.Acquire());
  OUTPOST_ASSIGN_OR_RETURN(
      sqlite::ScopedStatement row,
      reader->Query("SELECT s.user_id, u.name, u.role, u.disabled, s.csrf_token, "
                    "s.last_seen_at, s.expires_at FROM sessions s "
                    "JOIN users u ON u.id = s.user_id WHERE s.id_hash = ?1",
                    sqlite::Blob{id_hash}));
  OUTPOST_ASSIGN_OR_RETURN(bool found, row->Step());
  if (!found) return std::optional<SessionRow>();
  SessionRow session;
  session.user_id = row->ColumnInt64(0);
  session.user_name = row->ColumnText(1);
  session.role = row->ColumnText(2);
  session.disabled = row->ColumnInt64(3) != 0;
  session.csrf_token = row->ColumnText(4);
  session.last_seen_at = row->ColumnInt64(5);
  session.expires_at = row->ColumnInt64(6);
  return std::optional<SessionRow>(std::move(session));
}

Result<Principal> AuthStore::AuthenticateSession(std::string_view cookie, std::string_view method,
                                                 std::string_view csrf_token,
                                                 std::string_view remote_address) {
  const Status rejected = Unauthenticated("no valid console session; log in again");
  // A stale or garbled cookie is what every browser sends after a logout: not worth an audit
  // record.
  if (!IsWellFormedCookie(cookie)) return rejected;
  const std::string id_hash = HashSecret(cookie);
  OUTPOST_ASSIGN_OR_RETURN(std::optional<SessionRow> session, ReadSession(id_hash));
  if (!session.has_value() || session->disabled) return rejected;

  const TimePoint now = clock_.Now();
  const int64_t now_s = ToUnixSeconds(now);
  std::string_view expired;
  if (now_s >= session->expires_at) {
    expired = "absolute timeout";
  } else if (now_s - session->last_seen_at >= policy_.session_idle_timeout.count()) {
    expired = "idle timeout";
  }
  if (!expired.empty()) {
    writer_.Submit(
        [id_hash, user = session->user_name, reason = std::string(expired),
         now](sqlite::Connection& db) { return ExpireSession(db, id_hash, user, reason, now); },
        [](const Status& status) { internal::LogBackgroundFailure("expire session", status); });
    return Unauthenticated("console session expired; log in again");
  }

  if (method != "GET" && method != "HEAD" &&
      !crypto::ConstantTimeEquals(csrf_token, session->csrf_token)) {
    AuditFailureAsync(SessionObject(id_hash), "auth.failure",
                      internal::Details({{"method", "session"},
                                         {"reason", "missing or wrong CSRF token"},
                                         {"user", session->user_name},
                                         {"remote_address", remote_address}}));
    return PermissionDenied(
        "missing or wrong CSRF token; send the csrf_token of the login answer in the "
        "X-CSRF-Token header");
  }
  Result<Role> role = ParseRole(session->role);
  if (!role.ok()) return DataLoss("user \"" + session->user_name + "\" has a bad role");

  const int64_t stale_before = now_s - policy_.touch_interval.count();
  if (session->last_seen_at <= stale_before) {
    writer_.Submit(
        [id_hash, now_s, stale_before](sqlite::Connection& db) -> Status {
          return db
              .ExecPrepared(
                  "UPDATE sessions SET last_seen_at = ?1 WHERE id_hash = ?2 AND "
                  "last_seen_at <= ?3",
                  now_s, sqlite::Blob{id_hash}, stale_before)
              .status();
        },
        [](const Status& status) {
          internal::LogBackgroundFailure("record session activity", status);
        });
  }
  Principal principal;
  principal.user_id = session->user_id;
  principal.user_name = session->user_name;
  principal.role = *role;
  principal.credential = SessionObject(id_hash);
  principal.csrf_token = session->csrf_token;
  return principal;
}

Status AuthStore::Logout(std::string_view cookie) {
  if (!IsWellFormedCookie(cookie)) return Status::Ok();
  const std::string id_hash = HashSecret(cookie);
  const TimePoint now = clock_.Now();
  return writer_.Run([&](sqlite::Connection& db) -> Status {
    std::string user;
    {
      OUTPOST_ASSIGN_OR_RETURN(sqlite::ScopedStatement row,
                               db.Query("SELECT u.name FROM sessions s JOIN users u "
                                        "ON u.id = s.user_id WHERE s.id_hash = ?1",
                                        sqlite::Blob{id_hash}));
      OUTPOST_ASSIGN_OR_RETURN(bool found, row->Step());
      if (!found) return Status::Ok();
      user = row->ColumnText(0);
    }
    OUTPOST_RETURN_IF_ERROR(
        db.ExecPrepared("DELETE FROM sessions WHERE id_hash = ?1", sqlite::Blob{id_hash}));
    return Audit(db, audit::Actor{"user", user}, "logout", SessionObject(id_hash), {}, now);
  });
}

Result<int> AuthStore::PurgeExpiredSessions() {
  const TimePoint now = clock_.Now();
  const int64_t now_s = ToUnixSeconds(now);
  const int64_t idle_before = now_s - policy_.session_idle_timeout.count();
  int purged = 0;
  OUTPOST_RETURN_IF_ERROR(writer_.Run([&](sqlite::Connection& db) -> Status {
    struct Expired {
      std::string id_hash;
      std::string user;
      bool absolute;
    };
    std::vector<Expired> expired;
    {
      OUTPOST_ASSIGN_OR_RETURN(
          sqlite::ScopedStatement rows,
          db.Query("SELECT s.id_hash, u.name, s.expires_at <= ?1 FROM sessions s "
                   "JOIN users u ON u.id = s.user_id "
                   "WHERE s.expires_at <= ?1 OR s.last_seen_at <= ?2",
                   now_s, idle_before));
      while (true) {
        OUTPOST_ASSIGN_OR_RETURN(bool more, rows->Step());
        if (!more) break;
        expired.push_back({rows->ColumnBlob(0), rows->ColumnText(1), rows->ColumnInt64(2) != 0});
      }
    }
    for (const Expired& session : expired) {
      OUTPOST_RETURN_IF_ERROR(ExpireSession(db, session.id_hash, session.user,
                                            session.absolute ? "absolute timeout" : "idle timeout",
                                            now));
    }
    purged = static_cast<int>(expired.size());
    return Status::Ok();
  }));
  return purged;
}

}  // namespace outpost::server::auth
