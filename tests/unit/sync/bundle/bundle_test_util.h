#pragma once

// Fixed keys and payloads for the bundle tests. Everything is deterministic: Ed25519 keys come
// from fixed seeds and times are fixed unix seconds.

#include <gtest/gtest.h>

#include <cstdint>
#include <string>

#include "common/clock.h"
#include "common/crypto/keys.h"
#include "outpost/v1/bundle.pb.h"

namespace outpost::sync::testing {

inline constexpr int64_t kIssuedAt = 1'780'000'000;  // 2026-05-28T20:26:40Z
inline constexpr int64_t kValidUntil = kIssuedAt + 30 * 86'400;
inline constexpr char kSatelliteId[] = "6f1c1f3e-5a7b-4c2d-9e8f-0a1b2c3d4e5f";
inline constexpr char kAccountId[] = "0d9e8f7a-6b5c-4d3e-8f2a-1b0c9d8e7f6a";

// A 32-byte seed: first_byte, first_byte + 1, ...
inline std::string Seed(uint8_t first_byte) {
  std::string seed(32, '\0');
  for (size_t i = 0; i < seed.size(); ++i) seed[i] = static_cast<char>(first_byte + i);
  return seed;
}

// Central's key in every test: Ed25519 from the seed 0x00, 0x01, ..., 0x1f.
inline crypto::PrivateKey CentralKey() {
  return crypto::PrivateKey::FromRawEd25519(Seed(0)).value();
}
// The satellite's key: Ed25519 from the seed 0x20, ..., 0x3f.
inline crypto::PrivateKey SatelliteKey() {
  return crypto::PrivateKey::FromRawEd25519(Seed(0x20)).value();
}
// Someone else's key: Ed25519 from the seed 0x40, ..., 0x5f.
inline crypto::PrivateKey OtherKey() {
  return crypto::PrivateKey::FromRawEd25519(Seed(0x40)).value();
}

// Response number 7 answering request 12 of kSatelliteId, with two entitlements.
inline v1::SyncResponse SampleResponse() {
  v1::SyncResponse r;
  r.set_satellite_id(kSatelliteId);
  r.set_account_id(kAccountId);
  r.set_account_name("Example Corp");
  r.set_response_number(7);
  r.set_answers_request_sequence(12);
  r.set_issued_at(kIssuedAt);
  r.set_valid_until(kValidUntil);
  v1::Entitlement* base = r.add_entitlements();
  base->set_id("ent-1");
  base->set_va("default");
  base->set_tag("regid.2026-01.com.example.fw.base");
  base->set_quantity(100);
  base->set_start(kIssuedAt - 86'400);
  base->set_enforcement(v1::ENFORCEMENT_REPORTED);
  v1::Entitlement* crypto_feature = r.add_entitlements();
  crypto_feature->set_id("ent-2");
  crypto_feature->set_va("lab");
  crypto_feature->set_tag("regid.2026-01.com.example.fw.crypto");
  crypto_feature->set_quantity(5);
  crypto_feature->set_start(kIssuedAt - 86'400);
  crypto_feature->set_end(kIssuedAt + 365 * 86'400);
  crypto_feature->set_enforcement(v1::ENFORCEMENT_ENFORCED);
  crypto_feature->set_export_controlled(true);
  r.add_virtual_accounts("default");
  r.add_virtual_accounts("lab");
  r.add_acknowledged_report_ids("3b0f6a58-4f7e-4d8b-9a34-6f1e2d3c4b5a");
  v1::Policy* policy = r.mutable_policy();
  policy->set_authorization_validity_s(90 * 86'400);
  policy->set_authorization_renewal_s(30 * 86'400);
  policy->set_floating_lease_s(900);
  policy->set_sync_interval_s(86'400);
  return r;
}

// Request 12 of kSatelliteId, its first (so with an enrollment proof placeholder).
inline v1::SyncRequest SampleRequest() {
  v1::SyncRequest r;
  r.set_satellite_id(kSatelliteId);
  r.set_account_id(kAccountId);
  r.set_sequence(12);
  r.set_satellite_public_key_pem(SatelliteKey().public_key().ToPem());
  r.set_central_key_id(CentralKey().public_key().KeyId());
  v1::UsageReport* report = r.add_usage_reports();
  report->set_report_id("3b0f6a58-4f7e-4d8b-9a34-6f1e2d3c4b5a");
  report->set_va("default");
  report->set_tag("regid.2026-01.com.example.fw.base");
  report->set_period_start(kIssuedAt - 86'400);
  report->set_period_end(kIssuedAt);
  report->set_peak_in_use(42);
  r.mutable_inventory()->set_devices_total(42);
  r.mutable_audit_head()->set_seq(1234);
  r.mutable_audit_head()->set_hash(std::string(64, 'a'));
  r.set_created_at(kIssuedAt - 3600);
  r.set_software_version("0.1.0");
  return r;
}

inline v1::EnrollmentBundle SampleEnrollment(const crypto::PublicKey& central) {
  v1::EnrollmentBundle e;
  e.set_satellite_id(kSatelliteId);
  e.set_account_id(kAccountId);
  e.set_account_name("Example Corp");
  e.set_central_public_key_pem(central.ToPem());
  e.set_central_key_id(central.KeyId());
  e.set_enrollment_secret(Seed(0xa0));
  e.set_central_url("https://central.example:8443");
  e.set_issued_at(kIssuedAt);
  return e;
}

inline v1::BundlePayload ResponsePayload(const v1::SyncResponse& response = SampleResponse()) {
  v1::BundlePayload p;
  p.set_kind(v1::BUNDLE_KIND_SYNC_RESPONSE);
  *p.mutable_sync_response() = response;
  return p;
}

inline v1::BundlePayload RequestPayload(const v1::SyncRequest& request = SampleRequest()) {
  v1::BundlePayload p;
  p.set_kind(v1::BUNDLE_KIND_SYNC_REQUEST);
  *p.mutable_sync_request() = request;
  return p;
}

inline v1::BundlePayload EnrollmentPayload(const crypto::PublicKey& central) {
  v1::BundlePayload p;
  p.set_kind(v1::BUNDLE_KIND_ENROLLMENT);
  *p.mutable_enrollment() = SampleEnrollment(central);
  return p;
}

}  // namespace outpost::sync::testing
