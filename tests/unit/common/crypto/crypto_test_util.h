#pragma once

// Fixtures shared by the certificate tests: fixed times (never the wall clock) and
// CA/key helpers that fail the test loudly.

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <string>

#include "common/clock.h"
#include "common/crypto/ca.h"
#include "common/crypto/keys.h"

namespace outpost::crypto::testing {

using namespace std::chrono_literals;

// 2026-05-28T20:26:40Z, the FakeClock's default start.
inline const TimePoint kT0 = FromUnixSeconds(1'780'000'000);
inline constexpr auto kDay = std::chrono::hours(24);
inline const TimePoint kCaNotBefore = kT0;
inline const TimePoint kCaNotAfter = kT0 + 3650 * kDay;

template <typename T>
T ValueOrDie(Result<T> result, const char* what) {
  if (!result.ok()) {
    ADD_FAILURE() << what << ": " << result.status().ToString();
    std::abort();
  }
  return std::move(result).value();
}

inline PrivateKey NewKey(KeyAlgorithm algorithm) {
  return ValueOrDie(PrivateKey::Generate(algorithm), "PrivateKey::Generate");
}

inline CertificateAuthority NewCa(KeyAlgorithm algorithm, std::string name = "Outpost Test CA") {
  return ValueOrDie(CertificateAuthority::CreateRoot(NewKey(algorithm), std::move(name),
                                                     kCaNotBefore, kCaNotAfter),
                    "CertificateAuthority::CreateRoot");
}

// A server profile valid for a year from kT0, for localhost and 127.0.0.1.
inline CertificateProfile ServerProfile(std::string common_name = "outpost.local") {
  CertificateProfile profile;
  profile.usage = CertificateProfile::kServer;
  profile.common_name = std::move(common_name);
  profile.dns_names = {"localhost", "outpost.local"};
  profile.ip_addresses = {"127.0.0.1", "::1"};
  profile.not_before = kT0;
  profile.not_after = kT0 + 365 * kDay;
  return profile;
}

// A device (client) profile valid for 90 days from kT0.
inline CertificateProfile ClientProfile(std::string common_name = "device-0001") {
  CertificateProfile profile;
  profile.usage = CertificateProfile::kClient;
  profile.common_name = std::move(common_name);
  profile.not_before = kT0;
  profile.not_after = kT0 + 90 * kDay;
  return profile;
}

}  // namespace outpost::crypto::testing
