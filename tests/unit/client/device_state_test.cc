// The device state directory: what Save writes (and with which permissions), what Load accepts,
// and the clear errors for a missing, damaged or inconsistent state.

#include "client/device_state.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <functional>
#include <memory>
#include <utility>

#include "common/proto_json.h"
#include "tests/testing/fake_clock.h"
#include "tests/testing/test_util.h"
#include "tests/unit/client/client_test_util.h"

namespace outpost::client {
namespace {

namespace fs = std::filesystem;
using outpost::testing::IssueRegistrationOrDie;
using outpost::testing::MakeAuthorization;
using outpost::testing::OrDie;
using outpost::testing::SatelliteKeys;
using outpost::testing::SignOrDie;

constexpr char kUrl[] = "https://127.0.0.1:8443";

int Mode(const fs::path& p) {
  struct stat st {};
  EXPECT_EQ(::stat(p.c_str(), &st), 0) << p;
  return static_cast<int>(st.st_mode & 0777);
}

class DeviceStateTest : public ::testing::Test {
 protected:
  DeviceStateTest()
      : keys_(outpost::testing::MakeSatelliteKeysOrDie(clock_.Now())), dir_(tmp_ / "state") {}

  crypto::PrivateKey NewKey() {
    return OrDie(crypto::PrivateKey::Generate(crypto::KeyAlgorithm::kEcdsaP256));
  }

  Result<DeviceState> Fresh(crypto::PrivateKey key, v1::RegisterResponse registration) {
    return DeviceState::FromRegistration(dir_, kUrl, keys_.ca.certificate().ToPem(), std::move(key),
                                         std::move(registration), clock_.Now());
  }

  DeviceState SavedOrDie() {
    auto key = NewKey();
    auto registration = IssueRegistrationOrDie(keys_, key.public_key(), "inst-1");
    auto state = OrDie(Fresh(std::move(key), registration));
    EXPECT_OK(state.Save());
    return state;
  }

  void ExpectLoadFails(Errc code, const std::string& message_part) {
    auto loaded = DeviceState::Load(dir_);
    ASSERT_FALSE(loaded.ok());
    EXPECT_EQ(loaded.status().code(), code) << loaded.status().ToString();
    EXPECT_NE(loaded.status().message().find(message_part), std::string::npos)
        << loaded.status().message();
  }

  void ExpectFreshRefused(crypto::PrivateKey key, const v1::RegisterResponse& registration,
                          const std::string& message_part) {
    auto state = Fresh(std::move(key), registration);
    ASSERT_FALSE(state.ok());
    EXPECT_EQ(state.status().code(), Errc::kUnauthenticated);
    EXPECT_NE(state.status().message().find(message_part), std::string::npos)
        << state.status().message();
    EXPECT_FALSE(fs::exists(dir_)) << "nothing may be written for a refused answer";
  }

  outpost::testing::FakeClock clock_;
  SatelliteKeys keys_;
  outpost::testing::TempDir tmp_;
  fs::path dir_;
};

TEST_F(DeviceStateTest, SaveThenLoadRoundTrips) {
  DeviceState saved = SavedOrDie();
  auto loaded = DeviceState::Load(dir_);
  ASSERT_OK(loaded);
  EXPECT_EQ(loaded->server_url(), kUrl);
  EXPECT_EQ(loaded->server_ca_pem(), keys_.ca.certificate().ToPem());
  EXPECT_EQ(loaded->registration().SerializeAsString(), saved.registration().SerializeAsString());
  EXPECT_TRUE(loaded->key().public_key() == saved.key().public_key());
  EXPECT_TRUE(loaded->certificate() == saved.certificate());
  EXPECT_TRUE(loaded->signing_key() == keys_.signing_key.public_key());
  EXPECT_FALSE(loaded->released());
}

TEST_F(DeviceStateTest, KeyIsPrivateAndDirectoryIsTheOwners) {
  SavedOrDie();
  EXPECT_EQ(Mode(dir_), 0700);
  EXPECT_EQ(Mode(dir_ / kKeyFile), 0600);
  for (const char* name :
       {kCertificateFile, kCaChainFile, kServerCaFile, kServerUrlFile, kRegistrationFile}) {
    EXPECT_TRUE(fs::is_regular_file(dir_ / name)) << name;
  }
  // The PEM files are usable by other tools as they are.
  EXPECT_EQ(outpost::testing::ReadFileOrDie(dir_ / kCaChainFile), keys_.ca.certificate().ToPem());
}

TEST_F(DeviceStateTest, EmptyExistingDirectoryIsNarrowedTo0700) {
  fs::create_directories(dir_);
  fs::permissions(dir_, fs::perms(0755));
  SavedOrDie();
  EXPECT_EQ(Mode(dir_), 0700);
}

TEST_F(DeviceStateTest, NonEmptyDirectoryOpenToOthersIsRefused) {
  fs::create_directories(dir_);
  fs::permissions(dir_, fs::perms(0755));
  outpost::testing::WriteFileOrDie(dir_ / "something", "x");
  Status s = CheckStateDir(dir_);
  EXPECT_EQ(s.code(), Errc::kFailedPrecondition);
  EXPECT_NE(s.message().find("chmod 700"), std::string::npos) << s.message();
  EXPECT_EQ(Mode(dir_), 0755);
}

TEST_F(DeviceStateTest, FileInsteadOfDirectoryIsRefused) {
  outpost::testing::WriteFileOrDie(dir_, "x");
  EXPECT_EQ(CheckStateDir(dir_).code(), Errc::kFailedPrecondition);
}

TEST_F(DeviceStateTest, MissingDirectoryIsNotRegistered) {
  ExpectLoadFails(Errc::kFailedPrecondition, "not registered");
  ExpectLoadFails(Errc::kFailedPrecondition, "outpost device register");
}

TEST_F(DeviceStateTest, DirectoryWithoutRegistrationIsNotRegistered) {
  fs::create_directories(dir_);
  ExpectLoadFails(Errc::kFailedPrecondition, "not registered");
}

TEST_F(DeviceStateTest, GarbledRegistrationIsDamaged) {
  SavedOrDie();
  outpost::testing::WriteFileOrDie(dir_ / kRegistrationFile, "{\"instance_id\": ");
  ExpectLoadFails(Errc::kDataLoss, "registration.json is not a registration");
}

TEST_F(DeviceStateTest, MissingFileIsDamaged) {
  for (const char* name :
       {kKeyFile, kCertificateFile, kCaChainFile, kServerCaFile, kServerUrlFile}) {
    SavedOrDie();
    fs::remove(dir_ / name);
    ExpectLoadFails(Errc::kDataLoss, "is damaged");
  }
}

TEST_F(DeviceStateTest, KeyOfAnotherDeviceIsDamaged) {
  SavedOrDie();
  fs::remove(dir_ / kKeyFile);
  ASSERT_OK(NewKey().SaveFile(dir_ / kKeyFile));
  ExpectLoadFails(Errc::kDataLoss, "not for this device's key");
}

TEST_F(DeviceStateTest, CertificateThatDisagreesWithRegistrationIsDamaged) {
  SavedOrDie();
  outpost::testing::WriteFileOrDie(dir_ / kCertificateFile, keys_.ca.certificate().ToPem());
  ExpectLoadFails(Errc::kDataLoss, "does not match registration.json");
}

TEST_F(DeviceStateTest, KeyReadableByOthersIsRefusedWithTheFix) {
  SavedOrDie();
  fs::permissions(dir_ / kKeyFile, fs::perms(0644));
  ExpectLoadFails(Errc::kFailedPrecondition, "chmod 600");
}

TEST_F(DeviceStateTest, AuthorizationRoundTripsAndIsForgottenOnReRegistration) {
  DeviceState state = SavedOrDie();
  auto none = state.LoadAuthorization();
  ASSERT_OK(none);
  EXPECT_FALSE(none->has_value());

  auto signed_authorization =
      SignOrDie(keys_.signing_key, MakeAuthorization("sat-1", "inst-1", clock_.Now()));
  ASSERT_OK(state.SaveAuthorization(signed_authorization));
  auto stored = state.LoadAuthorization();
  ASSERT_OK(stored);
  ASSERT_TRUE(stored->has_value());
  EXPECT_EQ((*stored)->SerializeAsString(), signed_authorization.SerializeAsString());

  SavedOrDie();  // a new registration in the same directory
  auto after = DeviceState::Load(dir_);
  ASSERT_OK(after);
  auto forgotten = after->LoadAuthorization();
  ASSERT_OK(forgotten);
  EXPECT_FALSE(forgotten->has_value());
}

TEST_F(DeviceStateTest, GarbledAuthorizationIsDamaged) {
  DeviceState state = SavedOrDie();
  outpost::testing::WriteFileOrDie(dir_ / kAuthorizationFile, "\xff\xff\xff");
  auto stored = state.LoadAuthorization();
  ASSERT_FALSE(stored.ok());
  EXPECT_EQ(stored.status().code(), Errc::kDataLoss);
}

TEST_F(DeviceStateTest, ReleasedSurvivesLoadUntilRegisteredAgain) {
  DeviceState state = SavedOrDie();
  v1::ReleaseResponse release;
  release.set_instance_id("inst-1");
  ASSERT_OK(state.MarkReleased(release));
  EXPECT_TRUE(state.released());
  auto loaded = DeviceState::Load(dir_);
  ASSERT_OK(loaded);
  EXPECT_TRUE(loaded->released());

  SavedOrDie();
  auto again = DeviceState::Load(dir_);
  ASSERT_OK(again);
  EXPECT_FALSE(again->released());
}

TEST_F(DeviceStateTest, CertificateForAnotherKeyIsRefused) {
  auto other = NewKey();
  ExpectFreshRefused(NewKey(), IssueRegistrationOrDie(keys_, other.public_key(), "inst-1"),
                     "not for this device's key");
}

TEST_F(DeviceStateTest, CertificateNamingAnotherInstanceIsRefused) {
  auto key = NewKey();
  auto registration = IssueRegistrationOrDie(keys_, key.public_key(), "inst-1");
  registration.set_instance_id("inst-2");
  ExpectFreshRefused(std::move(key), registration, "not instance 'inst-2'");
}

TEST_F(DeviceStateTest, CertificateFromAnotherCaIsRefused) {
  auto key = NewKey();
  auto registration = IssueRegistrationOrDie(keys_, key.public_key(), "inst-1");
  auto foreign = outpost::testing::MakeSatelliteKeysOrDie(clock_.Now(), "sat-1");
  registration.set_ca_chain_pem(0, foreign.ca.certificate().ToPem());
  ExpectFreshRefused(std::move(key), registration, "does not check out");
}

TEST_F(DeviceStateTest, ExpiredCertificateIsRefused) {
  auto key = NewKey();
  auto registration = IssueRegistrationOrDie(keys_, key.public_key(), "inst-1");
  clock_.Advance(std::chrono::hours(30));
  ExpectFreshRefused(std::move(key), registration, "does not check out");
}

TEST_F(DeviceStateTest, MissingCaChainIsRefused) {
  auto key = NewKey();
  auto registration = IssueRegistrationOrDie(keys_, key.public_key(), "inst-1");
  registration.clear_ca_chain_pem();
  ExpectFreshRefused(std::move(key), registration, "no CA chain");
}

TEST_F(DeviceStateTest, SigningKeyIdMismatchIsRefused) {
  auto key = NewKey();
  auto registration = IssueRegistrationOrDie(keys_, key.public_key(), "inst-1");
  registration.set_signing_key_id("00112233445566778899aabbccddeeff");
  ExpectFreshRefused(std::move(key), registration, "key id");
}

TEST_F(DeviceStateTest, SigningKeyThatIsNotEd25519IsRefused) {
  auto key = NewKey();
  auto registration = IssueRegistrationOrDie(keys_, key.public_key(), "inst-1");
  auto ecdsa = NewKey();
  registration.set_signing_public_key_pem(ecdsa.public_key().ToPem());
  registration.set_signing_key_id(ecdsa.public_key().KeyId());
  ExpectFreshRefused(std::move(key), registration, "expected ed25519");
}

TEST_F(DeviceStateTest, UnparsableSigningKeyIsRefused) {
  auto key = NewKey();
  auto registration = IssueRegistrationOrDie(keys_, key.public_key(), "inst-1");
  registration.set_signing_public_key_pem("not a key");
  ExpectFreshRefused(std::move(key), registration, "signing key is not usable");
}

// Issue 17, item 9: every field has its shape and size before anything is parsed or stored, so
// nothing stored can fail to load and no identifier can name a path.
TEST_F(DeviceStateTest, OversizedOrMisshapenRegistrationFieldsAreRefused) {
  const std::pair<std::function<void(v1::RegisterResponse*)>, std::string> cases[] = {
      {[](v1::RegisterResponse* r) { r->set_va(std::string(2 << 20, 'v')); },
       "virtual account name"},
      {[this](v1::RegisterResponse* r) {
         for (int i = 0; i < 3000; ++i) r->add_ca_chain_pem(keys_.ca.certificate().ToPem());
       },
       "the CA chain holds 3001 certificates"},
      {[](v1::RegisterResponse* r) { r->set_instance_id("../../../../tmp/x"); },
       "instance id '../../../../tmp/x' contains '/'"},
      {[](v1::RegisterResponse* r) { r->set_instance_id(".."); }, "must start with a letter"},
      {[](v1::RegisterResponse* r) { r->set_satellite_id(std::string(65, 's')); },
       "the satellite id"},
      {[](v1::RegisterResponse* r) { r->set_udi("PID1/SN1"); }, "is not PID:SN"},
      {[](v1::RegisterResponse* r) {
         r->set_certificate_not_after_text(std::string(3 << 20, 't'));
       },
       "the certificate's expiry text"},
      {[](v1::RegisterResponse* r) { r->set_signing_key_id("\x1b[2J"); }, "the signing key id"},
      {[](v1::RegisterResponse* r) { r->set_replaced_instance_id("a/b"); },
       "the replaced instance id"},
  };
  for (const auto& [mutate, message] : cases) {
    auto key = NewKey();
    auto registration = IssueRegistrationOrDie(keys_, key.public_key(), "inst-1");
    mutate(&registration);
    ExpectFreshRefused(std::move(key), registration, message);
  }
}

// Issue 17, item 9: trust comes from --ca (or the CA pinned before), never from the answer.
TEST_F(DeviceStateTest, CertificateChainingToARootSuppliedInTheAnswerIsRefused) {
  auto forged = outpost::testing::MakeSatelliteKeysOrDie(clock_.Now(), "sat-1");
  auto key = NewKey();
  auto registration = IssueRegistrationOrDie(forged, key.public_key(), "inst-1");
  ExpectFreshRefused(std::move(key), registration,
                     "neither the CA given with --ca nor the one pinned");

  // The same answer is accepted when that CA was pinned by the registration it replaces.
  auto key3 = NewKey();
  auto by_pinned = IssueRegistrationOrDie(forged, key3.public_key(), "inst-1");
  ASSERT_OK(DeviceState::FromRegistration(dir_, kUrl, keys_.ca.certificate().ToPem(),
                                          std::move(key3), by_pinned, clock_.Now(),
                                          {forged.ca.certificate()}));
}

// Issue 17, item 7: what Load could not read is never written, and the previous one stays.
TEST_F(DeviceStateTest, AuthorizationTooLargeToLoadIsNotStored) {
  DeviceState state = SavedOrDie();
  auto small = SignOrDie(keys_.signing_key, MakeAuthorization("sat-1", "inst-1", clock_.Now()));
  ASSERT_OK(state.SaveAuthorization(small));
  auto big = small;
  big.mutable_authorization()->mutable_tags(0)->set_reason(std::string(2 << 20, 'r'));
  const Status s = state.SaveAuthorization(big);
  EXPECT_EQ(s.code(), Errc::kInvalidArgument);
  auto loaded = state.LoadAuthorization();
  ASSERT_OK(loaded);
  ASSERT_TRUE(loaded->has_value());
  EXPECT_EQ((*loaded)->SerializeAsString(), small.SerializeAsString());
}

// --- Certificate renewal: the swap of key and certificate, and every point a crash can cut it --

class DeviceStateRenewalTest : public DeviceStateTest {
 protected:
  void SetUp() override {
    old_ = std::make_unique<DeviceState>(SavedOrDie());
    ASSERT_OK(old_->SaveAuthorization(
        SignOrDie(keys_.signing_key, MakeAuthorization("sat-1", "inst-1", clock_.Now()))));
    renewed_ = IssueRegistrationOrDie(keys_, new_key_.public_key(), "inst-1");
  }

  // Loads the directory and expects the renewed key and certificate, every file in agreement
  // again, no leftover next key, and the authorization kept.
  void ExpectRenewedOnLoad() {
    auto loaded = DeviceState::Load(dir_);
    ASSERT_OK(loaded);
    EXPECT_TRUE(loaded->key().public_key() == new_key_.public_key());
    EXPECT_EQ(loaded->certificate().ToPem(), renewed_.certificate_pem());
    EXPECT_EQ(outpost::testing::ReadFileOrDie(dir_ / kCertificateFile), renewed_.certificate_pem());
    EXPECT_EQ(outpost::testing::ReadFileOrDie(dir_ / kKeyFile), new_key_.ToPem());
    EXPECT_EQ(Mode(dir_ / kKeyFile), 0600);
    EXPECT_FALSE(fs::exists(dir_ / kNextKeyFile));
    auto authorization = loaded->LoadAuthorization();
    ASSERT_OK(authorization);
    EXPECT_TRUE(authorization->has_value()) << "a renewal keeps the last authorization";
  }

  void ExpectOldOnLoad() {
    auto loaded = DeviceState::Load(dir_);
    ASSERT_OK(loaded);
    EXPECT_TRUE(loaded->key().public_key() == old_->key().public_key());
    EXPECT_TRUE(loaded->certificate() == old_->certificate());
  }

  crypto::PrivateKey new_key_ = NewKey();
  std::unique_ptr<DeviceState> old_;
  v1::RegisterResponse renewed_;
};

TEST_F(DeviceStateRenewalTest, RenewalSwapsKeyAndCertificateAndKeepsTheAuthorization) {
  ASSERT_OK(old_->SaveRenewalKey(new_key_));
  EXPECT_EQ(Mode(dir_ / kNextKeyFile), 0600);
  const std::string new_key_pem = new_key_.ToPem();
  ASSERT_OK(
      old_->ApplyRenewal(renewed_, OrDie(crypto::PrivateKey::FromPem(new_key_pem)), clock_.Now()));
  EXPECT_EQ(old_->certificate().ToPem(), renewed_.certificate_pem());
  ExpectRenewedOnLoad();
}

TEST_F(DeviceStateRenewalTest, CrashBeforeTheAnswerWasStoredKeepsTheOldIdentity) {
  ASSERT_OK(old_->SaveRenewalKey(new_key_));  // then the process died
  ExpectOldOnLoad();
}

TEST_F(DeviceStateRenewalTest, CrashAfterTheCommitPointFinishesTheSwapOnLoad) {
  // registration.json written, device.key not yet replaced.
  ASSERT_OK(old_->SaveRenewalKey(new_key_));
  outpost::testing::WriteFileOrDie(dir_ / kRegistrationFile, ToJson(renewed_, true));
  ExpectRenewedOnLoad();
}

TEST_F(DeviceStateRenewalTest, CrashBeforeTheCertificateFileWasRewrittenIsRepairedOnLoad) {
  // registration.json and device.key replaced, device.crt still the old one.
  ASSERT_OK(old_->SaveRenewalKey(new_key_));
  outpost::testing::WriteFileOrDie(dir_ / kRegistrationFile, ToJson(renewed_, true));
  outpost::testing::WriteFileOrDie(dir_ / kKeyFile, new_key_.ToPem());
  ::chmod((dir_ / kKeyFile).c_str(), 0600);
  ExpectRenewedOnLoad();
}

TEST_F(DeviceStateRenewalTest, AnswerForAnotherInstanceChangesNothing) {
  ASSERT_OK(old_->SaveRenewalKey(new_key_));
  auto other = IssueRegistrationOrDie(keys_, new_key_.public_key(), "inst-2");
  Status s =
      old_->ApplyRenewal(other, OrDie(crypto::PrivateKey::FromPem(new_key_.ToPem())), clock_.Now());
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), Errc::kUnauthenticated) << s.ToString();
  EXPECT_NE(s.message().find("instance id"), std::string::npos) << s.message();
  EXPECT_TRUE(old_->certificate() == OrDie(DeviceState::Load(dir_)).certificate());
  ExpectOldOnLoad();
}

TEST_F(DeviceStateRenewalTest, AnswerThatChangesTheSigningKeyChangesNothing) {
  auto other_keys = outpost::testing::MakeSatelliteKeysOrDie(clock_.Now());
  renewed_.set_signing_public_key_pem(other_keys.signing_key.public_key().ToPem());
  renewed_.set_signing_key_id(other_keys.signing_key.public_key().KeyId());
  Status s = old_->ApplyRenewal(renewed_, OrDie(crypto::PrivateKey::FromPem(new_key_.ToPem())),
                                clock_.Now());
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), Errc::kUnauthenticated) << s.ToString();
  ExpectOldOnLoad();
}

TEST_F(DeviceStateRenewalTest, AnswerForAnotherKeyChangesNothing) {
  Status s = old_->ApplyRenewal(renewed_, NewKey(), clock_.Now());
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), Errc::kUnauthenticated) << s.ToString();
  ExpectOldOnLoad();
}

}  // namespace
}  // namespace outpost::client
