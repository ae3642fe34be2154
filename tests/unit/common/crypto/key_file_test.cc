#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <string>

#include "common/crypto/keys.h"
#include "common/crypto/secure_file.h"
#include "tests/testing/test_util.h"

namespace outpost::crypto {
namespace {

namespace fs = std::filesystem;
using ::outpost::testing::ReadFileOrDie;
using ::outpost::testing::TempDir;
using ::outpost::testing::WriteFileOrDie;

mode_t ModeOf(const fs::path& path) {
  struct stat st;
  EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
  return st.st_mode & 07777;
}

size_t FilesIn(const fs::path& dir) {
  size_t n = 0;
  for ([[maybe_unused]] const auto& entry : fs::directory_iterator(dir)) ++n;
  return n;
}

class KeyFileTest : public ::testing::TestWithParam<KeyAlgorithm> {
 protected:
  TempDir dir_;
};

TEST_P(KeyFileTest, SavedKeyFileHasMode0600AndLoadsBack) {
  Result<PrivateKey> key = PrivateKey::Generate(GetParam());
  ASSERT_OK(key);
  const fs::path path = dir_ / "server.key";
  ASSERT_OK(key->SaveFile(path));
  EXPECT_EQ(ModeOf(path), 0600u);
  EXPECT_EQ(ReadFileOrDie(path), key->ToPem());
  EXPECT_EQ(FilesIn(dir_.path()), 1u) << "temporary file left behind";

  Result<PrivateKey> loaded = PrivateKey::LoadFile(path);
  ASSERT_OK(loaded);
  EXPECT_EQ(loaded->public_key(), key->public_key());
  EXPECT_EQ(loaded->algorithm(), GetParam());
}

TEST_P(KeyFileTest, SaveRefusesToOverwriteAnExistingFile) {
  Result<PrivateKey> first = PrivateKey::Generate(GetParam());
  Result<PrivateKey> second = PrivateKey::Generate(GetParam());
  ASSERT_OK(first);
  ASSERT_OK(second);
  const fs::path path = dir_ / "ca.key";
  ASSERT_OK(first->SaveFile(path));

  Status s = second->SaveFile(path);
  EXPECT_EQ(s.code(), Errc::kAlreadyExists);
  EXPECT_NE(s.message().find(path.string()), std::string::npos) << s.message();
  // Nothing changed: the first key is still there, and no temporary file is left.
  EXPECT_EQ(ReadFileOrDie(path), first->ToPem());
  EXPECT_EQ(ModeOf(path), 0600u);
  EXPECT_EQ(FilesIn(dir_.path()), 1u);
}

INSTANTIATE_TEST_SUITE_P(Algorithms, KeyFileTest,
                         ::testing::Values(KeyAlgorithm::kEd25519, KeyAlgorithm::kEcdsaP256),
                         [](const ::testing::TestParamInfo<KeyAlgorithm>& info) {
                           return info.param == KeyAlgorithm::kEd25519 ? "Ed25519" : "EcdsaP256";
                         });

TEST(KeyFileLoadTest, RefusesAKeyFileReadableByOthers) {
  TempDir dir;
  Result<PrivateKey> key = PrivateKey::Generate(KeyAlgorithm::kEd25519);
  ASSERT_OK(key);
  const fs::path path = dir / "server.key";
  ASSERT_OK(key->SaveFile(path));
  ASSERT_EQ(::chmod(path.c_str(), 0644), 0);

  Result<PrivateKey> loaded = PrivateKey::LoadFile(path);
  ASSERT_FALSE(loaded.ok());
  EXPECT_EQ(loaded.status().code(), Errc::kFailedPrecondition);
  EXPECT_NE(loaded.status().message().find("chmod 600 " + path.string()), std::string::npos)
      << loaded.status().message();
  EXPECT_NE(loaded.status().message().find("0644"), std::string::npos);
  EXPECT_EQ(ModeOf(path), 0644u) << "loading must not change the file";
}

TEST(KeyFileLoadTest, RefusesAKeyFileWritableByGroup) {
  TempDir dir;
  Result<PrivateKey> key = PrivateKey::Generate(KeyAlgorithm::kEcdsaP256);
  ASSERT_OK(key);
  const fs::path path = dir / "server.key";
  ASSERT_OK(key->SaveFile(path));
  ASSERT_EQ(::chmod(path.c_str(), 0620), 0);
  EXPECT_EQ(PrivateKey::LoadFile(path).status().code(), Errc::kFailedPrecondition);
}

TEST(KeyFileLoadTest, MissingFileIsNotFoundNamingThePath) {
  TempDir dir;
  Result<PrivateKey> loaded = PrivateKey::LoadFile(dir / "missing.key");
  ASSERT_FALSE(loaded.ok());
  EXPECT_EQ(loaded.status().code(), Errc::kNotFound);
  EXPECT_NE(loaded.status().message().find("missing.key"), std::string::npos);
}

TEST(KeyFileLoadTest, CorruptKeyFileSaysHowToRecover) {
  TempDir dir;
  const fs::path path = dir / "server.key";
  WriteFileOrDie(path, "-----BEGIN PRIVATE KEY-----\nnot base64\n-----END PRIVATE KEY-----\n");
  ASSERT_EQ(::chmod(path.c_str(), 0600), 0);
  Result<PrivateKey> loaded = PrivateKey::LoadFile(path);
  ASSERT_FALSE(loaded.ok());
  EXPECT_EQ(loaded.status().code(), Errc::kInvalidArgument);
  const std::string& m = loaded.status().message();
  EXPECT_NE(m.find(path.string()), std::string::npos) << m;
  EXPECT_NE(m.find("not a PEM private key"), std::string::npos) << m;
  EXPECT_NE(m.find("outpost init"), std::string::npos) << m;
}

TEST(KeyFileLoadTest, DirectoryIsNotAKeyFile) {
  TempDir dir;
  EXPECT_EQ(PrivateKey::LoadFile(dir.path()).status().code(), Errc::kFailedPrecondition);
}

TEST(WriteFileAtomicallyTest, ReplaceModeReplacesAndFailModeDoesNot) {
  TempDir dir;
  const fs::path path = dir / "ca.pem";
  using fs::perms;
  const perms mode =
      perms::owner_read | perms::owner_write | perms::group_read | perms::others_read;
  ASSERT_OK(WriteFileAtomically(path, "one", mode, IfExists::kFail));
  EXPECT_EQ(ModeOf(path), 0644u);
  EXPECT_EQ(WriteFileAtomically(path, "two", mode, IfExists::kFail).code(), Errc::kAlreadyExists);
  EXPECT_EQ(ReadFileOrDie(path), "one");
  ASSERT_OK(WriteFileAtomically(path, "three", mode, IfExists::kReplace));
  EXPECT_EQ(ReadFileOrDie(path), "three");
  EXPECT_EQ(FilesIn(dir.path()), 1u);
}

TEST(WriteFileAtomicallyTest, MissingDirectoryIsNotFound) {
  TempDir dir;
  EXPECT_EQ(
      WriteFileAtomically(dir / "no" / "such.pem", "x", fs::perms::owner_read, IfExists::kFail)
          .code(),
      Errc::kNotFound);
}

TEST(ReadSmallFileTest, RefusesFilesAboveTheLimit) {
  TempDir dir;
  WriteFileOrDie(dir / "big", std::string(100, 'x'));
  Result<std::string> r = ReadSmallFile(dir / "big", 99);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Errc::kInvalidArgument);
  Result<std::string> ok = ReadSmallFile(dir / "big", 100);
  ASSERT_OK(ok);
  EXPECT_EQ(ok->size(), 100u);
}

}  // namespace
}  // namespace outpost::crypto
