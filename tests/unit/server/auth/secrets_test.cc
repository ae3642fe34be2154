#include "server/auth/secrets.h"

#include <gtest/gtest.h>

#include <regex>
#include <set>
#include <string>

#include "common/crypto/hash.h"
#include "tests/testing/test_util.h"

namespace outpost::server::auth {
namespace {

TEST(ApiKeySecretTest, NewKeyHasTheDocumentedForm) {
  auto key = NewApiKey();
  ASSERT_OK(key);
  EXPECT_TRUE(std::regex_match(key->key, std::regex("opk_[0-9a-f]{12}_[A-Za-z0-9_-]{43}")))
      << key->key;
  EXPECT_EQ(key->key, "opk_" + key->id + "_" + key->secret);
  EXPECT_TRUE(IsApiKeyId(key->id));
}

TEST(ApiKeySecretTest, KeysAreUnique) {
  std::set<std::string> ids;
  std::set<std::string> secrets;
  for (int i = 0; i < 100; ++i) {
    auto key = NewApiKey();
    ASSERT_OK(key);
    ids.insert(key->id);
    secrets.insert(key->secret);
  }
  EXPECT_EQ(ids.size(), 100u);
  EXPECT_EQ(secrets.size(), 100u);
}

TEST(ApiKeySecretTest, ParseRoundTrips) {
  auto key = NewApiKey();
  ASSERT_OK(key);
  auto parsed = ParseApiKey(key->key);
  ASSERT_OK(parsed);
  EXPECT_EQ(parsed->id, key->id);
  EXPECT_EQ(parsed->secret, key->secret);
}

TEST(ApiKeySecretTest, MalformedKeysAreRefusedWithoutEchoingThem) {
  auto key = NewApiKey();
  ASSERT_OK(key);
  const std::string good = key->key;
  std::string upper_id = good;
  upper_id[4] = 'A';
  // 43 characters carry 258 bits for 256: the last one's low 2 bits must be zero ('B' is 1).
  std::string non_canonical = good;
  non_canonical.back() = 'B';
  std::string bad_separator = good;
  bad_separator[16] = '-';
  for (const std::string& bad :
       {std::string(""), std::string("opk_"), good.substr(1), "x" + good, good + "A",
        good.substr(0, good.size() - 1), "OPK_" + good.substr(4), upper_id, bad_separator,
        good.substr(0, 17) + std::string(43, '+'), good.substr(0, 17) + std::string(43, '='),
        non_canonical}) {
    auto parsed = ParseApiKey(bad);
    ASSERT_FALSE(parsed.ok()) << bad;
    EXPECT_EQ(parsed.status().code(), Errc::kInvalidArgument);
    EXPECT_TRUE(parsed.status().message().starts_with("malformed API key"));
    if (bad.size() > 20) {
      EXPECT_EQ(parsed.status().message().find(bad), std::string::npos);
    }
  }
}

TEST(ApiKeySecretTest, HashIsSha256AndMatchesInConstantTime) {
  const std::string hash = HashSecret("secret");
  EXPECT_EQ(hash, crypto::Sha256("secret"));
  EXPECT_EQ(hash.size(), 32u);
  EXPECT_TRUE(SecretMatches("secret", hash));
  EXPECT_FALSE(SecretMatches("secreT", hash));
  EXPECT_FALSE(SecretMatches("secret", hash.substr(1)));
}

TEST(SessionSecretTest, ThirtyTwoRandomBytesAsBase64Url) {
  auto a = NewSessionSecret();
  auto b = NewSessionSecret();
  ASSERT_OK(a);
  ASSERT_OK(b);
  EXPECT_TRUE(std::regex_match(*a, std::regex("[A-Za-z0-9_-]{43}"))) << *a;
  EXPECT_NE(*a, *b);
}

TEST(SessionSecretTest, SessionIdIsAPrefixOfTheHashNotTheCookie) {
  const std::string id = SessionId(HashSecret("cookie"));
  EXPECT_EQ(id.size(), 12u);
  EXPECT_EQ(id, crypto::Sha256Hex("cookie").substr(0, 12));
}

}  // namespace
}  // namespace outpost::server::auth
