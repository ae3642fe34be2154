// The client's whole flow over real TLS and mTLS against a fake satellite (fake_satellite.h):
// register, authorize, status, release, re-register; and every answer a broken or hostile
// satellite could give is refused with a clear error and changes nothing on disk.

#include "client/device_client.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <string>

#include "tests/testing/fake_clock.h"
#include "tests/testing/test_util.h"
#include "tests/unit/client/fake_satellite.h"

namespace outpost::client {
namespace {

namespace fs = std::filesystem;
using outpost::testing::FakeSatellite;
using outpost::testing::Misbehaviour;

v1::TagUse Use(const std::string& tag, int64_t count) {
  v1::TagUse use;
  use.set_tag(tag);
  use.set_count(count);
  return use;
}

int Mode(const fs::path& p) {
  struct stat st {};
  EXPECT_EQ(::stat(p.c_str(), &st), 0) << p;
  return static_cast<int>(st.st_mode & 0777);
}

class DeviceClientTest : public ::testing::Test {
 protected:
  void SetUp() override { satellite_ = FakeSatellite::StartOrDie(tmp_.path()); }

  RegisterOptions Options(const std::string& token = "opt_good") const {
    RegisterOptions o;
    o.server_url = satellite_->url();
    o.ca_file = satellite_->ca_file();
    o.token = token;
    o.pid = "PID1";
    o.serial = "SN1";
    o.hostname = "fw-1";
    o.state_dir = state_dir_;
    return o;
  }

  static DeviceClientOptions Quick() {
    DeviceClientOptions o;
    o.timeout = std::chrono::milliseconds(5000);
    return o;
  }

  DeviceClient RegisterOrDie() {
    auto device = DeviceClient::Register(Options(), Quick());
    EXPECT_OK(device);
    if (!device.ok()) std::abort();
    return std::move(*device);
  }

  // Every file of the state directory and its contents, to check that nothing changed.
  std::map<std::string, std::string> Snapshot() const {
    std::map<std::string, std::string> files;
    if (!fs::exists(state_dir_)) return files;
    for (const auto& entry : fs::directory_iterator(state_dir_)) {
      files[entry.path().filename().string()] = outpost::testing::ReadFileOrDie(entry.path());
    }
    return files;
  }

  outpost::testing::TempDir tmp_;
  fs::path state_dir_ = tmp_ / "device";
  std::unique_ptr<FakeSatellite> satellite_;
};

TEST_F(DeviceClientTest, RegisterAuthorizeStatusReleaseAndRegisterAgain) {
  DeviceClient device = RegisterOrDie();
  EXPECT_EQ(device.registration().instance_id(), "inst-1");
  EXPECT_EQ(device.registration().udi(), "PID1:SN1");
  EXPECT_EQ(Mode(state_dir_), 0700);
  EXPECT_EQ(Mode(state_dir_ / kKeyFile), 0600);

  auto authorization = device.Authorize(
      {Use("regid.known.base", 2), Use("regid.unknown", 1), Use("regid.known.vpn", 5)});
  ASSERT_OK(authorization);
  ASSERT_EQ(authorization->tags_size(), 3);
  EXPECT_EQ(authorization->instance_id(), "inst-1");
  EXPECT_EQ(authorization->tags(0).status(), "AUTHORIZED");
  EXPECT_EQ(authorization->tags(0).granted(), 2);
  EXPECT_EQ(authorization->tags(1).status(), "NOT_ENTITLED");
  EXPECT_EQ(authorization->tags(2).granted(), 5);
  EXPECT_TRUE(fs::exists(state_dir_ / kAuthorizationFile));

  auto status = device.GetStatus();
  ASSERT_OK(status);
  EXPECT_EQ(status->device.instance_id(), "inst-1");
  EXPECT_EQ(status->device.hostname(), "fw-1");
  ASSERT_EQ(status->device.holdings_size(), 2);
  ASSERT_TRUE(status->last_authorization.has_value());
  EXPECT_EQ(status->last_authorization->SerializeAsString(), authorization->SerializeAsString());

  // Fewer tags give the rest back: the request is the whole current use.
  ASSERT_OK(device.Authorize({Use("regid.known.base", 1)}));
  status = device.GetStatus();
  ASSERT_OK(status);
  ASSERT_EQ(status->device.holdings_size(), 1);
  EXPECT_EQ(status->device.holdings(0).count(), 1);

  auto released = device.Release();
  ASSERT_OK(released);
  EXPECT_EQ(released->instance_id(), "inst-1");
  ASSERT_EQ(released->released_size(), 1);
  EXPECT_TRUE(device.released());
  EXPECT_TRUE(fs::exists(state_dir_ / kKeyFile)) << "release keeps the files";

  // A released device refuses everything, also after reopening, with what to do.
  auto again = device.Authorize({Use("regid.known.base", 1)});
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.status().code(), Errc::kFailedPrecondition);
  EXPECT_NE(again.status().message().find("register again"), std::string::npos);
  auto reopened = DeviceClient::Open(state_dir_, Quick());
  ASSERT_OK(reopened);
  EXPECT_TRUE(reopened->released());
  EXPECT_EQ(reopened->GetStatus().status().code(), Errc::kFailedPrecondition);
  EXPECT_EQ(reopened->Release().status().code(), Errc::kFailedPrecondition);
  EXPECT_EQ(reopened->LastAuthorization().status().code(), Errc::kFailedPrecondition);
  const int calls = satellite_->authorize_calls();
  EXPECT_FALSE(reopened->Authorize({Use("regid.known.base", 1)}).ok());
  EXPECT_EQ(satellite_->authorize_calls(), calls) << "a released device must not call out";

  // Registering again (another token) gives a new identity and a clean state.
  const std::string old_key = outpost::testing::ReadFileOrDie(state_dir_ / kKeyFile);
  auto registered = DeviceClient::Register(Options("opt_other"), Quick());
  ASSERT_OK(registered);
  EXPECT_EQ(registered->registration().instance_id(), "inst-2");
  EXPECT_FALSE(registered->released());
  EXPECT_NE(outpost::testing::ReadFileOrDie(state_dir_ / kKeyFile), old_key);
  EXPECT_FALSE(fs::exists(state_dir_ / kAuthorizationFile));
  ASSERT_OK(registered->Authorize({Use("regid.known.base", 1)}));
}

TEST_F(DeviceClientTest, LastAuthorizationIsVerifiedOfflineWithoutTheSatellite) {
  {
    DeviceClient device = RegisterOrDie();
    auto none = device.LastAuthorization();
    ASSERT_OK(none);
    EXPECT_FALSE(none->has_value());
    ASSERT_OK(device.Authorize({Use("regid.known.base", 3)}));
  }
  satellite_->Shutdown();

  auto device = DeviceClient::Open(state_dir_, Quick());
  ASSERT_OK(device);
  auto last = device->LastAuthorization();
  ASSERT_OK(last);
  ASSERT_TRUE(last->has_value());
  EXPECT_EQ((*last)->tags(0).granted(), 3);

  // The satellite being away is kUnavailable, and nothing changes.
  const auto before = Snapshot();
  auto authorize = device->Authorize({Use("regid.known.base", 1)});
  ASSERT_FALSE(authorize.ok());
  EXPECT_EQ(authorize.status().code(), Errc::kUnavailable) << authorize.status().ToString();
  EXPECT_EQ(Snapshot(), before);
}

TEST_F(DeviceClientTest, TamperedStoredAuthorizationIsRefused) {
  DeviceClient device = RegisterOrDie();
  ASSERT_OK(device.Authorize({Use("regid.known.base", 1)}));
  v1::SignedAuthorization stored;
  ASSERT_TRUE(
      stored.ParseFromString(outpost::testing::ReadFileOrDie(state_dir_ / kAuthorizationFile)));
  v1::Authorization more;
  ASSERT_TRUE(more.ParseFromString(stored.payload()));
  more.mutable_tags(0)->set_granted(1000);
  stored.set_payload(more.SerializeAsString());
  outpost::testing::WriteFileOrDie(state_dir_ / kAuthorizationFile, stored.SerializeAsString());

  auto last = device.LastAuthorization();
  ASSERT_FALSE(last.ok());
  EXPECT_EQ(last.status().code(), Errc::kUnauthenticated);
  EXPECT_NE(last.status().message().find("does not verify"), std::string::npos);
}

TEST_F(DeviceClientTest, BadTokenSurfacesTheSatellitesMessageAndSavesNothing) {
  auto device = DeviceClient::Register(Options("opt_wrong"), Quick());
  ASSERT_FALSE(device.ok());
  EXPECT_EQ(device.status().code(), Errc::kUnauthenticated);
  EXPECT_NE(device.status().message().find("registration token is not valid"), std::string::npos)
      << device.status().message();
  EXPECT_FALSE(fs::exists(state_dir_));
}

TEST_F(DeviceClientTest, FailedReRegistrationKeepsThePreviousState) {
  DeviceClient device = RegisterOrDie();
  ASSERT_OK(device.Authorize({Use("regid.known.base", 1)}));
  const auto before = Snapshot();
  RegisterOptions forced = Options("opt_wrong");
  forced.replace_registered = true;  // so that the satellite is asked, and refuses
  auto refused = DeviceClient::Register(forced, Quick());
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("registering with"), std::string::npos)
      << refused.status().message();
  EXPECT_EQ(Snapshot(), before);
}

// Registering another device over a live one would strand its instance on the satellite (issue
// 12, item 4).
TEST_F(DeviceClientTest, RegisteringOverAnotherRegisteredDeviceIsRefusedUnlessForced) {
  DeviceClient device = RegisterOrDie();
  ASSERT_OK(device.Authorize({Use("regid.known.base", 1)}));
  const auto before = Snapshot();
  RegisterOptions another = Options("opt_other");
  another.serial = "SN2";
  auto refused = DeviceClient::Register(another, Quick());
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), Errc::kAlreadyExists);
  for (const std::string part : {"'inst-1'", "'PID1:SN1'", "outpost device release --state-dir",
                                 "--force", "outpost devices release 'inst-1'"}) {
    EXPECT_NE(refused.status().message().find(part), std::string::npos)
        << part << " in: " << refused.status().message();
  }
  EXPECT_EQ(Snapshot(), before);

  another.replace_registered = true;
  auto replaced = DeviceClient::Register(another, Quick());
  ASSERT_OK(replaced);
  EXPECT_EQ(replaced->registration().instance_id(), "inst-2");
  EXPECT_EQ(satellite_->last_registration_proof(), "") << "another device proves nothing";
}

// The same device registering again in its own state directory proves its current key with its
// ID certificate, which the satellite requires before it replaces a registration (issue 14).
TEST_F(DeviceClientTest, SameDeviceRegistersAgainWithItsCurrentCertificate) {
  DeviceClient device = RegisterOrDie();
  EXPECT_EQ(satellite_->last_registration_proof(), "");
  auto again = DeviceClient::Register(Options("opt_other"), Quick());
  ASSERT_OK(again);
  EXPECT_EQ(satellite_->last_registration_proof(), "inst-1");
  EXPECT_EQ(again->registration().instance_id(), "inst-2");
  EXPECT_EQ(again->registration().replaced_instance_id(), "inst-1");
}

// An instance its satellite no longer has (released by an operator) strands nothing: the state
// directory is reused without --force.
TEST_F(DeviceClientTest, DeviceReleasedByTheOperatorRegistersAgainInItsStateDirectory) {
  DeviceClient device = RegisterOrDie();
  satellite_->ReleaseByOperator(device.registration().instance_id());
  auto again = DeviceClient::Register(Options("opt_other"), Quick());
  ASSERT_OK(again);
  EXPECT_EQ(again->registration().instance_id(), "inst-2");
}

TEST_F(DeviceClientTest, InvalidTagsAreRefusedBeforeAnythingIsSent) {
  DeviceClient device = RegisterOrDie();
  EXPECT_EQ(device.Authorize({Use("", 1)}).status().code(), Errc::kInvalidArgument);
  EXPECT_EQ(device.Authorize({Use("a", 0)}).status().code(), Errc::kInvalidArgument);
  EXPECT_EQ(device.Authorize({Use("a", 1), Use("a", 2)}).status().code(), Errc::kInvalidArgument);
  EXPECT_EQ(satellite_->authorize_calls(), 0);
}

TEST_F(DeviceClientTest, OpenWithoutRegistrationSaysWhatToDo) {
  auto device = DeviceClient::Open(state_dir_);
  ASSERT_FALSE(device.ok());
  EXPECT_EQ(device.status().code(), Errc::kFailedPrecondition);
  EXPECT_NE(device.status().message().find("run `outpost device register` first"),
            std::string::npos);
}

// --- A hostile satellite, or someone holding its TLS key (issue 17, items 7-10) ---------------

// Only the signed parts are stored, so an answer padded where the signature does not reach
// neither grows the state nor makes it unreadable: the device keeps its offline fallback.
TEST_F(DeviceClientTest, PaddingOutsideTheSignatureIsNotStored) {
  DeviceClient device = RegisterOrDie();
  for (Misbehaviour m : {Misbehaviour::kPaddedCopy, Misbehaviour::kUnknownField}) {
    satellite_->set_misbehaviour(m);
    auto authorization = device.Authorize({Use("regid.known.base", 2)});
    ASSERT_OK(authorization);
    EXPECT_LT(fs::file_size(state_dir_ / kAuthorizationFile), 4096u);
    auto reopened = DeviceClient::Open(state_dir_, Quick());
    ASSERT_OK(reopened);
    auto last = reopened->LastAuthorization();
    ASSERT_OK(last);
    ASSERT_TRUE(last->has_value());
    EXPECT_EQ((*last)->tags(0).granted(), 2);
    EXPECT_EQ((*last)->tags(0).reason(), "");
  }
}

// Signed answers that cannot be the current one are refused, and the stored one stays.
TEST_F(DeviceClientTest, StaleFutureAndOvergenerousAnswersAreRefusedAndChangeNothing) {
  DeviceClient device = RegisterOrDie();
  ASSERT_OK(device.Authorize({Use("regid.known.base", 2)}));  // the first answer: 2 of base
  ASSERT_OK(device.Authorize({Use("regid.known.base", 1)}));
  const auto before = Snapshot();
  const std::pair<Misbehaviour, std::string> cases[] = {
      {Misbehaviour::kReplayFirstAnswer, "it is for 2 of tag 'regid.known.base', but 1 were asked"},
      {Misbehaviour::kIssuedEarlier, "before the one this device already holds"},
      {Misbehaviour::kExpired, "already past by more than the allowed clock skew"},
      {Misbehaviour::kFromTheFuture, "in the future by more than the allowed clock skew"},
      {Misbehaviour::kGrantsTooMuch,
       "grants 1000000000 of tag 'regid.known.base' for a request of 1"},
  };
  for (const auto& [misbehaviour, message] : cases) {
    satellite_->set_misbehaviour(misbehaviour);
    auto refused = device.Authorize({Use("regid.known.base", 1)});
    ASSERT_FALSE(refused.ok()) << message;
    EXPECT_EQ(refused.status().code(), Errc::kUnauthenticated);
    EXPECT_NE(refused.status().message().find(message), std::string::npos)
        << refused.status().message();
    EXPECT_EQ(Snapshot(), before) << message;
  }
  satellite_->set_misbehaviour(Misbehaviour::kNone);
  ASSERT_OK(device.Authorize({Use("regid.known.base", 1)}));
}

// A registration answer that does not check out replaces nothing: the registered device, its
// authorization and its directory stay as they were.
TEST_F(DeviceClientTest, BadRegistrationAnswersReplaceNothing) {
  DeviceClient device = RegisterOrDie();
  ASSERT_OK(device.Authorize({Use("regid.known.base", 1)}));
  const auto before = Snapshot();
  const std::pair<Misbehaviour, std::string> cases[] = {
      {Misbehaviour::kHugeVa, "virtual account name"},
      {Misbehaviour::kHugeChain, "the CA chain holds 3001 certificates"},
      {Misbehaviour::kOwnRoot, "neither the CA given with --ca nor the one pinned"},
      {Misbehaviour::kPathInstanceId, "instance id '../../../../tmp/x' contains '/'"},
  };
  for (const auto& [misbehaviour, message] : cases) {
    satellite_->set_misbehaviour(misbehaviour);
    auto refused = DeviceClient::Register(Options("opt_other"), Quick());
    ASSERT_FALSE(refused.ok()) << message;
    EXPECT_EQ(refused.status().code(), Errc::kUnauthenticated);
    EXPECT_NE(refused.status().message().find(message), std::string::npos)
        << refused.status().message();
    EXPECT_NE(refused.status().message().find("nothing was saved"), std::string::npos);
    EXPECT_LT(refused.status().message().size(), 2000u);
    EXPECT_EQ(Snapshot(), before) << message;
    auto reopened = DeviceClient::Open(state_dir_, Quick());
    ASSERT_OK(reopened);
    EXPECT_EQ(reopened->registration().instance_id(), "inst-1");
  }
}

// The CA pinned by the registration being replaced vouches for the new one even when --ca now
// names another CA (e.g. a bundle that rotated), and only that CA.
TEST_F(DeviceClientTest, ThePinnedCaVouchesForARegistrationAgain) {
  DeviceClient device = RegisterOrDie();
  auto other = outpost::testing::MakeSatelliteKeysOrDie(std::chrono::system_clock::now(), "x");
  const fs::path bundle = tmp_ / "bundle.pem";
  outpost::testing::WriteFileOrDie(bundle, outpost::testing::ReadFileOrDie(satellite_->ca_file()) +
                                               other.ca.certificate().ToPem());
  RegisterOptions again = Options("opt_other");
  again.ca_file = bundle;
  ASSERT_OK(DeviceClient::Register(again, Quick()));
}

// The satellite's error message is cut before it reaches the caller (item 10); the CLI escapes
// it (client_cli_test).
TEST_F(DeviceClientTest, SatelliteErrorMessagesAreBounded) {
  DeviceClient device = RegisterOrDie();
  satellite_->set_misbehaviour(Misbehaviour::kHostileError);
  auto refused = device.Authorize({Use("regid.known.base", 1)});
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), Errc::kPermissionDenied);
  EXPECT_LT(refused.status().message().size(), kMaxSatelliteMessageBytes + 400);
  EXPECT_NE(refused.status().message().find("more bytes of the satellite's message not shown"),
            std::string::npos);
  EXPECT_LT(device.GetStatus().status().message().size(), kMaxSatelliteMessageBytes + 400);

  // Beyond kMaxAnswerBytes the answer is not even read whole.
  satellite_->set_error_padding(50u << 20);
  auto huge = device.Authorize({Use("regid.known.base", 1)});
  ASSERT_FALSE(huge.ok());
  EXPECT_EQ(huge.status().code(), Errc::kUnavailable) << huge.status().ToString();
  EXPECT_LT(huge.status().message().size(), 1000u);
}

// --- Certificate renewal (issue 16)
// ---------------------------------------------------------------

TEST_F(DeviceClientTest, RenewCertificateSwapsKeyAndCertificateAndTheNextCallUsesThem) {
  DeviceClient device = RegisterOrDie();
  const std::string old_key = outpost::testing::ReadFileOrDie(state_dir_ / kKeyFile);
  const std::string old_certificate = device.registration().certificate_pem();
  auto renewed = device.RenewCertificate();
  ASSERT_OK(renewed);
  EXPECT_EQ(renewed->instance_id(), "inst-1");
  EXPECT_NE(renewed->certificate_pem(), old_certificate);
  EXPECT_NE(outpost::testing::ReadFileOrDie(state_dir_ / kKeyFile), old_key);
  EXPECT_EQ(outpost::testing::ReadFileOrDie(state_dir_ / kCertificateFile),
            renewed->certificate_pem());
  EXPECT_FALSE(fs::exists(state_dir_ / kNextKeyFile));
  EXPECT_EQ(Mode(state_dir_ / kKeyFile), 0600);
  EXPECT_EQ(satellite_->renew_calls(), 1);
  ASSERT_OK(device.GetStatus());  // over mTLS with the new certificate
  auto reopened = DeviceClient::Open(state_dir_, Quick());
  ASSERT_OK(reopened);
  EXPECT_EQ(reopened->registration().certificate_pem(), renewed->certificate_pem());
}

TEST_F(DeviceClientTest, ARefusedOrUncheckedRenewalChangesNothingOnDisk) {
  DeviceClient device = RegisterOrDie();
  const auto before = Snapshot();
  satellite_->set_misbehaviour(Misbehaviour::kRenewOtherInstance);
  auto foreign = device.RenewCertificate();
  ASSERT_FALSE(foreign.ok());
  EXPECT_EQ(foreign.status().code(), Errc::kUnauthenticated) << foreign.status().ToString();
  EXPECT_EQ(Snapshot(), before);
  satellite_->set_misbehaviour(Misbehaviour::kNone);
  satellite_->set_refuse_renewal(true);
  auto refused = device.RenewCertificate();
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), Errc::kFailedPrecondition) << refused.status().ToString();
  EXPECT_EQ(Snapshot(), before);
  ASSERT_OK(device.GetStatus());  // the current certificate still works
}

TEST_F(DeviceClientTest, AutomaticRenewalRunsPastRenewAfterAndIsRetriedAtMostHourly) {
  auto clock = std::make_shared<outpost::testing::FakeClock>(
      std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now()));
  DeviceClientOptions options = Quick();
  options.clock = clock;
  satellite_->set_renew_after(ToUnixSeconds(clock->Now()) - 60);  // due at once
  satellite_->set_refuse_renewal(true);
  auto registered = DeviceClient::Register(Options(), options);
  ASSERT_OK(registered);
  DeviceClient device = std::move(*registered);
  const std::string first = device.registration().certificate_pem();

  // A failed attempt does not fail the call, and is not repeated within the hour.
  ASSERT_OK(device.Authorize({Use("regid.known.fw", 1)}));
  EXPECT_EQ(satellite_->renew_calls(), 1);
  EXPECT_EQ(device.last_renewal_status().code(), Errc::kFailedPrecondition);
  ASSERT_OK(device.Authorize({Use("regid.known.fw", 1)}));
  ASSERT_OK(device.GetStatus());
  EXPECT_EQ(satellite_->renew_calls(), 1);
  clock->Advance(std::chrono::minutes(61));
  ASSERT_OK(device.Authorize({Use("regid.known.fw", 1)}));
  EXPECT_EQ(satellite_->renew_calls(), 2);

  // Once the satellite renews, the new registration's renew_after stops the attempts.
  satellite_->set_refuse_renewal(false);
  satellite_->set_renew_after(ToUnixSeconds(clock->Now()) + 180 * 86'400);
  clock->Advance(std::chrono::minutes(61));
  ASSERT_OK(device.GetStatus());
  EXPECT_EQ(satellite_->renew_calls(), 3);
  EXPECT_OK(device.last_renewal_status());
  EXPECT_NE(device.registration().certificate_pem(), first);
  ASSERT_OK(device.GetStatus());
  EXPECT_EQ(satellite_->renew_calls(), 3);
}

TEST_F(DeviceClientTest, AnExpiredCertificateIsNotSentForRenewal) {
  auto clock = std::make_shared<outpost::testing::FakeClock>(
      std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now()));
  DeviceClientOptions options = Quick();
  options.clock = clock;
  auto registered = DeviceClient::Register(Options(), options);
  ASSERT_OK(registered);
  clock->Advance(std::chrono::hours(30));  // the fake's certificates are valid 25 hours
  auto expired = registered->RenewCertificate();
  ASSERT_FALSE(expired.ok());
  EXPECT_EQ(expired.status().code(), Errc::kFailedPrecondition);
  EXPECT_NE(expired.status().message().find("Register again with a token"), std::string::npos)
      << expired.status().message();
  EXPECT_EQ(satellite_->renew_calls(), 0);
}

}  // namespace
}  // namespace outpost::client
