// The writer when the storage under the database refuses writes (disk full, I/O errors),
// injected by the faulty VFS (tests/testing/faulty_vfs.h): the units fail with kUnavailable and
// a reason, nothing committed is lost, and writes resume once the storage accepts them again.

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "common/sqlite/writer.h"
#include "tests/testing/faulty_vfs.h"
#include "tests/unit/common/sqlite/sqlite_test_util.h"

namespace outpost::sqlite {
namespace {

using outpost::sqlite::testing::CaptureDone;
using outpost::sqlite::testing::Gate;
using outpost::testing::FaultyVfs;
using outpost::testing::TempDir;

constexpr Migration kSchema[] = {
    {1, "create_items", "CREATE TABLE items(id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);"},
};

Writer::Work Insert(std::string name) {
  return [name = std::move(name)](Connection& db) -> Status {
    return db.ExecPrepared("INSERT INTO items(name) VALUES (?1)", name).status();
  };
}

bool Contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

class WriterStorageFaultTest : public ::testing::Test {
 protected:
  void SetUp() override {
    vfs_ = &FaultyVfs::Install();
    Open();
  }
  void TearDown() override {
    vfs_->Heal();
    writer_.reset();
  }

  void Open() {
    WriterOptions options;
    // The probe is time-driven; these tests drive every write themselves (the satellite's
    // integration test covers the probe).
    options.fault_probe_interval = std::chrono::milliseconds(0);
    auto created = Writer::Create(path(), options, kSchema);
    ASSERT_OK(created);
    writer_ = std::move(created).value();
  }

  // Faults only this test's files, whatever else the process has open.
  void Arm(FaultyVfs::Fault fault) { vfs_->Arm(fault, dir_.path().string()); }

  std::filesystem::path path() const { return dir_ / "outpost.db"; }

  std::vector<std::string> Names() {
    std::vector<std::string> names;
    EXPECT_OK(writer_->Run([&names](Connection& db) -> Status {
      OUTPOST_ASSIGN_OR_RETURN(ScopedStatement rows,
                               db.Query("SELECT name FROM items ORDER BY id"));
      while (true) {
        OUTPOST_ASSIGN_OR_RETURN(bool row, rows->Step());
        if (!row) return Status::Ok();
        names.push_back(rows->ColumnText(0));
      }
    }));
    return names;
  }

  TempDir dir_;
  FaultyVfs* vfs_ = nullptr;
  std::unique_ptr<Writer> writer_;
};

TEST_F(WriterStorageFaultTest, DiskFullIsUnavailableWithAReasonAndClearsWhenAWriteSucceeds) {
  ASSERT_OK(writer_->Run(Insert("before")));
  EXPECT_FALSE(writer_->storage_fault().has_value());

  Arm(FaultyVfs::Fault::kDiskFull);
  const uint64_t injected = vfs_->injected();
  Status full = writer_->Run(Insert("during"));
  ASSERT_FALSE(full.ok());
  EXPECT_GT(vfs_->injected(), injected) << "the write never reached the VFS";
  EXPECT_EQ(full.code(), Errc::kUnavailable) << full.ToString();
  for (const std::string& part :
       std::vector<std::string>{"the database disk is full", "nothing of this request was applied",
                                "free space on the file system holding " + dir_.path().string(),
                                "service resumes by itself"}) {
    EXPECT_TRUE(Contains(full.message(), part)) << part << "\n" << full.message();
  }
  auto fault = writer_->storage_fault();
  ASSERT_TRUE(fault.has_value());
  EXPECT_EQ(fault->error.message(), full.message());
  EXPECT_EQ(fault->failed_transactions, 1u);
  EXPECT_EQ(writer_->Stats().storage_errors, 1u);

  // Still full: the next write fails the same way and counts in the same episode.
  EXPECT_EQ(writer_->Run(Insert("still during")).code(), Errc::kUnavailable);
  EXPECT_EQ(writer_->storage_fault()->failed_transactions, 2u);

  vfs_->Heal();
  ASSERT_OK(writer_->Run(Insert("after")));
  EXPECT_FALSE(writer_->storage_fault().has_value());
  EXPECT_EQ(writer_->Stats().storage_errors, 2u);
  EXPECT_EQ(Names(), (std::vector<std::string>{"before", "after"}));

  // What was acknowledged is on disk: a new writer on the same file reads it back.
  writer_.reset();
  Open();
  EXPECT_EQ(Names(), (std::vector<std::string>{"before", "after"}));
}

TEST_F(WriterStorageFaultTest, IoErrorsOnWriteAreUnavailableAndPassToo) {
  ASSERT_OK(writer_->Run(Insert("before")));
  Arm(FaultyVfs::Fault::kIoError);
  Status failed = writer_->Run(Insert("during"));
  EXPECT_EQ(failed.code(), Errc::kUnavailable) << failed.ToString();
  EXPECT_TRUE(Contains(failed.message(), "the database disk failed a write")) << failed.message();
  EXPECT_TRUE(Contains(failed.message(), "check the disk")) << failed.message();
  EXPECT_TRUE(writer_->storage_fault().has_value());

  vfs_->Heal();
  ASSERT_OK(writer_->Run(Insert("after")));
  EXPECT_FALSE(writer_->storage_fault().has_value());
  writer_.reset();
  Open();
  EXPECT_EQ(Names(), (std::vector<std::string>{"before", "after"}));
}

TEST_F(WriterStorageFaultTest, EveryUnitOfAFailedBatchFailsAndTheWriterKeepsWorking) {
  Gate gate;
  writer_->Submit(gate.Hold(), nullptr);
  gate.entered.wait();
  // Three units queue behind the gate; the disk fills before their batch commits.
  auto [done_a, a] = CaptureDone();
  auto [done_b, b] = CaptureDone();
  auto [done_c, c] = CaptureDone();
  writer_->Submit(Insert("a"), done_a);
  writer_->Submit(Insert("b"), done_b);
  writer_->Submit(Insert("c"), done_c);
  Arm(FaultyVfs::Fault::kDiskFull);
  gate.release.count_down();
  for (auto* outcome : {&a, &b, &c}) {
    Status s = outcome->get();
    EXPECT_EQ(s.code(), Errc::kUnavailable) << s.ToString();
    EXPECT_TRUE(Contains(s.message(), "the database disk is full")) << s.message();
  }
  EXPECT_GE(writer_->Stats().failed_commits, 1u);

  // The WAL checkpoint thread and the writer live on; the same rows can be written again.
  vfs_->Heal();
  ASSERT_OK(writer_->Run(Insert("a")));
  ASSERT_OK(writer_->Run(Insert("b")));
  EXPECT_EQ(Names(), (std::vector<std::string>{"a", "b"}));
}

TEST_F(WriterStorageFaultTest, AFullDiskFailsOnlyWritesNotReads) {
  ASSERT_OK(writer_->Run(Insert("kept")));
  Arm(FaultyVfs::Fault::kDiskFull);
  EXPECT_FALSE(writer_->Run(Insert("lost")).ok());
  // A unit that only reads writes nothing, so its (empty) commit succeeds, but it proves
  // nothing about the disk: the fault stays until a write succeeds.
  EXPECT_EQ(Names(), (std::vector<std::string>{"kept"}));
  EXPECT_TRUE(writer_->storage_fault().has_value());
}

}  // namespace
}  // namespace outpost::sqlite
