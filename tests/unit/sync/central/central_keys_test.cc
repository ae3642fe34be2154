// Retiring central's previous signing key after a rotation (central_keys.cc), and re-enrolling a
// revoked satellite under its id (Central::ReenrollSatellite).

#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "common/crypto/keys.h"
#include "common/sqlite/connection.h"
#include "tests/unit/sync/central/central_test_fixture.h"

namespace outpost::central {
namespace {

namespace fs = std::filesystem;

class CentralKeysTest : public CentralTest {
 protected:
  fs::path data() const { return dir_ / "central"; }
  CentralDataDir layout() const { return CentralDataDir(data()); }

  // One sync of `s`, answered and opened with whatever key signed it; the key id it was signed by.
  std::string SyncAnyKey(FakeSatellite& s) {
    auto outcome = central_->ProcessSyncRequest(s.Sign(s.NextRequest()));
    EXPECT_TRUE(outcome.ok()) << outcome.status().ToString();
    if (!outcome.ok()) return "";
    s.bound = true;
    auto bundle = sync::ParseBundleBytes(outcome->response_bytes);
    EXPECT_TRUE(bundle.ok());
    return bundle.ok() ? bundle->key_id() : "";
  }

  // `s` imports the announcement and names the new key from now on (as a satellite does).
  void Move(FakeSatellite& s, const v1::KeyRotation& rotation) {
    EXPECT_EQ(SyncAnyKey(s), rotation.previous_key_id());
    s.enrollment.set_central_key_id(rotation.new_key_id());
    EXPECT_EQ(SyncAnyKey(s), rotation.new_key_id());
  }

  std::string KeyIdOfFile(const fs::path& path) {
    auto key = crypto::PrivateKey::LoadFile(path);
    EXPECT_TRUE(key.ok()) << key.status().ToString();
    return key.ok() ? key->public_key().KeyId() : "";
  }
};

TEST_F(CentralKeysTest, TheOnlyKeyAndUnknownKeysCannotBeRetired) {
  const std::string current = central_->signing_public_key().KeyId();
  auto only = central_->RetireSigningKey(current, /*force=*/true);
  ASSERT_FALSE(only.ok());
  EXPECT_EQ(only.status().code(), Errc::kFailedPrecondition);
  EXPECT_NE(only.status().message().find("only signing key"), std::string::npos)
      << only.status().message();
  EXPECT_EQ(central_->RetireSigningKey("0123abcd", true).status().code(), Errc::kNotFound);

  auto rotation = central_->RotateSigningKey();
  ASSERT_OK(rotation);
  const std::string before = Dump();
  auto newest = central_->RetireSigningKey(rotation->new_key_id(), true);
  ASSERT_FALSE(newest.ok());
  EXPECT_EQ(newest.status().code(), Errc::kFailedPrecondition);
  EXPECT_NE(newest.status().message().find("moving to"), std::string::npos);
  EXPECT_EQ(central_->RetireSigningKey("0123abcd", true).status().code(), Errc::kNotFound);
  EXPECT_EQ(Dump(), before);
  EXPECT_TRUE(fs::exists(layout().next_signing_key()));
  EXPECT_EQ(KeyIdOfFile(layout().signing_key()), current);
}

TEST_F(CentralKeysTest, RetirementWaitsForEverySatelliteToMove) {
  FakeSatellite laggard = Enrol("acme");
  SyncAnyKey(satellite_);
  SyncAnyKey(laggard);
  const std::string old_id = central_->signing_public_key().KeyId();
  const std::string old_pem = central_->signing_public_key().ToPem();
  auto rotation = central_->RotateSigningKey();
  ASSERT_OK(rotation);
  Move(satellite_, *rotation);
  // A revoked satellite does not hold the retirement up.
  FakeSatellite revoked = Enrol("acme");
  ASSERT_OK(central_->RevokeSatellite(revoked.enrollment.satellite_id(), "never installed"));

  const std::string before = Dump();
  auto waiting = central_->RetireSigningKey(old_id, /*force=*/false);
  ASSERT_FALSE(waiting.ok());
  EXPECT_EQ(waiting.status().code(), Errc::kFailedPrecondition);
  EXPECT_NE(waiting.status().message().find(laggard.enrollment.satellite_id()), std::string::npos)
      << waiting.status().message();
  EXPECT_EQ(waiting.status().message().find(satellite_.enrollment.satellite_id()),
            std::string::npos)
      << "a satellite that moved is not listed";
  EXPECT_EQ(waiting.status().message().find(revoked.enrollment.satellite_id()), std::string::npos);
  EXPECT_EQ(Dump(), before);
  EXPECT_EQ(KeyIdOfFile(layout().signing_key()), old_id);

  Move(laggard, *rotation);
  auto retired = central_->RetireSigningKey(old_id, /*force=*/false);
  ASSERT_OK(retired);
  EXPECT_EQ(retired->retired_key_id(), old_id);
  EXPECT_EQ(retired->signing_key_id(), rotation->new_key_id());
  EXPECT_TRUE(retired->satellites_cut_off().empty());

  // Only the new key is left: signing.key is it, the private old key is gone, its public part
  // kept; answers are signed by the new key and announce nothing.
  EXPECT_EQ(central_->signing_public_key().KeyId(), rotation->new_key_id());
  EXPECT_EQ(KeyIdOfFile(layout().signing_key()), rotation->new_key_id());
  EXPECT_FALSE(fs::exists(layout().next_signing_key()));
  EXPECT_FALSE(fs::exists(layout().retired_signing_key()));
  EXPECT_EQ(testing::ReadFileOrDie(layout().retired_keys() / (old_id + ".pem")), old_pem);
  auto outcome = central_->ProcessSyncRequest(satellite_.Sign(satellite_.NextRequest()));
  ASSERT_OK(outcome);
  EXPECT_FALSE(outcome->summary.response().has_key_rotation());
  auto bundle = sync::ParseBundleBytes(outcome->response_bytes);
  ASSERT_OK(bundle);
  EXPECT_EQ(bundle->key_id(), rotation->new_key_id());

  // The same after a restart; new enrollments carry the new key; a second rotation may follow.
  central_.reset();
  auto reopened = Central::Open(data(), clock_);
  ASSERT_OK(reopened);
  central_ = std::move(*reopened);
  EXPECT_EQ(central_->signing_public_key().KeyId(), rotation->new_key_id());
  FakeSatellite later = Enrol("acme");
  EXPECT_EQ(later.enrollment.central_key_id(), rotation->new_key_id());
  EXPECT_EQ(SyncAnyKey(later), rotation->new_key_id());
  ASSERT_OK(central_->RotateSigningKey());
}

TEST_F(CentralKeysTest, ForcedRetirementCutsOffSatellitesThatDidNotMoveWithAClearMessage) {
  FakeSatellite never_synced = Enrol("acme");  // its bundle pins the old key
  SyncAnyKey(satellite_);
  const std::string old_id = central_->signing_public_key().KeyId();
  auto rotation = central_->RotateSigningKey();
  ASSERT_OK(rotation);
  Move(satellite_, *rotation);

  auto retired = central_->RetireSigningKey(old_id, /*force=*/true);
  ASSERT_OK(retired);
  ASSERT_EQ(retired->satellites_cut_off_size(), 1);
  EXPECT_NE(retired->satellites_cut_off(0).find(never_synced.enrollment.satellite_id()),
            std::string::npos);
  EXPECT_NE(retired->satellites_cut_off(0).find("never synced"), std::string::npos);

  const std::string before = Dump();
  auto refused = central_->ProcessSyncRequest(never_synced.Sign(never_synced.NextRequest()));
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), Errc::kPermissionDenied);
  EXPECT_NE(refused.status().message().find("retired"), std::string::npos)
      << refused.status().message();
  EXPECT_NE(refused.status().message().find("reenroll"), std::string::npos)
      << refused.status().message();
  EXPECT_EQ(Dump(), before);
}

TEST_F(CentralKeysTest, ARetirementInterruptedAfterItWasRecordedIsFinishedAtOpen) {
  auto rotation = central_->RotateSigningKey();
  ASSERT_OK(rotation);
  central_.reset();
  // The record says the new key; the files were not moved yet (the process died there).
  {
    auto db = sqlite::Connection::Open(layout().database());
    ASSERT_OK(db);
    ASSERT_OK(db->ExecPrepared("UPDATE central_meta SET value = ? WHERE key = 'signing_key_id'",
                               rotation->new_key_id()));
    ASSERT_OK(db->ExecPrepared("DELETE FROM central_meta WHERE key = 'key_rotation'"));
  }
  auto reopened = Central::Open(data(), clock_);
  ASSERT_OK(reopened);
  central_ = std::move(*reopened);
  EXPECT_EQ(central_->signing_public_key().KeyId(), rotation->new_key_id());
  EXPECT_EQ(KeyIdOfFile(layout().signing_key()), rotation->new_key_id());
  EXPECT_FALSE(fs::exists(layout().next_signing_key()));
  EXPECT_FALSE(fs::exists(layout().retired_signing_key()));
}

// --- Re-enrollment ------------------------------------------------------------------------------

TEST_F(CentralKeysTest, ReenrollmentNeedsARevokedSatelliteAndANewFile) {
  const std::string id = satellite_.enrollment.satellite_id();
  const std::string before = Dump();
  auto not_revoked = central_->ReenrollSatellite(id, dir_ / "again.bundle", false, std::nullopt);
  ASSERT_FALSE(not_revoked.ok());
  EXPECT_EQ(not_revoked.status().code(), Errc::kFailedPrecondition);
  EXPECT_NE(not_revoked.status().message().find("revoke it first"), std::string::npos);
  EXPECT_EQ(central_->ReenrollSatellite("no-such", dir_ / "x.bundle", false, std::nullopt)
                .status()
                .code(),
            Errc::kNotFound);
  EXPECT_FALSE(fs::exists(dir_ / "again.bundle"));
  ASSERT_OK(central_->RevokeSatellite(id, "stolen"));
  const std::string revoked = Dump();
  testing::WriteFileOrDie(dir_ / "taken", "x");
  EXPECT_EQ(central_->ReenrollSatellite(id, dir_ / "taken", false, std::nullopt).status().code(),
            Errc::kAlreadyExists);
  EXPECT_EQ(
      central_->ReenrollSatellite(id, dir_ / "y.bundle", false, "http://plain").status().code(),
      Errc::kInvalidArgument);
  EXPECT_EQ(Dump(), revoked);
  EXPECT_NE(revoked, before);
}

TEST_F(CentralKeysTest, AReenrolledSatelliteBindsItsNewKeyAndTheOldKeyIsRefused) {
  const std::string id = satellite_.enrollment.satellite_id();
  // The old appliance syncs twice, with a usage report and an audit head.
  v1::SyncRequest first = satellite_.NextRequest();
  *first.add_usage_reports() = Report("r-1", 3);
  *first.mutable_audit_head() = satellite_.Head(40, 1'780'000'000'000);
  const v1::SyncResponse r1 = Sync(satellite_.Sign(first), satellite_);
  const v1::SyncResponse r2 = Sync(satellite_.Sign(satellite_.NextRequest()), satellite_);
  ASSERT_EQ(r2.response_number(), 2);

  ASSERT_OK(central_->RevokeSatellite(id, "appliance stolen"));
  const fs::path file = dir_ / "reenroll.bundle";
  auto enrollment = central_->ReenrollSatellite(id, file, false, std::nullopt);
  ASSERT_OK(enrollment);
  EXPECT_EQ(enrollment->satellite().satellite_id(), id);
  EXPECT_EQ(enrollment->satellite().revoked_at(), 0);
  EXPECT_TRUE(enrollment->satellite().key_id().empty());
  EXPECT_EQ(enrollment->satellite().reenrolled_at(), ToUnixSeconds(clock_.Now()));

  // The new appliance: a new key, the new secret, its sequence from 1.
  FakeSatellite fresh;
  auto bundle = sync::ReadBundleFile(file);
  ASSERT_OK(bundle);
  auto opened = sync::OpenEnrollmentBundle(*bundle);
  ASSERT_OK(opened);
  fresh.enrollment = opened->payload.enrollment();
  EXPECT_EQ(fresh.enrollment.satellite_id(), id);
  v1::SyncRequest fresh_first = fresh.NextRequest();
  *fresh_first.add_usage_reports() = Report("r-1", 3);  // resent from a copy: counted once
  const v1::SyncResponse answer = Sync(fresh.Sign(fresh_first), fresh);
  EXPECT_GT(answer.entitlements_size(), 0);
  EXPECT_EQ(answer.response_number(), 3) << "response numbers keep counting up";
  EXPECT_FALSE(answer.has_highest_audit_head()) << "the old appliance's chain is not the new one's";
  auto usage = central_->ListUsage("acme");
  ASSERT_OK(usage);
  EXPECT_EQ(usage->reports_size(), 1);

  // The old key is refused, whatever it sends.
  const std::string before = Dump();
  auto old = central_->ProcessSyncRequest(satellite_.Sign(satellite_.NextRequest()));
  ASSERT_FALSE(old.ok());
  EXPECT_EQ(old.status().code(), Errc::kPermissionDenied) << old.status().ToString();
  EXPECT_EQ(Dump(), before);
  // The secret is one-time: another key with the new bundle is refused too.
  FakeSatellite copy;
  copy.enrollment = fresh.enrollment;
  EXPECT_FALSE(central_->ProcessSyncRequest(copy.Sign(copy.NextRequest())).ok());

  auto shown = central_->GetSatellite(id);
  ASSERT_OK(shown);
  ASSERT_EQ(shown->history_size(), 2);
  EXPECT_EQ(shown->history(0).event(), "revoked");
  EXPECT_EQ(shown->history(0).detail(), "appliance stolen");
  EXPECT_EQ(shown->history(0).key_id(), satellite_.key.public_key().KeyId());
  EXPECT_EQ(shown->history(1).event(), "reenrolled");
  EXPECT_EQ(shown->key_id(), fresh.key.public_key().KeyId());
  (void)r1;
}

}  // namespace
}  // namespace outpost::central
