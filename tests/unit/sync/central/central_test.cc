// The reference central, driven as a satellite would: requests are built and signed here with
// the bundle codec, responses are checked with the satellite's own checks (freshness.h).

#include "sync/central/central.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>
#include <functional>
#include <string>
#include <vector>

#include "common/audit_format.h"
#include "common/crypto/hash.h"
#include "common/ids.h"
#include "common/sqlite/connection.h"
#include "sync/bundle/armor.h"
#include "sync/bundle/codec.h"
#include "sync/bundle/freshness.h"
#include "sync/bundle/trust.h"
#include "sync/central/request_checks.h"
#include "tests/testing/fake_clock.h"
#include "tests/testing/test_util.h"
#include "tests/unit/sync/central/central_test_fixture.h"

namespace outpost::central {
namespace {

TEST_F(CentralTest, EnrollmentBundleRoundTripsAndKeepsOnlyAVerifier) {
  const auto file = dir_ / "e.bundle";
  auto enrolled = central_->EnrollSatellite("acme", "plant 5", file, true, "https://c.example:1");
  ASSERT_OK(enrolled);
  struct stat st {};
  ASSERT_EQ(stat(file.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_TRUE(sync::LooksArmored(testing::ReadFileOrDie(file)));
  auto bundle = sync::ReadBundleFile(file);
  ASSERT_OK(bundle);
  auto opened = sync::OpenEnrollmentBundle(*bundle);
  ASSERT_OK(opened);
  const v1::EnrollmentBundle& e = opened->payload.enrollment();
  EXPECT_EQ(e.satellite_id(), enrolled->satellite().satellite_id());
  EXPECT_EQ(e.account_id(), "acme");
  EXPECT_EQ(e.account_name(), "Acme Corp");
  EXPECT_EQ(opened->central_key, central_->signing_public_key());
  EXPECT_EQ(e.central_url(), "https://c.example:1");
  EXPECT_EQ(e.central_ca_certificate_pem(), testing::ReadFileOrDie(dir_ / "central" / "ca.pem"));
  EXPECT_EQ(e.enrollment_secret().size(), sync::kEnrollmentSecretSize);
  EXPECT_EQ(Dump().find(e.enrollment_secret()), std::string::npos);

  // An existing file is refused before anything is recorded.
  const std::string before = Dump();
  auto again = central_->EnrollSatellite("acme", "plant 6", file, false, std::nullopt);
  EXPECT_EQ(again.status().code(), Errc::kAlreadyExists);
  EXPECT_EQ(central_->EnrollSatellite("nobody", "x", dir_ / "n.bundle", false, std::nullopt)
                .status()
                .code(),
            Errc::kNotFound);
  EXPECT_EQ(Dump(), before);
  EXPECT_FALSE(std::filesystem::exists(dir_ / "n.bundle"));
}

TEST_F(CentralTest, FirstRequestBindsTheKeyAndGetsTheCompleteSignedEntitlementSet) {
  v1::SyncRequest request = satellite_.NextRequest();
  *request.mutable_audit_head() = satellite_.Head(17, 1'780'000'000'000);
  request.mutable_inventory()->set_devices_total(3);
  const v1::SyncResponse r = Sync(satellite_.Sign(request), satellite_);
  EXPECT_EQ(r.satellite_id(), satellite_.enrollment.satellite_id());
  EXPECT_EQ(r.account_id(), "acme");
  EXPECT_EQ(r.account_name(), "Acme Corp");
  EXPECT_EQ(r.response_number(), 1);
  EXPECT_EQ(r.answers_request_sequence(), 1);
  EXPECT_EQ(r.issued_at(), ToUnixSeconds(clock_.Now()));
  EXPECT_EQ(r.valid_until(), r.issued_at() + 30 * 86'400);
  ASSERT_EQ(r.entitlements_size(), 2);
  EXPECT_EQ(r.entitlements(1).va(), "lab");
  EXPECT_EQ(r.entitlements(1).enforcement(), v1::ENFORCEMENT_ENFORCED);
  EXPECT_TRUE(r.entitlements(1).export_controlled());
  ASSERT_EQ(r.virtual_accounts_size(), 2);
  EXPECT_EQ(r.policy().sync_interval_s(), 3600);

  sync::SatelliteSyncState state;
  state.satellite_id = satellite_.enrollment.satellite_id();
  state.account_id = "acme";
  state.last_request_sequence = 1;
  EXPECT_OK(sync::CheckResponse(r, state, clock_.Now()));

  auto list = central_->ListSatellites("acme");
  ASSERT_OK(list);
  ASSERT_EQ(list->satellites_size(), 1);
  EXPECT_EQ(list->satellites(0).key_id(), satellite_.key.public_key().KeyId());
  EXPECT_EQ(list->satellites(0).devices_total(), 3);
  auto heads = central_->ListAuditHeads(satellite_.enrollment.satellite_id());
  ASSERT_OK(heads);
  ASSERT_EQ(heads->heads_size(), 1);
  EXPECT_EQ(heads->heads(0).head().seq(), 17);

  // Later requests need no proof; another key is refused now that one is bound.
  clock_.Advance(std::chrono::hours(1));
  EXPECT_EQ(Sync(satellite_.Sign(satellite_.NextRequest()), satellite_).response_number(), 2);
  const std::string before = Dump();
  crypto::PrivateKey intruder =
      crypto::PrivateKey::Generate(crypto::KeyAlgorithm::kEd25519).value();
  auto refused = central_->ProcessSyncRequest(satellite_.Sign(satellite_.NextRequest(), &intruder));
  EXPECT_EQ(refused.status().code(), Errc::kPermissionDenied);
  EXPECT_NE(refused.status().message().find("must be enrolled again"), std::string::npos)
      << refused.status().message();
  // Nothing about the satellite leaks to whoever holds another key: not its key id.
  EXPECT_EQ(refused.status().message().find(satellite_.key.public_key().KeyId()), std::string::npos)
      << refused.status().message();
  EXPECT_EQ(Dump(), before);
}

TEST_F(CentralTest, BadOrMissingEnrollmentProofIsRefusedAndChangesNothing) {
  const std::string before = Dump();
  v1::SyncRequest request = satellite_.NextRequest();
  request.set_enrollment_proof(
      sync::EnrollmentProof(std::string(32, 'x'), satellite_.key.public_key()));
  auto wrong = central_->ProcessSyncRequest(satellite_.Sign(request));
  EXPECT_EQ(wrong.status().code(), Errc::kPermissionDenied);
  EXPECT_NE(wrong.status().message().find("enrollment secret"), std::string::npos);
  request.clear_enrollment_proof();
  auto missing = central_->ProcessSyncRequest(satellite_.Sign(request));
  EXPECT_EQ(missing.status().code(), Errc::kPermissionDenied);
  EXPECT_NE(missing.status().message().find("without an enrollment proof"), std::string::npos);
  EXPECT_EQ(Dump(), before);
  // The real proof still works afterwards: the refusals consumed nothing.
  satellite_.sequence = 0;
  EXPECT_EQ(Sync(satellite_.Sign(satellite_.NextRequest()), satellite_).response_number(), 1);
}

// While a satellite awaits its first contact, what a request claims is read by a scan of the
// wire format (admission.cc, PeekFirstContact) before anything is verified: garbled payloads,
// other kinds and strangers' keys are refused, and the real first contact still binds.
TEST_F(CentralTest, FirstContactClaimsAreReadSafelyBeforeTheSignature) {
  const std::string before = Dump();
  const crypto::PrivateKey stranger =
      crypto::PrivateKey::Generate(crypto::KeyAlgorithm::kEd25519).value();
  auto signed_payload = [&](const std::string& payload_bytes) {
    auto bundle = sync::ParseBundleBytes(satellite_.Sign(satellite_.NextRequest()));
    EXPECT_TRUE(bundle.ok());
    bundle->set_payload(payload_bytes);
    bundle->set_key_id(stranger.public_key().KeyId());
    bundle->set_signature(stranger.Sign(sync::kSyncRequestDomain, payload_bytes).value());
    return sync::SerializeBundle(*bundle);
  };
  // A bad varint, a sync request shorter than it says, and a zero tag.
  for (const std::string& garbage : std::vector<std::string>{
           "\xff\xff\xff", std::string("\x22\x05") + "ab", std::string("\x00", 1)}) {
    auto refused = central_->ProcessSyncRequest(signed_payload(garbage));
    ASSERT_FALSE(refused.ok());
    EXPECT_NE(refused.status().message().find("cannot be read"), std::string::npos)
        << refused.status().message();
  }
  sync::BundlePayload response;
  response.set_kind(v1::BUNDLE_KIND_SYNC_RESPONSE);
  response.mutable_sync_response()->set_satellite_id(satellite_.enrollment.satellite_id());
  auto wrong_kind = central_->ProcessSyncRequest(signed_payload(response.SerializeAsString()));
  EXPECT_NE(wrong_kind.status().message().find("not a sync request"), std::string::npos)
      << wrong_kind.status().message();
  // A stranger introducing its own key for the waiting satellite, with a proof of its own.
  v1::SyncRequest claim = satellite_.NextRequest();
  claim.set_satellite_public_key_pem(stranger.public_key().ToPem());
  claim.set_enrollment_proof(sync::EnrollmentProof(std::string(32, 's'), stranger.public_key()));
  for (int i = 0; i < 100; ++i) *claim.add_usage_reports() = Report("r" + std::to_string(i), 1);
  auto impostor = central_->ProcessSyncRequest(satellite_.Sign(claim, &stranger));
  EXPECT_EQ(impostor.status().code(), Errc::kPermissionDenied);
  EXPECT_NE(impostor.status().message().find("enrollment secret"), std::string::npos)
      << impostor.status().message();
  EXPECT_EQ(Dump(), before);
  satellite_.sequence = 0;
  EXPECT_EQ(Sync(satellite_.Sign(satellite_.NextRequest()), satellite_).response_number(), 1);
}

TEST_F(CentralTest, UnknownSatelliteForeignAccountAndOtherCentralAreRefused) {
  const std::string before = Dump();
  v1::SyncRequest unknown = satellite_.NextRequest();
  unknown.set_satellite_id(NewUuid());
  auto status = central_->ProcessSyncRequest(satellite_.Sign(unknown)).status();
  EXPECT_EQ(status.code(), Errc::kNotFound);
  EXPECT_NE(status.message().find("is not enrolled at this central"), std::string::npos);

  ASSERT_OK(central_->CreateAccount("globex", ""));
  v1::SyncRequest foreign = satellite_.NextRequest();
  foreign.set_account_id("globex");
  status = central_->ProcessSyncRequest(satellite_.Sign(foreign)).status();
  EXPECT_EQ(status.code(), Errc::kPermissionDenied);
  EXPECT_NE(status.message().find("is not the account satellite"), std::string::npos)
      << status.message();

  v1::SyncRequest other_central = satellite_.NextRequest();
  other_central.set_central_key_id("00112233445566778899aabbccddeeff");
  status = central_->ProcessSyncRequest(satellite_.Sign(other_central)).status();
  EXPECT_EQ(status.code(), Errc::kPermissionDenied);
  EXPECT_NE(status.message().find("enrol it here again"), std::string::npos);

  // A bundle of another kind where a request is expected.
  sync::BundlePayload enrollment;
  enrollment.set_kind(v1::BUNDLE_KIND_ENROLLMENT);
  *enrollment.mutable_enrollment() = satellite_.enrollment;
  status = central_
               ->ProcessSyncRequest(
                   sync::SerializeBundle(sync::SignBundle(enrollment, satellite_.key).value()))
               .status();
  EXPECT_EQ(status.code(), Errc::kInvalidArgument);
  EXPECT_NE(status.message().find("not a sync request"), std::string::npos);
  std::string after = Dump();
  // Only the account created above differs.
  EXPECT_NE(after.find("globex"), std::string::npos);
}

TEST_F(CentralTest, ReplayedAndOlderRequestsAreRefusedAndAnExactRepeatGetsTheStoredAnswer) {
  const std::string first = satellite_.Sign(satellite_.NextRequest());
  Sync(first, satellite_);
  clock_.Advance(std::chrono::minutes(5));
  v1::SyncRequest second_request = satellite_.NextRequest();
  *second_request.add_usage_reports() = Report("r-1", 4);
  const std::string second = satellite_.Sign(second_request);
  auto answered = central_->ProcessSyncRequest(second);
  ASSERT_OK(answered);
  const std::string before = Dump();

  clock_.Advance(std::chrono::minutes(5));
  auto repeat = central_->ProcessSyncRequest(second);
  ASSERT_OK(repeat);
  EXPECT_TRUE(repeat->summary.resent());
  EXPECT_EQ(repeat->response_bytes, answered->response_bytes);

  v1::SyncRequest altered = second_request;
  *altered.add_usage_reports() = Report("r-2", 5);
  auto status = central_->ProcessSyncRequest(satellite_.Sign(altered)).status();
  EXPECT_EQ(status.code(), Errc::kFailedPrecondition);
  EXPECT_NE(status.message().find("already processed with different content"), std::string::npos);

  status = central_->ProcessSyncRequest(first).status();
  EXPECT_EQ(status.code(), Errc::kFailedPrecondition);
  EXPECT_NE(status.message().find("older than the last processed request 2"), std::string::npos);
  EXPECT_EQ(Dump(), before);
}

TEST_F(CentralTest, TamperedTruncatedOrOversizedRequestsAreRefusedAndChangeNothing) {
  const std::string before = Dump();
  v1::SyncRequest request = satellite_.NextRequest();
  const std::string good = satellite_.Sign(request);

  sync::SignedBundle tampered = sync::ParseBundleBytes(good).value();
  std::string payload = tampered.payload();
  payload[payload.size() / 2] ^= 0x01;
  tampered.set_payload(payload);
  EXPECT_FALSE(central_->ProcessSyncRequest(sync::SerializeBundle(tampered)).ok());

  auto truncated = central_->ProcessSyncRequest(good.substr(0, good.size() - 10));
  EXPECT_EQ(truncated.status().code(), Errc::kInvalidArgument);
  EXPECT_NE(truncated.status().message().find("truncated or garbled"), std::string::npos);
  EXPECT_EQ(central_->ProcessSyncRequest("").status().code(), Errc::kInvalidArgument);
  EXPECT_EQ(central_->ProcessSyncRequest("not a bundle at all").status().code(),
            Errc::kInvalidArgument);

  v1::SyncRequest big = request;
  for (int i = 0; i < 2000; ++i) *big.add_usage_reports() = Report(NewUuid(), i);
  auto oversized = central_->ProcessSyncRequest(satellite_.Sign(big));
  EXPECT_EQ(oversized.status().code(), Errc::kPayloadTooLarge);
  EXPECT_NE(oversized.status().message().find("limit"), std::string::npos);

  // A malformed item in an authentic request refuses the whole request.
  v1::SyncRequest bad_item = request;
  *bad_item.add_usage_reports() = Report("", 1);
  EXPECT_EQ(central_->ProcessSyncRequest(satellite_.Sign(bad_item)).status().code(),
            Errc::kInvalidArgument);
  EXPECT_EQ(Dump(), before);
  // The armored form of the good request is accepted: files may be either.
  EXPECT_EQ(Sync(sync::Armor(sync::ParseBundleBytes(good).value(), v1::BUNDLE_KIND_SYNC_REQUEST),
                 satellite_)
                .response_number(),
            1);
}

TEST_F(CentralTest, UsageReportsAreCountedOnceAcrossRepeatedReportIds) {
  v1::SyncRequest first = satellite_.NextRequest();
  *first.add_usage_reports() = Report("report-a", 7);
  auto one = central_->ProcessSyncRequest(satellite_.Sign(first));
  ASSERT_OK(one);
  EXPECT_EQ(one->summary.new_usage_reports(), 1);
  satellite_.bound = true;

  // The response was lost: the satellite sends report-a again with report-b.
  v1::SyncRequest second = satellite_.NextRequest();
  *second.add_usage_reports() = Report("report-a", 7);
  *second.add_usage_reports() = Report("report-b", 9);
  // The same id twice in one request cannot be true: refused, naming it, changing nothing.
  v1::SyncRequest doubled = second;
  *doubled.add_usage_reports() = Report("report-b", 9);
  auto refused = central_->ProcessSyncRequest(satellite_.Sign(doubled));
  EXPECT_EQ(refused.status().code(), Errc::kInvalidArgument);
  EXPECT_NE(refused.status().message().find("'report-b' appears twice"), std::string::npos)
      << refused.status().message();
  auto two = central_->ProcessSyncRequest(satellite_.Sign(second));
  ASSERT_OK(two);
  EXPECT_EQ(two->summary.new_usage_reports(), 1);
  const auto& acks = two->summary.response().acknowledged_report_ids();
  EXPECT_EQ(std::vector<std::string>(acks.begin(), acks.end()),
            (std::vector<std::string>{"report-a", "report-b"}));
  auto usage = central_->ListUsage("acme");
  ASSERT_OK(usage);
  EXPECT_EQ(usage->reports_size(), 2);
}

TEST_F(CentralTest, MovesAreAppliedOnceAndMoreThanAvailableIsRejected) {
  v1::SyncRequest request = satellite_.NextRequest();
  v1::LicenseMove* move = request.add_moves();
  move->set_move_id("move-1");
  move->set_from_va("default");
  move->set_to_va("lab");
  move->set_tag(kTag);
  move->set_count(4);
  v1::LicenseMove* too_many = request.add_moves();
  *too_many = *move;
  too_many->set_move_id("move-2");
  too_many->set_count(7);
  v1::LicenseMove* nowhere = request.add_moves();
  *nowhere = *move;
  nowhere->set_move_id("move-3");
  nowhere->set_to_va("branch");
  const v1::SyncResponse r = Sync(satellite_.Sign(request), satellite_);
  ASSERT_EQ(r.move_results_size(), 3);
  EXPECT_EQ(r.move_results(0).status(), v1::MoveResult::STATUS_APPLIED);
  EXPECT_EQ(r.move_results(1).status(), v1::MoveResult::STATUS_REJECTED);
  EXPECT_NE(r.move_results(1).message().find("only 6"), std::string::npos);
  EXPECT_EQ(r.move_results(2).status(), v1::MoveResult::STATUS_REJECTED);
  EXPECT_NE(r.move_results(2).message().find("no virtual account 'branch'"), std::string::npos);
  EXPECT_EQ(Quantity(r, base_entitlement_), 6);
  EXPECT_EQ(Quantity(r, base_entitlement_ + "@lab"), 4);

  // Resent (its response was not imported yet): the first answer stands, nothing moves twice.
  v1::SyncRequest again = satellite_.NextRequest();
  *again.add_moves() = *move;
  v1::LicenseMove* back = again.add_moves();
  back->set_move_id("move-4");
  back->set_from_va("lab");
  back->set_to_va("default");
  back->set_tag(kTag);
  back->set_count(4);
  const v1::SyncResponse r2 = Sync(satellite_.Sign(again), satellite_);
  EXPECT_EQ(r2.move_results(0).status(), v1::MoveResult::STATUS_APPLIED);
  EXPECT_EQ(r2.move_results(1).status(), v1::MoveResult::STATUS_APPLIED);
  // Moved back, the units return to the original entitlement.
  EXPECT_EQ(Quantity(r2, base_entitlement_), 10);
  EXPECT_EQ(Quantity(r2, base_entitlement_ + "@lab"), 0);
}

TEST_F(CentralTest, ALicenseKeyConvertsOnce) {
  LicenseTerms terms;
  terms.quantity = 3;
  auto pak = central_->CreatePak("acme", "lab", "regid.2026-01.com.example.fw.vpn", terms);
  ASSERT_OK(pak);
  EXPECT_EQ(Dump().find(pak->key()), std::string::npos);

  v1::SyncRequest request = satellite_.NextRequest();
  v1::ConversionRequest* c = request.add_conversions();
  c->set_conversion_id("conv-1");
  c->set_key(" " + pak->key().substr(0, 9) + "\n" + pak->key().substr(9));  // as pasted
  v1::ConversionRequest* unknown = request.add_conversions();
  unknown->set_conversion_id("conv-2");
  unknown->set_key("PAK-0000-0000-0000-0000-0000-0000-0000-0000");
  const v1::SyncResponse r = Sync(satellite_.Sign(request), satellite_);
  ASSERT_EQ(r.conversion_results_size(), 2);
  EXPECT_EQ(r.conversion_results(0).status(), v1::ConversionResult::STATUS_CONVERTED);
  ASSERT_EQ(r.conversion_results(0).entitlement_ids_size(), 1);
  const std::string converted = r.conversion_results(0).entitlement_ids(0);
  EXPECT_EQ(Quantity(r, converted), 3);
  EXPECT_EQ(r.conversion_results(1).status(), v1::ConversionResult::STATUS_REJECTED);
  EXPECT_NE(r.conversion_results(1).message().find("unknown license key"), std::string::npos);

  v1::SyncRequest next = satellite_.NextRequest();
  *next.add_conversions() = *c;  // resent: same answer
  v1::ConversionRequest* second = next.add_conversions();
  *second = *c;
  second->set_conversion_id("conv-3");
  const v1::SyncResponse r2 = Sync(satellite_.Sign(next), satellite_);
  EXPECT_EQ(r2.conversion_results(0).status(), v1::ConversionResult::STATUS_CONVERTED);
  EXPECT_EQ(r2.conversion_results(0).entitlement_ids(0), converted);
  EXPECT_EQ(r2.conversion_results(1).status(), v1::ConversionResult::STATUS_REJECTED);
  EXPECT_NE(r2.conversion_results(1).message().find("already converted"), std::string::npos);
  int with_tag = 0;
  for (const auto& e : r2.entitlements()) with_tag += e.tag() == "regid.2026-01.com.example.fw.vpn";
  EXPECT_EQ(with_tag, 1);

  // Another account's satellite cannot convert it either.
  ASSERT_OK(central_->CreateAccount("globex", ""));
  FakeSatellite other = Enrol("globex");
  v1::SyncRequest foreign = other.NextRequest();
  auto* fc = foreign.add_conversions();
  fc->set_conversion_id("conv-x");
  fc->set_key(pak->key());
  const v1::SyncResponse r3 = Sync(other.Sign(foreign), other);
  EXPECT_EQ(r3.conversion_results(0).status(), v1::ConversionResult::STATUS_REJECTED);
  // ... and learns nothing of it: to globex, acme's key does not exist.
  EXPECT_NE(r3.conversion_results(0).message().find("unknown license key"), std::string::npos)
      << r3.conversion_results(0).message();
  EXPECT_EQ(r3.entitlements_size(), 0);
}

// Issue 17, findings 2 and 4: a customer's own, well-signed satellite sending what cannot be
// true is refused, with the report and the reason, and nothing is stored.
TEST_F(CentralTest, NonsenseInAWellSignedRequestIsRefusedNamingTheItem) {
  Sync(satellite_.Sign(satellite_.NextRequest()), satellite_);
  satellite_.bound = true;
  const std::string before = Dump();
  struct Case {
    std::string name;
    std::function<void(v1::SyncRequest&)> change;
    std::string expected;
  };
  const int64_t now = ToUnixSeconds(clock_.Now());
  const std::vector<Case> cases = {
      {"huge peak", [](v1::SyncRequest& r) { *r.add_usage_reports() = Report("r1", INT64_MAX); },
       "usage report 'r1' has peak in use"},
      {"negative peak", [](v1::SyncRequest& r) { *r.add_usage_reports() = Report("r1", -1); },
       "usage report 'r1' has peak in use -1"},
      {"endless period",
       [](v1::SyncRequest& r) {
         v1::UsageReport u = Report("r2", 1);
         u.set_period_start(INT64_MIN);
         u.set_period_end(INT64_MAX);
         *r.add_usage_reports() = u;
       },
       "usage report 'r2' covers"},
      {"future period",
       [now](v1::SyncRequest& r) {
         v1::UsageReport u = Report("r2", 1);
         u.set_period_start(now + 10 * 86'400);
         u.set_period_end(now + 11 * 86'400);
         *r.add_usage_reports() = u;
       },
       "a day from now"},
      {"negative sample hour",
       [](v1::SyncRequest& r) {
         v1::UsageReport u = Report("r3", 1);
         auto* sample = u.add_samples();
         sample->set_hour_start(-3600);
         sample->set_peak_in_use(1);
         *r.add_usage_reports() = u;
       },
       "usage report 'r3' has a sample for hour -3600"},
      {"unknown VA",
       [](v1::SyncRequest& r) {
         v1::UsageReport u = Report("r4", 1);
         u.set_va("nowhere");
         *r.add_usage_reports() = u;
       },
       "names virtual account 'nowhere', which the account does not have"},
      {"unknown tag",
       [](v1::SyncRequest& r) {
         v1::UsageReport u = Report("r5", 1);
         u.set_tag("regid.2026-01.com.example.never");
         *r.add_usage_reports() = u;
       },
       "never had an entitlement"},
      {"negative devices",
       [](v1::SyncRequest& r) { r.mutable_inventory()->set_devices_total(-42); },
       "the inventory counts -42 devices"},
      {"hash that is no hash",
       [this](v1::SyncRequest& r) {
         *r.mutable_audit_head() = satellite_.Head(3, 1'780'000'000'000);
         r.mutable_audit_head()->set_hash(std::string(70, 'z'));
       },
       "not 64 lowercase hex digits"},
      {"head signed by someone else",
       [](v1::SyncRequest& r) {
         FakeSatellite stranger;
         *r.mutable_audit_head() = stranger.Head(3, 1'780'000'000'000);
       },
       "not the key of the satellite that sent it"},
      {"head with a forged signature",
       [this](v1::SyncRequest& r) {
         *r.mutable_audit_head() = satellite_.Head(3, 1'780'000'000'000);
         r.mutable_audit_head()->set_seq(4);
       },
       "signature does not verify"},
      {"overlong version",
       [](v1::SyncRequest& r) { r.set_software_version(std::string(1000, '9')); },
       "software version"},
  };
  for (const Case& c : cases) {
    v1::SyncRequest request = satellite_.NextRequest();
    c.change(request);
    auto refused = central_->ProcessSyncRequest(satellite_.Sign(request));
    EXPECT_EQ(refused.status().code(), Errc::kInvalidArgument) << c.name;
    EXPECT_NE(refused.status().message().find(c.expected), std::string::npos)
        << c.name << ": " << refused.status().message();
    satellite_.sequence--;  // refused: the sequence was not used
  }
  EXPECT_EQ(Dump(), before);
  // A sane request still goes through.
  v1::SyncRequest good = satellite_.NextRequest();
  *good.add_usage_reports() = Report("fine", 4);
  EXPECT_EQ(Sync(satellite_.Sign(good), satellite_).acknowledged_report_ids_size(), 1);
}

// The per-request limits, on the contents alone (a request this large is also above the test
// central's 64 KiB size limit).
TEST(RequestContentsTest, CountsAboveTheLimitsAreRefusedNamingTheLimit) {
  const auto key = crypto::PrivateKey::Generate(crypto::KeyAlgorithm::kEd25519).value();
  const int64_t now = 1'780'000'000;
  v1::SyncRequest request;
  for (int i = 0; i < kMaxUsageReportsPerRequest; ++i) {
    *request.add_usage_reports() = Report("n" + std::to_string(i), 1);
  }
  EXPECT_OK(CheckRequestContents(request, now, key.public_key()));
  *request.add_usage_reports() = Report("one-more", 1);
  Status s = CheckRequestContents(request, now, key.public_key());
  EXPECT_EQ(s.code(), Errc::kInvalidArgument);
  EXPECT_NE(s.message().find("carries 10001 usage reports; at most 10000"), std::string::npos)
      << s.message();
  v1::SyncRequest moves;
  for (int i = 0; i <= kMaxMovesPerRequest; ++i) moves.add_moves()->set_move_id(std::to_string(i));
  EXPECT_NE(CheckRequestContents(moves, now, key.public_key()).message().find("1001 moves"),
            std::string::npos);
}

TEST_F(CentralTest, QuotasPerSatelliteRefuseWithAClearReasonAndRecover) {
  Sync(satellite_.Sign(satellite_.NextRequest()), satellite_);
  satellite_.bound = true;
  // Stand in for a day of reports: rows received in the last 24 hours.
  {
    auto db = sqlite::Connection::Open(dir_ / "central" / "central.db");
    ASSERT_OK(db);
    const int64_t now = ToUnixSeconds(clock_.Now());
    for (int64_t i = 0; i < kMaxUsageReportsPerDay; i += 10'000) {
      ASSERT_OK(db->ExecPrepared(
          "WITH RECURSIVE n(x) AS (SELECT 0 UNION ALL SELECT x + 1 FROM n WHERE x < 9999) "
          "INSERT INTO usage_reports SELECT ?, 'old-' || (? + x), 'acme', 'default', ?, 0, 1, 0, "
          "x'00', 1, ? FROM n",
          satellite_.enrollment.satellite_id(), i, kTag, now));
    }
  }
  const std::string before = Dump();
  v1::SyncRequest request = satellite_.NextRequest();
  *request.add_usage_reports() = Report("one-too-many", 1);
  auto refused = central_->ProcessSyncRequest(satellite_.Sign(request));
  EXPECT_EQ(refused.status().code(), Errc::kResourceExhausted);
  EXPECT_NE(refused.status().message().find("the quota is 100000 reports"), std::string::npos)
      << refused.status().message();
  EXPECT_EQ(Dump(), before);
  // A day later the window has moved on.
  clock_.Advance(std::chrono::hours(25));
  EXPECT_EQ(Sync(satellite_.Sign(request), satellite_).acknowledged_report_ids_size(), 1);
}

// Requests count whether or not they carry an audit head (they need not).
TEST_F(CentralTest, TheDailyRequestQuotaCountsEveryRequest) {
  v1::SyncRequest first = satellite_.NextRequest();
  ASSERT_FALSE(first.has_audit_head());
  Sync(satellite_.Sign(first), satellite_);
  {
    auto db = sqlite::Connection::Open(dir_ / "central" / "central.db");
    ASSERT_OK(db);
    ASSERT_OK(db->ExecPrepared(
        "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < ?) "
        "INSERT INTO sync_requests SELECT ?, -x, ?, 100, 0 FROM n",
        kMaxRequestsPerDay - 1, satellite_.enrollment.satellite_id(), ToUnixSeconds(clock_.Now())));
  }
  EXPECT_EQ(central_->GetSatellite(satellite_.enrollment.satellite_id())->requests_last_day(),
            kMaxRequestsPerDay);
  const std::string before = Dump();
  auto refused = central_->ProcessSyncRequest(satellite_.Sign(satellite_.NextRequest()));
  EXPECT_EQ(refused.status().code(), Errc::kResourceExhausted);
  EXPECT_NE(refused.status().message().find("sync requests in the last 24 hours; the quota is"),
            std::string::npos)
      << refused.status().message();
  EXPECT_EQ(Dump(), before);
  clock_.Advance(std::chrono::hours(25));
  Sync(satellite_.Sign(satellite_.NextRequest()), satellite_);
  EXPECT_EQ(central_->GetSatellite(satellite_.enrollment.satellite_id())->requests_last_day(), 1);
}

// Moves and conversions are stored even when rejected, so they have a daily quota of their own.
TEST_F(CentralTest, TheDailyQuotaOfMovesAndConversions) {
  Sync(satellite_.Sign(satellite_.NextRequest()), satellite_);
  {
    auto db = sqlite::Connection::Open(dir_ / "central" / "central.db");
    ASSERT_OK(db);
    ASSERT_OK(db->ExecPrepared("INSERT INTO sync_requests VALUES (?, -1, ?, 100, ?)",
                               satellite_.enrollment.satellite_id(), ToUnixSeconds(clock_.Now()),
                               kMaxItemsPerDay - 1));
  }
  v1::SyncRequest request = satellite_.NextRequest();
  for (const char* id : {"move-1", "move-2"}) {
    v1::LicenseMove* move = request.add_moves();
    move->set_move_id(id);
    move->set_from_va("default");
    move->set_to_va("lab");
    move->set_tag(kTag);
    move->set_count(1);
  }
  const std::string before = Dump();
  auto refused = central_->ProcessSyncRequest(satellite_.Sign(request));
  EXPECT_EQ(refused.status().code(), Errc::kResourceExhausted);
  EXPECT_NE(refused.status().message().find("license moves and conversions in the last 24 hours"),
            std::string::npos)
      << refused.status().message();
  EXPECT_EQ(Dump(), before);
  request.mutable_moves()->RemoveLast();  // one more fits
  EXPECT_EQ(Sync(satellite_.Sign(request), satellite_).move_results_size(), 1);
}

// Issue 17, finding 5: a request naming another account's satellite, signed with the sender's
// own key, learns nothing of it (not its key id, not its account).
TEST_F(CentralTest, ARequestNamingAnotherAccountsSatelliteLearnsNothingOfIt) {
  Sync(satellite_.Sign(satellite_.NextRequest()), satellite_);  // acme's satellite is bound
  ASSERT_OK(central_->CreateAccount("evilcorp", ""));
  FakeSatellite evil = Enrol("evilcorp");
  v1::SyncRequest request = evil.NextRequest();
  request.set_satellite_id(satellite_.enrollment.satellite_id());
  for (bool with_unbound_satellite : {true, false}) {
    if (!with_unbound_satellite) Sync(evil.Sign(evil.NextRequest()), evil);  // binds evil's key
    auto refused = central_->ProcessSyncRequest(evil.Sign(request));
    ASSERT_FALSE(refused.ok());
    const std::string& message = refused.status().message();
    EXPECT_EQ(message.find("acme"), std::string::npos) << message;
    EXPECT_EQ(message.find(satellite_.key.public_key().KeyId()), std::string::npos) << message;
  }
}

// Issue 17, finding 6: a revoked satellite is refused, bound or not, with a message its
// operator can act on; the other satellites of the account go on syncing.
TEST_F(CentralTest, ARevokedSatelliteIsRefusedWithAMessageItsOperatorCanActOn) {
  Sync(satellite_.Sign(satellite_.NextRequest()), satellite_);
  FakeSatellite replacement = Enrol("acme");
  FakeSatellite unbound = Enrol("acme");

  auto revoked = central_->RevokeSatellite(satellite_.enrollment.satellite_id(),
                                           "replaced by plant 4b after re-enrollment");
  ASSERT_OK(revoked);
  EXPECT_EQ(revoked->revoked_at(), ToUnixSeconds(clock_.Now()));
  ASSERT_OK(central_->RevokeSatellite(unbound.enrollment.satellite_id(), "never installed"));

  const std::string before = Dump();
  for (FakeSatellite* s : {&satellite_, &unbound}) {
    auto refused = central_->ProcessSyncRequest(s->Sign(s->NextRequest()));
    ASSERT_FALSE(refused.ok()) << "a revoked satellite synced";
    EXPECT_EQ(refused.status().code(), Errc::kPermissionDenied);
    const std::string& message = refused.status().message();
    EXPECT_NE(message.find("was revoked by the vendor"), std::string::npos) << message;
    EXPECT_NE(message.find("outpost init --enroll"), std::string::npos) << message;
  }
  EXPECT_NE(central_->ProcessSyncRequest(satellite_.Sign(satellite_.NextRequest()))
                .status()
                .message()
                .find("replaced by plant 4b"),
            std::string::npos);
  EXPECT_EQ(Dump(), before);
  // The account's other satellite is not affected.
  EXPECT_GT(Sync(replacement.Sign(replacement.NextRequest()), replacement).entitlements_size(), 0);

  auto shown = central_->GetSatellite(satellite_.enrollment.satellite_id());
  ASSERT_OK(shown);
  EXPECT_EQ(shown->revoked_reason(), "replaced by plant 4b after re-enrollment");
  EXPECT_EQ(shown->requests_last_day(), 1);
}

TEST_F(CentralTest, RevokingTwiceAnUnknownIdOrWithoutAReasonIsRefusedAndChangesNothing) {
  const std::string id = satellite_.enrollment.satellite_id();
  const std::string before = Dump();
  EXPECT_EQ(central_->RevokeSatellite("no-such-satellite", "stolen").status().code(),
            Errc::kNotFound);
  EXPECT_EQ(central_->RevokeSatellite(id, "").status().code(), Errc::kInvalidArgument);
  EXPECT_EQ(central_->RevokeSatellite(id, "bad\x1b[2J").status().code(), Errc::kInvalidArgument);
  EXPECT_EQ(central_->RevokeSatellite(id, std::string(129, 'x')).status().code(),
            Errc::kInvalidArgument);
  EXPECT_EQ(Dump(), before);
  ASSERT_OK(central_->RevokeSatellite(id, "stolen"));
  const std::string after = Dump();
  auto again = central_->RevokeSatellite(id, "stolen again");
  EXPECT_EQ(again.status().code(), Errc::kFailedPrecondition);
  EXPECT_NE(again.status().message().find("revoked already"), std::string::npos);
  EXPECT_EQ(Dump(), after);
  EXPECT_EQ(central_->GetSatellite("no-such-satellite").status().code(), Errc::kNotFound);
}

TEST_F(CentralTest, CatalogueInputsAreValidatedAndRefusalsChangeNothing) {
  const std::string before = Dump();
  EXPECT_EQ(central_->CreateAccount("Acme Corp", "").status().code(), Errc::kInvalidArgument);
  EXPECT_EQ(central_->CreateAccount("acme", "").status().code(), Errc::kAlreadyExists);
  EXPECT_EQ(central_->CreateVirtualAccount("acme", "lab").status().code(), Errc::kAlreadyExists);
  EXPECT_EQ(central_->CreateVirtualAccount("acme", "bad va").status().code(),
            Errc::kInvalidArgument);
  EXPECT_EQ(central_->CreateVirtualAccount("nobody", "lab").status().code(), Errc::kNotFound);
  LicenseTerms terms;
  terms.quantity = 0;
  EXPECT_EQ(central_->AddLicense("acme", "lab", kTag, terms).status().code(),
            Errc::kInvalidArgument);
  terms.quantity = 1;
  terms.start = 2'000'000'000;
  terms.end = 1'900'000'000;
  auto backwards = central_->AddLicense("acme", "lab", kTag, terms);
  EXPECT_EQ(backwards.status().code(), Errc::kInvalidArgument);
  EXPECT_NE(backwards.status().message().find("not after the start"), std::string::npos);
  terms = LicenseTerms();
  terms.quantity = 1;
  EXPECT_EQ(central_->AddLicense("acme", "branch", kTag, terms).status().code(), Errc::kNotFound);
  EXPECT_EQ(central_->AddLicense("acme", "lab", "-bad", terms).status().code(),
            Errc::kInvalidArgument);
  EXPECT_EQ(central_->CreatePak("acme", "branch", kTag, terms).status().code(), Errc::kNotFound);
  EXPECT_EQ(Dump(), before);
  EXPECT_EQ(ParseDate("2027-01-31", "--end").value(), 1'801'353'600);
  EXPECT_FALSE(ParseDate("31.01.2027", "--end").ok());
  EXPECT_FALSE(ParseDate("2027-02-29", "--end").ok());
}

TEST_F(CentralTest, InitRefusesAnInitialisedDirectory) {
  InitCentralOptions init;
  init.data_dir = dir_ / "central";
  EXPECT_EQ(InitCentral(init, clock_).status().code(), Errc::kAlreadyExists);
  init.data_dir = dir_ / "other";
  init.listen = "nonsense";
  EXPECT_EQ(InitCentral(init, clock_).status().code(), Errc::kInvalidArgument);
  EXPECT_FALSE(std::filesystem::exists(dir_ / "other" / "central.db"));
  EXPECT_EQ(Central::Open(dir_ / "missing", clock_).status().code(), Errc::kNotFound);
}

// A step that fails midway (here the TLS certificate, in the way as a directory) removes every
// file and directory init created, and leaves what was there before.
TEST_F(CentralTest, InitThatFailsMidwayRemovesWhatItCreated) {
  const std::filesystem::path root = dir_ / "midway";
  std::filesystem::create_directories(root / "tls" / "server.pem");
  InitCentralOptions init;
  init.data_dir = root;
  auto failed = InitCentral(init, clock_);
  ASSERT_FALSE(failed.ok());
  std::vector<std::string> left;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(root)) {
    left.push_back(entry.path().lexically_relative(root).string());
  }
  std::sort(left.begin(), left.end());
  EXPECT_EQ(left, (std::vector<std::string>{"tls", "tls/server.pem"}))
      << failed.status().ToString();
}

}  // namespace
}  // namespace outpost::central
