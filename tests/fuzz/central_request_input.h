#pragma once

// The world of fuzz_central_request, shared with make_seeds (which writes requests that this
// central admits): central's signing key is the fuzz TestKey; three satellites are enrolled:
//   kAcmeSatellite   account kAcme, bound to AcmeSatelliteKey()
//   kNewSatellite    account kAcme, enrolled but not bound yet: its first request must introduce
//                    a key (OtherKey() in the seeds) with a proof made from kNewEnrollmentSecret
//   kEvilSatellite   account kEvil, bound to EvilSatelliteKey() (another customer)
// The account kAcme has the VAs "default" and kVa and an entitlement for kTag; kEvil has
// "default" and an entitlement for kTag. Central's clock reads kNow.

#include <cstdint>
#include <string>

#include "common/crypto/keys.h"
#include "tests/fuzz/fuzz_util.h"

namespace outpost::fuzz::central_world {

inline constexpr int64_t kNow = 1'800'000'000;
inline constexpr char kAcme[] = "acme-fz7";
inline constexpr char kEvil[] = "evilcorp-fz9";
inline constexpr char kAcmeSatellite[] = "6f1c0c8e-0000-4000-8000-00000000a001";
inline constexpr char kNewSatellite[] = "6f1c0c8e-0000-4000-8000-00000000a002";
inline constexpr char kEvilSatellite[] = "6f1c0c8e-0000-4000-8000-00000000e003";
inline constexpr char kVa[] = "branch-east";
inline constexpr char kTag[] = "regid.2026-01.com.example.fw.base";
inline constexpr int64_t kAcmeLastSequence = 5;

inline std::string NewEnrollmentSecret() { return std::string(32, '\x01'); }

inline const crypto::PrivateKey& FixedKey(char seed_byte) {
  auto k = crypto::PrivateKey::FromRawEd25519(std::string(32, seed_byte));
  Check(k.ok(), "fixed satellite key");
  return *new crypto::PrivateKey(std::move(*k));  // once per caller's static: never freed
}

inline const crypto::PrivateKey& AcmeSatelliteKey() {
  static const crypto::PrivateKey& key = FixedKey('\x33');
  return key;
}

inline const crypto::PrivateKey& EvilSatelliteKey() {
  static const crypto::PrivateKey& key = FixedKey('\x66');
  return key;
}

}  // namespace outpost::fuzz::central_world
