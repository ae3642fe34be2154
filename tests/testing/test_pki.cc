#include "tests/testing/test_pki.h"

#include <gtest/gtest.h>

#include <cstdlib>

#include "common/crypto/ca.h"
#include "common/crypto/keys.h"

namespace outpost::testing {
namespace {

template <typename T>
T OrDie(Result<T> r) {
  if (!r.ok()) {
    ADD_FAILURE() << r.status().ToString();
    std::abort();
  }
  return std::move(r).value();
}

}  // namespace

TestPki MakeTestPkiOrDie(const std::string& name) {
  using crypto::KeyAlgorithm;
  const TimePoint now = std::chrono::system_clock::now();
  const TimePoint from = now - std::chrono::hours(1);
  const TimePoint to = now + std::chrono::hours(24);
  auto ca = OrDie(crypto::CertificateAuthority::CreateRoot(
      OrDie(crypto::PrivateKey::Generate(KeyAlgorithm::kEcdsaP256)), name + " test CA", from,
      to + std::chrono::hours(24)));
  TestPki pki;
  pki.ca_pem = ca.certificate().ToPem();

  auto server_key = OrDie(crypto::PrivateKey::Generate(KeyAlgorithm::kEcdsaP256));
  crypto::CertificateProfile server;
  server.usage = crypto::CertificateProfile::kServer;
  server.common_name = name + " server";
  server.dns_names = {"localhost"};
  server.ip_addresses = {"127.0.0.1", "::1"};
  server.not_before = from;
  server.not_after = to;
  pki.server_chain_pem = OrDie(ca.Issue(server_key.public_key(), server)).ToPem() + pki.ca_pem;
  pki.server_key_pem = server_key.ToPem();

  auto client_key = OrDie(crypto::PrivateKey::Generate(KeyAlgorithm::kEcdsaP256));
  crypto::CertificateProfile client;
  client.usage = crypto::CertificateProfile::kClient;
  client.common_name = name + " client";
  client.not_before = from;
  client.not_after = to;
  pki.client_certificate_pem = OrDie(ca.Issue(client_key.public_key(), client)).ToPem();
  pki.client_key_pem = client_key.ToPem();
  return pki;
}

}  // namespace outpost::testing
