#include "common/status.h"

#include <gtest/gtest.h>

#include "tests/testing/test_util.h"

namespace outpost {
namespace {

Result<int> ParsePositive(int x) {
  if (x <= 0) return InvalidArgument("x must be positive, got " + std::to_string(x));
  return x;
}

Status UsesReturnIfError(int x) {
  OUTPOST_RETURN_IF_ERROR(ParsePositive(x));
  return Status::Ok();
}

Result<int> UsesAssignOrReturn(int x) {
  OUTPOST_ASSIGN_OR_RETURN(int v, ParsePositive(x));
  return v * 2;
}

TEST(StatusTest, EveryCodeHasAReasonAndAnHttpStatus) {
  for (int i = 0; i <= static_cast<int>(Errc::kDeadlineExceeded); ++i) {
    const auto code = static_cast<Errc>(i);
    EXPECT_FALSE(ReasonFor(code).empty());
    EXPECT_GE(HttpStatusFor(code), 200);
    EXPECT_LT(HttpStatusFor(code), 600);
  }
  EXPECT_EQ(HttpStatusFor(Errc::kPayloadTooLarge), 413);
  EXPECT_EQ(HttpStatusFor(Errc::kUnsupportedMediaType), 415);
  EXPECT_EQ(HttpStatusFor(Errc::kUnauthenticated), 401);
  EXPECT_EQ(HttpStatusFor(Errc::kPermissionDenied), 403);
  EXPECT_EQ(ReasonFor(Errc::kInvalidArgument), "invalid_argument");
}

TEST(StatusTest, WithContextPrefixesMessageAndKeepsCode) {
  Status s = NotFound("no such file").WithContext("reading outpost.toml");
  EXPECT_EQ(s.code(), Errc::kNotFound);
  EXPECT_EQ(s.message(), "reading outpost.toml: no such file");
  EXPECT_TRUE(Status::Ok().WithContext("x").ok());
}

TEST(ResultTest, CarriesValueOrError) {
  Result<int> good = ParsePositive(3);
  ASSERT_OK(good);
  EXPECT_EQ(*good, 3);
  Result<int> bad = ParsePositive(-1);
  EXPECT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), Errc::kInvalidArgument);
  EXPECT_EQ(bad.status().message(), "x must be positive, got -1");
}

TEST(ResultTest, MacrosPropagateErrors) {
  EXPECT_OK(UsesReturnIfError(1));
  EXPECT_EQ(UsesReturnIfError(0).code(), Errc::kInvalidArgument);
  EXPECT_EQ(*UsesAssignOrReturn(4), 8);
  EXPECT_EQ(UsesAssignOrReturn(-2).status().code(), Errc::kInvalidArgument);
}

TEST(ResultDeathTest, ValueOfErrorAborts) {
  Result<int> bad = ParsePositive(0);
  EXPECT_DEATH((void)bad.value(), "");
}

}  // namespace
}  // namespace outpost
