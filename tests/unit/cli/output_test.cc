// Plurals, durations and secret arguments as every command prints and reads them.

#include "cli/output.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include "cli/input.h"
#include "common/proto_json.h"
#include "outpost/v1/audit.pb.h"
#include "tests/testing/test_util.h"

namespace outpost::cli {
namespace {

TEST(PluralTest, OneIsSingularEverythingElsePlural) {
  EXPECT_EQ(Plural(1, "device"), "1 device");
  EXPECT_EQ(Plural(2, "device"), "2 devices");
  EXPECT_EQ(Plural(0, "device"), "0 devices");
  EXPECT_EQ(Plural(-1, "day"), "-1 day");
  EXPECT_EQ(Plural(3, "entry", "entries"), "3 entries");
  EXPECT_EQ(Plural(1, "entry", "entries"), "1 entry");
}

TEST(DurationTextTest, LargestExactUnitWithPlurals) {
  EXPECT_EQ(DurationText(2'592'000), "30 days");
  EXPECT_EQ(DurationText(86'400), "1 day");
  EXPECT_EQ(DurationText(3'600), "1 hour");
  EXPECT_EQ(DurationText(129'600), "36 hours");
  EXPECT_EQ(DurationText(5'400), "90 minutes");
  EXPECT_EQ(DurationText(60), "1 minute");
  EXPECT_EQ(DurationText(45), "45 seconds");
  EXPECT_EQ(DurationText(1), "1 second");
  EXPECT_EQ(DurationText(0), "0 seconds");
  EXPECT_EQ(DurationText(-86'400), "-1 day");
  EXPECT_EQ(DurationText(INT64_MIN).front(), '-');
}

TEST(PrettyJsonTest, CombinedJsonLooksLikePrintJson) {
  v1::AuditHead head;
  head.set_seq(3);
  head.set_hash("ab");
  const std::string combined = "{\"head\": " + ToJson(head) + ", \"none\": null, \"list\": []}";
  EXPECT_EQ(PrettyJson(combined),
            "{\n \"head\": {\n  \"seq\": \"3\",\n  \"hash\": \"ab\",\n  \"time\": \"\",\n"
            "  \"time_ms\": \"0\"\n },\n \"none\": null,\n \"list\": []\n}");
  // A message alone comes out exactly as ToJson's own pretty form.
  EXPECT_EQ(PrettyJson(ToJson(head)) + "\n", ToJson(head, true));
  // Strings are copied untouched, escapes and structural characters included.
  EXPECT_EQ(PrettyJson(R"({"a":"x, {y}: \"z\""})"), "{\n \"a\": \"x, {y}: \\\"z\\\"\"\n}");
}

TEST(SecretArgumentTest, LiteralValueIsTrimmed) {
  auto secret = ReadSecretArgument("  opt_abc_def\n", "--token");
  ASSERT_OK(secret);
  EXPECT_EQ(*secret, "opt_abc_def");
}

TEST(SecretArgumentTest, AtFileReadsTheFile) {
  testing::TempDir dir;
  testing::WriteFileOrDie(dir / "token", "opt_abc_def\n");
  auto secret = ReadSecretArgument("@" + (dir / "token").string(), "--token");
  ASSERT_OK(secret);
  EXPECT_EQ(*secret, "opt_abc_def");
}

TEST(SecretArgumentTest, BadValuesNameTheFlagAndSayWhatIsWrong) {
  testing::TempDir dir;
  auto missing = ReadSecretArgument("@" + (dir / "nope").string(), "--token");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("--token @"), std::string::npos)
      << missing.status().message();
  EXPECT_NE(missing.status().message().find("nope"), std::string::npos);

  auto no_name = ReadSecretArgument("@", "--token");
  EXPECT_EQ(no_name.status().code(), Errc::kInvalidArgument);
  EXPECT_NE(no_name.status().message().find("file name"), std::string::npos);

  testing::WriteFileOrDie(dir / "empty", " \n");
  auto empty = ReadSecretArgument("@" + (dir / "empty").string(), "--api-key");
  EXPECT_EQ(empty.status().code(), Errc::kInvalidArgument);
  EXPECT_NE(empty.status().message().find("is empty"), std::string::npos);

  testing::WriteFileOrDie(dir / "two", "opt_a\nopt_b\n");
  auto two = ReadSecretArgument("@" + (dir / "two").string(), "--token");
  EXPECT_EQ(two.status().code(), Errc::kInvalidArgument);
  EXPECT_NE(two.status().message().find("more than one line"), std::string::npos);
}

}  // namespace
}  // namespace outpost::cli
