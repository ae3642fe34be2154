// TokenStore over a temporary database with the real migrations and the fake clock.

#include "server/licensing/tokens.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "common/time.h"
#include "server/auth/secrets.h"
#include "server/licensing/core/types.h"
#include "tests/unit/server/auth/auth_test_util.h"

namespace outpost::server::licensing {
namespace {

using auth::Role;

class TokenStoreTest : public auth::testing::AuthStoreTest {
 protected:
  void SetUp() override {
    AuthStoreTest::SetUp();
    tokens_ = std::make_unique<TokenStore>(*writer_, *readers_, clock_, TokenPolicy{30, 365});
  }
  void TearDown() override {
    tokens_.reset();
    AuthStoreTest::TearDown();
  }

  CreatedToken CreateOrDie(TokenRequest request) {
    auto created = tokens_->Create(request, Oscar());
    EXPECT_OK(created);
    return created.ok() ? *created : CreatedToken{};
  }

  // Everything a bad input must leave alone: token rows, their use counts and revocations, and
  // the audit trail.
  std::string Snapshot() {
    return std::to_string(QueryInt("SELECT count(*) FROM tokens")) + "/" +
           std::to_string(QueryInt("SELECT coalesce(sum(uses), 0) FROM tokens")) + "/" +
           std::to_string(QueryInt("SELECT count(revoked_at) FROM tokens")) + "/" +
           std::to_string(QueryInt("SELECT count(*) FROM audit_log"));
  }

  static void ExpectError(const Status& status, Errc code, const std::string& fragment) {
    EXPECT_EQ(status.code(), code) << status.ToString();
    EXPECT_NE(status.message().find(fragment), std::string::npos) << status.ToString();
  }

  std::unique_ptr<TokenStore> tokens_;
};

TEST_F(TokenStoreTest, CreateListRevoke) {
  CreatedToken a = CreateOrDie({"branch-east", 10, 3, "lab rack 4", true});
  CreatedToken b = CreateOrDie({"branch-west", std::nullopt, std::nullopt, "", false});
  EXPECT_TRUE(a.token.starts_with("opt_" + a.record.id + "_")) << a.token;
  EXPECT_EQ(a.token.size(), auth::kBearerChars);
  EXPECT_EQ(a.record.prefix, "opt_" + a.record.id);
  EXPECT_EQ(a.record.expires_at, a.record.created_at + std::chrono::days(10));
  EXPECT_EQ(b.record.expires_at, b.record.created_at + std::chrono::days(30));  // policy default
  EXPECT_EQ(a.record.created_by, "user:oscar");

  auto all = tokens_->List(std::nullopt, Root());
  ASSERT_OK(all);
  ASSERT_EQ(all->size(), 2u);
  auto east = tokens_->List("branch-east", Oscar());
  ASSERT_OK(east);
  ASSERT_EQ(east->size(), 1u);
  const Token& listed = (*east)[0];
  EXPECT_EQ(listed.id, a.record.id);
  EXPECT_EQ(listed.max_uses, std::optional<int64_t>(3));
  EXPECT_EQ(listed.uses, 0);
  EXPECT_TRUE(listed.export_controlled);
  EXPECT_EQ(listed.description, "lab rack 4");
  EXPECT_EQ(listed.StateAt(clock_.Now()), TokenState::kActive);
  EXPECT_FALSE((*all)[0].max_uses.has_value() && (*all)[1].max_uses.has_value());

  auto revoked = tokens_->Revoke(a.record.id, Root());
  ASSERT_OK(revoked);
  EXPECT_EQ(revoked->StateAt(clock_.Now()), TokenState::kRevoked);
  EXPECT_EQ(revoked->revoked_by, "user:root");
  const std::string before = Snapshot();
  ExpectError(tokens_->Revoke(a.record.id, Root()).status(), Errc::kFailedPrecondition,
              "already revoked");
  ExpectError(tokens_->Revoke("0123456789ab", Root()).status(), Errc::kNotFound, "no token");
  ExpectError(tokens_->Revoke("not-an-id", Root()).status(), Errc::kInvalidArgument, "12 hex");
  EXPECT_EQ(Snapshot(), before);

  ASSERT_EQ(AuditRowsWithAction("token.create").size(), 2u);
  const auto revokes = AuditRowsWithAction("token.revoke");
  ASSERT_EQ(revokes.size(), 1u);
  EXPECT_EQ(revokes[0].object, "token:" + a.record.id);
  EXPECT_EQ(revokes[0].actor, "user:root");
}

TEST_F(TokenStoreTest, AuditorMayNotManageTokens) {
  const std::string before = Snapshot();
  ExpectError(tokens_->Create({"va1", 1, std::nullopt, "", false}, Alice()).status(),
              Errc::kPermissionDenied, "auditor");
  ExpectError(tokens_->List(std::nullopt, Alice()).status(), Errc::kPermissionDenied, "auditor");
  EXPECT_EQ(Snapshot(), before);
}

TEST_F(TokenStoreTest, BadCreateInputsChangeNothing) {
  const std::string before = Snapshot();
  ExpectError(tokens_->Create({"va1", 0, std::nullopt, "", false}, Oscar()).status(),
              Errc::kInvalidArgument, "1 to 365 days");
  ExpectError(tokens_->Create({"va1", 366, std::nullopt, "", false}, Oscar()).status(),
              Errc::kInvalidArgument, "not 366");
  ExpectError(tokens_->Create({"va1", 30, 0, "", false}, Oscar()).status(), Errc::kInvalidArgument,
              "at least 1");
  ExpectError(tokens_->Create({"va1", 30, -5, "", false}, Oscar()).status(), Errc::kInvalidArgument,
              "at least 1");
  ExpectError(tokens_->Create({"bad va!", 30, std::nullopt, "", false}, Oscar()).status(),
              Errc::kInvalidArgument, "bad va!");
  ExpectError(tokens_->Create({"", 30, std::nullopt, "", false}, Oscar()).status(),
              Errc::kInvalidArgument, "virtual account name");
  ExpectError(
      tokens_->Create({"va1", 30, std::nullopt, std::string(257, 'x'), false}, Oscar()).status(),
      Errc::kInvalidArgument, "256 bytes");
  ExpectError(tokens_->Create({"va1", 30, std::nullopt, "two\nlines", false}, Oscar()).status(),
              Errc::kInvalidArgument, "control characters");
  ExpectError(tokens_->List("bad va!", Oscar()).status(), Errc::kInvalidArgument, "bad va!");
  EXPECT_EQ(Snapshot(), before);
}

TEST_F(TokenStoreTest, ExpiryLimitFollowsPolicy) {
  TokenStore strict(*writer_, *readers_, clock_, TokenPolicy{7, 14});
  ExpectError(strict.Create({"va1", 15, std::nullopt, "", false}, Oscar()).status(),
              Errc::kInvalidArgument, "1 to 14 days");
  auto created = strict.Create({"va1", std::nullopt, std::nullopt, "", false}, Oscar());
  ASSERT_OK(created);
  EXPECT_EQ(created->record.expires_at, created->record.created_at + std::chrono::days(7));
  ASSERT_OK(strict.Create({"va1", 14, std::nullopt, "", false}, Oscar()));
}

TEST_F(TokenStoreTest, ConsumeCountsUsesUntilUsedUp) {
  CreatedToken t = CreateOrDie({"va1", 30, 2, "", true});
  auto first = tokens_->Consume(t.token);
  ASSERT_OK(first);
  EXPECT_EQ(first->token_id, t.record.id);
  EXPECT_EQ(first->va, "va1");
  EXPECT_TRUE(first->export_controlled);
  ASSERT_OK(tokens_->Consume(t.token));
  EXPECT_EQ(QueryInt("SELECT uses FROM tokens"), 2);

  const std::string before = Snapshot();
  ExpectError(tokens_->Consume(t.token).status(), Errc::kUnauthenticated,
              "token used up (2 of 2 uses)");
  EXPECT_EQ(Snapshot(), before);
  auto listed = tokens_->List(std::nullopt, Oscar());
  ASSERT_OK(listed);
  EXPECT_EQ((*listed)[0].StateAt(clock_.Now()), TokenState::kUsedUp);

  const auto uses = AuditRowsWithAction("token.use");
  ASSERT_EQ(uses.size(), 2u);
  EXPECT_EQ(uses[0].object, "token:" + t.record.id);
}

TEST_F(TokenStoreTest, UnlimitedTokenKeepsWorking) {
  CreatedToken t = CreateOrDie({"va1", 1, std::nullopt, "", false});
  for (int i = 0; i < 5; ++i) ASSERT_OK(tokens_->Consume(t.token));
  EXPECT_EQ(QueryInt("SELECT uses FROM tokens"), 5);
}

TEST_F(TokenStoreTest, ExpiredTokenIsRefused) {
  CreatedToken t = CreateOrDie({"va1", 1, std::nullopt, "", false});
  clock_.Advance(std::chrono::hours(24) - std::chrono::seconds(1));
  ASSERT_OK(tokens_->Consume(t.token));
  clock_.Advance(std::chrono::seconds(1));
  const std::string before = Snapshot();
  ExpectError(tokens_->Consume(t.token).status(), Errc::kUnauthenticated,
              "token expired on " + FormatRfc3339(t.record.expires_at) +
                  "; create a new one with `outpost token create`");
  EXPECT_EQ(Snapshot(), before);
}

TEST_F(TokenStoreTest, RevokedTokenIsRefused) {
  CreatedToken t = CreateOrDie({"va1", 30, std::nullopt, "", false});
  ASSERT_OK(tokens_->Revoke(t.record.id, Oscar()));
  const std::string before = Snapshot();
  ExpectError(tokens_->Consume(t.token).status(), Errc::kUnauthenticated,
              "token " + t.record.id + " was revoked on ");
  ExpectError(tokens_->Consume(t.token).status(), Errc::kUnauthenticated,
              "; ask an operator for a new token (`outpost token create --va va1`)");
  EXPECT_EQ(Snapshot(), before);
}

TEST_F(TokenStoreTest, UnknownMalformedAndWrongSecretAreRefused) {
  CreatedToken t = CreateOrDie({"va1", 30, std::nullopt, "", false});
  auto other = auth::NewBearer(kTokenPrefix);
  ASSERT_OK(other);
  // The right id with another valid secret.
  const std::string wrong_secret = "opt_" + t.record.id + "_" + other->secret;
  const std::string before = Snapshot();
  ExpectError(tokens_->Consume(other->key).status(), Errc::kUnauthenticated, "unknown token");
  ExpectError(tokens_->Consume(wrong_secret).status(), Errc::kUnauthenticated, "unknown token");
  for (const std::string& bad :
       {std::string(), std::string("opt_"), t.token.substr(0, t.token.size() - 1),
        "opk_" + t.token.substr(4), t.token + "A", "opt_" + t.record.id + "-" + other->secret}) {
    ExpectError(tokens_->Consume(bad).status(), Errc::kUnauthenticated, "malformed token");
  }
  EXPECT_EQ(Snapshot(), before);
  EXPECT_EQ(QueryInt("SELECT uses FROM tokens"), 0);
}

TEST_F(TokenStoreTest, SecretIsNeverStoredNorAudited) {
  CreatedToken t = CreateOrDie({"va1", 30, 5, "my token", false});
  ASSERT_OK(tokens_->Consume(t.token));
  ASSERT_OK(tokens_->Revoke(t.record.id, Oscar()));
  const std::string secret = t.token.substr(4 + auth::kBearerIdChars + 1);
  ASSERT_EQ(secret.size(), auth::kBearerSecretChars);
  const std::string bytes = DatabaseBytes();
  EXPECT_NE(bytes.find(t.record.id), std::string::npos);  // the scan does see the rows
  EXPECT_EQ(bytes.find(secret), std::string::npos);
  EXPECT_EQ(bytes.find(secret.substr(0, 16)), std::string::npos);
  for (const auto& row : AuditRows()) {
    EXPECT_EQ(row.All().find(secret.substr(0, 16)), std::string::npos) << row.All();
  }
}

}  // namespace
}  // namespace outpost::server::licensing
