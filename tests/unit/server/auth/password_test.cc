#include "server/auth/password.h"

#include <gtest/gtest.h>

#include <cctype>
#include <set>
#include <string>

#include "tests/testing/test_util.h"

namespace outpost::server::auth {
namespace {

const PasswordHasher& FastHasher() {
  static const PasswordHasher* hasher = new PasswordHasher(ScryptParams{10, 8, 1});
  return *hasher;
}

constexpr char kPassword[] = "correct horse battery staple";

TEST(PasswordTest, HashHasThePhcFormWithTheParameters) {
  auto hash = FastHasher().Hash(kPassword);
  ASSERT_OK(hash);
  ASSERT_TRUE(hash->starts_with("$scrypt$ln=10,r=8,p=1$")) << *hash;
  // 16-byte salt and 32-byte hash, base64 without padding: 22 and 43 characters.
  const std::string rest = hash->substr(std::string("$scrypt$ln=10,r=8,p=1$").size());
  const size_t dollar = rest.find('$');
  ASSERT_NE(dollar, std::string::npos);
  EXPECT_EQ(dollar, 22u);
  EXPECT_EQ(rest.size() - dollar - 1, 43u);
  EXPECT_EQ(rest.find('='), std::string::npos) << "no base64 padding";
  EXPECT_EQ(hash->find(kPassword), std::string::npos);
}

TEST(PasswordTest, DefaultParametersAreN215R8P1) {
  const PasswordHasher hasher;
  EXPECT_EQ(hasher.params().log2_n, 15);
  EXPECT_EQ(hasher.params().r, 8u);
  EXPECT_EQ(hasher.params().p, 1u);
}

TEST(PasswordTest, RightPasswordVerifies) {
  auto hash = FastHasher().Hash(kPassword);
  ASSERT_OK(hash);
  auto match = VerifyPassword(kPassword, *hash);
  ASSERT_OK(match);
  EXPECT_TRUE(*match);
}

TEST(PasswordTest, WrongPasswordFails) {
  auto hash = FastHasher().Hash(kPassword);
  ASSERT_OK(hash);
  for (std::string wrong : {"correct horse battery stapl", "correct horse battery staple ",
                            "Correct horse battery staple", ""}) {
    auto match = VerifyPassword(wrong, *hash);
    ASSERT_OK(match);
    EXPECT_FALSE(*match) << wrong;
  }
}

TEST(PasswordTest, SaltsDifferSoEqualPasswordsHashDifferently) {
  std::set<std::string> hashes;
  std::set<std::string> salts;
  for (int i = 0; i < 5; ++i) {
    auto hash = FastHasher().Hash(kPassword);
    ASSERT_OK(hash);
    hashes.insert(*hash);
    salts.insert(hash->substr(0, hash->rfind('$')));
  }
  EXPECT_EQ(hashes.size(), 5u);
  EXPECT_EQ(salts.size(), 5u);
}

TEST(PasswordTest, VerificationReadsParametersFromTheString) {
  const PasswordHasher other(ScryptParams{11, 4, 2});
  auto hash = other.Hash(kPassword);
  ASSERT_OK(hash);
  EXPECT_TRUE(hash->starts_with("$scrypt$ln=11,r=4,p=2$"));
  auto match = VerifyPassword(kPassword, *hash);
  ASSERT_OK(match);
  EXPECT_TRUE(*match);
}

TEST(PasswordTest, TamperedHashStringFails) {
  auto hash = FastHasher().Hash(kPassword);
  ASSERT_OK(hash);
  const std::string good = *hash;

  // A changed character in the salt or the hash: well-formed, but no longer matches.
  for (size_t pos : {good.size() - 5, good.rfind('$') - 3}) {
    std::string tampered = good;
    tampered[pos] = tampered[pos] == 'A' ? 'B' : 'A';
    auto match = VerifyPassword(kPassword, tampered);
    if (match.ok()) {
      EXPECT_FALSE(*match) << tampered;
    } else {
      EXPECT_EQ(match.status().code(), Errc::kDataLoss);
    }
  }
  // Changed parameters derive a different key.
  std::string other_params = good;
  other_params.replace(other_params.find("ln=10"), 5, "ln=11");
  auto match = VerifyPassword(kPassword, other_params);
  ASSERT_OK(match);
  EXPECT_FALSE(*match);

  // Malformed strings are kDataLoss, never a match.
  const std::string tail = good.substr(good.find('$', 8));
  for (const std::string& bad :
       {std::string(""), std::string("plaintext"), "$argon2id$ln=10,r=8,p=1" + tail,
        "$scrypt$ln=10,r=8" + tail, "$scrypt$ln=10,r=8,p=1,x=1" + tail,
        "$scrypt$ln=010,r=8,p=1" + tail, "$scrypt$ln=-1,r=8,p=1" + tail,
        "$scrypt$ln=40,r=8,p=1" + tail, "$scrypt$ln=20,r=32,p=1" + tail,
        "$scrypt$ln=10,r=0,p=1" + tail, good + "$extra", good.substr(0, good.rfind('$')),
        good + "==", good + "!"}) {
    auto result = VerifyPassword(kPassword, bad);
    ASSERT_FALSE(result.ok()) << bad;
    EXPECT_EQ(result.status().code(), Errc::kDataLoss) << bad;
    EXPECT_EQ(result.status().message().find(kPassword), std::string::npos);
  }
}

TEST(PasswordTest, PolicyNeedsTwelveCharacters) {
  EXPECT_OK(CheckPasswordPolicy("abcdefghijkl"));
  Status status = CheckPasswordPolicy("abcdefghijk");
  EXPECT_EQ(status.code(), Errc::kInvalidArgument);
  EXPECT_EQ(status.message(), "password is too short; use at least 12 characters");
  EXPECT_EQ(CheckPasswordPolicy("").code(), Errc::kInvalidArgument);
  // Characters, not bytes: 11 two-byte characters are too few, 12 are enough.
  std::string umlauts;
  for (int i = 0; i < 11; ++i) umlauts += "\xC3\xA4";
  EXPECT_EQ(CheckPasswordPolicy(umlauts).code(), Errc::kInvalidArgument);
  umlauts += "\xC3\xA4";
  EXPECT_OK(CheckPasswordPolicy(umlauts));
}

TEST(PasswordTest, PolicyCapsLengthAtOneKibibyte) {
  EXPECT_OK(CheckPasswordPolicy(std::string(1024, 'x')));
  Status status = CheckPasswordPolicy(std::string(1025, 'x'));
  EXPECT_EQ(status.code(), Errc::kInvalidArgument);
  EXPECT_NE(status.message().find("longer than 1024 bytes"), std::string::npos);
}

TEST(PasswordTest, PolicyRefusesInvalidUtf8AndNul) {
  EXPECT_EQ(CheckPasswordPolicy("abcdefghijkl\xFF").code(), Errc::kInvalidArgument);
  EXPECT_EQ(CheckPasswordPolicy("abcdefghijkl\xC0\xAF").code(), Errc::kInvalidArgument);
  EXPECT_EQ(CheckPasswordPolicy(std::string("abcdef\0ghijkl", 13)).code(), Errc::kInvalidArgument);
}

TEST(PasswordTest, HashRefusesAPolicyViolation) {
  auto hash = FastHasher().Hash("short");
  ASSERT_FALSE(hash.ok());
  EXPECT_EQ(hash.status().code(), Errc::kInvalidArgument);
}

TEST(PasswordTest, HashRefusesParametersBeyondTheLimits) {
  for (ScryptParams params : {ScryptParams{0, 8, 1}, ScryptParams{21, 8, 1}, ScryptParams{20, 8, 1},
                              ScryptParams{10, 0, 1}, ScryptParams{10, 8, 17}}) {
    auto hash = PasswordHasher(params).Hash(kPassword);
    ASSERT_FALSE(hash.ok()) << params.log2_n << " " << params.r << " " << params.p;
    EXPECT_EQ(hash.status().code(), Errc::kInvalidArgument);
  }
}

TEST(PasswordTest, OverlongPasswordNeverMatches) {
  auto hash = FastHasher().Hash(kPassword);
  ASSERT_OK(hash);
  auto match = VerifyPassword(std::string(100000, 'x'), *hash);
  ASSERT_OK(match);
  EXPECT_FALSE(*match);
}

TEST(GeneratePasswordTest, TwentyFourUnambiguousCharacters) {
  std::set<std::string> seen;
  for (int i = 0; i < 50; ++i) {
    auto password = GeneratePassword();
    ASSERT_OK(password);
    EXPECT_EQ(password->size(), 24u);
    for (char c : *password) {
      EXPECT_TRUE(std::isalnum(static_cast<unsigned char>(c))) << *password;
      EXPECT_EQ(std::string("0O1lIio").find(c), std::string::npos) << *password;
    }
    EXPECT_OK(CheckPasswordPolicy(*password));
    seen.insert(*password);
  }
  EXPECT_EQ(seen.size(), 50u);
}

TEST(GeneratePasswordTest, OtherLengths) {
  auto password = GeneratePassword(40);
  ASSERT_OK(password);
  EXPECT_EQ(password->size(), 40u);
}

// --- Strength of new passwords (issue 14, finding 8) ------------------------------------------

// The message of a refused password, or "" if it is accepted.
std::string Refusal(std::string_view password, std::string_view user = "oscar") {
  const Status status = CheckPasswordStrength(password, user);
  if (status.ok()) return "";
  EXPECT_EQ(status.code(), Errc::kInvalidArgument);
  return status.message();
}

TEST(PasswordStrengthTest, StrongPasswordsPass) {
  for (const char* good : {"correct horse battery staple", "operator password 42!",
                           "Tr0ub4dor&3-lemon", "grün über straße!!", "7f3kq9vz2mxw"}) {
    EXPECT_EQ(Refusal(good), "") << good;
  }
}

TEST(PasswordStrengthTest, LengthRuleStillApplies) {
  EXPECT_EQ(Refusal("Zq7!x"), "password is too short; use at least 12 characters");
}

TEST(PasswordStrengthTest, TooFewDistinctCharactersAreRefused) {
  EXPECT_EQ(Refusal("aaaaaaaaaaaaaaaa"),
            "password has too few different characters (1); use at least 5 different ones, e.g. "
            "a few unrelated words");
  EXPECT_TRUE(Refusal("abababababab").starts_with("password has too few different characters (2)"));
  // Multi-byte characters count once each.
  EXPECT_TRUE(Refusal("ééééüüüüßßßß").starts_with("password has too few different characters (3)"));
}

TEST(PasswordStrengthTest, PasswordsContainingTheUserNameAreRefused) {
  EXPECT_EQ(Refusal("my name is Oscar, hi!"),
            "password contains the user name \"oscar\"; choose one that does not");
  EXPECT_EQ(Refusal("xx-root-is-me-42", "root"),
            "password contains the user name \"root\"; choose one that does not");
  // Names shorter than 3 characters are not looked for (they occur by chance).
  EXPECT_EQ(Refusal("a perfectly fine one", "a"), "");
}

TEST(PasswordStrengthTest, CommonPasswordsAreRefusedAlsoWithDigitsOrSymbolsAdded) {
  for (const char* common : {"password1234", "1q2w3e4r5t6y", "QweAsdZxc123"}) {
    EXPECT_TRUE(Refusal(common).starts_with("password is one of the most commonly used")) << common;
  }
  for (const char* decorated : {"Password2025!", "!!Sunshine123", "2024football!!",
                                "monkeymonkey12", "QWERTYUIOP12", "iloveyou1234"}) {
    EXPECT_TRUE(Refusal(decorated).starts_with("password is a commonly used password with "))
        << decorated;
  }
  EXPECT_TRUE(Refusal("passwordpassword").starts_with("password is one of the most commonly"));
  // The message never quotes the password or a part of it.
  EXPECT_EQ(Refusal("Password2025!").find("Password"), std::string::npos);
}

TEST(PasswordStrengthTest, RunsOfConsecutiveKeysAreRefused) {
  for (const char* run : {"abcdefghijkl", "0123456789012", "asdfghjklzxc", "lkjhgfdsapoi"}) {
    EXPECT_EQ(Refusal(run),
              "password is a run of consecutive letters, digits or keyboard keys; choose another "
              "(e.g. a few unrelated words)")
        << run;
  }
}

}  // namespace
}  // namespace outpost::server::auth
