#pragma once

// What a satellite holds for the device API, made up for client tests: a CA that issues ID
// certificates, an Ed25519 authorization signing key, and helpers that answer like a satellite.

#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

#include "common/clock.h"
#include "common/crypto/ca.h"
#include "common/crypto/keys.h"
#include "outpost/v1/devices.pb.h"

namespace outpost::testing {

struct SatelliteKeys {
  crypto::CertificateAuthority ca;
  crypto::PrivateKey signing_key;  // Ed25519
  std::string satellite_id;
  TimePoint not_before;  // of the CA and everything it issues
  TimePoint not_after;
};

// A CA valid from `now` - 1 h to `now` + 2 days, and a fresh signing key.
SatelliteKeys MakeSatelliteKeysOrDie(TimePoint now, const std::string& satellite_id = "sat-1");

// A registration answer for `device_key` as instance `instance_id`, certificate valid one day.
v1::RegisterResponse IssueRegistrationOrDie(const SatelliteKeys& keys,
                                            const crypto::PublicKey& device_key,
                                            const std::string& instance_id,
                                            const std::string& udi = "PID1:SN1");

// `authorization` serialized and signed by `key` in the authorization domain, with its key id.
v1::SignedAuthorization SignOrDie(const crypto::PrivateKey& key,
                                  const v1::Authorization& authorization);

// An Authorization for `instance_id` at `satellite_id` with one AUTHORIZED tag.
v1::Authorization MakeAuthorization(const std::string& satellite_id, const std::string& instance_id,
                                    TimePoint now);

// The value of `r`; fails the test and aborts on an error (for set-up that cannot go on).
template <typename T>
T OrDie(Result<T> r) {
  if (!r.ok()) {
    ADD_FAILURE() << r.status().ToString();
    std::abort();
  }
  return std::move(r).value();
}

}  // namespace outpost::testing
