// End to end: the reference central and a real satellite in one test process (sync_world.h):
// enrollment, round trips, exactly-once usage, key rotation and retirement, revocation and
// re-enrollment, rollback, foreign and damaged
// bundles, online sync, SYNC_OVERDUE and conversions.

#include "tests/integration/sync_world.h"
#include "tests/testing/connect_proxy.h"

namespace outpost {
namespace {

using namespace sync_testing;  // NOLINT(build/namespaces): the fixture and its helpers
using server::DataDir;

// 1. enroll -> export -> process -> import: the satellite serves what central granted.
TEST_F(SyncE2eTest, OfflineRoundTripDeliversTheEntitlementsCentralGranted) {
  StartCentral({});
  a_ = StartSatellite("sat-a");
  ASSERT_TRUE(a_);
  v1::SyncStatus before = a_->Status();
  EXPECT_TRUE(before.enrolled());
  EXPECT_EQ(before.account_id(), kAccount);
  EXPECT_EQ(before.last_response_number(), 0);
  EXPECT_TRUE(a_->Licenses().empty());

  const std::string request = a_->Export();
  central::SyncOutcome outcome;
  const std::string response = Process(request, &outcome);
  EXPECT_TRUE(outcome.summary.key_bound());
  EXPECT_EQ(outcome.summary.response().entitlements_size(), 5);
  EXPECT_TRUE(std::filesystem::exists(DataDir(a_->dir).enrollment_secret()));
  const v1::SyncImportResult imported = a_->ImportOk(response);
  // The key is bound: the one-time secret is gone from the disk (issue 14).
  EXPECT_FALSE(std::filesystem::exists(DataDir(a_->dir).enrollment_secret()));
  EXPECT_FALSE(imported.already_imported());
  EXPECT_EQ(imported.response_number(), 1);
  EXPECT_EQ(imported.entitlements(), 5);

  auto pools = a_->Licenses();
  EXPECT_EQ(pools["default/fw.base"].purchased(), 15);  // both orders
  EXPECT_EQ(pools["default/fw.float"].purchased(), 4);
  EXPECT_TRUE(pools["default/fw.float"].floating());
  EXPECT_EQ(pools["lab/fw.crypto"].purchased(), 2);
  EXPECT_EQ(pools["lab/fw.crypto"].enforcement(), "ENFORCED");
  EXPECT_TRUE(pools["lab/fw.crypto"].export_controlled());
  // Not started yet: nothing to use.
  EXPECT_EQ(a_->Purchased("default/fw.future"), 0);
  // Central's license list and the satellite agree on the total.
  auto central_licenses = central_->ListLicenses(kAccount);
  ASSERT_OK(central_licenses);
  int64_t central_total = 0, satellite_total = 0;
  for (const auto& e : central_licenses->entitlements()) central_total += e.quantity();
  for (const auto& [k, p] : pools) satellite_total += p.purchased();
  EXPECT_EQ(central_total, satellite_total + 7);  // fw.future not counted yet

  v1::SyncStatus after = a_->Status();
  EXPECT_EQ(after.last_request_sequence(), 1);
  EXPECT_EQ(after.last_response_number(), 1);
  EXPECT_EQ(after.entitlements(), 5);
  EXPECT_FALSE(after.sync_overdue());
  EXPECT_EQ(after.pending_usage_reports(), 0);
  EXPECT_EQ(a_->Audit("sync.import").size(), 1u);

  // Start and end are the satellite's decisions, by its clock: tomorrow fw.future counts, and
  // the day after it has ended.
  clock_.Advance(std::chrono::hours(25));
  EXPECT_EQ(a_->Purchased("default/fw.future"), 7);
  clock_.Advance(std::chrono::hours(24));
  EXPECT_EQ(a_->Purchased("default/fw.future"), 0);
  EXPECT_EQ(a_->Purchased("default/fw.base"), 15);
}

// 2. Usage reaches central exactly once across a lost file and a repeated one.
TEST_F(SyncE2eTest, UsageReachesCentralExactlyOnceAcrossLostAndRepeatedFiles) {
  StartCentral({});
  a_ = StartSatellite("sat-a");
  ASSERT_TRUE(a_);

  const std::string lost = a_->Export(/*expect_usage_reports=*/2);  // carried... and lost
  const v1::SyncRequest lost_request = ParseRequest(lost);
  ASSERT_EQ(lost_request.usage_reports_size(), 2);
  EXPECT_EQ(a_->Status().pending_usage_reports(), 2);

  // Export again: the unacknowledged reports go again, with the same ids.
  const std::string request2 = a_->Export(2);
  const v1::SyncRequest second = ParseRequest(request2);
  EXPECT_EQ(second.sequence(), lost_request.sequence() + 1);
  EXPECT_EQ(ReportIds(second), ReportIds(lost_request));
  for (const auto& u : second.usage_reports()) {
    EXPECT_EQ(u.peak_in_use(), u.tag() == "fw.base" ? 5 : 1) << u.tag();
  }

  central::SyncOutcome first_outcome;
  const std::string response = Process(request2, &first_outcome);
  EXPECT_FALSE(first_outcome.summary.resent());
  EXPECT_EQ(first_outcome.summary.new_usage_reports(), 2);
  v1::SyncImportResult imported = a_->ImportOk(response);
  EXPECT_EQ(imported.acknowledged_usage_reports(), 2);
  EXPECT_EQ(a_->Status().pending_usage_reports(), 0);

  // The same request file processed again: central resends its stored answer byte for byte.
  central::SyncOutcome repeat_outcome;
  const std::string response_again = Process(request2, &repeat_outcome);
  EXPECT_TRUE(repeat_outcome.summary.resent());
  EXPECT_EQ(repeat_outcome.summary.new_usage_reports(), 0);
  EXPECT_EQ(response_again, response);
  const std::string before = Snapshot(*a_);
  v1::SyncImportResult again = a_->ImportOk(response_again);
  EXPECT_TRUE(again.already_imported());
  EXPECT_NE(again.message().find("already imported"), std::string::npos) << again.message();
  EXPECT_EQ(Snapshot(*a_), before);

  // The lost file turns up late: central refuses it as a replay and counts nothing.
  auto late = central_->ProcessSyncRequest(lost);
  EXPECT_FALSE(late.ok());
  EXPECT_NE(late.status().message().find("older"), std::string::npos) << late.status().ToString();

  // The next export carries no usage (all acknowledged); central's list still has each id once.
  central::SyncOutcome third;
  a_->ImportOk(Process(a_->Export(0), &third));
  EXPECT_EQ(third.summary.new_usage_reports(), 0);
  auto usage = central_->ListUsage(kAccount);
  ASSERT_OK(usage);
  std::multiset<std::string> ids;
  for (const auto& r : usage->reports()) ids.insert(r.report().report_id());
  EXPECT_EQ(ids.size(), 2u);
  for (const std::string& id : ReportIds(lost_request)) EXPECT_EQ(ids.count(id), 1u) << id;
}

// Central's signing key rotates (TUF-style): the announcement arrives in a response signed by the
// old key; the satellite pins the new key and is answered with it from then on; a satellite that
// has not synced since is still answered with the old key.
TEST_F(SyncE2eTest, CentralKeyRotationIsPinnedThroughAResponseSignedByTheOldKey) {
  StartCentral({});
  a_ = StartSatellite("sat-a");
  b_ = StartSatellite("sat-b");
  ASSERT_TRUE(a_ && b_);
  RoundTrip(*a_);
  const std::string old_key = a_->Status().central_key_id();
  auto rotation = central_->RotateSigningKey();
  ASSERT_OK(rotation);
  EXPECT_EQ(rotation->previous_key_id(), old_key);
  EXPECT_EQ(central_->RotateSigningKey().status().code(), Errc::kFailedPrecondition);

  // The next answer still comes from the old key and carries the announcement.
  central::SyncOutcome outcome;
  a_->ImportOk(Process(a_->Export(), &outcome));
  EXPECT_TRUE(outcome.summary.response().has_key_rotation());
  EXPECT_EQ(a_->Status().central_key_id(), rotation->new_key_id());
  // From now on the satellite names the new key and the answer is signed by it.
  const std::string request = a_->Export();
  auto request_bundle = sync::DecodeBundle(request);
  ASSERT_OK(request_bundle);
  auto opened = sync::ParseUnverifiedPayload(*request_bundle);
  ASSERT_OK(opened);
  EXPECT_EQ(opened->sync_request().central_key_id(), rotation->new_key_id());
  const std::string response = Process(request, &outcome);
  EXPECT_FALSE(outcome.summary.response().has_key_rotation());
  auto response_bundle = sync::DecodeBundle(response);
  ASSERT_OK(response_bundle);
  EXPECT_EQ(response_bundle->key_id(), rotation->new_key_id());
  a_->ImportOk(response);
  // The rotation survives a restart of central; B, which never synced, still works.
  StopCentral();
  OpenCentral();
  b_->ImportOk(Process(b_->Export()));
  EXPECT_EQ(b_->Status().central_key_id(), rotation->new_key_id());
  a_->ImportOk(Process(a_->Export()));
}

// Issue 16: once every satellite moved to the new key, central retires the old one; a satellite
// refuses a replayed response the retired key signed, and sync goes on with the new key only.
TEST_F(SyncE2eTest, RetiredCentralKeyIsGoneAndItsOldResponsesAreRefused) {
  StartCentral({});
  a_ = StartSatellite("sat-a");
  b_ = StartSatellite("sat-b");
  ASSERT_TRUE(a_ && b_);
  const std::string old_response = RoundTrip(*a_);
  const std::string old_key = a_->Status().central_key_id();
  auto rotation = central_->RotateSigningKey();
  ASSERT_OK(rotation);
  const std::string announcement = RoundTrip(*a_);  // signed by the old key, pins the new one
  RoundTrip(*a_);                                   // signed by the new key: A moved

  // B has not moved: retiring waits for it.
  auto waiting = central_->RetireSigningKey(old_key, /*force=*/false);
  ASSERT_FALSE(waiting.ok());
  EXPECT_NE(waiting.status().message().find(b_->report.satellite_id), std::string::npos)
      << waiting.status().message();
  RoundTrip(*b_);
  RoundTrip(*b_);
  auto retired = central_->RetireSigningKey(old_key, /*force=*/false);
  ASSERT_OK(retired);
  EXPECT_EQ(retired->signing_key_id(), rotation->new_key_id());

  // Responses the retired key signed, replayed to a satellite that moved: refused, nothing
  // changes, and the refusal is audited.
  for (const std::string* replay : {&old_response, &announcement}) {
    const std::string before = Snapshot(*a_);
    net::ClientResponse r = a_->Import(*replay);
    EXPECT_EQ(r.status / 100, 4) << r.body;
    EXPECT_EQ(Snapshot(*a_), before);
  }
  EXPECT_EQ(a_->Audit("sync.import.refused").size(), 2u);

  // Central, restarted, answers with the new key only and announces nothing.
  StopCentral();
  OpenCentral();
  central::SyncOutcome outcome;
  const std::string response = Process(a_->Export(), &outcome);
  EXPECT_FALSE(outcome.summary.response().has_key_rotation());
  auto bundle = sync::DecodeBundle(response);
  ASSERT_OK(bundle);
  EXPECT_EQ(bundle->key_id(), rotation->new_key_id());
  a_->ImportOk(response);
  b_->ImportOk(Process(b_->Export()));
}

// Issue 16: a revoked satellite is refused; enrolled again under its id, a new appliance
// (`outpost init --enroll` with the new bundle) syncs, and the old one stays refused.
TEST_F(SyncE2eTest, RevokedSatelliteIsRefusedAndAReenrolledOneSyncsAgain) {
  StartCentral({});
  a_ = StartSatellite("sat-a");
  ASSERT_TRUE(a_);
  RoundTrip(*a_);
  const std::string id = a_->report.satellite_id;
  ASSERT_OK(central_->RevokeSatellite(id, "appliance lost in transit"));
  auto refused = central_->ProcessSyncRequest(a_->Export());
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("was revoked by the vendor"), std::string::npos)
      << refused.status().ToString();

  const auto file = tmp_.path() / "sat-a2.enroll";
  auto enrollment = central_->ReenrollSatellite(id, file, false, std::nullopt);
  ASSERT_OK(enrollment);
  b_ = StartSatellite("sat-a2", file);
  ASSERT_TRUE(b_);
  EXPECT_EQ(b_->report.satellite_id, id);
  central::SyncOutcome outcome;
  const v1::SyncImportResult imported = b_->ImportOk(Process(b_->Export(), &outcome));
  EXPECT_TRUE(outcome.summary.key_bound());
  EXPECT_EQ(imported.entitlements(), 5);
  EXPECT_GT(imported.response_number(), 1);
  b_->ImportOk(Process(b_->Export()));

  // The old appliance is refused for good, and central's record tells the story.
  auto old = central_->ProcessSyncRequest(a_->Export());
  ASSERT_FALSE(old.ok());
  EXPECT_EQ(old.status().code(), Errc::kPermissionDenied) << old.status().ToString();
  auto shown = central_->GetSatellite(id);
  ASSERT_OK(shown);
  ASSERT_EQ(shown->history_size(), 2);
  EXPECT_EQ(shown->history(0).event(), "revoked");
  EXPECT_EQ(shown->history(1).event(), "reenrolled");
}

// 3. An older response after a newer one: refused, clearly, and nothing changes.
TEST_F(SyncE2eTest, OlderResponseAfterANewerOneIsRefused) {
  StartCentral({});
  a_ = StartSatellite("sat-a");
  ASSERT_TRUE(a_);
  const std::string response1 = RoundTrip(*a_);
  AddLicense("default", "fw.extra", {.quantity = 1, .start = std::nullopt});
  const std::string response2 = RoundTrip(*a_);
  EXPECT_EQ(a_->Status().last_response_number(), 2);
  EXPECT_EQ(a_->Purchased("default/fw.extra"), 1);

  const std::string before = Snapshot(*a_);
  const size_t refusals = a_->Audit("sync.import.refused").size();
  net::ClientResponse r = a_->Import(response1);
  EXPECT_EQ(r.status / 100, 4) << r.body;
  EXPECT_NE(r.body.find("older than the last imported response 2"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("rollback refused"), std::string::npos) << r.body;
  EXPECT_EQ(Snapshot(*a_), before);
  EXPECT_EQ(a_->Purchased("default/fw.extra"), 1);  // response 1 did not have it
  EXPECT_EQ(a_->Audit("sync.import.refused").size(), refusals + 1);
}

// 4. A response made for another satellite of the same account (signed by the same central).
TEST_F(SyncE2eTest, ResponseForAnotherSatelliteIsRefused) {
  StartCentral({});
  a_ = StartSatellite("sat-a");
  b_ = StartSatellite("sat-b");
  ASSERT_TRUE(a_ && b_);
  b_->Export();  // so that B has exported a request 1 too
  const std::string for_a = Process(a_->Export());

  const std::string before = Snapshot(*b_);
  net::ClientResponse r = b_->Import(for_a);
  EXPECT_EQ(r.status, 403) << r.body;
  EXPECT_NE(r.body.find("another satellite"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find(a_->report.satellite_id), std::string::npos) << r.body;
  EXPECT_EQ(Snapshot(*b_), before);
  EXPECT_TRUE(b_->Licenses().empty());
  EXPECT_EQ(b_->Audit("sync.import.refused").size(), 1u);
  // A accepts it.
  EXPECT_EQ(a_->ImportOk(for_a).response_number(), 1);
}

// 5. Damaged and oversized files: refused, nothing changes, each refusal audited.
TEST_F(SyncE2eTest, TamperedTruncatedAndOversizedResponsesAreRefusedAndAudited) {
  // With the default server.max_body_bytes (1 MiB): the import route takes files up to the
  // armored bundle limit, so the satellite's import code, not the HTTP layer, sees (and audits)
  // the oversized file.
  StartCentral({});
  a_ = StartSatellite("sat-a");
  ASSERT_TRUE(a_);
  RoundTrip(*a_);
  AddLicense("default", "fw.extra", {.quantity = 1, .start = std::nullopt});
  const std::string response = Process(a_->Export());
  ASSERT_GT(response.size(), 200u);

  std::string tampered = response;
  tampered[tampered.size() / 2] ^= 0x01;
  const std::string truncated = response.substr(0, response.size() - 40);
  std::string oversized = response;
  oversized.resize(sync::kMaxBundleBytes + 1, '\0');

  const std::string before = Snapshot(*a_);
  size_t refusals = a_->Audit("sync.import.refused").size();
  for (const auto& [name, bytes] : std::vector<std::pair<std::string, const std::string*>>{
           {"tampered", &tampered}, {"truncated", &truncated}, {"oversized", &oversized}}) {
    SCOPED_TRACE(name);
    net::ClientResponse r = a_->Import(*bytes);
    EXPECT_EQ(r.status, name == "oversized" ? 413 : r.status) << r.body;
    EXPECT_EQ(r.status / 100, 4) << r.body;
    const Status why = net::StatusFromResponse(r);
    EXPECT_FALSE(why.message().empty());
    EXPECT_EQ(Snapshot(*a_), before);
    EXPECT_EQ(a_->Purchased("default/fw.extra"), 0);
    // Offline as online, `sync status` shows the last refused import (issue 12, item 6).
    const v1::SyncStatus status = a_->Status();
    EXPECT_EQ(status.last_failed_import_error(), why.message());
    EXPECT_NE(status.last_failed_import_at(), 0);
    const auto audited = a_->Audit("sync.import.refused");
    EXPECT_EQ(audited.size(), ++refusals);
    if (!audited.empty()) {
      EXPECT_NE(audited.back().find(why.reason()), std::string::npos) << audited.back();
    }
  }
  // The genuine response still imports after all that, and clears the failure.
  EXPECT_EQ(a_->ImportOk(response).response_number(), 2);
  EXPECT_EQ(a_->Status().last_failed_import_error(), "");
  EXPECT_EQ(a_->Status().last_failed_import_at(), 0);
  EXPECT_EQ(a_->Purchased("default/fw.extra"), 1);
  EXPECT_EQ(a_->Audit("sync.import.refused").size(), refusals);
}

// 6. Online: scheduled and on-demand sync against central serve; central down is visible
// (status, metrics, audit) and sync recovers when central is back on the same URL.
TEST_F(SyncE2eTest, OnlineSyncFailsVisiblyWhileCentralIsDownAndRecovers) {
  StartCentral({.online = true});
  StartCentralServer();
  a_ = StartSatellite("sat-a");
  ASSERT_TRUE(a_);

  // The scheduler's first attempt comes ~2 s after start.
  v1::SyncStatus st;
  for (int i = 0; i < 100 && (st = a_->Status()).last_attempt_at() == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_EQ(st.mode(), "online");
  EXPECT_EQ(st.central_url(), CentralUrl());
  EXPECT_TRUE(st.last_attempt_ok()) << st.last_error();
  EXPECT_EQ(st.last_response_number(), 1);
  EXPECT_NE(st.next_attempt_at(), 0);

  v1::SyncImportResult now;
  ASSERT_OK(a_->client->Call("POST", "/v1/admin/sync/now", v1::Empty(), &now, a_->Auth()));
  EXPECT_EQ(now.response_number(), 2);
  EXPECT_EQ(a_->Purchased("default/fw.base"), 15);
  EXPECT_EQ(a_->Metric("outpost_sync_online_failures_total"), 0);

  StopCentral();
  net::ClientResponse down = a_->Send("POST", "/v1/admin/sync/now", "", "application/json");
  EXPECT_EQ(down.status / 100, 5) << down.body;
  EXPECT_NE(down.body.find(CentralUrl()), std::string::npos) << down.body;
  st = a_->Status();
  EXPECT_FALSE(st.last_attempt_ok());
  EXPECT_FALSE(st.last_error().empty());
  EXPECT_GE(st.consecutive_failures(), 1);
  EXPECT_GE(a_->Metric("outpost_sync_online_failures_total"), 1);
  EXPECT_GE(a_->Audit("sync.online.failure").size(), 1u);
  // The satellite keeps serving what it has.
  EXPECT_EQ(a_->Purchased("default/fw.base"), 15);

  // Central back, same data directory and port; it has a new license meanwhile.
  OpenCentral();
  AddLicense("default", "fw.extra", {.quantity = 3, .start = std::nullopt});
  StartCentralServer();
  ASSERT_OK(a_->client->Call("POST", "/v1/admin/sync/now", v1::Empty(), &now, a_->Auth()));
  EXPECT_EQ(now.response_number(), 3);
  st = a_->Status();
  EXPECT_TRUE(st.last_attempt_ok());
  EXPECT_TRUE(st.last_error().empty()) << st.last_error();
  EXPECT_EQ(st.consecutive_failures(), 0);
  EXPECT_EQ(a_->Purchased("default/fw.extra"), 3);
}

// Online sync through an HTTP proxy (sync.proxy): the satellite asks it for a CONNECT tunnel to
// central and runs TLS through it; a proxy that wants credentials it was not given, or refuses
// the tunnel, is a failed sync whose message says which and what to do, never the password.
TEST_F(SyncE2eTest, OnlineSyncThroughAnHttpProxyWithCredentials) {
  // "Basic " + base64("sync:s3cret")
  testing::ConnectProxy proxy({.status = 200, .required_authorization = "Basic c3luYzpzM2NyZXQ="});
  StartCentral({.online = true});
  StartCentralServer();
  const std::string authority = "127.0.0.1:" + std::to_string(central_port_);

  options_.proxy = "http://sync:s3cret@127.0.0.1:" + std::to_string(proxy.port());
  a_ = StartSatellite("sat-a");
  ASSERT_TRUE(a_);
  v1::SyncImportResult now;
  ASSERT_OK(a_->client->Call("POST", "/v1/admin/sync/now", v1::Empty(), &now, a_->Auth()));
  EXPECT_EQ(a_->Purchased("default/fw.base"), 15);
  EXPECT_GE(proxy.tunnels(), 1);
  ASSERT_FALSE(proxy.requests().empty());
  EXPECT_EQ(proxy.requests().front(), "CONNECT " + authority + " HTTP/1.1");

  // Without the credentials: 407, named as such, and the proxy is named without a password.
  options_.proxy = proxy.url();
  auto b = StartSatellite("sat-b");
  ASSERT_TRUE(b);
  net::ClientResponse refused = b->Send("POST", "/v1/admin/sync/now", "", "application/json");
  EXPECT_EQ(refused.status / 100, 5) << refused.body;
  EXPECT_NE(refused.body.find("wants credentials (HTTP 407)"), std::string::npos) << refused.body;
  EXPECT_NE(refused.body.find(proxy.url()), std::string::npos) << refused.body;
  EXPECT_FALSE(b->Status().last_attempt_ok());

  // A proxy that refuses the tunnel.
  testing::ConnectProxy forbidding({.status = 403});
  options_.proxy = forbidding.url();
  auto c = StartSatellite("sat-c");
  ASSERT_TRUE(c);
  net::ClientResponse forbidden = c->Send("POST", "/v1/admin/sync/now", "", "application/json");
  EXPECT_EQ(forbidden.status / 100, 5) << forbidden.body;
  EXPECT_NE(forbidden.body.find("refused a tunnel to " + authority + ": HTTP 403"),
            std::string::npos)
      << forbidden.body;
  EXPECT_EQ(forbidding.tunnels(), 0);
}

// Issue 17: central's per-address cap on sync requests in flight releases its slots (with a cap
// of one, syncs one after another all succeed) and refuses with 503 + Retry-After beyond it; a
// revoked satellite's `sync now` fails with central's reason, which its operator can act on.
TEST_F(SyncE2eTest, OnlineSyncUnderThePerAddressCapAndAfterRevocation) {
  StartCentral({.online = true});
  central::CentralServerOptions one_at_a_time;
  one_at_a_time.max_sync_in_flight_per_address = 1;
  StartCentralServer(one_at_a_time);
  a_ = StartSatellite("sat-a");
  ASSERT_TRUE(a_);
  v1::SyncImportResult now;
  for (int i = 0; i < 5; ++i) {
    ASSERT_OK(a_->client->Call("POST", "/v1/admin/sync/now", v1::Empty(), &now, a_->Auth()));
  }
  const int64_t answered = now.response_number();
  EXPECT_GE(answered, 5);

  server_->Shutdown();
  server_.reset();
  central::CentralServerOptions none;
  none.max_sync_in_flight_per_address = 0;
  StartCentralServer(none);
  net::ClientResponse busy = a_->Send("POST", "/v1/admin/sync/now", "", "application/json");
  EXPECT_EQ(busy.status / 100, 5) << busy.body;
  EXPECT_NE(busy.body.find("too many sync requests from 127.0.0.1 are in flight"),
            std::string::npos)
      << busy.body;

  server_->Shutdown();
  server_.reset();
  StartCentralServer();
  auto satellites = central_->ListSatellites();
  ASSERT_OK(satellites);
  ASSERT_EQ(satellites->satellites_size(), 1);
  ASSERT_OK(central_->RevokeSatellite(satellites->satellites(0).satellite_id(),
                                      "appliance reported stolen"));
  net::ClientResponse revoked = a_->Send("POST", "/v1/admin/sync/now", "", "application/json");
  EXPECT_NE(revoked.status, 200) << revoked.body;
  EXPECT_NE(revoked.body.find("was revoked by the vendor"), std::string::npos) << revoked.body;
  EXPECT_NE(revoked.body.find("appliance reported stolen"), std::string::npos) << revoked.body;
  EXPECT_FALSE(a_->Status().last_attempt_ok());
  EXPECT_EQ(a_->Status().last_response_number(), answered);
}

// 7. SYNC_OVERDUE once the last response's valid_until has passed; cleared by the next sync.
TEST_F(SyncE2eTest, SyncOverdueWhenTheLastResponseExpires) {
  StartCentral({.response_validity = std::chrono::hours(1)});
  a_ = StartSatellite("sat-a");
  ASSERT_TRUE(a_);
  EXPECT_FALSE(a_->Status().sync_overdue());  // never synced: nothing expired
  RoundTrip(*a_);
  v1::SyncStatus st = a_->Status();
  EXPECT_EQ(st.valid_until(), ToUnixSeconds(clock_.Now()) + 3600);
  EXPECT_FALSE(st.sync_overdue());
  EXPECT_EQ(a_->Metric("outpost_alarm_sync_overdue"), 0);

  clock_.Advance(std::chrono::minutes(61));
  EXPECT_TRUE(a_->Status().sync_overdue());
  // The gauge and the audit record come from the sweeper (every 5 s).
  double gauge = 0;
  for (int i = 0; i < 80 && (gauge = a_->Metric("outpost_alarm_sync_overdue")) != 1; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_EQ(gauge, 1);
  EXPECT_EQ(a_->Audit("alarm.sync_overdue").size(), 1u);
  // Still serving.
  EXPECT_EQ(a_->Purchased("default/fw.base"), 15);

  RoundTrip(*a_);
  EXPECT_FALSE(a_->Status().sync_overdue());
  EXPECT_EQ(a_->Metric("outpost_alarm_sync_overdue"), 0);
}

// 8. A traditional license key (central `pak create`) converted through an offline sync.
TEST_F(SyncE2eTest, TraditionalLicenseConvertsOnceThroughSync) {
  StartCentral({});
  a_ = StartSatellite("sat-a");
  ASSERT_TRUE(a_);
  RoundTrip(*a_);
  auto pak = central_->CreatePak(kAccount, "lab", "fw.vpn", {.quantity = 3, .start = std::nullopt});
  ASSERT_OK(pak);
  ASSERT_FALSE(pak->key().empty());

  v1::ConvertRequest convert;
  convert.set_key(pak->key());
  convert.set_va("lab");
  v1::Conversion queued;
  ASSERT_OK(a_->client->Call("POST", "/v1/admin/conversions", convert, &queued, a_->Auth()));
  EXPECT_EQ(queued.status(), "PENDING");
  EXPECT_EQ(a_->Status().pending_conversions(), 1);

  net::ClientResponse exported = a_->Send("POST", "/v1/admin/sync/export");
  ASSERT_EQ(exported.status, 200);
  EXPECT_EQ(exported.headers["x-outpost-conversions"], "1");
  v1::SyncImportResult imported = a_->ImportOk(Process(exported.body));
  EXPECT_EQ(imported.conversions_converted(), 1);

  auto list = a_->Get<v1::ListConversionsResponse>("/v1/admin/conversions");
  ASSERT_EQ(list.conversions_size(), 1);
  EXPECT_EQ(list.conversions(0).id(), queued.id());
  EXPECT_EQ(list.conversions(0).status(), "CONVERTED");
  EXPECT_FALSE(list.conversions(0).entitlement_ids().empty());
  EXPECT_EQ(a_->Purchased("lab/fw.vpn"), 3);
  EXPECT_EQ(a_->Status().pending_conversions(), 0);

  // The same key again: the satellite knows it is converted...
  v1::Conversion dup;
  Status local = a_->client->Call("POST", "/v1/admin/conversions", convert, &dup, a_->Auth());
  EXPECT_EQ(local.code(), Errc::kAlreadyExists) << local.ToString();
  // ...and written differently (central ignores case), central rejects it.
  std::string lower = pak->key();
  std::transform(lower.begin(), lower.end(), lower.begin(), ::tolower);
  convert.set_key(lower);
  ASSERT_OK(a_->client->Call("POST", "/v1/admin/conversions", convert, &dup, a_->Auth()));
  imported = a_->ImportOk(Process(a_->Export()));
  EXPECT_EQ(imported.conversions_rejected(), 1);
  EXPECT_EQ(imported.conversions_converted(), 0);
  list = a_->Get<v1::ListConversionsResponse>("/v1/admin/conversions");
  ASSERT_EQ(list.conversions_size(), 2);
  for (const auto& c : list.conversions()) {
    if (c.id() == dup.id()) {
      EXPECT_EQ(c.status(), "REJECTED");
      EXPECT_FALSE(c.message().empty());
    }
  }
  EXPECT_EQ(a_->Purchased("lab/fw.vpn"), 3);  // not twice
}

}  // namespace
}  // namespace outpost
