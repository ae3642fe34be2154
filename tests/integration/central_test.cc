// `outpost central ...` through the real binary: the vendor's commands, file sync, and
// `central serve` answering POST /v1/sync over TLS on 127.0.0.1 port 0.

#include <gtest/gtest.h>

#include <optional>
#include <regex>
#include <string>
#include <vector>

#include "common/audit_format.h"
#include "common/crypto/keys.h"
#include "common/net/https_client.h"
#include "sync/bundle/armor.h"
#include "sync/bundle/codec.h"
#include "sync/bundle/trust.h"
#include "tests/testing/cli_runner.h"
#include "tests/testing/test_util.h"

namespace outpost {
namespace {

using testing::RunResult;

// The commands used here never wait for input.
RunResult RunOutpost(std::vector<std::string> args) {
  return testing::RunBinary(OUTPOST_BINARY, std::move(args));
}

// A central with account acme, VA lab, one license, and an enrolled satellite.
class CentralCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = (tmp_.path() / "central").string();
    Expect({"central", "init", "--data-dir", dir_, "--listen", "127.0.0.1:0"}, 0);
    Expect({"central", "account", "create", "acme", "--name", "Acme Corp", "--data-dir", dir_}, 0);
    Expect({"central", "va", "create", "acme", "lab", "--data-dir", dir_}, 0);
    Expect({"central", "license", "add", "acme", "default", "--tag", "fw.base", "--count", "10",
            "--end", "2099-01-01", "--enforced", "--data-dir", dir_},
           0);
    enrollment_file_ = (tmp_.path() / "enroll.bundle").string();
    Expect({"central", "satellite", "enroll", "acme", "--name", "plant 4", "-o", enrollment_file_,
            "--data-dir", dir_},
           0);
    auto bundle = sync::ReadBundleFile(enrollment_file_);
    ASSERT_OK(bundle);
    auto opened = sync::OpenEnrollmentBundle(*bundle);
    ASSERT_OK(opened);
    enrollment_ = opened->payload.enrollment();
  }

  RunResult Expect(std::vector<std::string> args, int code) {
    RunResult r = RunOutpost(args);
    EXPECT_EQ(r.exit_code, code) << args[1] << " " << args[2] << ": " << r.err << r.out;
    return r;
  }

  // The satellite's first request, signed.
  sync::SignedBundle Request(int64_t sequence) {
    v1::SyncRequest r;
    r.set_satellite_id(enrollment_.satellite_id());
    r.set_account_id(enrollment_.account_id());
    r.set_sequence(sequence);
    r.set_satellite_public_key_pem(key_.public_key().ToPem());
    r.set_enrollment_proof(
        sync::EnrollmentProof(enrollment_.enrollment_secret(), key_.public_key()));
    r.set_central_key_id(enrollment_.central_key_id());
    v1::UsageReport* u = r.add_usage_reports();
    u->set_report_id("report-" + std::to_string(sequence));
    u->set_va("default");
    u->set_tag("fw.base");
    u->set_period_start(1'780'000'000);
    u->set_period_end(1'780'003'600);
    u->set_peak_in_use(3);
    // The head of its audit chain, signed as a satellite signs its checkpoints.
    v1::AuditCheckpoint* head = r.mutable_audit_head();
    head->set_seq(40 + sequence);
    head->set_hash(std::string(64, 'c'));
    head->set_time_ms(1'780'003'600'000);
    head->set_key_id(key_.public_key().KeyId());
    head->set_signature(
        key_.Sign(kAuditCheckpointDomain,
                  AuditCheckpointMessage(head->seq(), std::string(32, '\xcc'), head->time_ms()))
            .value());
    sync::BundlePayload payload;
    payload.set_kind(v1::BUNDLE_KIND_SYNC_REQUEST);
    *payload.mutable_sync_request() = r;
    return sync::SignBundle(payload, key_).value();
  }

  v1::SyncResponse OpenResponse(const sync::SignedBundle& bundle) {
    auto key = crypto::PublicKey::FromPem(enrollment_.central_public_key_pem());
    EXPECT_TRUE(key.ok());
    auto payload = sync::OpenBundle(bundle, v1::BUNDLE_KIND_SYNC_RESPONSE, *key);
    EXPECT_TRUE(payload.ok()) << payload.status().ToString();
    return payload.ok() ? payload->sync_response() : v1::SyncResponse();
  }

  testing::TempDir tmp_;
  std::string dir_;
  std::string enrollment_file_;
  v1::EnrollmentBundle enrollment_;
  crypto::PrivateKey key_ = crypto::PrivateKey::Generate(crypto::KeyAlgorithm::kEd25519).value();
};

TEST_F(CentralCliTest, SyncProcessAnswersARequestFileAndTheReadCommandsShowIt) {
  const auto request = tmp_.path() / "request.txt";
  ASSERT_OK(sync::WriteBundleFile(request, Request(1), v1::BUNDLE_KIND_SYNC_REQUEST, true));
  const std::string response = (tmp_.path() / "response.bin").string();
  RunResult r = Expect(
      {"central", "sync", "process", request.string(), "-o", response, "--data-dir", dir_}, 0);
  EXPECT_NE(r.out.find("Processed sync request 1"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("now (first contact)"), std::string::npos) << r.out;
  auto answer = sync::ReadBundleFile(response);
  ASSERT_OK(answer);
  const v1::SyncResponse opened = OpenResponse(*answer);
  EXPECT_EQ(opened.response_number(), 1);
  ASSERT_EQ(opened.entitlements_size(), 1);
  EXPECT_EQ(opened.entitlements(0).enforcement(), v1::ENFORCEMENT_ENFORCED);

  // The response file is never overwritten, and the refusal changes nothing.
  RunResult exists = Expect(
      {"central", "sync", "process", request.string(), "-o", response, "--data-dir", dir_}, 1);
  EXPECT_NE(exists.err.find("already exists"), std::string::npos) << exists.err;
  // Exact repeat: the stored answer, nothing applied twice.
  const std::string again = (tmp_.path() / "again.bin").string();
  RunResult repeat = Expect(
      {"--json", "central", "sync", "process", request.string(), "-o", again, "--data-dir", dir_},
      0);
  EXPECT_NE(repeat.out.find("\"resent\": true"), std::string::npos) << repeat.out;
  EXPECT_EQ(testing::ReadFileOrDie(again), testing::ReadFileOrDie(response));

  RunResult usage = Expect({"central", "usage", "acme", "--data-dir", dir_}, 0);
  EXPECT_NE(usage.out.find("report-1"), std::string::npos) << usage.out;
  RunResult heads =
      Expect({"central", "audit-heads", enrollment_.satellite_id(), "--data-dir", dir_}, 0);
  EXPECT_NE(heads.out.find("41"), std::string::npos) << heads.out;
  RunResult sats = Expect({"--json", "central", "satellite", "list", "--data-dir", dir_}, 0);
  EXPECT_NE(sats.out.find(key_.public_key().KeyId()), std::string::npos) << sats.out;
  RunResult licenses = Expect({"central", "license", "list", "acme", "--data-dir", dir_}, 0);
  EXPECT_NE(licenses.out.find("ENFORCED"), std::string::npos) << licenses.out;

  // A garbled file is refused with the file named.
  testing::WriteFileOrDie(tmp_.path() / "garbage", "hello");
  RunResult garbled = Expect({"central", "sync", "process", (tmp_.path() / "garbage").string(),
                              "-o", (tmp_.path() / "x").string(), "--data-dir", dir_},
                             1);
  EXPECT_NE(garbled.err.find("garbage"), std::string::npos) << garbled.err;
  EXPECT_FALSE(std::filesystem::exists(tmp_.path() / "x"));
}

// Issue 17, finding 6: the vendor revokes a satellite; its next request is refused with a
// message its operator can act on, and list/show say so.
TEST_F(CentralCliTest, SatelliteRevokeListAndShow) {
  const auto first = tmp_.path() / "request1.bin";
  ASSERT_OK(sync::WriteBundleFile(first, Request(1), v1::BUNDLE_KIND_SYNC_REQUEST, false));
  Expect({"central", "sync", "process", first.string(), "-o", (tmp_.path() / "r1").string(),
          "--data-dir", dir_},
         0);
  const std::string id = enrollment_.satellite_id();
  RunResult shown = Expect({"central", "satellite", "show", id, "--data-dir", dir_}, 0);
  EXPECT_NE(shown.out.find("active"), std::string::npos) << shown.out;
  EXPECT_NE(shown.out.find("1 of 1000"), std::string::npos) << shown.out;  // requests quota

  // Mistakes first: no reason, an unknown id, a reason with a control character.
  Expect({"central", "satellite", "revoke", id, "--data-dir", dir_}, 2);
  RunResult unknown = Expect(
      {"central", "satellite", "revoke", "plant-4", "--reason", "stolen", "--data-dir", dir_}, 1);
  EXPECT_NE(unknown.err.find("outpost central satellite list"), std::string::npos) << unknown.err;
  Expect({"central", "satellite", "revoke", id, "--reason", "a\tb", "--data-dir", dir_}, 1);

  RunResult revoked = Expect({"central", "satellite", "revoke", id, "--reason",
                              "appliance replaced (ticket 4711)", "--data-dir", dir_},
                             0);
  EXPECT_NE(revoked.out.find("Revoked satellite " + id), std::string::npos) << revoked.out;
  RunResult again =
      Expect({"central", "satellite", "revoke", id, "--reason", "again", "--data-dir", dir_}, 1);
  EXPECT_NE(again.err.find("revoked already"), std::string::npos) << again.err;

  const auto second = tmp_.path() / "request2.bin";
  ASSERT_OK(sync::WriteBundleFile(second, Request(2), v1::BUNDLE_KIND_SYNC_REQUEST, false));
  RunResult refused = Expect({"central", "sync", "process", second.string(), "-o",
                              (tmp_.path() / "r2").string(), "--data-dir", dir_},
                             1);
  EXPECT_NE(refused.err.find("was revoked by the vendor"), std::string::npos) << refused.err;
  EXPECT_NE(refused.err.find("ticket 4711"), std::string::npos) << refused.err;
  EXPECT_FALSE(std::filesystem::exists(tmp_.path() / "r2"));

  RunResult list = Expect({"central", "satellite", "list", "--data-dir", dir_}, 0);
  EXPECT_NE(list.out.find("REVOKED"), std::string::npos) << list.out;
  RunResult json = Expect({"--json", "central", "satellite", "show", id, "--data-dir", dir_}, 0);
  EXPECT_NE(json.out.find("appliance replaced (ticket 4711)"), std::string::npos) << json.out;
}

// Issue 16: re-enrolment of the revoked satellite, and the history `satellite show` keeps.
TEST_F(CentralCliTest, SatelliteReenrollAfterRevokeAndShowItsHistory) {
  const std::string id = enrollment_.satellite_id();
  const std::string file = (tmp_.path() / "reenroll.bundle").string();
  RunResult not_revoked =
      Expect({"central", "satellite", "reenroll", id, "-o", file, "--data-dir", dir_}, 1);
  EXPECT_NE(not_revoked.err.find("revoke it first"), std::string::npos) << not_revoked.err;
  EXPECT_FALSE(std::filesystem::exists(file));
  Expect({"central", "satellite", "reenroll", id, "--data-dir", dir_}, 2);  // no -o

  Expect({"central", "satellite", "revoke", id, "--reason", "lost in transit", "--data-dir", dir_},
         0);
  RunResult reenrolled =
      Expect({"central", "satellite", "reenroll", id, "-o", file, "--data-dir", dir_}, 0);
  EXPECT_NE(reenrolled.out.find("Re-enrolled satellite " + id), std::string::npos)
      << reenrolled.out;
  EXPECT_NE(reenrolled.out.find("outpost init --enroll FILE"), std::string::npos);
  auto bundle = sync::ReadBundleFile(file);
  ASSERT_OK(bundle);
  auto opened = sync::OpenEnrollmentBundle(*bundle);
  ASSERT_OK(opened);
  EXPECT_EQ(opened->payload.enrollment().satellite_id(), id);
  EXPECT_NE(opened->payload.enrollment().enrollment_secret(), enrollment_.enrollment_secret());

  RunResult shown = Expect({"central", "satellite", "show", id, "--data-dir", dir_}, 0);
  EXPECT_NE(shown.out.find("History:"), std::string::npos) << shown.out;
  EXPECT_NE(shown.out.find("lost in transit"), std::string::npos) << shown.out;
  EXPECT_NE(shown.out.find("reenrolled"), std::string::npos) << shown.out;
  EXPECT_NE(shown.out.find("re-enrolled"), std::string::npos) << shown.out;
  EXPECT_EQ(shown.out.find("REVOKED"), std::string::npos) << shown.out;
}

// Issue 16: `central key retire` after `central key rotate`, with the refusals that change
// nothing, --force and its warning, and the key files afterwards.
TEST_F(CentralCliTest, KeyRetireAfterRotate) {
  const std::string old_id = enrollment_.central_key_id();
  RunResult only = Expect({"central", "key", "retire", old_id, "--data-dir", dir_}, 1);
  EXPECT_NE(only.err.find("only signing key"), std::string::npos) << only.err;
  Expect({"central", "key", "retire", "--data-dir", dir_}, 2);  // no KEY_ID
  RunResult rotated = Expect({"--json", "central", "key", "rotate", "--data-dir", dir_}, 0);
  const std::smatch m = [&] {
    std::smatch out;
    std::regex_search(rotated.out, out, std::regex("\"new_key_id\": \"([0-9a-f]+)\""));
    return out;
  }();
  ASSERT_EQ(m.size(), 2u) << rotated.out;
  const std::string new_id = m[1];

  // The enrolled satellite never synced: refused, naming it; --force retires and warns.
  RunResult waiting = Expect({"central", "key", "retire", old_id, "--data-dir", dir_}, 1);
  EXPECT_NE(waiting.err.find(enrollment_.satellite_id()), std::string::npos) << waiting.err;
  EXPECT_NE(waiting.err.find("--force"), std::string::npos) << waiting.err;
  RunResult newest = Expect({"central", "key", "retire", new_id, "--data-dir", dir_}, 1);
  EXPECT_NE(newest.err.find("moving to"), std::string::npos) << newest.err;
  RunResult forced = Expect({"central", "key", "retire", old_id, "--force", "--data-dir", dir_}, 0);
  EXPECT_NE(forced.err.find("Warning"), std::string::npos) << forced.err;
  EXPECT_NE(forced.err.find(enrollment_.satellite_id()), std::string::npos) << forced.err;
  EXPECT_NE(forced.out.find("Retired central's signing key " + old_id), std::string::npos)
      << forced.out;

  const std::filesystem::path keys = std::filesystem::path(dir_) / "keys";
  EXPECT_FALSE(std::filesystem::exists(keys / "signing.next.key"));
  EXPECT_FALSE(std::filesystem::exists(keys / "signing.retired.key"));
  EXPECT_TRUE(
      std::filesystem::exists(std::filesystem::path(dir_) / "retired-keys" / (old_id + ".pem")));
  RunResult key = Expect({"central", "key", "--data-dir", dir_}, 0);
  EXPECT_NE(key.out.find(new_id), std::string::npos) << key.out;
  EXPECT_EQ(key.out.find("rotation is in progress"), std::string::npos) << key.out;
  EXPECT_NE(key.out.find("Retired key " + old_id), std::string::npos) << key.out;
  // The cut-off satellite's first request is refused, saying the key was retired.
  const auto request = tmp_.path() / "request.bin";
  ASSERT_OK(sync::WriteBundleFile(request, Request(1), v1::BUNDLE_KIND_SYNC_REQUEST, false));
  RunResult refused = Expect({"central", "sync", "process", request.string(), "-o",
                              (tmp_.path() / "r").string(), "--data-dir", dir_},
                             1);
  EXPECT_NE(refused.err.find("retired"), std::string::npos) << refused.err;
}

TEST_F(CentralCliTest, PakCreatePrintsAKeyAndBadInputsExitWithClearErrors) {
  RunResult pak = Expect({"central", "pak", "create", "acme", "lab", "--tag", "fw.vpn", "--count",
                          "2", "--data-dir", dir_},
                         0);
  EXPECT_TRUE(std::regex_search(pak.out, std::regex("PAK(-[0-9A-F]{4}){8}"))) << pak.out;
  RunResult list = Expect({"central", "pak", "list", "acme", "--data-dir", dir_}, 0);
  EXPECT_NE(list.out.find("not converted"), std::string::npos) << list.out;

  RunResult bad_count = Expect({"central", "license", "add", "acme", "lab", "--tag", "t", "--count",
                                "0", "--data-dir", dir_},
                               1);
  EXPECT_NE(bad_count.err.find("--count is 0"), std::string::npos) << bad_count.err;
  RunResult bad_date = Expect({"central", "license", "add", "acme", "lab", "--tag", "t", "--count",
                               "1", "--end", "tomorrow", "--data-dir", dir_},
                              1);
  EXPECT_NE(bad_date.err.find("YYYY-MM-DD"), std::string::npos) << bad_date.err;
  RunResult no_va = Expect({"central", "license", "add", "acme", "branch", "--tag", "t", "--count",
                            "1", "--data-dir", dir_},
                           1);
  EXPECT_NE(no_va.err.find("outpost central va create acme branch"), std::string::npos)
      << no_va.err;
  Expect({"central", "license", "add", "acme", "lab", "--data-dir", dir_}, 2);  // no --tag
  Expect({"central", "account", "create", "acme", "--data-dir", dir_}, 1);      // exists
  RunResult uninitialised =
      Expect({"central", "account", "list", "--data-dir", (tmp_.path() / "none").string()}, 1);
  EXPECT_NE(uninitialised.err.find("outpost central init"), std::string::npos);
  Expect({"central", "init", "--data-dir", dir_}, 1);
  RunResult licenses =
      Expect({"--json", "central", "license", "list", "acme", "--data-dir", dir_}, 0);
  EXPECT_EQ(licenses.out.find("\"va\": \"lab\""), std::string::npos) << licenses.out;
}

TEST_F(CentralCliTest, ServeAnswersSyncOverTlsAndStopsOnSigterm) {
  testing::ServingProcess serve;
  const std::string log = (tmp_.path() / "serve.log").string();
  ASSERT_TRUE(serve.Start(OUTPOST_BINARY, {"central", "serve", "--data-dir", dir_}, log))
      << "central serve did not print its URL; log: " << testing::ReadFileOrDie(log);

  // The satellite trusts only what the enrollment bundle pinned.
  net::ClientOptions o;
  o.base_url = serve.url();
  o.ca_pem = enrollment_.central_ca_certificate_pem();
  auto client = net::HttpsClient::Create(o);
  ASSERT_OK(client);
  auto health = (*client)->Send("GET", "/healthz");
  ASSERT_OK(health);
  EXPECT_EQ(health->status, 200);

  auto answer = (*client)->Send("POST", "/v1/sync", sync::SerializeBundle(Request(1)),
                                "application/x-protobuf");
  ASSERT_OK(answer);
  ASSERT_EQ(answer->status, 200) << answer->body;
  auto bundle = sync::ParseBundleBytes(answer->body);
  ASSERT_OK(bundle);
  EXPECT_EQ(OpenResponse(*bundle).acknowledged_report_ids(0), "report-1");

  // A replay of an older sequence after a newer one: 409 with the reason.
  ASSERT_EQ(
      (*client)
          ->Send("POST", "/v1/sync", sync::SerializeBundle(Request(2)), "application/x-protobuf")
          ->status,
      200);
  auto replay = (*client)->Send("POST", "/v1/sync", sync::SerializeBundle(Request(1)),
                                "application/x-protobuf");
  ASSERT_OK(replay);
  EXPECT_EQ(replay->status, 409);
  EXPECT_NE(net::StatusFromResponse(*replay).message().find("replay refused"), std::string::npos);
  auto garbage = (*client)->Send("POST", "/v1/sync", "garbage", "application/x-protobuf");
  ASSERT_OK(garbage);
  EXPECT_EQ(garbage->status, 400);
  // /metrics needs a token (issue 17, finding 5): off until one is made, then only with it.
  auto off = (*client)->Send("GET", "/metrics");
  ASSERT_OK(off);
  EXPECT_EQ(off->status, 403);
  EXPECT_NE(off->body.find("outpost central metrics-token"), std::string::npos) << off->body;
  EXPECT_EQ(off->body.find("sync_requests"), std::string::npos) << off->body;
  RunResult made = Expect({"central", "metrics-token", "--data-dir", dir_}, 0);
  const std::string token = made.out.substr(0, made.out.find('\n'));
  ASSERT_TRUE(token.starts_with("opm_")) << made.out;
  for (const std::string& bad :
       std::vector<std::string>{"", "Bearer ", "Bearer opm_wrong", "Basic " + token, token}) {
    auto refused = (*client)->Send("GET", "/metrics", "", "", {{"authorization", bad}});
    ASSERT_OK(refused);
    EXPECT_EQ(refused->status, 401) << bad;
    EXPECT_EQ(refused->body.find("sync_requests"), std::string::npos) << refused->body;
  }
  (*client)->Disconnect();  // a refused request may close the connection
  auto metrics = (*client)->Send("GET", "/metrics", "", "", {{"authorization", "Bearer " + token}});
  ASSERT_OK(metrics);
  EXPECT_EQ(metrics->status, 200) << metrics->body;
  EXPECT_NE(metrics->body.find("outpost_central_sync_requests_processed_total 2"),
            std::string::npos)
      << metrics->body;
  // A new token replaces the old; --remove turns /metrics off again.
  Expect({"central", "metrics-token", "--data-dir", dir_}, 0);
  EXPECT_EQ(
      (*client)->Send("GET", "/metrics", "", "", {{"authorization", "Bearer " + token}})->status,
      401);
  Expect({"central", "metrics-token", "--remove", "--data-dir", dir_}, 0);
  EXPECT_EQ((*client)->Send("GET", "/metrics")->status, 403);
  (*client)->Disconnect();

  const std::optional<int> code = serve.Stop();
  ASSERT_TRUE(code.has_value()) << "central serve did not stop within 15 s of SIGTERM";
  EXPECT_EQ(*code, 0);
}

}  // namespace
}  // namespace outpost
