#include "sync/bundle/armor.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <string>

#include "tests/testing/test_util.h"
#include "tests/unit/sync/bundle/bundle_test_util.h"

namespace outpost::sync {
namespace {

using namespace outpost::sync::testing;  // NOLINT: test helpers
using outpost::testing::ReadFileOrDie;
using outpost::testing::TempDir;
using outpost::testing::WriteFileOrDie;

bool Contains(const Status& status, std::string_view text) {
  return status.message().find(text) != std::string::npos;
}

SignedBundle Response() { return SignBundle(ResponsePayload(), CentralKey()).value(); }
SignedBundle Request() { return SignBundle(RequestPayload(), SatelliteKey()).value(); }

std::string ReplaceAll(std::string text, std::string_view from, std::string_view to) {
  for (size_t at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size())) {
    text.replace(at, from.size(), to);
  }
  return text;
}

TEST(ArmorTest, ArmoredTextHasLabelledLinesOf64Base64Characters) {
  const std::string text = Armor(Request(), v1::BUNDLE_KIND_SYNC_REQUEST);
  EXPECT_TRUE(text.starts_with("-----BEGIN OUTPOST SYNC REQUEST-----\n"));
  EXPECT_TRUE(text.ends_with("\n-----END OUTPOST SYNC REQUEST-----\n"));
  size_t lines = 0;
  size_t start = text.find('\n') + 1;
  const size_t end = text.rfind("-----END");
  for (size_t nl = text.find('\n', start); nl < end; start = nl + 1, nl = text.find('\n', start)) {
    EXPECT_LE(nl - start, 64u);
    ++lines;
  }
  EXPECT_GT(lines, 2u);
  EXPECT_TRUE(Armor(Response(), v1::BUNDLE_KIND_SYNC_RESPONSE)
                  .starts_with("-----BEGIN OUTPOST SYNC RESPONSE-----\n"));
  const crypto::PrivateKey central = CentralKey();
  EXPECT_TRUE(Armor(*SignBundle(EnrollmentPayload(central.public_key()), central),
                    v1::BUNDLE_KIND_ENROLLMENT)
                  .starts_with("-----BEGIN OUTPOST ENROLLMENT-----\n"));
}

TEST(ArmorTest, ArmoredBundleRoundTripsToTheSameBytes) {
  const SignedBundle bundle = Response();
  Result<SignedBundle> back = Dearmor(Armor(bundle, v1::BUNDLE_KIND_SYNC_RESPONSE));
  ASSERT_OK(back);
  EXPECT_EQ(SerializeBundle(*back), SerializeBundle(bundle));
  EXPECT_OK(OpenBundle(*back, v1::BUNDLE_KIND_SYNC_RESPONSE, CentralKey().public_key()));
}

TEST(ArmorTest, CrlfLineEndingsAndSurroundingWhitespaceAreAccepted) {
  const SignedBundle bundle = Response();
  std::string text = Armor(bundle, v1::BUNDLE_KIND_SYNC_RESPONSE);
  text = ReplaceAll(text, "\n", "  \t\r\n");  // trailing whitespace and CRLF on every line
  text = "\xEF\xBB\xBF\r\n\r\n   " + text + "\r\n \r\n";  // BOM, blank lines, indentation
  ASSERT_TRUE(LooksArmored(text));
  Result<SignedBundle> back = Dearmor(text);
  ASSERT_OK(back);
  EXPECT_EQ(SerializeBundle(*back), SerializeBundle(bundle));
}

TEST(ArmorTest, RewrappedBase64IsAccepted) {
  const SignedBundle bundle = Response();
  const std::string text = Armor(bundle, v1::BUNDLE_KIND_SYNC_RESPONSE);
  const size_t body_start = text.find('\n') + 1;
  const size_t body_end = text.rfind("-----END");
  std::string body = ReplaceAll(text.substr(body_start, body_end - body_start), "\n", "");
  // One long line, then lines of 10 with blank lines between.
  const std::string one_line = text.substr(0, body_start) + body + "\n" + text.substr(body_end);
  ASSERT_OK(Dearmor(one_line));
  std::string short_lines;
  for (size_t i = 0; i < body.size(); i += 10) short_lines += body.substr(i, 10) + "\n\n";
  ASSERT_OK(Dearmor(text.substr(0, body_start) + short_lines + text.substr(body_end)));
}

TEST(ArmorTest, MalformedArmorIsRefusedSayingWhatIsWrong) {
  const std::string text = Armor(Response(), v1::BUNDLE_KIND_SYNC_RESPONSE);
  const size_t end_line = text.rfind("-----END");
  struct Case {
    std::string name;
    std::string text;
    std::string says;
  };
  const Case cases[] = {
      {"no END line", text.substr(0, end_line), "(truncated or garbled: no END line)"},
      {"cut in the middle", text.substr(0, end_line / 2), "no END line"},
      {"END of another kind",
       ReplaceAll(text, "END OUTPOST SYNC RESPONSE", "END OUTPOST SYNC REQUEST"),
       "it begins as SYNC RESPONSE but ends as SYNC REQUEST"},
      {"unknown label", ReplaceAll(text, "OUTPOST SYNC RESPONSE", "OUTPOST LICENSE"),
       "line 1 is not an OUTPOST BEGIN line: '-----BEGIN OUTPOST LICENSE-----'"},
      {"another product's armor", ReplaceAll(text, "OUTPOST SYNC RESPONSE", "PGP MESSAGE"),
       "line 1 is not an OUTPOST BEGIN line"},
      {"text after END", text + "Sent from my phone\n", "text after the END line, at line "},
      {"bad base64", ReplaceAll(text, "\nCr", "\nC*"), "bad base64 between BEGIN and END"},
      {"stray dashes in the body", ReplaceAll(text, "\nCr", "\n-----Cr"),
       "is not an OUTPOST END line"},
      {"label of another kind", ReplaceAll(text, "OUTPOST SYNC RESPONSE", "OUTPOST SYNC REQUEST"),
       "it is armored as SYNC REQUEST but holds a bundle of kind SYNC RESPONSE"},
  };
  for (const Case& c : cases) {
    Result<SignedBundle> bundle = Dearmor(c.text, "pasted.txt");
    ASSERT_FALSE(bundle.ok()) << c.name;
    EXPECT_EQ(bundle.status().code(), Errc::kInvalidArgument) << c.name;
    EXPECT_TRUE(Contains(bundle.status(), "pasted.txt is not an Outpost bundle")) << c.name;
    EXPECT_TRUE(Contains(bundle.status(), c.says)) << c.name << ": " << bundle.status().ToString();
  }
}

TEST(ArmorTest, ArmoredTextAboveTheLimitIsRefusedBeforeDecoding) {
  const SignedBundle bundle = Response();
  const size_t size = SerializeBundle(bundle).size();
  const std::string text = Armor(bundle, v1::BUNDLE_KIND_SYNC_RESPONSE);
  ASSERT_OK(Dearmor(text, "input", size));
  Result<SignedBundle> too_big = Dearmor(text, "pasted.txt", size - 1);
  ASSERT_FALSE(too_big.ok());
  EXPECT_EQ(too_big.status().code(), Errc::kPayloadTooLarge);
  EXPECT_EQ(too_big.status().message(), "pasted.txt holds a bundle of " + std::to_string(size) +
                                            " bytes, more than the limit of " +
                                            std::to_string(size - 1) +
                                            " bytes; is it the right file?");
  Result<SignedBundle> huge = Dearmor(text + std::string(ArmoredSizeLimit(10), ' '), "x", 10);
  EXPECT_EQ(huge.status().code(), Errc::kPayloadTooLarge);
}

TEST(ArmorTest, BinaryBundlesAreNotTakenForArmor) {
  const std::string bytes = SerializeBundle(Response());
  EXPECT_FALSE(LooksArmored(bytes));
  Result<SignedBundle> decoded = DecodeBundle(bytes);
  ASSERT_OK(decoded);
  EXPECT_EQ(SerializeBundle(*decoded), bytes);
}

class BundleFileTest : public ::testing::Test {
 protected:
  TempDir dir_;
};

TEST_F(BundleFileTest, BinaryAndArmoredFilesReadBack) {
  const SignedBundle bundle = Request();
  for (const bool armor : {false, true}) {
    const std::filesystem::path path = dir_ / (armor ? "request.txt" : "request.bundle");
    ASSERT_OK(WriteBundleFile(path, bundle, v1::BUNDLE_KIND_SYNC_REQUEST, armor));
    EXPECT_EQ(LooksArmored(ReadFileOrDie(path)), armor);
    Result<SignedBundle> back = ReadBundleFile(path);
    ASSERT_OK(back);
    EXPECT_EQ(SerializeBundle(*back), SerializeBundle(bundle));
  }
}

TEST_F(BundleFileTest, ArmoredFileWithCrlfLineEndingsReads) {
  const SignedBundle bundle = Response();
  const std::filesystem::path path = dir_ / "response.txt";
  WriteFileOrDie(path, ReplaceAll(Armor(bundle, v1::BUNDLE_KIND_SYNC_RESPONSE), "\n", " \r\n"));
  Result<SignedBundle> back = ReadBundleFile(path);
  ASSERT_OK(back);
  EXPECT_EQ(SerializeBundle(*back), SerializeBundle(bundle));
}

mode_t ModeOf(const std::filesystem::path& path) {
  struct stat st {};
  EXPECT_EQ(::stat(path.c_str(), &st), 0);
  return st.st_mode & 0777;
}

TEST_F(BundleFileTest, EnrollmentBundlesAreWrittenOwnerOnly) {
  const crypto::PrivateKey central = CentralKey();
  const SignedBundle enrollment = *SignBundle(EnrollmentPayload(central.public_key()), central);
  ASSERT_OK(WriteBundleFile(dir_ / "enroll.bundle", enrollment, v1::BUNDLE_KIND_ENROLLMENT, true));
  EXPECT_EQ(ModeOf(dir_ / "enroll.bundle"), 0600u);
  ASSERT_OK(
      WriteBundleFile(dir_ / "request.bundle", Request(), v1::BUNDLE_KIND_SYNC_REQUEST, false));
  EXPECT_EQ(ModeOf(dir_ / "request.bundle"), 0644u);
}

TEST_F(BundleFileTest, ExistingFileIsNotOverwrittenUnlessAsked) {
  const std::filesystem::path path = dir_ / "request.bundle";
  WriteFileOrDie(path, "precious");
  Status status = WriteBundleFile(path, Request(), v1::BUNDLE_KIND_SYNC_REQUEST, false);
  EXPECT_EQ(status.code(), Errc::kAlreadyExists);
  EXPECT_EQ(ReadFileOrDie(path), "precious");
  ASSERT_OK(WriteBundleFile(path, Request(), v1::BUNDLE_KIND_SYNC_REQUEST, false,
                            crypto::IfExists::kReplace));
  EXPECT_OK(ReadBundleFile(path));
}

TEST_F(BundleFileTest, BadFilesAreRefusedNamingTheFile) {
  const std::string bytes = SerializeBundle(Response());
  struct Case {
    std::string name;
    std::string content;
    Errc code;
    std::string says;
  };
  const Case cases[] = {
      {"empty", "", Errc::kInvalidArgument, " is empty, not an Outpost bundle"},
      {"truncated", bytes.substr(0, bytes.size() - 10), Errc::kInvalidArgument,
       " is not an Outpost bundle (truncated or garbled"},
      {"garbage", "this is a shopping list, not a bundle\n", Errc::kInvalidArgument,
       " is not an Outpost bundle (truncated or garbled"},
      {"truncated armor", Armor(Response(), v1::BUNDLE_KIND_SYNC_RESPONSE).substr(0, 200),
       Errc::kInvalidArgument, " is not an Outpost bundle (truncated or garbled: no END line)"},
  };
  for (const Case& c : cases) {
    const std::filesystem::path path = dir_ / (c.name + ".bundle");
    WriteFileOrDie(path, c.content);
    Result<SignedBundle> bundle = ReadBundleFile(path);
    ASSERT_FALSE(bundle.ok()) << c.name;
    EXPECT_EQ(bundle.status().code(), c.code) << c.name;
    EXPECT_TRUE(Contains(bundle.status(), path.string() + c.says))
        << c.name << ": " << bundle.status().ToString();
  }
}

TEST_F(BundleFileTest, MissingFileIsNotFoundNamingThePath) {
  Result<SignedBundle> bundle = ReadBundleFile(dir_ / "nowhere.bundle");
  ASSERT_FALSE(bundle.ok());
  EXPECT_EQ(bundle.status().code(), Errc::kNotFound);
  EXPECT_TRUE(Contains(bundle.status(), (dir_ / "nowhere.bundle").string()));
}

TEST_F(BundleFileTest, FileAboveTheLimitIsRefusedBeforeReading) {
  // A sparse file just above the real limit: refused from its size alone, never read.
  const std::filesystem::path path = dir_ / "disk-image.bundle";
  const uintmax_t size = ArmoredSizeLimit(kMaxBundleBytes) + 1;
  WriteFileOrDie(path, "");
  std::filesystem::resize_file(path, size);
  Result<SignedBundle> bundle = ReadBundleFile(path);
  ASSERT_FALSE(bundle.ok());
  EXPECT_EQ(bundle.status().code(), Errc::kPayloadTooLarge);
  EXPECT_EQ(bundle.status().message(),
            path.string() + " is " + std::to_string(size) +
                " bytes, more than a bundle can be (at most 67108864 bytes, or " +
                std::to_string(size - 1) + " bytes of armored text); is it the right file?");
}

TEST_F(BundleFileTest, BinaryFileAboveAnInjectedLimitIsRefusedNamingSizeAndLimit) {
  const std::string bytes = SerializeBundle(Response());
  const std::filesystem::path path = dir_ / "response.bundle";
  WriteFileOrDie(path, bytes);
  ASSERT_OK(ReadBundleFile(path, bytes.size()));
  Result<SignedBundle> bundle = ReadBundleFile(path, bytes.size() - 1);
  ASSERT_FALSE(bundle.ok());
  EXPECT_EQ(bundle.status().code(), Errc::kPayloadTooLarge);
  EXPECT_EQ(bundle.status().message(), path.string() + " is " + std::to_string(bytes.size()) +
                                           " bytes, more than the bundle limit of " +
                                           std::to_string(bytes.size() - 1) +
                                           " bytes; is it the right file?");
}

}  // namespace
}  // namespace outpost::sync
