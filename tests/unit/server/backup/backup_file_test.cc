#include "server/backup/backup_file.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>
#include <map>

#include "tests/testing/test_util.h"

namespace outpost::server::backup {
namespace {

constexpr char kPassphrase[] = "correct horse battery";
const KdfParams kCheapKdf{1 << 10, 8, 1};

void WriteFile(const std::filesystem::path& path, const std::string& content) {
  std::ofstream(path, std::ios::binary) << content;
}

// Collects what a backup holds.
class MapSink final : public FileSink {
 public:
  Status Begin(const v1::BackupFileEntry& entry) override {
    current_ = entry.path();
    modes[current_] = entry.mode();
    files[current_] = "";
    return Status::Ok();
  }
  Status Write(std::string_view bytes) override {
    files[current_].append(bytes);
    return Status::Ok();
  }
  Status End() override { return Status::Ok(); }

  std::map<std::string, std::string> files;
  std::map<std::string, uint32_t> modes;

 private:
  std::string current_;
};

class BackupFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    WriteFile(tmp_ / "a.toml", "listen = \"127.0.0.1:0\"\n");
    WriteFile(tmp_ / "big.db", std::string(3 << 20, 'x') + "end");  // more than one chunk
    WriteFile(tmp_ / "empty", "");
    files_ = {{"outpost.toml", tmp_ / "a.toml", 0644, 23},
              {"keys/ca.key", tmp_ / "a.toml", 0600, 23},
              {"outpost.db", tmp_ / "big.db", 0600, (3 << 20) + 3},
              {"empty", tmp_ / "empty", 0644, 0}};
    manifest_.set_backup_id("b-1");
    manifest_.set_satellite_id("sat-1");
    manifest_.set_schema_version(8);
    ASSERT_OK(Write(file_));
  }

  Status Write(const std::filesystem::path& path, std::string_view passphrase = kPassphrase) {
    const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    Status s = WriteBackup(fd, passphrase, kCheapKdf, manifest_, files_);
    close(fd);
    return s;
  }

  std::string Bytes() { return testing::ReadFileOrDie(file_); }

  // Reads `bytes` as a backup file: the status, and whether the sink saw anything before it.
  Status ReadBytes(const std::string& bytes, std::string_view passphrase = kPassphrase) {
    const auto path = tmp_ / "altered.bak";
    WriteFile(path, bytes);
    return ReadBackup(path, passphrase, nullptr).status();
  }

  testing::TempDir tmp_;
  std::filesystem::path file_ = tmp_ / "good.bak";
  std::vector<SourceFile> files_;
  v1::BackupManifest manifest_;
};

TEST_F(BackupFileTest, RoundTripGivesBackEveryFileWithItsMode) {
  MapSink sink;
  auto manifest = ReadBackup(file_, kPassphrase, &sink);
  ASSERT_OK(manifest);
  EXPECT_EQ(manifest->backup_id(), "b-1");
  EXPECT_EQ(manifest->satellite_id(), "sat-1");
  EXPECT_EQ(manifest->files(), 4);
  ASSERT_EQ(sink.files.size(), 4u);
  EXPECT_EQ(sink.files["outpost.toml"], "listen = \"127.0.0.1:0\"\n");
  EXPECT_EQ(sink.files["outpost.db"].size(), size_t{(3 << 20) + 3});
  EXPECT_EQ(sink.files["outpost.db"].substr((3 << 20)), "end");
  EXPECT_EQ(sink.files["empty"], "");
  EXPECT_EQ(sink.modes["keys/ca.key"], 0600u);
}

TEST_F(BackupFileTest, TheFileIsEncrypted) {
  const std::string bytes = Bytes();
  EXPECT_EQ(bytes.substr(0, 8), "OPBACKUP");
  EXPECT_EQ(bytes.find("listen = "), std::string::npos);
  EXPECT_EQ(bytes.find("xxxxxxxxxxxxxxxx"), std::string::npos);
  EXPECT_EQ(bytes.find("sat-1"), std::string::npos);
}

TEST_F(BackupFileTest, AWrongPassphraseIsToldApartFromDamage) {
  Status s = ReadBackup(file_, "wrong passphrase", nullptr).status();
  EXPECT_EQ(s.code(), Errc::kUnauthenticated) << s.ToString();
  EXPECT_NE(s.message().find("passphrase is wrong"), std::string::npos) << s.ToString();
}

TEST_F(BackupFileTest, EveryTruncationIsRefusedAsTruncated) {
  const std::string bytes = Bytes();
  for (size_t keep : {size_t{0}, size_t{5}, size_t{11}, size_t{40}, bytes.size() / 2,
                      bytes.size() - 17, bytes.size() - 1}) {
    Status s = ReadBytes(bytes.substr(0, keep));
    EXPECT_FALSE(s.ok()) << keep;
    if (keep >= 8) {
      EXPECT_EQ(s.code(), Errc::kDataLoss) << keep << ": " << s.ToString();
      EXPECT_NE(s.message().find("truncated"), std::string::npos) << keep << ": " << s.ToString();
    }
  }
}

TEST_F(BackupFileTest, AnyChangedByteIsRefusedAsAlteredOrDamaged) {
  const std::string bytes = Bytes();
  // Header (salt, nonce, key check, payload length), ciphertext (start, middle, end) and tag.
  const uint32_t header_len = (uint32_t{static_cast<unsigned char>(bytes[8])} << 24) |
                              (uint32_t{static_cast<unsigned char>(bytes[9])} << 16) |
                              (uint32_t{static_cast<unsigned char>(bytes[10])} << 8) |
                              uint32_t{static_cast<unsigned char>(bytes[11])};
  for (size_t at : {size_t{12} + header_len, size_t{12} + header_len + 100, bytes.size() / 2,
                    bytes.size() - 20, bytes.size() - 1}) {
    std::string altered = bytes;
    altered[at] = static_cast<char>(altered[at] ^ 0x01);
    Status s = ReadBytes(altered);
    EXPECT_EQ(s.code(), Errc::kDataLoss) << at << ": " << s.ToString();
    EXPECT_NE(s.message().find("altered or damaged"), std::string::npos) << s.ToString();
  }
  for (size_t at = 12; at < 12 + header_len; at += 7) {
    std::string altered = bytes;
    altered[at] = static_cast<char>(altered[at] ^ 0x01);
    EXPECT_FALSE(ReadBytes(altered).ok()) << "header byte " << at;
  }
  Status appended = ReadBytes(bytes + "x");
  EXPECT_EQ(appended.code(), Errc::kDataLoss);
  EXPECT_NE(appended.message().find("more than its header says"), std::string::npos);
}

TEST_F(BackupFileTest, AForeignFileIsNamedForWhatItIs) {
  Status sqlite = ReadBytes(std::string("SQLite format 3\0", 16) + std::string(100, '\0'));
  EXPECT_EQ(sqlite.code(), Errc::kInvalidArgument);
  EXPECT_NE(sqlite.message().find("not an Outpost backup (it is an SQLite database)"),
            std::string::npos)
      << sqlite.ToString();
  Status armored = ReadBytes("-----BEGIN OUTPOST SYNC REQUEST-----\nAAAA\n");
  EXPECT_NE(armored.message().find("armored"), std::string::npos) << armored.ToString();
  Status other = ReadBytes("hello world, not a backup");
  EXPECT_EQ(other.code(), Errc::kInvalidArgument);
  EXPECT_EQ(ReadBackup(tmp_ / "missing", kPassphrase, nullptr).status().code(), Errc::kNotFound);
}

TEST_F(BackupFileTest, ANewerFormatIsRefusedNamingTheVersion) {
  std::string bytes = Bytes();
  const uint32_t header_len = static_cast<unsigned char>(bytes[11]);
  v1::BackupHeader header;
  ASSERT_TRUE(header.ParseFromString(bytes.substr(12, header_len)));
  header.set_format_version(2);
  const std::string h = header.SerializeAsString();
  ASSERT_EQ(h.size(), header_len);
  bytes.replace(12, header_len, h);
  Status s = ReadBytes(bytes);
  EXPECT_EQ(s.code(), Errc::kFailedPrecondition) << s.ToString();
  EXPECT_NE(s.message().find("newer outpost (backup format 2"), std::string::npos);
}

TEST_F(BackupFileTest, ShortPassphrasesAndUnsafePathsAreRefusedWhenWriting) {
  EXPECT_EQ(Write(tmp_ / "short.bak", "short").code(), Errc::kInvalidArgument);
  files_.push_back({"../escape", tmp_ / "a.toml", 0644, 23});
  EXPECT_EQ(Write(tmp_ / "escape.bak").code(), Errc::kInvalidArgument);
}

TEST_F(BackupFileTest, AFileThatChangesSizeFailsTheBackup) {
  files_[0].size = 10;  // the file has 23 bytes
  Status s = Write(tmp_ / "changed.bak");
  EXPECT_EQ(s.code(), Errc::kFailedPrecondition) << s.ToString();
  EXPECT_NE(s.message().find("changed while it was being backed up"), std::string::npos);
}

TEST(SafePathTest, OnlyPlainRelativePathsInsideTheDirectory) {
  for (const char* ok : {"outpost.toml", "keys/ca.key", "tls/server.pem", "a/b/c", "x-1_2.y"}) {
    EXPECT_TRUE(IsSafeRelativePath(ok)) << ok;
  }
  for (const char* bad : {"", "/etc/passwd", "../x", "a/../b", "a//b", "a/", "./a", "a/b/c/d",
                          "sp ace", "a\\b", "new\nline"}) {
    EXPECT_FALSE(IsSafeRelativePath(bad)) << bad;
  }
}

}  // namespace
}  // namespace outpost::server::backup
