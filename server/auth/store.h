#pragma once

// Users, API keys and console sessions over the satellite database (tables of migration 2).

#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/clock.h"
#include "common/rate_limiter.h"
#include "common/sqlite/reader_pool.h"
#include "common/sqlite/writer.h"
#include "common/status.h"
#include "server/auth/keyed_mutex.h"
#include "server/auth/lockout.h"
#include "server/auth/password.h"
#include "server/auth/principal.h"
#include "server/auth/roles.h"

namespace outpost::server::auth {

struct AuthPolicy {
  std::chrono::seconds session_idle_timeout = std::chrono::minutes(30);
  std::chrono::seconds session_absolute_timeout = std::chrono::hours(12);
  // Two locks (docs/decisions.md, "Login lockout"). After `lockout_threshold` consecutive failed
  // logins for one user name from one client address, that name is locked for that address for
  // lockout_initial; each further failure (after the lock ends) doubles it, up to lockout_max.
  // Other addresses are not affected. After `user_lockout_threshold` consecutive failures for
  // the name from all addresses together, the name is locked everywhere the same way: the
  // ceiling on guessing with many addresses. A success resets both counts.
  int lockout_threshold = 5;
  int user_lockout_threshold = 50;
  std::chrono::seconds lockout_initial = std::chrono::minutes(1);
  std::chrono::seconds lockout_max = std::chrono::hours(1);
  // (user name, address) pairs and unknown names whose failures are counted in memory.
  size_t max_lockout_entries = 10'000;
  // API keys' last_used_at and sessions' last_seen_at are written at most this often.
  std::chrono::seconds touch_interval = std::chrono::minutes(1);
  // Failed API keys accepted per client address per minute; beyond, the address is refused
  // (429) without a lookup, and its further failures are counted into the next audit record
  // instead of one record each.
  int failed_api_keys_per_minute = 30;
  ScryptParams scrypt;  // tests lower log2_n
};

// A user name: 1 to 64 of [a-z0-9._-].
bool IsValidUserName(std::string_view name);

// The longest expiry an API key may be given (10 years).
inline constexpr std::chrono::seconds kMaxApiKeyLifetime = std::chrono::days(3653);

struct User {
  int64_t id = 0;
  std::string name;
  Role role = Role::kAuditor;
  TimePoint created_at;
  std::string created_by;  // audit actor, e.g. "user:alice", "system"
  bool disabled = false;
  bool has_password = false;  // false: API keys only, no console login
};

// An API key as listed: everything but the secret.
struct ApiKey {
  std::string id;  // 12 hex digits, the public part of the key
  std::string user;
  std::string description;
  TimePoint created_at;
  std::string created_by;
  std::optional<TimePoint> last_used_at;  // to the minute (AuthPolicy::touch_interval)
  std::optional<TimePoint> revoked_at;
  std::optional<TimePoint> expires_at;  // nullopt: never expires
};

struct CreatedApiKey {
  ApiKey record;
  std::string key;  // the whole key "opk_<id>_<secret>"; returned once, never stored
};

// What a successful login hands to the console.
struct Session {
  std::string cookie;      // value of the outpost_session cookie; never stored or logged
  std::string csrf_token;  // send back as the x-csrf-token header on state-changing requests
  TimePoint expires_at;    // absolute timeout; the idle timeout may end it earlier
  std::string user;
  Role role = Role::kAuditor;
};

// Thread-safe. Writes go through the Writer, each change in one unit of work together with its
// audit record (audit::Append); a call that changes something returns after the commit. Reads
// use the ReaderPool. Writer, pool and clock must outlive the store.
//
// Permissions are checked here as well as by the routes: managing users needs kManageUsers;
// every user may create, list and revoke their own API keys, and kManageApiKeys is needed for
// anyone else's. A check that fails returns kPermissionDenied and changes nothing.
//
// Authentication failures all give the client the same kUnauthenticated message; the audit
// trail says why (unknown, revoked, malformed, wrong secret, disabled user). Nothing secret
// (password, key secret, cookie, CSRF token) reaches the audit trail, a log or an error.
class AuthStore {
 public:
  AuthStore(sqlite::Writer& writer, sqlite::ReaderPool& readers, const Clock& clock,
            AuthPolicy policy = {});
  AuthStore(const AuthStore&) = delete;
  AuthStore& operator=(const AuthStore&) = delete;

  // --- Users (kManageUsers) ---

  // Creates a user; with no password the user can only use API keys. kInvalidArgument for a bad
  // name or a password that breaks CheckPasswordStrength; kAlreadyExists if the name is taken.
  // Audited as "user.create". Hashing the password takes the scrypt time (about 0.1 s).
  Result<User> CreateUser(std::string_view name, Role role,
                          std::optional<std::string_view> password, const Principal& by);
  // Every user, ordered by name. Needs kReadUsers (admin, auditor).
  Result<std::vector<User>> ListUsers(const Principal& by);
  // An admin sets (or replaces) ANOTHER user's password (CheckPasswordStrength), clears its
  // failed-login counts and locks, and ends its console sessions. kNotFound for an unknown user;
  // kFailedPrecondition for the caller's own name (ChangeOwnPassword asks for the current
  // one). Audited as "user.password".
  Status SetPassword(std::string_view name, std::string_view password, const Principal& by);
  // The caller changes their own password, proving they know the current one (checked like a
  // login: the same locks apply, and a wrong one counts as a failed login, audited as
  // "login.failure" with reason "wrong current password"). kPermissionDenied "current password
  // is wrong" for a wrong one; kResourceExhausted while locked; kFailedPrecondition for a user
  // without a password or the system; kInvalidArgument if the new one breaks
  // CheckPasswordStrength (checked before the current one, so a refusal costs no attempt).
  // Ends every console session of the user. Audited as "user.password" with "self":true.
  // Blocks for two scrypt runs: call it off the I/O threads.
  Status ChangeOwnPassword(const Principal& by, std::string_view current_password,
                           std::string_view new_password, std::string_view remote_address);
  // Disables a user: no login, its sessions end, its API keys stop working (and work again
  // after EnableUser unless revoked). kFailedPrecondition for the last enabled admin or a user
  // already in that state. Audited as "user.disable" / "user.enable".
  Status DisableUser(std::string_view name, const Principal& by);
  Status EnableUser(std::string_view name, const Principal& by);

  // --- API keys (own keys: anyone; other users' keys: kManageApiKeys) ---

  // A new key for `user`. `description` is free text of at most 256 bytes (UTF-8, no control
  // characters). `expires_at`: when the key stops working (nullopt: never); it must be in the
  // future and at most kMaxApiKeyLifetime away (kInvalidArgument otherwise). kNotFound for an
  // unknown user, kFailedPrecondition for a disabled one. Audited as "apikey.create" (id, user,
  // description, expires_at; never the secret).
  Result<CreatedApiKey> CreateApiKey(std::string_view user, std::string_view description,
                                     const Principal& by,
                                     std::optional<TimePoint> expires_at = std::nullopt);
  // Keys of `user`, or of every user when nullopt, newest first, revoked ones included (ids and
  // metadata, never secrets). Anyone may list their own; others' and all need kReadUsers
  // (admin, auditor: read-only).
  Result<std::vector<ApiKey>> ListApiKeys(std::optional<std::string_view> user,
                                          const Principal& by);
  // kNotFound for an unknown id, kFailedPrecondition if already revoked. Audited as
  // "apikey.revoke".
  Status RevokeApiKey(std::string_view id, const Principal& by);
  // The principal for a presented key ("opk_..."). kUnauthenticated if it is malformed, unknown,
  // revoked, expired ("API key <id> expired on <date>; ..."), has the wrong secret or belongs to
  // a disabled user; the failure is audited as
  // "auth.failure" without blocking the caller. Records last_used_at (at most once per
  // touch_interval) without blocking the caller.
  // `remote_address` is recorded with a failure.
  Result<Principal> AuthenticateApiKey(std::string_view key, std::string_view remote_address = {});

  // --- Console sessions ---

  // Checks the password and opens a session. Wrong user name or password: kUnauthenticated
  // (same message for unknown users, disabled users and users without a password). A locked
  // name (see AuthPolicy) gets kResourceExhausted without the password being checked: "too many
  // failed logins for this user from this address; try again in <WaitText> ..." or "... from
  // several addresses; ...". Names that do not exist lock out exactly like real ones, so the
  // answers do not tell which names exist. Audited as "login.success" / "login.failure".
  // Blocks for the scrypt time and a commit: call it off the I/O threads. Concurrent logins for
  // one user name take turns.
  Result<Session> Login(std::string_view user, std::string_view password,
                        std::string_view remote_address);
  // The principal for a session cookie. kUnauthenticated if the cookie is unknown or the
  // session passed its idle or absolute timeout (the session is then deleted and
  // "session.expire" audited). For any method but GET and HEAD the CSRF token must match:
  // kPermissionDenied "missing or wrong CSRF token" otherwise (audited as "auth.failure").
  // Records last_seen_at (at most once per touch_interval) without blocking the caller, so the
  // idle timeout may end a session up to touch_interval early.
  Result<Principal> AuthenticateSession(std::string_view cookie, std::string_view method,
                                        std::string_view csrf_token,
                                        std::string_view remote_address = {});
  // Ends the session of `cookie`; ok (and nothing audited) if there is none. Audited as
  // "logout".
  Status Logout(std::string_view cookie);
  // Deletes every session past a timeout (each audited as "session.expire"); returns how many.
  Result<int> PurgeExpiredSessions();

  const AuthPolicy& policy() const { return policy_; }

 private:
  struct KeyRow;
  struct SessionRow;

  Status CheckApiKeyAccess(std::string_view owner, const Principal& by) const;
  Status SetDisabled(std::string_view name, bool disabled, const Principal& by);
  Result<std::optional<KeyRow>> ReadKey(std::string_view id);
  Result<std::optional<SessionRow>> ReadSession(std::string_view id_hash);
  // Audits an unauthenticated attempt (actor "anonymous") through the writer without waiting
  // for the commit.
  void AuditFailureAsync(std::string object, std::string action, std::string details);
  // Runs the KDF against a fixed hash, so that unknown users take as long as known ones.
  void BurnPasswordCheck(std::string_view password);
  Result<Session> RecordLoginSuccess(int64_t user_id, std::string_view name, Role role,
                                     const std::string& verified_hash,
                                     std::string_view remote_address, TimePoint now);
  // kResourceExhausted if `name` is locked for `remote_address` or everywhere (`user_locked_until`
  // from the users table; for an unknown name, the in-memory count). Ok otherwise.
  Status CheckLoginLocks(std::string_view name, std::string_view remote_address, bool found,
                         int64_t user_locked_until, int64_t now_s);
  // Records a failed login (audited as "login.failure"). With `counts`, it counts towards the
  // locks of (name, address) and of the name: in the users table with `user_id`, in memory
  // for a name that does not exist. `name` is "" for an invalid name (never counted).
  Status RecordLoginFailure(std::optional<int64_t> user_id, std::string_view name,
                            std::string object, std::string_view reason,
                            std::string_view remote_address, TimePoint now, bool counts);
  LockoutRule AddressRule() const;
  LockoutRule UserRule() const;

  sqlite::Writer& writer_;
  sqlite::ReaderPool& readers_;
  const Clock& clock_;
  const AuthPolicy policy_;
  const PasswordHasher hasher_;
  RateLimiter key_failures_;  // per client address
  // Failed logins per "<name>\n<address>" (every name), and per name for names that do not
  // exist (kept like real users' count in the users table, so that 429 vs 401 tells nothing).
  FailureCounter address_failures_;
  FailureCounter phantom_failures_;
  std::mutex suppressed_mu_;
  // Failed API keys refused without an audit record since the last record, per address.
  std::unordered_map<std::string, int64_t> suppressed_;  // guarded by suppressed_mu_
  KeyedMutex login_locks_;
  std::once_flag dummy_hash_once_;
  std::string dummy_hash_;  // written once under dummy_hash_once_
};

}  // namespace outpost::server::auth
