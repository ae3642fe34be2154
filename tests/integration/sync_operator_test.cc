// What operators do across sync (issue 12 and 14): license moves both ways and central's
// verdicts, the virtual accounts central names, central as a witness of the audit chain, and
// responses whose entitlement times the satellite cannot hold. The world is sync_world.h.

#include "common/proto_json.h"
#include "outpost/v1/admin_auth.pb.h"
#include "tests/integration/sync_world.h"

namespace outpost {
namespace {

using namespace sync_testing;  // NOLINT(build/namespaces): the fixture and its helpers
using server::DataDir;

// A move splits a piece "<id>@<va>" off at central; every later response names it, and when the
// units move back it stays in the set with quantity 0. Both must import (issue 12, item 1).
TEST_F(SyncE2eTest, MovedLicensesSyncBothWaysAndKeepSyncing) {
  StartCentral({});
  a_ = StartSatellite("sat-a");
  ASSERT_TRUE(a_);
  RoundTrip(*a_);
  const auto move = [&](const std::string& from, const std::string& to, int64_t count) {
    v1::MoveLicensesRequest m;
    m.set_from_va(from);
    m.set_to_va(to);
    m.set_tag("fw.base");
    m.set_count(count);
    v1::MoveLicensesResponse out;
    ASSERT_OK(a_->client->Call("POST", "/v1/admin/licenses/move", m, &out, a_->Auth()));
  };
  const auto central_purchased = [&](const std::string& va) {
    auto licenses = central_->ListLicenses(kAccount);
    EXPECT_TRUE(licenses.ok()) << licenses.status().ToString();
    int64_t total = 0;
    if (!licenses.ok()) return total;
    for (const auto& e : licenses->entitlements()) {
      if (e.va() == va && e.tag() == "fw.base") total += e.quantity();
    }
    return total;
  };

  move("default", "lab", 1);
  v1::SyncImportResult imported = a_->ImportOk(Process(a_->Export()));
  EXPECT_EQ(imported.moves_applied(), 1);
  EXPECT_EQ(a_->Purchased("lab/fw.base"), 1);
  EXPECT_EQ(a_->Purchased("default/fw.base"), 14);
  EXPECT_EQ(central_purchased("lab"), 1);
  // A plain round trip after the move still imports.
  RoundTrip(*a_);
  EXPECT_EQ(a_->Purchased("lab/fw.base"), 1);

  // Back again: central keeps the "@lab" piece at quantity 0, which must import too.
  move("lab", "default", 1);
  imported = a_->ImportOk(Process(a_->Export()));
  EXPECT_EQ(imported.moves_applied(), 1);
  EXPECT_EQ(a_->Purchased("lab/fw.base"), 0);
  EXPECT_EQ(a_->Purchased("default/fw.base"), 15);
  EXPECT_EQ(central_purchased("default"), 15);
  RoundTrip(*a_);
  EXPECT_FALSE(a_->Status().sync_overdue());
}

// Names the account does not have are refused before anything is stored; the known ones come
// from central's last response (issue 12, item 5).
TEST_F(SyncE2eTest, UnknownVirtualAccountsAreRefusedAndKnownOnesListed) {
  StartCentral({});
  a_ = StartSatellite("sat-a");
  ASSERT_TRUE(a_);
  // Before the first response only "default" is known.
  auto vas = a_->Get<v1::ListVirtualAccountsResponse>("/v1/admin/virtual-accounts");
  EXPECT_FALSE(vas.central_list_known());
  ASSERT_EQ(vas.virtual_accounts_size(), 1);
  EXPECT_EQ(vas.virtual_accounts(0).name(), "default");
  RoundTrip(*a_);
  ASSERT_OK(central_->CreateVirtualAccount(kAccount, "empty"));  // a VA without licenses
  RoundTrip(*a_);
  vas = a_->Get<v1::ListVirtualAccountsResponse>("/v1/admin/virtual-accounts");
  EXPECT_TRUE(vas.central_list_known());
  std::vector<std::string> names;
  for (const auto& v : vas.virtual_accounts()) {
    names.push_back(v.name());
    EXPECT_TRUE(v.from_central()) << v.name();
  }
  EXPECT_EQ(names, (std::vector<std::string>{"default", "empty", "lab"}));

  const std::string before = Snapshot(*a_);
  v1::CreateTokenRequest token;
  token.set_va("nosuch");
  v1::CreateTokenResponse created;
  Status s = a_->client->Call("POST", "/v1/admin/tokens", token, &created, a_->Auth());
  EXPECT_EQ(s.code(), Errc::kNotFound) << s.ToString();
  EXPECT_NE(s.message().find("default, empty, lab"), std::string::npos) << s.message();
  EXPECT_TRUE(a_->Get<v1::ListTokensResponse>("/v1/admin/tokens").tokens().empty());
  token.set_va("empty");
  EXPECT_OK(a_->client->Call("POST", "/v1/admin/tokens", token, &created, a_->Auth()));

  v1::MoveLicensesRequest move;
  move.set_from_va("default");
  move.set_to_va("nowhere");
  move.set_tag("fw.base");
  move.set_count(1);
  v1::MoveLicensesResponse moved;
  s = a_->client->Call("POST", "/v1/admin/licenses/move", move, &moved, a_->Auth());
  EXPECT_EQ(s.code(), Errc::kNotFound) << s.ToString();
  EXPECT_NE(s.message().find("--to"), std::string::npos) << s.message();
  move.set_to_va("default");
  s = a_->client->Call("POST", "/v1/admin/licenses/move", move, &moved, a_->Auth());
  EXPECT_EQ(s.code(), Errc::kInvalidArgument) << s.ToString();
  EXPECT_NE(s.message().find("--from and --to"), std::string::npos) << s.message();
  EXPECT_EQ(s.message().find("from_va"), std::string::npos) << s.message();

  v1::ReservationRequest reserve;
  reserve.set_va("nowhere");
  reserve.set_tag("fw.base");
  reserve.set_count(1);
  reserve.set_udi("PID:SN");
  v1::Reservation reserved;
  s = a_->client->Call("POST", "/v1/admin/reservations", reserve, &reserved, a_->Auth());
  EXPECT_EQ(s.code(), Errc::kNotFound) << s.ToString();
  v1::ConvertRequest convert;
  convert.set_key("ABCD-EFGH");
  convert.set_va("nowhere");
  v1::Conversion queued;
  s = a_->client->Call("POST", "/v1/admin/conversions", convert, &queued, a_->Auth());
  EXPECT_EQ(s.code(), Errc::kNotFound) << s.ToString();
  EXPECT_EQ(Snapshot(*a_), before);
  EXPECT_EQ(a_->Licenses().count("nowhere/fw.base"), 0u);
  // A listing filtered by a VA the account does not have is a typo to point out, not an empty
  // list; a known VA without licenses lists nothing.
  for (const std::string target :
       {"/v1/admin/licenses?va=nowhere", "/v1/admin/devices?va=nowhere"}) {
    net::ClientResponse r = a_->Send("GET", target);
    EXPECT_EQ(r.status, 404) << target << ": " << r.body;
    EXPECT_NE(r.body.find("outpost va list"), std::string::npos) << r.body;
  }
  EXPECT_EQ(a_->Get<v1::ListLicensesResponse>("/v1/admin/licenses?va=empty").pools_size(), 0);
}

// `outpost moves` and the import's answer carry central's verdict with its reason.
TEST_F(SyncE2eTest, MovesAndConversionsShowCentralsVerdicts) {
  StartCentral({});
  a_ = StartSatellite("sat-a");
  ASSERT_TRUE(a_);
  RoundTrip(*a_);
  v1::MoveLicensesRequest move;
  move.set_from_va("default");
  move.set_to_va("lab");
  move.set_tag("fw.base");
  move.set_count(2);
  v1::MoveLicensesResponse moved;
  ASSERT_OK(a_->client->Call("POST", "/v1/admin/licenses/move", move, &moved, a_->Auth()));
  auto moves = a_->Get<v1::ListMovesResponse>("/v1/admin/licenses/moves");
  ASSERT_EQ(moves.moves_size(), 1);
  EXPECT_EQ(moves.moves(0).status(), "PENDING");
  v1::ConvertRequest convert;
  convert.set_key("NOT-A-REAL-KEY");
  convert.set_va("lab");
  v1::Conversion queued;
  ASSERT_OK(a_->client->Call("POST", "/v1/admin/conversions", convert, &queued, a_->Auth()));

  const v1::SyncImportResult imported = a_->ImportOk(Process(a_->Export()));
  ASSERT_EQ(imported.move_results_size(), 1);
  EXPECT_EQ(imported.move_results(0).move_id(), moved.move_id());
  EXPECT_EQ(imported.move_results(0).status(), v1::MoveResult::STATUS_APPLIED);
  ASSERT_EQ(imported.conversion_results_size(), 1);
  EXPECT_EQ(imported.conversion_results(0).status(), v1::ConversionResult::STATUS_REJECTED);
  EXPECT_NE(imported.conversion_results(0).message().find("unknown license key"), std::string::npos)
      << imported.conversion_results(0).message();
  moves = a_->Get<v1::ListMovesResponse>("/v1/admin/licenses/moves");
  ASSERT_EQ(moves.moves_size(), 1);
  EXPECT_EQ(moves.moves(0).status(), "APPLIED");
  EXPECT_NE(moves.moves(0).message().find("moved 2"), std::string::npos)
      << moves.moves(0).message();
  EXPECT_NE(moves.moves(0).answered_at(), 0);
}

// Central is a witness of the audit chain (issue 14, finding 1): deleting the end of the log
// and its checkpoints passes a local `audit verify`, but the next sync finds that central holds a
// head the chain no longer has, raises a sticky alarm and records the evidence.
TEST_F(SyncE2eTest, CutOffAuditTrailIsCaughtByCentralsHeads) {
  StartCentral({});
  a_ = StartSatellite("sat-a");
  ASSERT_TRUE(a_);
  RoundTrip(*a_);
  for (int i = 0; i < 5; ++i) {
    v1::CreateTokenRequest token;
    token.set_va("default");
    v1::CreateTokenResponse created;
    ASSERT_OK(a_->client->Call("POST", "/v1/admin/tokens", token, &created, a_->Auth()));
  }
  v1::SyncImportResult second = a_->ImportOk(Process(a_->Export()));
  EXPECT_EQ(second.audit_alarm(), "");  // central's earlier head is in the chain
  EXPECT_EQ(a_->Status().audit_alarm(), "");
  const auto head = a_->Get<v1::AuditHead>("/v1/admin/audit/head");
  ASSERT_GT(head.seq(), 8);

  // Someone with file access cuts the last records and their checkpoints.
  {
    auto db = sqlite::Connection::Open(DataDir(a_->dir).database(), {});
    ASSERT_OK(db);
    const int64_t cut = head.seq() - 6;
    ASSERT_OK(db->ExecPrepared("DELETE FROM audit_checkpoints WHERE seq > ?", cut).status());
    ASSERT_OK(db->ExecPrepared("DELETE FROM audit_log WHERE seq > ?", cut).status());
  }
  v1::AuditVerifyResponse local;
  ASSERT_OK(a_->client->Call("POST", "/v1/admin/audit/verify", v1::Empty(), &local, a_->Auth()));
  EXPECT_TRUE(local.ok()) << "local verification alone cannot see a clean cut";
  // The running satellite saw the cut (the head it committed is gone) and writes nothing more.
  net::ClientResponse refused = a_->Send("POST", "/v1/admin/sync/export");
  EXPECT_EQ(refused.status, 503) << refused.body;
  EXPECT_NE(refused.body.find("removed behind its back"), std::string::npos) << refused.body;
  EXPECT_EQ(a_->Metric("outpost_alarm_audit_chain_cut"), 1.0);
  // A restart forgets that; central's witness remains.
  RestartSatellite(*a_);
  EXPECT_EQ(a_->Metric("outpost_alarm_audit_chain_cut"), 0.0);

  v1::SyncImportResult third = a_->ImportOk(Process(a_->Export()));
  EXPECT_NE(third.audit_alarm().find("central holds audit head seq"), std::string::npos)
      << third.audit_alarm();
  EXPECT_EQ(a_->Status().audit_alarm(), third.audit_alarm());
  EXPECT_EQ(a_->Metric("outpost_alarm_audit_witness"), 1.0);
  EXPECT_EQ(a_->Audit("audit.witness.mismatch").size(), 1u);
  // The alarm stays raised on later syncs (the chain regrows from the cut, and once it has
  // passed the old head, later heads would match it: the alarm is sticky).
  for (int i = 0; i < 3; ++i) {
    a_->ImportOk(Process(a_->Export()));
    EXPECT_NE(a_->Status().audit_alarm(), "");
  }
  EXPECT_EQ(a_->Metric("outpost_alarm_audit_witness"), 1.0);

  // Acknowledging it: admins only, with a reason, kept in the audit trail.
  const size_t mismatches = a_->Audit("audit.witness.mismatch").size();
  v1::CreateUserRequest operator_user;
  operator_user.set_name("olga");
  operator_user.set_role("operator");
  v1::User created_user;
  ASSERT_OK(a_->client->Call("POST", "/v1/admin/users", operator_user, &created_user, a_->Auth()));
  v1::CreateApiKeyRequest key_request;
  key_request.set_user("olga");
  v1::CreateApiKeyResponse olga_key;
  ASSERT_OK(a_->client->Call("POST", "/v1/admin/apikeys", key_request, &olga_key, a_->Auth()));
  v1::AcknowledgeAuditAlarmRequest ack;
  ack.set_reason("cut by a test on purpose; evidence filed");
  auto by_operator =
      a_->client->Send("POST", "/v1/admin/audit/alarm/acknowledge", ToJson(ack),
                       "application/json", {{"authorization", "Bearer " + olga_key.key()}});
  ASSERT_OK(by_operator);
  EXPECT_EQ(by_operator->status, 403) << by_operator->body;
  v1::AcknowledgeAuditAlarmRequest no_reason;
  EXPECT_EQ(a_->Send("POST", "/v1/admin/audit/alarm/acknowledge", ToJson(no_reason),
                     "application/json")
                .status,
            400);
  EXPECT_NE(a_->Status().audit_alarm(), "") << "a refused acknowledgement changes nothing";
  net::ClientResponse acknowledged =
      a_->Send("POST", "/v1/admin/audit/alarm/acknowledge", ToJson(ack), "application/json");
  ASSERT_EQ(acknowledged.status, 200) << acknowledged.body;
  EXPECT_EQ(a_->Status().audit_alarm(), "");
  EXPECT_EQ(a_->Metric("outpost_alarm_audit_witness"), 0.0);
  const auto records = a_->Audit("audit.witness.acknowledge");
  ASSERT_EQ(records.size(), 1u);
  EXPECT_NE(records[0].find("evidence filed"), std::string::npos) << records[0];
  // The same head at central does not raise it again.
  for (int i = 0; i < 2; ++i) {
    v1::SyncImportResult later = a_->ImportOk(Process(a_->Export()));
    EXPECT_EQ(later.audit_alarm(), "");
  }
  EXPECT_EQ(a_->Audit("audit.witness.mismatch").size(), mismatches);
  net::ClientResponse nothing =
      a_->Send("POST", "/v1/admin/audit/alarm/acknowledge", ToJson(ack), "application/json");
  EXPECT_EQ(nothing.status, 409) << nothing.body;
  EXPECT_NE(nothing.body.find("no audit alarm"), std::string::npos) << nothing.body;
}

// A signed response whose entitlement times the satellite's clock cannot hold (found by
// fuzzing: converting them overflowed) is refused with a message and changes nothing.
TEST_F(SyncE2eTest, EntitlementTimesBeyondTheYear9999AreRefused) {
  StartCentral({});
  a_ = StartSatellite("sat-a");
  ASSERT_TRUE(a_);
  const std::string good = Process(a_->Export());
  auto bundle = sync::ParseBundleBytes(good);
  ASSERT_OK(bundle);
  auto payload = sync::ParseUnverifiedPayload(*bundle);
  ASSERT_OK(payload);
  v1::BundlePayload changed = *payload;
  ASSERT_GT(changed.sync_response().entitlements_size(), 0);
  changed.mutable_sync_response()->mutable_entitlements(0)->set_end(
      std::numeric_limits<int64_t>::max());
  auto key =
      crypto::PrivateKey::LoadFile(central::CentralDataDir(tmp_.path() / "central").signing_key());
  ASSERT_OK(key);
  auto resigned = sync::SignBundle(changed, *key);
  ASSERT_OK(resigned);
  const std::string before = Snapshot(*a_);
  net::ClientResponse r = a_->Import(sync::SerializeBundle(*resigned));
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_NE(r.body.find("outside the years 1970 to 9999"), std::string::npos) << r.body;
  EXPECT_EQ(Snapshot(*a_), before);
  EXPECT_EQ(a_->ImportOk(good).response_number(), 1);  // the genuine one still imports
}

}  // namespace
}  // namespace outpost
