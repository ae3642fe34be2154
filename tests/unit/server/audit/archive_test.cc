// Sealed segments: archiving the oldest records into signed files, verifying across the files
// and the database, and the retention policy under the fake clock.

#include "server/audit/archive.h"

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "common/crypto/encoding.h"
#include "common/sqlite/reader_pool.h"
#include "common/sqlite/writer.h"
#include "common/time.h"
#include "server/audit/archive_file.h"
#include "server/audit/audit_proto.h"
#include "server/audit/chain_guard.h"
#include "server/audit/evidence.h"
#include "server/audit/retention.h"
#include "server/store/meta.h"
#include "server/store/schema.h"
#include "tests/testing/fake_clock.h"
#include "tests/testing/test_util.h"

namespace outpost::server::audit {
namespace {

namespace fs = std::filesystem;
using outpost::testing::FakeClock;
using outpost::testing::TempDir;
using std::chrono::hours;

constexpr std::string_view kSatelliteId = "sat-archive-test";

class ArchiveTest : public ::testing::Test {
 public:  // a second database in one test (OtherDatabase) uses them too
  void SetUp() override {
    sqlite::WriterOptions options;
    options.synchronous = sqlite::Synchronous::kNormal;
    auto writer = sqlite::Writer::Create(db_path(), options, store::SatelliteMigrations());
    ASSERT_OK(writer);
    writer_ = std::move(*writer);
    auto readers = sqlite::ReaderPool::Create(db_path());
    ASSERT_OK(readers);
    readers_ = std::move(*readers);
    auto key = crypto::PrivateKey::Generate(crypto::KeyAlgorithm::kEd25519);
    ASSERT_OK(key);
    key_ = std::make_unique<crypto::PrivateKey>(std::move(*key));
    ASSERT_OK(writer_->Run([](sqlite::Connection& db) {
      return store::kSatelliteMeta.Set(db, store::kMetaSatelliteId, std::string(kSatelliteId));
    }));
    // Midnight UTC, so that days are easy to reason about.
    clock_.Set(FromUnixSeconds(1'780'012'800));
  }

  fs::path db_path() const { return dir_ / "outpost.db"; }

  // `count` records, one a minute.
  void AppendMany(int count, std::string action = "token.create") {
    ASSERT_OK(writer_->Run([&](sqlite::Connection& db) -> Status {
      for (int i = 0; i < count; ++i) {
        clock_.Advance(std::chrono::minutes(1));
        OUTPOST_RETURN_IF_ERROR(Append(db,
                                       {{"user", "alice"},
                                        action,
                                        "object-" + std::to_string(i),
                                        "{\"i\":" + std::to_string(i) + "}"},
                                       clock_.Now()));
      }
      return Status::Ok();
    }));
  }

  Head CurrentHeadNow() {
    auto lease = readers_->Acquire();
    EXPECT_OK(lease);
    auto head = CurrentHead(**lease);
    EXPECT_OK(head);
    return head.ok() ? *head : Head{};
  }

  v1::AuditArchiveSegment Seal(TimePoint before) {
    v1::AuditArchiveSegment segment;
    EXPECT_OK(writer_->Run([&](sqlite::Connection& db) -> Status {
      OUTPOST_ASSIGN_OR_RETURN(segment, SealSegment(db, *key_, kSatelliteId, before, clock_.Now()));
      return Status::Ok();
    }));
    return segment;
  }

  // Seal, write and commit everything before `before` into `path`.
  v1::AuditArchiveCommitResponse Archive(TimePoint before, const fs::path& path) {
    v1::AuditArchiveSegment segment = Seal(before);
    EXPECT_GT(segment.header().last_seq(), 0);
    EXPECT_OK(WriteSegmentFile(*readers_, key_->public_key(), segment, path));
    segment.set_file_name(path.filename().string());
    auto committed =
        CommitSegment(*writer_, key_->public_key(), segment, Actor{"user", "alice"}, clock_);
    EXPECT_OK(committed);
    return committed.ok() ? *committed : v1::AuditArchiveCommitResponse{};
  }

  VerifyReport VerifyDb(const SavedHead* saved = nullptr) {
    auto lease = readers_->Acquire();
    EXPECT_OK(lease);
    auto report = Verify(**lease, key_->public_key(), saved);
    EXPECT_OK(report);
    return report.ok() ? *report : VerifyReport{};
  }

  // The database and the archives verified together, as `audit verify --db --archive` does.
  v1::AuditVerifyResponse VerifyAll(const std::vector<fs::path>& files) {
    auto lease = readers_->Acquire();
    EXPECT_OK(lease);
    auto archived = ReadArchivedHead(**lease);
    EXPECT_OK(archived);
    ArchiveChainReport chain =
        VerifyArchiveFiles(files, key_->public_key(), kSatelliteId, archived->last_seq);
    std::optional<SavedHead> end = ArchivesEnd(chain);
    auto report = Verify(**lease, key_->public_key(), end ? &*end : nullptr);
    EXPECT_OK(report);
    v1::AuditVerifyResponse proto = ToProto(*report);
    CombineWithArchives(proto, chain);
    return proto;
  }

  int64_t CountRecords() {
    auto lease = readers_->Acquire();
    EXPECT_OK(lease);
    auto n = (*lease)->QueryInt64("SELECT count(*) FROM audit_log");
    EXPECT_OK(n);
    return n.ok() ? *n : -1;
  }

  // Rewrites `from` into `to` with `edit` applied to its records (their hashes kept).
  void Rewrite(const fs::path& from, const fs::path& to,
               const std::function<void(std::vector<v1::AuditArchiveRecord>&)>& edit) {
    std::vector<v1::AuditArchiveRecord> records;
    auto contents = ReadArchive(from, [&](const v1::AuditArchiveRecord& r) {
      records.push_back(r);
      return Status::Ok();
    });
    ASSERT_OK(contents);
    edit(records);
    auto writer = ArchiveWriter::Create(to, contents->header);
    ASSERT_OK(writer);
    for (const auto& r : records) ASSERT_OK((*writer)->Add(r));
    ASSERT_OK((*writer)->Finish(contents->checkpoint));
  }

  TempDir dir_;
  FakeClock clock_;
  std::unique_ptr<sqlite::Writer> writer_;
  std::unique_ptr<sqlite::ReaderPool> readers_;
  std::unique_ptr<crypto::PrivateKey> key_;
};

TEST_F(ArchiveTest, ArchivedRecordsLeaveTheDatabaseAndTheChainContinues) {
  AppendMany(100);
  const TimePoint boundary = clock_.Now() + std::chrono::seconds(30);
  clock_.Advance(hours(1));
  AppendMany(20);
  const v1::AuditArchiveCommitResponse committed = Archive(boundary, dir_ / "a.outpost-audit");
  EXPECT_EQ(committed.first_seq(), 1);
  EXPECT_EQ(committed.last_seq(), 100);
  EXPECT_EQ(committed.records_removed(), 100);
  EXPECT_EQ(CountRecords(), 21);  // 20 newer records and audit.archived

  const VerifyReport report = VerifyDb();
  EXPECT_TRUE(report.ok) << report.problem;
  EXPECT_EQ(report.archived_seq, 100);
  EXPECT_EQ(report.records_checked, 21);
  EXPECT_EQ(report.last_seq, 121);

  // New records chain on as before.
  AppendMany(3);
  EXPECT_EQ(CurrentHeadNow().seq, 124);
  EXPECT_TRUE(VerifyDb().ok);

  const v1::AuditVerifyResponse all = VerifyAll({dir_ / "a.outpost-audit"});
  EXPECT_TRUE(all.ok()) << all.problem();
  EXPECT_EQ(all.archive_files_checked(), 1);
  EXPECT_EQ(all.archive_records_checked(), 100);
}

TEST_F(ArchiveTest, TheArchivedRecordNamesTheSegmentAndTheFile) {
  AppendMany(10);
  const TimePoint boundary = clock_.Now() + std::chrono::seconds(1);
  Archive(boundary, dir_ / "first.outpost-audit");
  auto lease = readers_->Acquire();
  ASSERT_OK(lease);
  auto row = (*lease)->Query(
      "SELECT actor, action, object, details FROM audit_log ORDER BY seq DESC LIMIT 1");
  ASSERT_OK(row);
  ASSERT_TRUE(*(*row)->Step());
  EXPECT_EQ((*row)->ColumnText(0), "user:alice");
  EXPECT_EQ((*row)->ColumnText(1), "audit.archived");
  EXPECT_EQ((*row)->ColumnText(2), "audit:1-10");
  EXPECT_NE((*row)->ColumnText(3).find("\"file\":\"first.outpost-audit\""), std::string::npos);
  EXPECT_NE((*row)->ColumnText(3).find("\"records\":10"), std::string::npos);
}

TEST_F(ArchiveTest, ArchivingTheWholeChainContinuesFromTheArchivedHead) {
  AppendMany(5);
  const Head before = CurrentHeadNow();
  ChainGuard guard(before);
  Archive(clock_.Now() + hours(1), dir_ / "all.outpost-audit");
  // Record 5 is gone, yet the guard accepts: the archived head vouches for it.
  auto lease = readers_->Acquire();
  ASSERT_OK(lease);
  EXPECT_OK(guard.Observe(**lease));
  EXPECT_EQ(CurrentHeadNow().seq, 6);
  EXPECT_TRUE(VerifyDb().ok);
}

TEST_F(ArchiveTest, SeveralSegmentsVerifyInAnyOrderGiven) {
  AppendMany(30);
  const TimePoint first = clock_.Now() + std::chrono::seconds(1);
  clock_.Advance(hours(1));
  AppendMany(30);
  const TimePoint second = clock_.Now() + std::chrono::seconds(1);
  clock_.Advance(hours(1));
  AppendMany(5);
  Archive(first, dir_ / "1.outpost-audit");
  Archive(second, dir_ / "2.outpost-audit");
  const v1::AuditVerifyResponse all =
      VerifyAll({dir_ / "2.outpost-audit", dir_ / "1.outpost-audit"});
  EXPECT_TRUE(all.ok()) << all.problem();
  EXPECT_EQ(all.archive_files_checked(), 2);
  EXPECT_EQ(all.archived_seq(), 60);  // audit.archived records come after the last one

  auto dir = ExpandArchivePaths({dir_.path().string()});
  ASSERT_OK(dir);
  EXPECT_EQ(dir->size(), 2u);
}

TEST_F(ArchiveTest, AMissingArchiveIsNamed) {
  AppendMany(30);
  const TimePoint first = clock_.Now() + std::chrono::seconds(1);
  clock_.Advance(hours(1));
  AppendMany(30);
  const TimePoint second = clock_.Now() + std::chrono::seconds(1);
  Archive(first, dir_ / "1.outpost-audit");
  Archive(second, dir_ / "2.outpost-audit");
  v1::AuditVerifyResponse only_second = VerifyAll({dir_ / "2.outpost-audit"});
  EXPECT_FALSE(only_second.ok());
  EXPECT_EQ(only_second.problem_kind(), "missing");
  EXPECT_EQ(only_second.first_bad_seq(), 1);
  EXPECT_NE(only_second.problem().find("records 1 to 30"), std::string::npos)
      << only_second.problem();

  v1::AuditVerifyResponse only_first = VerifyAll({dir_ / "1.outpost-audit"});
  EXPECT_FALSE(only_first.ok());
  EXPECT_EQ(only_first.problem_kind(), "missing");
  EXPECT_EQ(only_first.first_bad_seq(), 31);
}

TEST_F(ArchiveTest, ATamperedRecordInAnArchiveIsNamedWithItsFile) {
  AppendMany(20);
  Archive(clock_.Now() + std::chrono::seconds(1), dir_ / "orig.outpost-audit");
  const fs::path tampered = dir_ / "tampered" / "t.outpost-audit";
  fs::create_directories(tampered.parent_path());
  Rewrite(dir_ / "orig.outpost-audit", tampered,
          [](auto& records) { records[6].set_details("{\"i\":666}"); });
  const v1::AuditVerifyResponse all = VerifyAll({tampered});
  EXPECT_FALSE(all.ok());
  EXPECT_EQ(all.problem_kind(), "changed");
  EXPECT_EQ(all.first_bad_seq(), 7);
  EXPECT_EQ(all.problem_file(), tampered.string());
}

TEST_F(ArchiveTest, ReorderedOrRemovedRecordsInAnArchiveAreNamed) {
  AppendMany(20);
  Archive(clock_.Now() + std::chrono::seconds(1), dir_ / "orig.outpost-audit");
  fs::create_directories(dir_ / "x");
  Rewrite(dir_ / "orig.outpost-audit", dir_ / "x" / "swapped.outpost-audit",
          [](auto& records) { std::swap(records[3], records[4]); });
  v1::AuditVerifyResponse swapped = VerifyAll({dir_ / "x" / "swapped.outpost-audit"});
  EXPECT_FALSE(swapped.ok());
  EXPECT_EQ(swapped.first_bad_seq(), 4);
  EXPECT_EQ(swapped.problem_kind(), "missing");

  Rewrite(dir_ / "orig.outpost-audit", dir_ / "x" / "cut.outpost-audit",
          [](auto& records) { records.pop_back(); });
  v1::AuditVerifyResponse cut = VerifyAll({dir_ / "x" / "cut.outpost-audit"});
  EXPECT_FALSE(cut.ok());
  EXPECT_EQ(cut.problem_kind(), "truncated");
  EXPECT_EQ(cut.first_bad_seq(), 20);
}

TEST_F(ArchiveTest, ATruncatedOrGarbledFileIsRefusedByName) {
  AppendMany(20);
  const fs::path path = dir_ / "orig.outpost-audit";
  Archive(clock_.Now() + std::chrono::seconds(1), path);
  const fs::path cut = dir_ / "cut.outpost-audit";
  fs::copy_file(path, cut);
  fs::resize_file(cut, fs::file_size(path) - 10);
  v1::AuditVerifyResponse report = VerifyAll({cut});
  EXPECT_FALSE(report.ok());
  EXPECT_EQ(report.problem_kind(), "archive");
  EXPECT_EQ(report.problem_file(), cut.string());
  EXPECT_NE(report.problem().find("truncated"), std::string::npos) << report.problem();

  const fs::path garbage = dir_ / "garbage.outpost-audit";
  std::ofstream(garbage) << "this is not an archive";
  report = VerifyAll({garbage});
  EXPECT_FALSE(report.ok());
  EXPECT_EQ(report.problem_kind(), "archive");
  EXPECT_EQ(report.problem_file(), garbage.string());
}

TEST_F(ArchiveTest, AForeignArchiveIsRefused) {
  AppendMany(20);
  Archive(clock_.Now() + std::chrono::seconds(1), dir_ / "mine.outpost-audit");
  // Another satellite's key over the same file.
  auto other = crypto::PrivateKey::Generate(crypto::KeyAlgorithm::kEd25519);
  ASSERT_OK(other);
  ArchiveChainReport by_other =
      VerifyArchiveFiles({dir_ / "mine.outpost-audit"}, other->public_key(), kSatelliteId);
  EXPECT_FALSE(by_other.ok);
  EXPECT_EQ(by_other.problem_kind, VerifyProblem::kCheckpointKey);
  EXPECT_EQ(by_other.problem_file, (dir_ / "mine.outpost-audit").string());
  // Another satellite id in the header.
  ArchiveChainReport elsewhere =
      VerifyArchiveFiles({dir_ / "mine.outpost-audit"}, key_->public_key(), "sat-other");
  EXPECT_FALSE(elsewhere.ok);
  EXPECT_EQ(elsewhere.problem_kind, VerifyProblem::kArchive);
  EXPECT_NE(elsewhere.problem.find("not of this satellite"), std::string::npos);
}

TEST_F(ArchiveTest, ArchivesOfAnotherDatabaseDoNotMatchItsArchivedHead) {
  AppendMany(20);
  Archive(clock_.Now() + std::chrono::seconds(1), dir_ / "mine.outpost-audit");
  // A second database, same key and id, other records: its archive verifies on its own but does
  // not end where this database's archived head is.
  struct OtherDatabase : ArchiveTest {
    void TestBody() override {}
  } other;
  other.SetUp();
  *other.key_ = crypto::PrivateKey::FromPem(key_->ToPem()).value();
  other.AppendMany(20, "user.create");
  other.Archive(other.clock_.Now() + std::chrono::seconds(1), other.dir_ / "theirs.outpost-audit");
  const v1::AuditVerifyResponse report = VerifyAll({other.dir_ / "theirs.outpost-audit"});
  EXPECT_FALSE(report.ok());
  EXPECT_EQ(report.problem_kind(), "archive");
  EXPECT_EQ(report.first_bad_seq(), 20);
}

TEST_F(ArchiveTest, ACrashBeforeTheCommitKeepsTheRecordsAndARerunFinishes) {
  AppendMany(50);
  const TimePoint boundary = clock_.Now() + std::chrono::seconds(1);
  clock_.Advance(hours(1));
  AppendMany(5);
  const fs::path path = dir_ / "seg.outpost-audit";
  v1::AuditArchiveSegment segment = Seal(boundary);
  ASSERT_OK(WriteSegmentFile(*readers_, key_->public_key(), segment, path));
  // "Crash": no commit. Everything is still in the database and verifies.
  EXPECT_EQ(CountRecords(), 55);
  EXPECT_TRUE(VerifyDb().ok);
  // The re-run seals the same segment with the same checkpoint, and the file is reusable.
  v1::AuditArchiveSegment again = Seal(boundary);
  EXPECT_EQ(again.checkpoint().SerializeAsString(), segment.checkpoint().SerializeAsString());
  EXPECT_EQ(again.header().last_seq(), 50);
  auto committed = CommitSegment(*writer_, key_->public_key(), again, Actor::System(), clock_);
  ASSERT_OK(committed);
  EXPECT_EQ(committed->records_removed(), 50);
  // Committing twice is harmless.
  auto twice = CommitSegment(*writer_, key_->public_key(), again, Actor::System(), clock_);
  ASSERT_OK(twice);
  EXPECT_EQ(twice->records_removed(), 0);
  EXPECT_EQ(CountRecords(), 6);
  EXPECT_TRUE(VerifyAll({path}).ok());
}

TEST_F(ArchiveTest, AnInterruptedRemovalIsSkippedByVerifyAndFinishedLater) {
  AppendMany(40);
  const TimePoint boundary = clock_.Now() + std::chrono::seconds(1);
  Archive(boundary, dir_ / "seg.outpost-audit");
  // Put back what a crash in the middle of the removal would have left: an archived head whose
  // records are still partly there. Simulated by a second segment whose removal is undone.
  AppendMany(10);
  const v1::AuditArchiveSegment segment = Seal(clock_.Now() + std::chrono::seconds(1));
  ASSERT_OK(WriteSegmentFile(*readers_, key_->public_key(), segment, dir_ / "seg2.outpost-audit"));
  ASSERT_OK(writer_->Run([&](sqlite::Connection& db) {
    return db
        .ExecPrepared(
            "INSERT INTO audit_archived (last_seq, first_seq, hash, checkpoint_time_ms, key_id, "
            "signature, file_name, archived_at_ms) VALUES (?, ?, ?, ?, ?, ?, 'seg2', 0)",
            segment.header().last_seq(), segment.header().first_seq(),
            sqlite::Blob{segment.checkpoint().hash()}, segment.checkpoint().time_ms(),
            segment.checkpoint().key_id(), sqlite::Blob{segment.checkpoint().signature()})
        .status();
  }));
  const VerifyReport report = VerifyDb();
  EXPECT_TRUE(report.ok) << report.problem;
  EXPECT_EQ(report.archived_seq, segment.header().last_seq());
  auto removed = RemoveArchivedRecords(*writer_);
  ASSERT_OK(removed);
  EXPECT_EQ(*removed, 11);
  EXPECT_EQ(CountRecords(), 0);
  EXPECT_EQ(CurrentHeadNow().seq, segment.header().last_seq());
  EXPECT_TRUE(VerifyDb().ok);
}

TEST_F(ArchiveTest, AnAlteredRecordIsNotSealedIntoAnArchive) {
  AppendMany(20);
  ASSERT_OK(writer_->Run([](sqlite::Connection& db) {
    return db.Exec("UPDATE audit_log SET details = '{\"i\":99}' WHERE seq = 12");
  }));
  const v1::AuditArchiveSegment segment = Seal(clock_.Now() + std::chrono::seconds(1));
  const fs::path path = dir_ / "bad.outpost-audit";
  auto written = WriteSegmentFile(*readers_, key_->public_key(), segment, path);
  EXPECT_EQ(written.status().code(), Errc::kDataLoss);
  EXPECT_NE(written.status().message().find("seq 12"), std::string::npos);
  EXPECT_FALSE(fs::exists(path));
  EXPECT_EQ(CountRecords(), 20);
}

TEST_F(ArchiveTest, AStaleOrForgedSegmentIsNotCommitted) {
  AppendMany(20);
  const v1::AuditArchiveSegment segment = Seal(clock_.Now() + std::chrono::seconds(1));
  v1::AuditArchiveSegment forged = segment;
  forged.mutable_checkpoint()->set_time_ms(forged.checkpoint().time_ms() + 1);
  auto refused = CommitSegment(*writer_, key_->public_key(), forged, Actor::System(), clock_);
  EXPECT_EQ(refused.status().code(), Errc::kInvalidArgument);
  EXPECT_EQ(CountRecords(), 20);
  v1::AuditArchiveSegment shifted = segment;
  shifted.mutable_header()->set_first_seq(2);
  refused = CommitSegment(*writer_, key_->public_key(), shifted, Actor::System(), clock_);
  EXPECT_EQ(refused.status().code(), Errc::kFailedPrecondition);
  EXPECT_EQ(CountRecords(), 20);
  EXPECT_TRUE(VerifyDb().ok);
}

TEST_F(ArchiveTest, AnExistingFileIsNeverReplaced) {
  AppendMany(5);
  const fs::path path = dir_ / "taken.outpost-audit";
  std::ofstream(path) << "keep me";
  const v1::AuditArchiveSegment segment = Seal(clock_.Now() + std::chrono::seconds(1));
  auto written = WriteSegmentFile(*readers_, key_->public_key(), segment, path);
  EXPECT_EQ(written.status().code(), Errc::kAlreadyExists);
  std::ifstream in(path);
  std::string text((std::istreambuf_iterator<char>(in)), {});
  EXPECT_EQ(text, "keep me");
}

// Central's witness heads whose records were archived are "archived", not "missing": no
// AUDIT_TRUNCATED alarm because the operator archived.
TEST_F(ArchiveTest, CentralHeadsInsideTheArchiveAreReportedAsArchived) {
  AppendMany(10);
  const Head witnessed = CurrentHeadNow();
  const int64_t signed_at = ToUnixMillis(clock_.Now());
  auto signature =
      key_->Sign(kCheckpointDomain, CheckpointMessage(witnessed.seq, witnessed.hash, signed_at));
  ASSERT_OK(signature);
  v1::CentralAuditHeadList heads;
  heads.set_satellite_id(std::string(kSatelliteId));
  v1::AuditCheckpoint* head = heads.add_heads()->mutable_head();
  head->set_seq(witnessed.seq);
  head->set_hash(crypto::HexEncode(witnessed.hash));
  head->set_time_ms(signed_at);
  head->set_key_id(key_->public_key().KeyId());
  head->set_signature(*signature);
  Archive(clock_.Now() + std::chrono::seconds(1), dir_ / "a.outpost-audit");
  auto lease = readers_->Acquire();
  ASSERT_OK(lease);
  auto compared = CompareHeads(**lease, heads, key_->public_key());
  ASSERT_OK(compared);
  EXPECT_TRUE(compared->ok());
  ASSERT_EQ(compared->heads_size(), 1);
  EXPECT_EQ(compared->heads(0).result(), "archived");
  // A forged head at an archived seq is still refused.
  heads.mutable_heads(0)->mutable_head()->set_hash(std::string(64, 'a'));
  compared = CompareHeads(**lease, heads, key_->public_key());
  ASSERT_OK(compared);
  EXPECT_FALSE(compared->ok());
  EXPECT_EQ(compared->heads(0).result(), "missing");
}

TEST_F(ArchiveTest, NothingToArchiveBeforeTheFirstRecord) {
  AppendMany(5);
  const v1::AuditArchiveSegment segment = Seal(clock_.Now() - hours(1));
  EXPECT_EQ(segment.header().last_seq(), 0);
}

// --- Retention -----------------------------------------------------------------------------

class RetentionTest : public ArchiveTest {
 public:
  std::unique_ptr<Retention> MakeRetention(Duration retention) {
    return std::make_unique<Retention>(*writer_, *readers_, *key_, std::string(kSatelliteId),
                                       clock_, RetentionOptions{retention, dir_ / "archives", 31});
  }
};

TEST_F(RetentionTest, WholeDaysOlderThanTheRetentionAreArchivedOneFilePerDay) {
  // Three days of records: 100 a day.
  for (int day = 0; day < 3; ++day) {
    AppendMany(100);
    clock_.Set(FromUnixSeconds(1'780'012'800 + (day + 1) * 86'400));
  }
  auto retention = MakeRetention(std::chrono::days(1));
  // Now day 3, 00:00: days 0 and 1 ended more than a day ago; day 2 ended just now.
  auto archived = retention->RunOnce();
  ASSERT_OK(archived);
  EXPECT_EQ(*archived, 2);
  auto files = ExpandArchivePaths({(dir_ / "archives").string()});
  ASSERT_OK(files);
  ASSERT_EQ(files->size(), 2u);
  EXPECT_EQ(files->at(0).filename().string().substr(0, 17),
            "audit-" + FormatRfc3339Millis(1'780'012'800'000).substr(0, 10) + "-");
  EXPECT_EQ((fs::status(dir_ / "archives").permissions() & fs::perms::all), fs::perms::owner_all);
  // Day 2's 100 records and two audit.archived records remain.
  EXPECT_EQ(CountRecords(), 102);
  const v1::AuditVerifyResponse all = VerifyAll(*files);
  EXPECT_TRUE(all.ok()) << all.problem();
  EXPECT_EQ(all.archived_seq(), 200);  // days 0 and 1; the audit.archived records follow

  // Nothing more until day 2 is old enough; then it goes too.
  ASSERT_OK(retention->RunOnce());
  EXPECT_EQ(CountRecords(), 102);
  clock_.Advance(hours(25));
  archived = retention->RunOnce();
  ASSERT_OK(archived);
  EXPECT_EQ(*archived, 1);
  files = ExpandArchivePaths({(dir_ / "archives").string()});
  ASSERT_OK(files);
  EXPECT_EQ(files->size(), 3u);
  EXPECT_TRUE(VerifyAll(*files).ok());
}

TEST_F(RetentionTest, RecordsNotYetForwardedToSyslogStayInTheDatabase) {
  for (int day = 0; day < 3; ++day) {
    AppendMany(100);
    clock_.Set(FromUnixSeconds(1'780'012'800 + (day + 1) * 86'400));
  }
  clock_.Advance(std::chrono::days(2));
  auto retention = MakeRetention(std::chrono::days(1));
  int64_t forwarded = 150;  // the collector has day 0 and half of day 1
  retention->SetHold([&]() -> std::optional<int64_t> { return forwarded; });
  auto archived = retention->RunOnce();
  ASSERT_OK(archived);
  EXPECT_EQ(*archived, 1);  // day 0 only: day 1's records 151-200 are not forwarded yet
  EXPECT_EQ(CountRecords(), 201);
  forwarded = 300;
  archived = retention->RunOnce();
  ASSERT_OK(archived);
  EXPECT_EQ(*archived, 2);
  EXPECT_EQ(CountRecords(), 3);  // the three audit.archived records
}

TEST_F(RetentionTest, ZeroRetentionKeepsEverything) {
  AppendMany(10);
  clock_.Advance(std::chrono::days(400));
  auto retention = MakeRetention(Duration::zero());
  auto archived = retention->RunOnce();
  ASSERT_OK(archived);
  EXPECT_EQ(*archived, 0);
  EXPECT_EQ(CountRecords(), 10);
}

TEST_F(RetentionTest, AFailureAfterTheFileKeepsTheRecordsAndTheNextRoundReusesIt) {
  AppendMany(100);
  clock_.Advance(std::chrono::days(3));
  auto retention = MakeRetention(std::chrono::days(1));
  fs::path written;
  retention->SetAfterFileWritten([&](const fs::path& path) {
    written = path;
    return Unavailable("simulated crash after the file was written");
  });
  auto failed = retention->RunOnce();
  EXPECT_EQ(failed.status().code(), Errc::kUnavailable);
  ASSERT_TRUE(fs::exists(written));
  EXPECT_EQ(CountRecords(), 100);
  EXPECT_TRUE(VerifyDb().ok);

  retention->SetAfterFileWritten(nullptr);
  auto archived = retention->RunOnce();
  ASSERT_OK(archived);
  EXPECT_EQ(*archived, 1);
  EXPECT_EQ(CountRecords(), 1);
  EXPECT_TRUE(VerifyAll({written}).ok());
}

}  // namespace
}  // namespace outpost::server::audit
