// AuthStore: console logins, lockout, sessions, CSRF, and what reaches the audit trail.

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "server/auth/secrets.h"
#include "server/auth/store.h"
#include "server/auth/text.h"
#include "tests/unit/server/auth/auth_test_util.h"

namespace outpost::server::auth {
namespace {

using namespace std::chrono_literals;
using testing::AuditRow;
using testing::kOperatorPassword;

constexpr char kWrong[] = "not the password";

class SessionTest : public testing::AuthStoreTest {
 protected:
  void SetUp() override {
    AuthStoreTest::SetUp();
    CreateStandardUsers();
  }

  Session LoginOscar() {
    auto session = store_->Login("oscar", kOperatorPassword, "10.1.2.3");
    EXPECT_OK(session);
    return session.ok() ? *session : Session{};
  }

  Status Get(const Session& session) {
    return store_->AuthenticateSession(session.cookie, "GET", "").status();
  }
};

bool Contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

// --- Login -----------------------------------------------------------------------------------

TEST_F(SessionTest, LoginOpensASessionAndAuditsIt) {
  const TimePoint t0 = clock_.Now();
  Session session = LoginOscar();
  EXPECT_EQ(session.cookie.size(), 43u);
  EXPECT_EQ(session.csrf_token.size(), 43u);
  EXPECT_NE(session.cookie, session.csrf_token);
  EXPECT_EQ(session.expires_at, t0 + 12h);
  EXPECT_EQ(session.user, "oscar");
  EXPECT_EQ(session.role, Role::kOperator);

  auto principal = store_->AuthenticateSession(session.cookie, "GET", "");
  ASSERT_OK(principal);
  EXPECT_EQ(principal->user_name, "oscar");
  EXPECT_EQ(principal->role, Role::kOperator);
  const std::string session_id = SessionId(HashSecret(session.cookie));
  EXPECT_EQ(principal->credential, "session:" + session_id);
  EXPECT_EQ(principal->actor().ToString(), "user:oscar");
  EXPECT_EQ(principal->csrf_token, session.csrf_token);

  EXPECT_EQ(QueryInt("SELECT count(*) FROM sessions WHERE remote_address = '10.1.2.3'"), 1);
  const std::vector<AuditRow> successes = AuditRowsWithAction("login.success");
  ASSERT_EQ(successes.size(), 1u);
  EXPECT_EQ(successes[0].actor, "user:oscar");
  EXPECT_EQ(successes[0].object, "session:" + session_id);
  EXPECT_EQ(successes[0].details, R"({"remote_address":"10.1.2.3","expires_at":)" +
                                      std::to_string(ToUnixSeconds(t0 + 12h)) + "}");
}

TEST_F(SessionTest, FailedLoginsGetOneMessageAndAreAuditedWithoutThePassword) {
  ASSERT_OK(store_->CreateUser("keyonly", Role::kOperator, std::nullopt, Root()));
  struct Attempt {
    std::string user;
    std::string reason;
    std::string object;
  };
  const std::vector<Attempt> attempts = {
      {"oscar", "wrong password", "user:oscar"},
      {"nobody", "unknown user", "user:nobody"},
      {"keyonly", "no password set", "user:keyonly"},
      {"Oscar Typed A Password Here", "invalid user name", "user"},
  };
  for (const Attempt& attempt : attempts) {
    auto session = store_->Login(attempt.user, kWrong, "198.51.100.9");
    ASSERT_FALSE(session.ok()) << attempt.user;
    EXPECT_EQ(session.status().code(), Errc::kUnauthenticated);
    EXPECT_EQ(session.status().message(), "wrong user name or password");
  }
  EXPECT_EQ(QueryInt("SELECT count(*) FROM sessions"), 0);

  const std::vector<AuditRow> failures = AuditRowsWithAction("login.failure");
  ASSERT_EQ(failures.size(), attempts.size());
  for (size_t i = 0; i < attempts.size(); ++i) {
    EXPECT_EQ(failures[i].actor, "anonymous");
    EXPECT_EQ(failures[i].object, attempts[i].object);
    EXPECT_TRUE(Contains(failures[i].details, "\"reason\":\"" + attempts[i].reason + "\""))
        << failures[i].details;
    EXPECT_TRUE(Contains(failures[i].details, "198.51.100.9"));
    EXPECT_FALSE(Contains(failures[i].All(), kWrong));
    EXPECT_FALSE(Contains(failures[i].All(), "Typed A Password"));
  }
  EXPECT_TRUE(Contains(failures[0].details, R"("failed_logins":1)"));
  EXPECT_EQ(QueryInt("SELECT failed_logins FROM users WHERE name = 'oscar'"), 1);
}

constexpr char kAddressLocked[] =
    "too many failed logins for this user from this address; try again in 1 minute (logins from "
    "other addresses are not affected)";

TEST_F(SessionTest, FiveFailuresFromOneAddressLockItEvenAgainstTheRightPassword) {
  for (int i = 1; i <= 5; ++i) {
    EXPECT_EQ(store_->Login("oscar", kWrong, "10.9.9.9").status().code(), Errc::kUnauthenticated);
  }
  auto locked = store_->Login("oscar", kOperatorPassword, "10.9.9.9");
  ASSERT_FALSE(locked.ok());
  EXPECT_EQ(locked.status().code(), Errc::kResourceExhausted);
  EXPECT_EQ(locked.status().message(), kAddressLocked);
  clock_.Advance(59s);
  EXPECT_TRUE(Contains(store_->Login("oscar", kOperatorPassword, "10.9.9.9").status().message(),
                       "try again in 1 second"));
  // Refused attempts are audited but do not count as failures; the user-wide count is far from
  // its ceiling, so the user is not locked in the table.
  EXPECT_EQ(QueryInt("SELECT failed_logins FROM users WHERE name = 'oscar'"), 5);
  EXPECT_EQ(QueryInt("SELECT locked_until FROM users WHERE name = 'oscar'"), 0);
  const std::vector<AuditRow> failures = AuditRowsWithAction("login.failure");
  ASSERT_EQ(failures.size(), 7u);
  EXPECT_TRUE(Contains(failures[4].details, R"("address_failures":5,"address_locked_for_s":60)"))
      << failures[4].details;
  EXPECT_TRUE(Contains(failures[5].details, R"("reason":"locked")"));
  EXPECT_EQ(QueryInt("SELECT count(*) FROM sessions"), 0);

  clock_.Advance(1s);
  EXPECT_OK(store_->Login("oscar", kOperatorPassword, "10.9.9.9"));
  EXPECT_EQ(QueryInt("SELECT failed_logins FROM users WHERE name = 'oscar'"), 0);
  // The count starts over: one failure does not lock.
  EXPECT_EQ(store_->Login("oscar", kWrong, "10.9.9.9").status().code(), Errc::kUnauthenticated);
  EXPECT_OK(store_->Login("oscar", kOperatorPassword, "10.9.9.9"));
}

// Issue 14, finding 8: failing logins for a name from one address must not lock its owner out
// from another.
TEST_F(SessionTest, AnAttackerOnOneAddressCannotLockTheUserOutOfAnother) {
  for (int i = 0; i < 20; ++i) (void)store_->Login("root", kWrong, "203.0.113.66");
  EXPECT_EQ(store_->Login("root", testing::kAdminPassword, "203.0.113.66").status().code(),
            Errc::kResourceExhausted);
  EXPECT_OK(store_->Login("root", testing::kAdminPassword, "10.0.0.7"));
  // ... and the owner's success does not unlock the attacker's address.
  EXPECT_EQ(store_->Login("root", testing::kAdminPassword, "203.0.113.66").status().code(),
            Errc::kResourceExhausted);
}

TEST_F(SessionTest, EachFurtherFailureDoublesTheAddressLockUpToAnHour) {
  for (int i = 0; i < 5; ++i) ASSERT_FALSE(store_->Login("oscar", kWrong, "10.9.9.9").ok());
  std::vector<int64_t> locks;
  int64_t lock = 60;
  for (int failure = 6; failure <= 12; ++failure) {
    EXPECT_TRUE(Contains(store_->Login("oscar", kWrong, "10.9.9.9").status().message(),
                         "try again in " + WaitText(lock)));
    clock_.Advance(std::chrono::seconds(lock));
    ASSERT_EQ(store_->Login("oscar", kWrong, "10.9.9.9").status().code(), Errc::kUnauthenticated);
    const std::vector<AuditRow> failures = AuditRowsWithAction("login.failure");
    const std::string& details = failures.back().details;
    const size_t at = details.find("\"address_locked_for_s\":");
    ASSERT_NE(at, std::string::npos) << details;
    lock = std::stoll(details.substr(at + 23));
    locks.push_back(lock);
  }
  EXPECT_EQ(locks, (std::vector<int64_t>{120, 240, 480, 960, 1920, 3600, 3600}));
  clock_.Advance(3600s);
  EXPECT_OK(store_->Login("oscar", kOperatorPassword, "10.9.9.9"));
}

// The ceiling on guessing with many addresses: 50 consecutive failures of one name, wherever
// they come from, lock it everywhere.
TEST_F(SessionTest, FailuresFromManyAddressesTogetherLockTheUserEverywhere) {
  for (int address = 0; address < 10; ++address) {
    for (int i = 0; i < 5; ++i) {
      ASSERT_EQ(store_->Login("oscar", kWrong, "10.0.1." + std::to_string(address)).status().code(),
                Errc::kUnauthenticated);
    }
  }
  EXPECT_EQ(QueryInt("SELECT failed_logins FROM users WHERE name = 'oscar'"), 50);
  EXPECT_EQ(QueryInt("SELECT locked_until FROM users WHERE name = 'oscar'"),
            ToUnixSeconds(clock_.Now() + 60s));
  auto locked = store_->Login("oscar", kOperatorPassword, "10.0.2.1");
  EXPECT_EQ(locked.status().code(), Errc::kResourceExhausted);
  EXPECT_EQ(locked.status().message(),
            "too many failed logins for this user from several addresses; try again in 1 minute");
  EXPECT_OK(store_->Login("alice", testing::kAuditorPassword, "10.0.2.1"));
  clock_.Advance(60s);
  EXPECT_OK(store_->Login("oscar", kOperatorPassword, "10.0.2.1"));
  EXPECT_EQ(QueryInt("SELECT failed_logins FROM users WHERE name = 'oscar'"), 0);
}

TEST(WaitTextTest, LargestExactUnitWithPlurals) {
  EXPECT_EQ(WaitText(3600), "1 hour");
  EXPECT_EQ(WaitText(1920), "32 minutes");
  EXPECT_EQ(WaitText(60), "1 minute");
  EXPECT_EQ(WaitText(37), "37 seconds");
  EXPECT_EQ(WaitText(1), "1 second");
}

TEST_F(SessionTest, ParallelGuessesCannotSlipPastTheLockout) {
  constexpr int kThreads = 12;
  std::atomic<int> unauthenticated{0};
  std::atomic<int> exhausted{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&] {
      const Errc code = store_->Login("oscar", kWrong, "").status().code();
      if (code == Errc::kUnauthenticated) ++unauthenticated;
      if (code == Errc::kResourceExhausted) ++exhausted;
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(unauthenticated.load(), 5);
  EXPECT_EQ(exhausted.load(), kThreads - 5);
  EXPECT_EQ(QueryInt("SELECT failed_logins FROM users WHERE name = 'oscar'"), 5);
}

TEST_F(SessionTest, LockoutIsPerUser) {
  for (int i = 0; i < 5; ++i) ASSERT_FALSE(store_->Login("oscar", kWrong, "").ok());
  EXPECT_EQ(store_->Login("oscar", kOperatorPassword, "").status().code(),
            Errc::kResourceExhausted);
  EXPECT_OK(store_->Login("alice", testing::kAuditorPassword, ""));
}

// A name that does not exist locks out exactly like one that does (issue 14): the answers do
// not tell which user names exist, neither per address nor across addresses.
TEST_F(SessionTest, UnknownNamesLockOutLikeRealOnes) {
  std::vector<std::string> real, unknown;
  for (int address = 0; address < 11; ++address) {
    for (int i = 0; i < 6; ++i) {
      const std::string from = "192.0.2." + std::to_string(address);
      real.push_back(store_->Login("oscar", kWrong, from).status().ToString());
      unknown.push_back(store_->Login("nobody", kWrong, from).status().ToString());
    }
  }
  EXPECT_EQ(unknown, real);
  EXPECT_EQ(unknown[5], std::string("resource_exhausted: ") + kAddressLocked) << unknown[5];
  EXPECT_EQ(unknown.back(),
            "resource_exhausted: too many failed logins for this user from several addresses; "
            "try again in 1 minute");
  clock_.Advance(61s);
  EXPECT_EQ(store_->Login("nobody", kWrong, "192.0.2.200").status().code(), Errc::kUnauthenticated);
}

// --- Sessions --------------------------------------------------------------------------------

TEST_F(SessionTest, IdleSessionExpiresAfterThirtyMinutes) {
  Session session = LoginOscar();
  clock_.Advance(29min + 59s);
  ASSERT_OK(Get(session));
  Flush();  // the activity is recorded in the background
  clock_.Advance(29min + 59s);
  ASSERT_OK(Get(session));  // the activity restarted the idle timer
  Flush();
  clock_.Advance(30min);
  Status expired = Get(session);
  EXPECT_EQ(expired.code(), Errc::kUnauthenticated);
  EXPECT_EQ(expired.message(), "console session expired; log in again");

  EXPECT_EQ(QueryInt("SELECT count(*) FROM sessions"), 0);
  const std::vector<AuditRow> expiries = AuditRowsWithAction("session.expire");
  ASSERT_EQ(expiries.size(), 1u);
  EXPECT_EQ(expiries[0].actor, "system");
  EXPECT_EQ(expiries[0].object, "session:" + SessionId(HashSecret(session.cookie)));
  EXPECT_EQ(expiries[0].details, R"({"user":"oscar","reason":"idle timeout"})");
  EXPECT_EQ(Get(session).message(), "no valid console session; log in again");
}

TEST_F(SessionTest, IdleMeansNoRequestForThirtyMinutes) {
  Session session = LoginOscar();
  clock_.Advance(30min);
  EXPECT_EQ(Get(session).code(), Errc::kUnauthenticated);
}

TEST_F(SessionTest, ActiveSessionEndsAfterTwelveHours) {
  const TimePoint t0 = clock_.Now();
  Session session = LoginOscar();
  while (clock_.Now() + 25min < t0 + 12h) {
    clock_.Advance(25min);
    ASSERT_OK(Get(session));
    Flush();
  }
  clock_.Set(t0 + 12h - 1s);
  ASSERT_OK(Get(session));
  clock_.Advance(1s);
  EXPECT_EQ(Get(session).message(), "console session expired; log in again");
  const std::vector<AuditRow> expiries = AuditRowsWithAction("session.expire");
  ASSERT_EQ(expiries.size(), 1u);
  EXPECT_EQ(expiries[0].details, R"({"user":"oscar","reason":"absolute timeout"})");
}

TEST_F(SessionTest, CsrfTokenIsRequiredForStateChangingMethodsOnly) {
  Session session = LoginOscar();
  Session other = LoginOscar();
  EXPECT_OK(store_->AuthenticateSession(session.cookie, "GET", ""));
  EXPECT_OK(store_->AuthenticateSession(session.cookie, "HEAD", "wrong"));
  int denied = 0;
  for (std::string method : {"POST", "PUT", "PATCH", "DELETE"}) {
    for (const std::string& token :
         {std::string(), std::string("wrong"), other.csrf_token, session.cookie}) {
      auto principal = store_->AuthenticateSession(session.cookie, method, token, "10.9.9.9");
      ASSERT_FALSE(principal.ok()) << method << " " << token;
      EXPECT_EQ(principal.status().code(), Errc::kPermissionDenied);
      EXPECT_TRUE(principal.status().message().starts_with("missing or wrong CSRF token"));
      ++denied;
    }
    EXPECT_OK(store_->AuthenticateSession(session.cookie, method, session.csrf_token));
  }
  const std::vector<AuditRow> failures = AuditRowsWithAction("auth.failure");
  ASSERT_EQ(failures.size(), static_cast<size_t>(denied));
  EXPECT_EQ(failures[0].object, "session:" + SessionId(HashSecret(session.cookie)));
  EXPECT_EQ(failures[0].details,
            R"({"method":"session","reason":"missing or wrong CSRF token","user":"oscar",)"
            R"("remote_address":"10.9.9.9"})");
}

TEST_F(SessionTest, UnknownOrGarbledCookiesAreUnauthenticated) {
  LoginOscar();
  auto other = NewSessionSecret();
  ASSERT_OK(other);
  for (const std::string& cookie :
       {std::string(), std::string("x"), *other, std::string(43, '!'), std::string(1000, 'a')}) {
    auto principal = store_->AuthenticateSession(cookie, "GET", "");
    ASSERT_FALSE(principal.ok());
    EXPECT_EQ(principal.status().code(), Errc::kUnauthenticated);
    EXPECT_EQ(principal.status().message(), "no valid console session; log in again");
  }
}

TEST_F(SessionTest, LogoutEndsTheSession) {
  Session session = LoginOscar();
  Session other = LoginOscar();
  ASSERT_OK(store_->Logout(session.cookie));
  EXPECT_EQ(Get(session).code(), Errc::kUnauthenticated);
  EXPECT_OK(Get(other));
  const std::vector<AuditRow> logouts = AuditRowsWithAction("logout");
  ASSERT_EQ(logouts.size(), 1u);
  EXPECT_EQ(logouts[0].actor, "user:oscar");
  EXPECT_EQ(logouts[0].object, "session:" + SessionId(HashSecret(session.cookie)));
  // Logging out twice, or with garbage, is fine and records nothing.
  EXPECT_OK(store_->Logout(session.cookie));
  EXPECT_OK(store_->Logout("garbage"));
  EXPECT_EQ(AuditRowsWithAction("logout").size(), 1u);
}

TEST_F(SessionTest, PurgeDeletesExpiredSessionsOnly) {
  Session idle = LoginOscar();
  clock_.Advance(20min);
  Session active = LoginOscar();
  clock_.Advance(15min);
  auto purged = store_->PurgeExpiredSessions();
  ASSERT_OK(purged);
  EXPECT_EQ(*purged, 1);
  EXPECT_EQ(Get(idle).message(), "no valid console session; log in again");
  EXPECT_OK(Get(active));
  EXPECT_EQ(AuditRowsWithAction("session.expire").size(), 1u);
  purged = store_->PurgeExpiredSessions();
  ASSERT_OK(purged);
  EXPECT_EQ(*purged, 0);
}

// --- Secrets never reach the audit trail ------------------------------------------------------

TEST_F(SessionTest, NoAuditRecordContainsAPasswordKeyOrCookie) {
  std::vector<std::string> secrets = {testing::kAdminPassword, kOperatorPassword,
                                      testing::kAuditorPassword, kWrong};
  ASSERT_OK(store_->CreateUser("bob", Role::kOperator, "the first of two passwords", Root()));
  ASSERT_OK(store_->SetPassword("bob", "the second of two passwords", Root()));
  secrets.insert(secrets.end(), {"the first of two passwords", "the second of two passwords"});
  auto key = store_->CreateApiKey("bob", "bob's key", Root());
  ASSERT_OK(key);
  auto parts = ParseApiKey(key->key);
  ASSERT_OK(parts);
  secrets.insert(secrets.end(), {key->key, parts->secret});
  ASSERT_OK(store_->AuthenticateApiKey(key->key));
  std::string wrong_key = key->key;
  wrong_key.back() = wrong_key.back() == 'A' ? 'E' : 'A';
  EXPECT_FALSE(store_->AuthenticateApiKey(wrong_key).ok());
  secrets.push_back(wrong_key.substr(17));
  EXPECT_FALSE(store_->Login("bob", "the first of two passwords", "").ok());
  auto session = store_->Login("bob", "the second of two passwords", "");
  ASSERT_OK(session);
  secrets.insert(secrets.end(), {session->cookie, session->csrf_token});
  EXPECT_FALSE(store_->AuthenticateSession(session->cookie, "POST", "wrong csrf value").ok());
  ASSERT_OK(store_->Logout(session->cookie));
  ASSERT_OK(store_->RevokeApiKey(key->record.id, Root()));
  ASSERT_OK(store_->DisableUser("bob", Root()));

  const std::vector<AuditRow> rows = AuditRows();
  std::set<std::string> actions;
  for (const AuditRow& row : rows) {
    actions.insert(row.action);
    for (const std::string& secret : secrets) {
      EXPECT_FALSE(Contains(row.All(), secret)) << "secret in audit record " << row.seq;
    }
    EXPECT_FALSE(Contains(row.All(), "wrong csrf value"));
  }
  EXPECT_EQ(actions, (std::set<std::string>{"user.create", "user.password", "apikey.create",
                                            "auth.failure", "login.failure", "login.success",
                                            "logout", "apikey.revoke", "user.disable"}));
  // And the session cookie is not in the database either (only its hash).
  const std::string bytes = DatabaseBytes();
  EXPECT_FALSE(Contains(bytes, session->cookie));
  EXPECT_FALSE(Contains(bytes, "the second of two passwords"));
}

// --- Changing one's own password (issue 14, finding 8) -----------------------------------------

class OwnPasswordTest : public SessionTest {
 protected:
  // Oscar as his API key authenticates him.
  Principal OscarByKey() {
    auto key = store_->CreateApiKey("oscar", "", Oscar());
    EXPECT_OK(key);
    auto principal = store_->AuthenticateApiKey(key.ok() ? key->key : "");
    EXPECT_OK(principal);
    return principal.ok() ? *principal : Principal{};
  }
};

TEST_F(OwnPasswordTest, NeedsTheCurrentPasswordAndEndsTheSessions) {
  const Principal oscar = OscarByKey();
  const Session session = LoginOscar();
  ASSERT_OK(
      store_->ChangeOwnPassword(oscar, kOperatorPassword, "a brand new passphrase", "10.1.2.3"));
  EXPECT_EQ(Get(session).code(), Errc::kUnauthenticated);
  EXPECT_FALSE(store_->Login("oscar", kOperatorPassword, "10.1.2.3").ok());
  EXPECT_OK(store_->Login("oscar", "a brand new passphrase", "10.1.2.3"));
  const std::vector<AuditRow> changes = AuditRowsWithAction("user.password");
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(changes[0].object, "user:oscar");
  EXPECT_TRUE(Contains(changes[0].actor, "(oscar)")) << changes[0].actor;
  EXPECT_EQ(changes[0].details, R"({"self":true,"sessions_ended":1})");
}

TEST_F(OwnPasswordTest, AWrongCurrentPasswordIsRefusedAndCountsAsAFailedLogin) {
  const Principal oscar = OscarByKey();
  const Status wrong =
      store_->ChangeOwnPassword(oscar, kWrong, "a brand new passphrase", "10.7.7.7");
  EXPECT_EQ(wrong.code(), Errc::kPermissionDenied);
  EXPECT_TRUE(wrong.message().starts_with("the current password is wrong; nothing was changed"))
      << wrong.message();
  EXPECT_EQ(QueryInt("SELECT failed_logins FROM users WHERE name = 'oscar'"), 1);
  const std::vector<AuditRow> failures = AuditRowsWithAction("login.failure");
  ASSERT_EQ(failures.size(), 1u);
  EXPECT_TRUE(Contains(failures[0].details, R"("reason":"wrong current password")"));
  EXPECT_FALSE(Contains(failures[0].All(), kWrong));
  // The same lock as logins: after five, even the right current password waits.
  for (int i = 0; i < 4; ++i) {
    (void)store_->ChangeOwnPassword(oscar, kWrong, "a brand new passphrase", "10.7.7.7");
  }
  EXPECT_EQ(
      store_->ChangeOwnPassword(oscar, kOperatorPassword, "a brand new passphrase", "10.7.7.7")
          .code(),
      Errc::kResourceExhausted);
  EXPECT_EQ(store_->Login("oscar", kOperatorPassword, "10.7.7.7").status().code(),
            Errc::kResourceExhausted);
  EXPECT_OK(store_->Login("oscar", kOperatorPassword, "10.1.2.3"));
  EXPECT_TRUE(AuditRowsWithAction("user.password").empty());
}

TEST_F(OwnPasswordTest, AWeakNewPasswordIsRefusedBeforeTheCurrentOneIsTried) {
  const Principal oscar = OscarByKey();
  const Status weak = store_->ChangeOwnPassword(oscar, kWrong, "oscar's password", "10.7.7.7");
  EXPECT_EQ(weak.code(), Errc::kInvalidArgument);
  EXPECT_EQ(weak.message(), "password contains the user name \"oscar\"; choose one that does not");
  EXPECT_EQ(QueryInt("SELECT failed_logins FROM users WHERE name = 'oscar'"), 0);
  EXPECT_OK(store_->Login("oscar", kOperatorPassword, ""));
}

TEST_F(OwnPasswordTest, UsersWithoutAPasswordAndTheSystemCannot) {
  ASSERT_OK(store_->CreateUser("keyonly", Role::kOperator, std::nullopt, Root()));
  auto key = store_->CreateApiKey("keyonly", "", Root());
  ASSERT_OK(key);
  auto keyonly = store_->AuthenticateApiKey(key->key);
  ASSERT_OK(keyonly);
  const Status none = store_->ChangeOwnPassword(*keyonly, "", "a brand new passphrase", "");
  EXPECT_EQ(none.code(), Errc::kFailedPrecondition);
  EXPECT_TRUE(Contains(none.message(), "has no password (API keys only)")) << none.message();
  EXPECT_EQ(store_->ChangeOwnPassword(Principal::System(), "", "a brand new passphrase", "").code(),
            Errc::kFailedPrecondition);
}

}  // namespace
}  // namespace outpost::server::auth
