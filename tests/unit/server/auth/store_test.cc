// AuthStore: users and API keys. Logins and sessions are in session_test.cc.

#include "server/auth/store.h"

#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "common/time.h"
#include "server/auth/convert.h"
#include "server/auth/secrets.h"
#include "tests/unit/server/auth/auth_test_util.h"

namespace outpost::server::auth {
namespace {

using namespace std::chrono_literals;
using testing::AuditRow;
using testing::AuthStoreTest;
using testing::kAdminPassword;

using UserTest = AuthStoreTest;
using ApiKeyTest = AuthStoreTest;

bool Contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

// --- Users -----------------------------------------------------------------------------------

TEST_F(UserTest, CreatedUserIsListedWithRoleCreatorAndPasswordFlag) {
  CreateStandardUsers();
  auto created = store_->CreateUser("bob.smith-2_x", Role::kOperator, std::nullopt, Root());
  ASSERT_OK(created);
  EXPECT_GT(created->id, 0);
  EXPECT_EQ(created->created_by, "user:root");
  EXPECT_FALSE(created->has_password);

  auto users = store_->ListUsers(Root());
  ASSERT_OK(users);
  ASSERT_EQ(users->size(), 4u);
  const User& bob = (*users)[1];  // ordered by name: alice, bob.smith-2_x, oscar, root
  EXPECT_EQ(bob.name, "bob.smith-2_x");
  EXPECT_EQ(bob.role, Role::kOperator);
  EXPECT_EQ(bob.created_by, "user:root");
  EXPECT_EQ(bob.created_at, clock_.Now());
  EXPECT_FALSE(bob.has_password);
  EXPECT_FALSE(bob.disabled);
  EXPECT_EQ((*users)[3].name, "root");
  EXPECT_TRUE((*users)[3].has_password);
  EXPECT_EQ((*users)[3].created_by, "system");

  const std::vector<AuditRow> creates = AuditRowsWithAction("user.create");
  ASSERT_EQ(creates.size(), 4u);
  EXPECT_EQ(creates[0].actor, "system");
  EXPECT_EQ(creates[0].object, "user:root");
  EXPECT_EQ(creates[0].details, R"({"role":"admin","has_password":true})");
  EXPECT_EQ(creates[3].actor, "user:root");
  EXPECT_EQ(creates[3].object, "user:bob.smith-2_x");
}

TEST_F(UserTest, DuplicateUserIsAlreadyExistsAndChangesNothing) {
  CreateStandardUsers();
  const size_t audit_before = AuditRows().size();
  auto again = store_->CreateUser("oscar", Role::kAdmin, std::nullopt, Root());
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.status().code(), Errc::kAlreadyExists);
  EXPECT_EQ(again.status().message(), "user \"oscar\" already exists; pick another name");
  EXPECT_EQ(QueryInt("SELECT count(*) FROM users"), 3);
  EXPECT_EQ(QueryInt("SELECT count(*) FROM users WHERE name = 'oscar' AND role = 'operator'"), 1);
  EXPECT_EQ(AuditRows().size(), audit_before);
}

TEST_F(UserTest, BadNamesAreInvalidArgumentAndChangeNothing) {
  for (const std::string& bad :
       {std::string(), std::string(65, 'a'), std::string("Bob"), std::string("bob smith"),
        std::string("bob/x"), std::string("bob:x"),
        std::string("b\xC3\xB6"
                    "b"),
        std::string("bob\n"), std::string("bo\0b", 4), std::string("*")}) {
    auto created = store_->CreateUser(bad, Role::kAuditor, std::nullopt, Principal::System());
    ASSERT_FALSE(created.ok()) << bad;
    EXPECT_EQ(created.status().code(), Errc::kInvalidArgument);
    EXPECT_EQ(created.status().message(),
              "invalid user name: use 1 to 64 characters from a-z, 0-9, '.', '_' and '-'");
  }
  EXPECT_EQ(QueryInt("SELECT count(*) FROM users"), 0);
  EXPECT_EQ(QueryInt("SELECT count(*) FROM audit_log"), 0);
  EXPECT_OK(
      store_->CreateUser(std::string(64, 'a'), Role::kAuditor, std::nullopt, Principal::System()));
  EXPECT_TRUE(IsValidUserName("a"));
  EXPECT_TRUE(IsValidUserName("0.9_-z"));
}

TEST_F(UserTest, WeakPasswordIsRefusedAndNoUserIsCreated) {
  auto created = store_->CreateUser("bob", Role::kAdmin, "too short", Principal::System());
  ASSERT_FALSE(created.ok());
  EXPECT_EQ(created.status().code(), Errc::kInvalidArgument);
  EXPECT_EQ(created.status().message(), "password is too short; use at least 12 characters");
  EXPECT_EQ(QueryInt("SELECT count(*) FROM users"), 0);
  EXPECT_EQ(QueryInt("SELECT count(*) FROM audit_log"), 0);
}

TEST_F(UserTest, OnlyAdminsManageUsers) {
  CreateStandardUsers();
  const size_t audit_before = AuditRows().size();
  for (const Principal& who : {Oscar(), Alice()}) {
    const std::string role(RoleName(who.role));
    auto created = store_->CreateUser("mallory", Role::kAdmin, std::nullopt, who);
    ASSERT_FALSE(created.ok());
    EXPECT_EQ(created.status().code(), Errc::kPermissionDenied);
    EXPECT_EQ(created.status().message(), "role " + role + " may not manage users; ask an admin");
    EXPECT_EQ(store_->SetPassword("root", "a new password!!", who).code(), Errc::kPermissionDenied);
    EXPECT_EQ(store_->DisableUser("root", who).code(), Errc::kPermissionDenied);
    EXPECT_EQ(store_->EnableUser("root", who).code(), Errc::kPermissionDenied);
  }
  EXPECT_EQ(QueryInt("SELECT count(*) FROM users"), 3);
  EXPECT_EQ(AuditRows().size(), audit_before);
}

TEST_F(UserTest, AuditorsListUsersAndEveryonesKeyIdsButOperatorsDoNot) {
  CreateStandardUsers();
  auto oscars = store_->CreateApiKey("oscar", "ci", Oscar());
  ASSERT_OK(oscars);
  auto users = store_->ListUsers(Alice());
  ASSERT_OK(users);
  EXPECT_EQ(users->size(), 3u);
  auto keys = store_->ListApiKeys(std::nullopt, Alice());
  ASSERT_OK(keys);
  ASSERT_EQ(keys->size(), 1u);
  EXPECT_EQ((*keys)[0].id, oscars->record.id);
  EXPECT_EQ((*keys)[0].user, "oscar");
  auto of_oscar = store_->ListApiKeys("oscar", Alice());
  ASSERT_OK(of_oscar);
  EXPECT_EQ(of_oscar->size(), 1u);
  // Read-only: the auditor still may not create or revoke others' keys.
  EXPECT_EQ(store_->CreateApiKey("oscar", "", Alice()).status().code(), Errc::kPermissionDenied);
  EXPECT_EQ(store_->RevokeApiKey(oscars->record.id, Alice()).code(), Errc::kPermissionDenied);
  auto refused = store_->ListUsers(Oscar());
  EXPECT_EQ(refused.status().code(), Errc::kPermissionDenied);
  EXPECT_EQ(refused.status().message(),
            "role operator may not list users and API keys; ask an admin or auditor");
  EXPECT_EQ(store_->ListApiKeys(std::nullopt, Oscar()).status().code(), Errc::kPermissionDenied);
}

TEST_F(UserTest, ApiKeyActorsNameTheKeysUser) {
  CreateStandardUsers();
  auto key = store_->CreateApiKey("root", "", Root());
  ASSERT_OK(key);
  auto root = store_->AuthenticateApiKey(key->key);
  ASSERT_OK(root);
  ASSERT_OK(store_->CreateUser("bob", Role::kOperator, std::nullopt, *root));
  const std::vector<AuditRow> creates = AuditRowsWithAction("user.create");
  ASSERT_EQ(creates.size(), 4u);
  EXPECT_EQ(creates[3].actor, "apikey:" + key->record.id + " (root)");
}

TEST_F(UserTest, SetPasswordReplacesItEndsSessionsAndClearsTheLock) {
  CreateStandardUsers();
  auto session = store_->Login("oscar", testing::kOperatorPassword, "10.0.0.1");
  ASSERT_OK(session);
  for (int i = 0; i < 5; ++i) {
    EXPECT_FALSE(store_->Login("oscar", "wrong password!!", "10.0.0.1").ok());
  }
  EXPECT_EQ(store_->Login("oscar", testing::kOperatorPassword, "10.0.0.1").status().code(),
            Errc::kResourceExhausted);

  ASSERT_OK(store_->SetPassword("oscar", "the new password", Root()));
  EXPECT_EQ(QueryInt("SELECT failed_logins FROM users WHERE name = 'oscar'"), 0);
  EXPECT_EQ(QueryInt("SELECT locked_until FROM users WHERE name = 'oscar'"), 0);
  EXPECT_EQ(store_->AuthenticateSession(session->cookie, "GET", "").status().code(),
            Errc::kUnauthenticated);
  EXPECT_FALSE(store_->Login("oscar", testing::kOperatorPassword, "10.0.0.1").ok());
  EXPECT_OK(store_->Login("oscar", "the new password", "10.0.0.1"));

  const std::vector<AuditRow> changes = AuditRowsWithAction("user.password");
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(changes[0].actor, "user:root");
  EXPECT_EQ(changes[0].object, "user:oscar");
  EXPECT_EQ(changes[0].details, R"({"sessions_ended":1})");
}

TEST_F(UserTest, SetPasswordErrors) {
  CreateStandardUsers();
  EXPECT_EQ(store_->SetPassword("nobody", "a long enough password", Root()).code(),
            Errc::kNotFound);
  EXPECT_EQ(store_->SetPassword("Not Valid", "a long enough password", Root()).code(),
            Errc::kNotFound);
  EXPECT_EQ(store_->SetPassword("oscar", "short", Root()).code(), Errc::kInvalidArgument);
  EXPECT_OK(store_->Login("oscar", testing::kOperatorPassword, ""));
  EXPECT_TRUE(AuditRowsWithAction("user.password").empty());
}

TEST_F(UserTest, DisabledUserCannotLogInOrUseKeysUntilEnabled) {
  CreateStandardUsers();
  auto key = store_->CreateApiKey("oscar", "ci", Oscar());
  ASSERT_OK(key);
  auto session = store_->Login("oscar", testing::kOperatorPassword, "");
  ASSERT_OK(session);

  ASSERT_OK(store_->DisableUser("oscar", Root()));
  const Status refused = store_->AuthenticateApiKey(key->key).status();
  EXPECT_EQ(refused.code(), Errc::kUnauthenticated);
  EXPECT_EQ(refused.message(), "API key " + key->record.id +
                                   " belongs to user \"oscar\", who is disabled; ask an admin to "
                                   "run `outpost user enable oscar`, or use another user's key");
  EXPECT_EQ(store_->AuthenticateSession(session->cookie, "GET", "").status().code(),
            Errc::kUnauthenticated);
  auto login = store_->Login("oscar", testing::kOperatorPassword, "");
  ASSERT_FALSE(login.ok());
  EXPECT_EQ(login.status().message(), "wrong user name or password");
  EXPECT_EQ(store_->DisableUser("oscar", Root()).code(), Errc::kFailedPrecondition);
  auto users = store_->ListUsers(Root());
  ASSERT_OK(users);
  EXPECT_TRUE((*users)[1].disabled);

  ASSERT_OK(store_->EnableUser("oscar", Root()));
  EXPECT_OK(store_->AuthenticateApiKey(key->key));
  EXPECT_OK(store_->Login("oscar", testing::kOperatorPassword, ""));
  EXPECT_EQ(store_->EnableUser("oscar", Root()).code(), Errc::kFailedPrecondition);

  ASSERT_EQ(AuditRowsWithAction("user.disable").size(), 1u);
  EXPECT_EQ(AuditRowsWithAction("user.disable")[0].details, R"({"sessions_ended":1})");
  ASSERT_EQ(AuditRowsWithAction("user.enable").size(), 1u);
  const std::vector<AuditRow> failures = AuditRowsWithAction("auth.failure");
  ASSERT_EQ(failures.size(), 1u);
  EXPECT_TRUE(Contains(failures[0].details, R"("reason":"user disabled")"));
}

TEST_F(UserTest, TheLastEnabledAdminCannotBeDisabled) {
  CreateStandardUsers();
  Status status = store_->DisableUser("root", Root());
  EXPECT_EQ(status.code(), Errc::kFailedPrecondition);
  EXPECT_EQ(status.message(),
            "\"root\" is the last enabled admin; create or enable another admin first");
  EXPECT_EQ(QueryInt("SELECT disabled FROM users WHERE name = 'root'"), 0);
  ASSERT_OK(store_->CreateUser("root2", Role::kAdmin, std::nullopt, Root()));
  EXPECT_OK(store_->DisableUser("root", Root()));
  EXPECT_EQ(store_->DisableUser("root2", Root()).code(), Errc::kFailedPrecondition);
}

// --- API keys --------------------------------------------------------------------------------

TEST_F(ApiKeyTest, CreatedKeyAuthenticatesAsItsUser) {
  CreateStandardUsers();
  auto created = store_->CreateApiKey("oscar", "laptop CLI", Oscar());
  ASSERT_OK(created);
  EXPECT_TRUE(created->key.starts_with("opk_" + created->record.id + "_"));
  EXPECT_EQ(created->record.user, "oscar");
  EXPECT_EQ(created->record.description, "laptop CLI");
  EXPECT_EQ(created->record.created_by, "user:oscar");
  EXPECT_FALSE(created->record.last_used_at.has_value());

  auto principal = store_->AuthenticateApiKey(created->key);
  ASSERT_OK(principal);
  EXPECT_EQ(principal->user_name, "oscar");
  EXPECT_EQ(principal->role, Role::kOperator);
  EXPECT_EQ(principal->credential, "apikey:" + created->record.id);
  EXPECT_EQ(principal->actor().ToString(), "apikey:" + created->record.id + " (oscar)");
  EXPECT_TRUE(principal->csrf_token.empty());
  EXPECT_EQ(principal->user_id, QueryInt("SELECT id FROM users WHERE name = 'oscar'"));

  const std::vector<AuditRow> creates = AuditRowsWithAction("apikey.create");
  ASSERT_EQ(creates.size(), 1u);
  EXPECT_EQ(creates[0].actor, "user:oscar");
  EXPECT_EQ(creates[0].object, "apikey:" + created->record.id);
  EXPECT_EQ(creates[0].details, R"({"user":"oscar","description":"laptop CLI"})");
}

TEST_F(ApiKeyTest, BadKeysAreUnauthenticatedWithOneMessageAndAuditedWithTheReason) {
  CreateStandardUsers();
  auto created = store_->CreateApiKey("oscar", "", Oscar());
  ASSERT_OK(created);
  auto revoked = store_->CreateApiKey("oscar", "", Oscar());
  ASSERT_OK(revoked);
  ASSERT_OK(store_->RevokeApiKey(revoked->record.id, Oscar()));
  auto unknown = NewApiKey();
  ASSERT_OK(unknown);
  std::string wrong_secret = created->key;
  wrong_secret[wrong_secret.size() - 10] =
      wrong_secret[wrong_secret.size() - 10] == 'a' ? 'b' : 'a';

  const std::string message = store_->AuthenticateApiKey("garbage", "192.0.2.7").status().message();
  EXPECT_TRUE(message.starts_with("invalid API key")) << message;
  for (const std::string& bad : {wrong_secret, revoked->key, unknown->key}) {
    auto principal = store_->AuthenticateApiKey(bad, "192.0.2.7");
    ASSERT_FALSE(principal.ok());
    EXPECT_EQ(principal.status().code(), Errc::kUnauthenticated);
    // A whole revoked key may learn that it was revoked; a wrong secret learns nothing.
    if (bad == revoked->key) {
      EXPECT_EQ(principal.status().message(),
                "API key " + revoked->record.id +
                    " (user \"oscar\") was revoked; create a new one with `outpost apikey "
                    "create` or ask an admin for one");
    } else {
      EXPECT_EQ(principal.status().message(), message);
    }
  }

  const std::vector<AuditRow> failures = AuditRowsWithAction("auth.failure");
  ASSERT_EQ(failures.size(), 4u);
  EXPECT_EQ(failures[0].actor, "anonymous");
  EXPECT_EQ(failures[0].object, "apikey");
  EXPECT_EQ(failures[0].details,
            R"({"method":"apikey","reason":"malformed","remote_address":"192.0.2.7"})");
  EXPECT_EQ(failures[1].object, "apikey:" + created->record.id);
  EXPECT_TRUE(Contains(failures[1].details, R"("reason":"wrong secret")"));
  EXPECT_EQ(failures[2].object, "apikey:" + revoked->record.id);
  EXPECT_TRUE(Contains(failures[2].details, R"("reason":"revoked")"));
  EXPECT_EQ(failures[3].object, "apikey:" + unknown->id);
  EXPECT_TRUE(Contains(failures[3].details, R"("reason":"unknown key")"));
  // The good key still works.
  EXPECT_OK(store_->AuthenticateApiKey(created->key));
}

// Guessing API keys (issue 14): beyond the per-address limit an address is refused without a
// lookup, and a run of refusals costs one audit record plus a count, not one record each.
TEST_F(ApiKeyTest, FailedKeysAreLimitedPerAddressAndAggregatedInTheAudit) {
  AuthPolicy policy = testing::FastPolicy();
  policy.failed_api_keys_per_minute = 3;
  store_ = std::make_unique<AuthStore>(*writer_, *readers_, clock_, policy);
  CreateStandardUsers();
  auto good = store_->CreateApiKey("oscar", "", Oscar());
  ASSERT_OK(good);
  auto unknown = NewApiKey();
  ASSERT_OK(unknown);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(store_->AuthenticateApiKey(unknown->key, "192.0.2.9").status().code(),
              Errc::kUnauthenticated);
  }
  for (int i = 0; i < 10; ++i) {
    auto limited = store_->AuthenticateApiKey(unknown->key, "192.0.2.9");
    EXPECT_EQ(limited.status().code(), Errc::kResourceExhausted);
    EXPECT_TRUE(Contains(limited.status().message(), "too many failed API keys from 192.0.2.9"))
        << limited.status().message();
  }
  // Even a good key from that address waits; another address is not affected.
  EXPECT_EQ(store_->AuthenticateApiKey(good->key, "192.0.2.9").status().code(),
            Errc::kResourceExhausted);
  EXPECT_OK(store_->AuthenticateApiKey(good->key, "192.0.2.10"));
  std::vector<AuditRow> failures = AuditRowsWithAction("auth.failure");
  ASSERT_EQ(failures.size(), 4u) << "3 failures and one record of the limit";
  EXPECT_TRUE(Contains(failures[3].details, R"("reason":"rate limited")")) << failures[3].details;

  clock_.Advance(std::chrono::seconds(20));  // one failure's worth refilled
  EXPECT_EQ(store_->AuthenticateApiKey(unknown->key, "192.0.2.9").status().code(),
            Errc::kUnauthenticated);
  failures = AuditRowsWithAction("auth.failure");
  ASSERT_EQ(failures.size(), 5u);
  // 11 refused while limited: the first was recorded, the other 10 are counted here.
  EXPECT_TRUE(Contains(failures[4].details, R"("refused_unrecorded":10)")) << failures[4].details;
}

TEST_F(ApiKeyTest, TheSecretIsStoredOnlyAsAHash) {
  CreateStandardUsers();
  auto created = store_->CreateApiKey("root", "backup job", Root());
  ASSERT_OK(created);
  auto parts = ParseApiKey(created->key);
  ASSERT_OK(parts);
  ASSERT_OK(store_->AuthenticateApiKey(created->key));

  const std::string bytes = DatabaseBytes();
  EXPECT_FALSE(Contains(bytes, parts->secret)) << "secret found in the database file";
  EXPECT_FALSE(Contains(bytes, created->key));
  EXPECT_TRUE(Contains(bytes, HashSecret(parts->secret))) << "the hash is what is stored";
  EXPECT_TRUE(Contains(bytes, "backup job"));  // the scan does see the rows
  EXPECT_EQ(QueryInt("SELECT count(*) FROM api_keys WHERE length(secret_hash) = 32"), 1);
}

TEST_F(ApiKeyTest, LastUsedIsRecordedAtMostOncePerMinute) {
  CreateStandardUsers();
  auto created = store_->CreateApiKey("alice", "", Alice());
  ASSERT_OK(created);
  const std::string id = created->record.id;
  const std::string last_used = "SELECT last_used_at FROM api_keys WHERE id = '" + id + "'";
  EXPECT_EQ(QueryInt("SELECT last_used_at IS NULL FROM api_keys WHERE id = '" + id + "'"), 1);

  const int64_t t0 = ToUnixSeconds(clock_.Now());
  ASSERT_OK(store_->AuthenticateApiKey(created->key));
  EXPECT_EQ(QueryInt(last_used), t0);

  clock_.Advance(59s);
  ASSERT_OK(store_->AuthenticateApiKey(created->key));
  EXPECT_EQ(QueryInt(last_used), t0) << "within the minute: not written again";

  clock_.Advance(1s);
  ASSERT_OK(store_->AuthenticateApiKey(created->key));
  EXPECT_EQ(QueryInt(last_used), t0 + 60);

  auto keys = store_->ListApiKeys("alice", Alice());
  ASSERT_OK(keys);
  ASSERT_EQ(keys->size(), 1u);
  ASSERT_TRUE((*keys)[0].last_used_at.has_value());
  EXPECT_EQ(ToUnixSeconds(*(*keys)[0].last_used_at), t0 + 60);
  EXPECT_TRUE(AuditRowsWithAction("auth.failure").empty());
}

TEST_F(ApiKeyTest, UsersManageTheirOwnKeysOnlyAdminsAnyonesKeys) {
  CreateStandardUsers();
  auto oscars = store_->CreateApiKey("oscar", "", Oscar());
  ASSERT_OK(oscars);
  auto alices = store_->CreateApiKey("alice", "", Alice());
  ASSERT_OK(alices);

  auto for_other = store_->CreateApiKey("alice", "", Oscar());
  ASSERT_FALSE(for_other.ok());
  EXPECT_EQ(for_other.status().code(), Errc::kPermissionDenied);
  EXPECT_EQ(for_other.status().message(),
            "role operator may not manage other users' API keys; ask an admin");
  EXPECT_EQ(store_->ListApiKeys("alice", Oscar()).status().code(), Errc::kPermissionDenied);
  EXPECT_EQ(store_->ListApiKeys(std::nullopt, Oscar()).status().code(), Errc::kPermissionDenied);
  EXPECT_EQ(store_->RevokeApiKey(alices->record.id, Oscar()).code(), Errc::kPermissionDenied);
  EXPECT_OK(store_->AuthenticateApiKey(alices->key));

  auto own = store_->ListApiKeys("oscar", Oscar());
  ASSERT_OK(own);
  ASSERT_EQ(own->size(), 1u);
  EXPECT_EQ((*own)[0].id, oscars->record.id);

  auto all = store_->ListApiKeys(std::nullopt, Root());
  ASSERT_OK(all);
  EXPECT_EQ(all->size(), 2u);
  auto for_alice = store_->CreateApiKey("alice", "made by root", Root());
  ASSERT_OK(for_alice);
  EXPECT_EQ(for_alice->record.created_by, "user:root");
  EXPECT_OK(store_->RevokeApiKey(alices->record.id, Root()));
  EXPECT_OK(store_->RevokeApiKey(oscars->record.id, Oscar()));
  EXPECT_EQ(QueryInt("SELECT count(*) FROM api_keys"), 3);
  EXPECT_EQ(QueryInt("SELECT count(*) FROM api_keys WHERE revoked_at IS NOT NULL"), 2);
}

TEST_F(ApiKeyTest, RevokeIsAuditedAndRevokedKeysStayListed) {
  CreateStandardUsers();
  auto created = store_->CreateApiKey("oscar", "old", Oscar());
  ASSERT_OK(created);
  clock_.Advance(10s);
  ASSERT_OK(store_->RevokeApiKey(created->record.id, Root()));
  auto keys = store_->ListApiKeys("oscar", Oscar());
  ASSERT_OK(keys);
  ASSERT_EQ(keys->size(), 1u);
  ASSERT_TRUE((*keys)[0].revoked_at.has_value());
  EXPECT_EQ(*(*keys)[0].revoked_at, clock_.Now());
  EXPECT_EQ(QueryInt("SELECT count(*) FROM api_keys WHERE revoked_by = 'user:root'"), 1);

  const std::vector<AuditRow> revokes = AuditRowsWithAction("apikey.revoke");
  ASSERT_EQ(revokes.size(), 1u);
  EXPECT_EQ(revokes[0].actor, "user:root");
  EXPECT_EQ(revokes[0].object, "apikey:" + created->record.id);
  EXPECT_EQ(revokes[0].details, R"({"user":"oscar"})");

  Status again = store_->RevokeApiKey(created->record.id, Root());
  EXPECT_EQ(again.code(), Errc::kFailedPrecondition);
  EXPECT_EQ(again.message(), "API key " + created->record.id + " is already revoked");
  EXPECT_EQ(store_->RevokeApiKey("0123456789ab", Root()).code(), Errc::kNotFound);
  EXPECT_EQ(store_->RevokeApiKey("not-an-id", Root()).code(), Errc::kInvalidArgument);
  EXPECT_EQ(AuditRowsWithAction("apikey.revoke").size(), 1u);
}

TEST_F(ApiKeyTest, CreateErrors) {
  CreateStandardUsers();
  EXPECT_EQ(store_->CreateApiKey("nobody", "", Root()).status().code(), Errc::kNotFound);
  EXPECT_EQ(store_->CreateApiKey("oscar", std::string(257, 'x'), Root()).status().code(),
            Errc::kInvalidArgument);
  EXPECT_EQ(store_->CreateApiKey("oscar", "line\nbreak", Root()).status().code(),
            Errc::kInvalidArgument);
  EXPECT_EQ(store_->CreateApiKey("oscar", "bad \xFF utf8", Root()).status().code(),
            Errc::kInvalidArgument);
  EXPECT_OK(store_->CreateApiKey("oscar", std::string(256, 'x'), Root()));
  ASSERT_OK(store_->CreateUser("root2", Role::kAdmin, std::nullopt, Root()));
  ASSERT_OK(store_->DisableUser("oscar", Root()));
  auto disabled = store_->CreateApiKey("oscar", "", Root());
  EXPECT_EQ(disabled.status().code(), Errc::kFailedPrecondition);
  EXPECT_EQ(QueryInt("SELECT count(*) FROM api_keys"), 1);
  EXPECT_EQ(store_->ListApiKeys("nobody", Root()).status().code(), Errc::kNotFound);
}

TEST_F(ApiKeyTest, SystemCreatesTheFirstAdminAndItsKey) {
  const Principal system = Principal::System();
  auto password = GeneratePassword();
  ASSERT_OK(password);
  ASSERT_OK(store_->CreateUser("admin", Role::kAdmin, *password, system));
  auto key = store_->CreateApiKey("admin", "outpost init", system);
  ASSERT_OK(key);
  EXPECT_EQ(key->record.created_by, "system");
  auto principal = store_->AuthenticateApiKey(key->key);
  ASSERT_OK(principal);
  EXPECT_EQ(principal->role, Role::kAdmin);
  EXPECT_OK(store_->Login("admin", *password, "127.0.0.1"));
  const std::vector<AuditRow> rows = AuditRows();
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0].actor, "system");
  EXPECT_EQ(rows[1].actor, "system");
  EXPECT_EQ(rows[1].action, "apikey.create");
  EXPECT_EQ(rows[2].action, "login.success");
}

// --- Password strength at create and reset (issue 14, finding 8) -----------------------------

TEST_F(UserTest, WeakPasswordsAreRefusedAtCreateAndResetNamingTheRule) {
  CreateStandardUsers();
  auto created = store_->CreateUser("bob", Role::kOperator, "Password2025!", Root());
  ASSERT_FALSE(created.ok());
  EXPECT_EQ(created.status().code(), Errc::kInvalidArgument);
  EXPECT_TRUE(created.status().message().starts_with("password is a commonly used password"))
      << created.status().message();
  EXPECT_EQ(
      store_->CreateUser("bob", Role::kOperator, "bob is my name!", Root()).status().message(),
      "password contains the user name \"bob\"; choose one that does not");
  EXPECT_EQ(QueryInt("SELECT count(*) FROM users WHERE name = 'bob'"), 0);

  const Status reset = store_->SetPassword("oscar", "aaaaaaaaaaaaaaaa", Root());
  EXPECT_EQ(reset.code(), Errc::kInvalidArgument);
  EXPECT_TRUE(reset.message().starts_with("password has too few different characters"));
  EXPECT_OK(store_->Login("oscar", testing::kOperatorPassword, ""));
  EXPECT_TRUE(AuditRowsWithAction("user.password").empty());
}

// The Cisco On-Prem CVE-2024-20419 class: whoever holds an admin's session must not be able to
// take the admin's account over without its password.
TEST_F(UserTest, AnAdminCannotSetTheirOwnPasswordWithoutTheCurrentOne) {
  CreateStandardUsers();
  const Status own = store_->SetPassword("root", "a different passphrase", Root());
  EXPECT_EQ(own.code(), Errc::kFailedPrecondition);
  EXPECT_TRUE(own.message().starts_with("to change your own password, give the current one too"))
      << own.message();
  EXPECT_OK(store_->Login("root", kAdminPassword, ""));
  EXPECT_TRUE(AuditRowsWithAction("user.password").empty());
}

// --- API key expiry (issue 14, finding 8) -------------------------------------------------------

TEST_F(ApiKeyTest, KeysWithAnExpiryStopWorkingThenWithAClearMessage) {
  CreateStandardUsers();
  const TimePoint expiry = FromUnixSeconds(ToUnixSeconds(clock_.Now()) + 90 * 86400);
  auto created = store_->CreateApiKey("oscar", "CI", Oscar(), expiry);
  ASSERT_OK(created);
  ASSERT_TRUE(created->record.expires_at.has_value());
  EXPECT_EQ(*created->record.expires_at, expiry);
  auto listed = store_->ListApiKeys("oscar", Oscar());
  ASSERT_OK(listed);
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ((*listed)[0].expires_at, expiry);
  EXPECT_TRUE(Contains(AuditRowsWithAction("apikey.create")[0].details,
                       "\"expires_at\":" + std::to_string(ToUnixSeconds(expiry))));

  clock_.Advance(std::chrono::hours(24 * 90) - 1s);
  EXPECT_OK(store_->AuthenticateApiKey(created->key));
  clock_.Advance(1s);
  auto expired = store_->AuthenticateApiKey(created->key);
  ASSERT_FALSE(expired.ok());
  EXPECT_EQ(expired.status().code(), Errc::kUnauthenticated);
  EXPECT_EQ(expired.status().message(), "API key " + created->record.id + " expired on " +
                                            FormatRfc3339(expiry) +
                                            "; create a new one with `outpost apikey create`");
  const std::vector<AuditRow> failures = AuditRowsWithAction("auth.failure");
  ASSERT_EQ(failures.size(), 1u);
  EXPECT_TRUE(Contains(failures[0].details, R"("reason":"expired")"));

  // Without an expiry a key never expires.
  auto forever = store_->CreateApiKey("oscar", "forever", Oscar());
  ASSERT_OK(forever);
  EXPECT_FALSE(forever->record.expires_at.has_value());
  clock_.Advance(std::chrono::hours(24 * 365 * 20));
  EXPECT_OK(store_->AuthenticateApiKey(forever->key));
}

TEST_F(ApiKeyTest, ExpiryInThePastOrBeyondTenYearsIsRefusedAndNothingIsCreated) {
  CreateStandardUsers();
  auto past = store_->CreateApiKey("oscar", "", Oscar(), clock_.Now());
  ASSERT_FALSE(past.ok());
  EXPECT_EQ(past.status().code(), Errc::kInvalidArgument);
  EXPECT_TRUE(past.status().message().starts_with(
      "API key expiry " + FormatRfc3339(FromUnixSeconds(ToUnixSeconds(clock_.Now()))) +
      " is not in the future"))
      << past.status().message();
  auto far = store_->CreateApiKey("oscar", "", Oscar(), clock_.Now() + std::chrono::days(3700));
  ASSERT_FALSE(far.ok());
  EXPECT_TRUE(Contains(far.status().message(), "is more than 10 years away"));
  EXPECT_EQ(QueryInt("SELECT count(*) FROM api_keys"), 0);
  EXPECT_TRUE(AuditRowsWithAction("apikey.create").empty());
}

// Migration 7 is additive: keys of a database written before it keep working and never expire.
TEST(ApiKeyMigrationTest, KeysOfAnOlderDatabaseKeepWorkingWithoutExpiry) {
  outpost::testing::TempDir dir;
  outpost::testing::FakeClock clock;
  const std::filesystem::path path = dir.path() / "outpost.db";
  const auto all = store::SatelliteMigrations();
  ASSERT_GE(all.size(), 7u);
  ASSERT_EQ(all[6].version, 7);
  std::string key;
  {
    auto writer = sqlite::Writer::Create(path, {}, all.first(6));
    ASSERT_OK(writer);
    auto readers = sqlite::ReaderPool::Create(path);
    ASSERT_OK(readers);
    // Written the way version 6 wrote a key: no expires_at column yet.
    std::string secret_hash;
    ASSERT_OK((*writer)->Run([&](sqlite::Connection& db) -> Status {
      OUTPOST_RETURN_IF_ERROR(db.Exec(
          "INSERT INTO users (name, role, created_at, created_by) VALUES ('old', 'admin', 0, "
          "'system')"));
      auto parts = NewApiKey();
      if (!parts.ok()) return parts.status();
      key = parts->key;
      return db
          .ExecPrepared(
              "INSERT INTO api_keys (id, user_id, secret_hash, created_at, created_by) "
              "VALUES (?1, 1, ?2, 0, 'system')",
              parts->id, sqlite::Blob{HashSecret(parts->secret)})
          .status();
    }));
  }
  auto writer = sqlite::Writer::Create(path, {}, all);
  ASSERT_OK(writer);
  auto readers = sqlite::ReaderPool::Create(path);
  ASSERT_OK(readers);
  AuthStore store(**writer, **readers, clock, testing::FastPolicy());
  auto principal = store.AuthenticateApiKey(key);
  ASSERT_OK(principal);
  EXPECT_EQ(principal->user_name, "old");
  auto keys = store.ListApiKeys(std::nullopt, Principal::System());
  ASSERT_OK(keys);
  ASSERT_EQ(keys->size(), 1u);
  EXPECT_FALSE((*keys)[0].expires_at.has_value());
}

}  // namespace
}  // namespace outpost::server::auth
