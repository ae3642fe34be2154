#pragma once

// The fixture of central's unit tests: a central in a temporary directory with an account, and
// FakeSatellite, which builds and signs sync requests as a satellite would.

#include <gtest/gtest.h>

#include <filesystem>
#include <memory>
#include <string>

#include "common/audit_format.h"
#include "common/ids.h"
#include "common/sqlite/connection.h"
#include "sync/bundle/armor.h"
#include "sync/bundle/codec.h"
#include "sync/bundle/freshness.h"
#include "sync/bundle/trust.h"
#include "sync/central/central.h"
#include "tests/testing/fake_clock.h"
#include "tests/testing/test_util.h"

namespace outpost::central {

inline constexpr char kTag[] = "regid.2026-01.com.example.fw.base";

// Every row of every table, so a refused request can be shown to have changed nothing.
inline std::string DumpDatabase(const std::filesystem::path& path) {
  auto db = sqlite::Connection::Open(path, {.mode = sqlite::OpenMode::kReadOnly});
  EXPECT_TRUE(db.ok()) << db.status().ToString();
  if (!db.ok()) return "";
  std::string out;
  for (const char* table :
       {"accounts", "virtual_accounts", "entitlements", "satellites", "usage_reports", "moves",
        "paks", "conversions", "audit_heads", "satellite_events"}) {
    out += std::string("[") + table + "]\n";
    auto stmt = db->Query(std::string("SELECT * FROM ") + table + " ORDER BY 1, 2");
    EXPECT_TRUE(stmt.ok());
    if (!stmt.ok()) continue;
    while (*(*stmt)->Step()) {
      for (int i = 0; i < (*stmt)->ColumnCount(); ++i) out += (*stmt)->ColumnBlob(i) + "|";
      out += "\n";
    }
  }
  return out;
}

// A satellite as far as central can tell: its key, its enrollment and its sequence.
struct FakeSatellite {
  crypto::PrivateKey key = crypto::PrivateKey::Generate(crypto::KeyAlgorithm::kEd25519).value();
  v1::EnrollmentBundle enrollment;
  int64_t sequence = 0;
  bool bound = false;

  v1::SyncRequest NextRequest() {
    v1::SyncRequest r;
    r.set_satellite_id(enrollment.satellite_id());
    r.set_account_id(enrollment.account_id());
    r.set_sequence(++sequence);
    r.set_satellite_public_key_pem(key.public_key().ToPem());
    if (!bound) {
      r.set_enrollment_proof(
          sync::EnrollmentProof(enrollment.enrollment_secret(), key.public_key()));
    }
    r.set_central_key_id(enrollment.central_key_id());
    r.set_created_at(1'780'000'000);
    r.set_software_version("0.1.0");
    return r;
  }

  // The head of its audit chain, signed as the satellite signs checkpoints.
  v1::AuditCheckpoint Head(int64_t seq, int64_t time_ms) const {
    v1::AuditCheckpoint head;
    head.set_seq(seq);
    head.set_hash(std::string(64, 'b'));
    head.set_time_ms(time_ms);
    head.set_key_id(key.public_key().KeyId());
    head.set_signature(key.Sign(kAuditCheckpointDomain,
                                AuditCheckpointMessage(seq, std::string(32, '\xbb'), time_ms))
                           .value());
    return head;
  }

  std::string Sign(const v1::SyncRequest& request, const crypto::PrivateKey* with = nullptr) const {
    sync::BundlePayload payload;
    payload.set_kind(v1::BUNDLE_KIND_SYNC_REQUEST);
    *payload.mutable_sync_request() = request;
    return sync::SerializeBundle(sync::SignBundle(payload, with ? *with : key).value());
  }
};

inline v1::UsageReport Report(const std::string& id, int64_t peak) {
  v1::UsageReport r;
  r.set_report_id(id);
  r.set_va("default");
  r.set_tag(kTag);
  r.set_period_start(1'779'996'400);
  r.set_period_end(1'780'000'000);
  r.set_peak_in_use(peak);
  return r;
}

class CentralTest : public ::testing::Test {
 protected:
  void SetUp() override {
    InitCentralOptions init;
    init.data_dir = dir_ / "central";
    init.policy.set_sync_interval_s(3600);
    ASSERT_OK(InitCentral(init, clock_));
    Central::Options options;
    options.synchronous = sqlite::Synchronous::kNormal;
    options.max_request_bytes = 64 << 10;
    auto opened = Central::Open(dir_ / "central", clock_, options);
    ASSERT_OK(opened);
    central_ = std::move(opened).value();
    ASSERT_OK(central_->CreateAccount("acme", "Acme Corp"));
    ASSERT_OK(central_->CreateVirtualAccount("acme", "lab"));
    LicenseTerms terms;
    terms.quantity = 10;
    auto e = central_->AddLicense("acme", "default", kTag, terms);
    ASSERT_OK(e);
    base_entitlement_ = e->id();
    terms.quantity = 5;
    terms.enforced = true;
    terms.export_controlled = true;
    terms.end = ToUnixSeconds(clock_.Now()) + 365 * 86'400;
    ASSERT_OK(central_->AddLicense("acme", "lab", "regid.2026-01.com.example.fw.crypto", terms));
    satellite_ = Enrol("acme");
  }

  FakeSatellite Enrol(const std::string& account) {
    const auto file = dir_ / (NewUuid() + ".bundle");
    auto enrolled = central_->EnrollSatellite(account, "plant 4", file, false, std::nullopt);
    EXPECT_TRUE(enrolled.ok()) << enrolled.status().ToString();
    FakeSatellite s;
    auto bundle = sync::ReadBundleFile(file);
    EXPECT_TRUE(bundle.ok());
    auto opened = sync::OpenEnrollmentBundle(*bundle);
    EXPECT_TRUE(opened.ok()) << opened.status().ToString();
    s.enrollment = opened->payload.enrollment();
    return s;
  }

  // Processes `bytes` and checks the answer as the satellite will.
  v1::SyncResponse Sync(const std::string& bytes, FakeSatellite& s) {
    auto outcome = central_->ProcessSyncRequest(bytes);
    EXPECT_TRUE(outcome.ok()) << outcome.status().ToString();
    if (!outcome.ok()) return {};
    auto bundle = sync::ParseBundleBytes(outcome->response_bytes);
    EXPECT_TRUE(bundle.ok());
    auto payload =
        sync::OpenBundle(*bundle, v1::BUNDLE_KIND_SYNC_RESPONSE, central_->signing_public_key());
    EXPECT_TRUE(payload.ok()) << payload.status().ToString();
    s.bound = true;
    return payload->sync_response();
  }

  std::string Dump() { return DumpDatabase(dir_ / "central" / "central.db"); }

  int64_t Quantity(const v1::SyncResponse& r, const std::string& id) {
    for (const auto& e : r.entitlements()) {
      if (e.id() == id) return e.quantity();
    }
    return -1;
  }

  testing::TempDir dir_;
  testing::FakeClock clock_;
  std::unique_ptr<Central> central_;
  std::string base_entitlement_;
  FakeSatellite satellite_;
};

}  // namespace outpost::central
