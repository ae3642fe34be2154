#include "server/licensing/core/types.h"

#include <gtest/gtest.h>

#include <string>

#include "server/licensing/core/authorization.h"
#include "tests/testing/test_util.h"

namespace outpost::server::licensing {
namespace {

void ExpectInvalid(const Status& s, const std::string& message) {
  EXPECT_EQ(s.code(), Errc::kInvalidArgument) << s.ToString();
  EXPECT_NE(s.message().find(message), std::string::npos) << s.message();
}

TEST(UdiTest, ParsesProductIdAndSerial) {
  auto udi = ParseUdi("C9300-24T:FOC2231X0AB");
  ASSERT_OK(udi);
  EXPECT_EQ(udi->pid, "C9300-24T");
  EXPECT_EQ(udi->serial, "FOC2231X0AB");
  EXPECT_EQ(udi->ToString(), "C9300-24T:FOC2231X0AB");
  ASSERT_OK(ParseUdi("a.b_c:1"));
}

TEST(UdiTest, MalformedUdisAreRefusedWithClearErrors) {
  ExpectInvalid(ParseUdi("C9300").status(), "expected PID:SN");
  ExpectInvalid(ParseUdi("a:b:c").status(), "exactly one ':'");
  ExpectInvalid(ParseUdi(":SN").status(), "UDI product id is empty");
  ExpectInvalid(ParseUdi("PID:").status(), "UDI serial number is empty");
  ExpectInvalid(ParseUdi("PID:S N").status(), "UDI serial number 'S N' contains ' '");
  ExpectInvalid(ParseUdi("P/D:SN").status(), "contains '/'");
  ExpectInvalid(ParseUdi("PID:" + std::string(65, 'x')).status(), "65 characters long");
  ASSERT_OK(ParseUdi("PID:" + std::string(64, 'x')));
  ExpectInvalid(ParseUdi(std::string("P\nD:SN")).status(), "contains '\\x0a'");
}

TEST(NameTest, TagsVaNamesAndInstanceIdsAreChecked) {
  EXPECT_OK(ValidateTag("regid.2026-01.com.example.fw.base"));
  EXPECT_OK(ValidateTag("urn:tag:1"));
  ExpectInvalid(ValidateTag(""), "license tag is empty");
  ExpectInvalid(ValidateTag("-x"), "must start with a letter or digit");
  ExpectInvalid(ValidateTag(std::string(129, 'a')), "at most 128");
  ExpectInvalid(ValidateTag("a'b"), "contains '\\x27'");
  EXPECT_OK(ValidateVaName("branch-east"));
  ExpectInvalid(ValidateVaName("branch east"), "virtual account name 'branch east'");
  EXPECT_OK(ValidateInstanceId("3f2b8c1e-2d4a-4b7e-9a51-0c6f1e2d3a4b"));
  ExpectInvalid(ValidateInstanceId(""), "instance id is empty");
}

TEST(NameTest, CountsMustBeBetweenOneAndAMillion) {
  EXPECT_OK(ValidateCount(1, "count"));
  EXPECT_OK(ValidateCount(kMaxCount, "count"));
  ExpectInvalid(ValidateCount(0, "count"), "count is 0");
  ExpectInvalid(ValidateCount(-5, "count"), "count is -5");
  ExpectInvalid(ValidateCount(kMaxCount + 1, "count"), "between 1 and 1000000");
}

TEST(NameTest, QuoteTruncatesAndEscapes) {
  EXPECT_EQ(Quote("abc"), "'abc'");
  EXPECT_EQ(Quote(std::string("a\x01")), "'a\\x01'");
  EXPECT_EQ(Quote(std::string(100, 'x')), "'" + std::string(64, 'x') + "...'");
}

TEST(PolicyTest, DefaultsAreThoseOfTheDesign) {
  const AuthorizationPolicy policy;
  EXPECT_EQ(policy.validity, std::chrono::hours(24 * 90));
  EXPECT_EQ(policy.renewal, std::chrono::hours(24 * 30));
  EXPECT_EQ(policy.floating_lease, std::chrono::minutes(15));
  EXPECT_OK(policy.Validate());
}

TEST(PolicyTest, InconsistentPoliciesAreRefused) {
  AuthorizationPolicy renewal_too_late;
  renewal_too_late.renewal = renewal_too_late.validity;
  ExpectInvalid(renewal_too_late.Validate(), "shorter than the validity");
  AuthorizationPolicy short_lease;
  short_lease.floating_lease = std::chrono::seconds(59);
  ExpectInvalid(short_lease.Validate(), "at least 1 minute");
}

TEST(NameTest, EnforcementNames) {
  EXPECT_EQ(EnforcementName(Enforcement::kReported), "REPORTED");
  EXPECT_EQ(EnforcementName(Enforcement::kEnforced), "ENFORCED");
}

}  // namespace
}  // namespace outpost::server::licensing
