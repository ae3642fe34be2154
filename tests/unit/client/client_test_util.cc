#include "tests/unit/client/client_test_util.h"

#include "client/authorization.h"

namespace outpost::testing {

SatelliteKeys MakeSatelliteKeysOrDie(TimePoint now, const std::string& satellite_id) {
  const TimePoint from = now - std::chrono::hours(1);
  const TimePoint to = now + std::chrono::hours(48);
  auto ca = OrDie(crypto::CertificateAuthority::CreateRoot(
      OrDie(crypto::PrivateKey::Generate(crypto::KeyAlgorithm::kEcdsaP256)), satellite_id + " CA",
      from, to));
  return SatelliteKeys{std::move(ca),
                       OrDie(crypto::PrivateKey::Generate(crypto::KeyAlgorithm::kEd25519)),
                       satellite_id, from, to};
}

v1::RegisterResponse IssueRegistrationOrDie(const SatelliteKeys& keys,
                                            const crypto::PublicKey& device_key,
                                            const std::string& instance_id,
                                            const std::string& udi) {
  crypto::CertificateProfile profile;
  profile.usage = crypto::CertificateProfile::kClient;
  profile.common_name = instance_id;
  profile.not_before = keys.not_before;
  profile.not_after = keys.not_before + std::chrono::hours(25);
  auto certificate = OrDie(keys.ca.Issue(device_key, profile));
  v1::RegisterResponse r;
  r.set_instance_id(instance_id);
  r.set_va("default");
  r.set_udi(udi);
  r.set_certificate_pem(certificate.ToPem());
  r.add_ca_chain_pem(keys.ca.certificate().ToPem());
  r.set_certificate_not_after(ToUnixSeconds(certificate.not_after()));
  r.set_satellite_id(keys.satellite_id);
  r.set_signing_public_key_pem(keys.signing_key.public_key().ToPem());
  r.set_signing_key_id(keys.signing_key.public_key().KeyId());
  return r;
}

v1::SignedAuthorization SignOrDie(const crypto::PrivateKey& key,
                                  const v1::Authorization& authorization) {
  v1::SignedAuthorization signed_authorization;
  signed_authorization.set_payload(authorization.SerializeAsString());
  signed_authorization.set_key_id(key.public_key().KeyId());
  signed_authorization.set_algorithm(std::string(crypto::AlgorithmName(key.algorithm())));
  signed_authorization.set_signature(
      OrDie(key.Sign(client::kAuthorizationDomain, signed_authorization.payload())));
  *signed_authorization.mutable_authorization() = authorization;
  return signed_authorization;
}

v1::Authorization MakeAuthorization(const std::string& satellite_id, const std::string& instance_id,
                                    TimePoint now) {
  v1::Authorization a;
  a.set_satellite_id(satellite_id);
  a.set_instance_id(instance_id);
  a.set_va("default");
  a.set_udi("PID1:SN1");
  a.set_issued_at(ToUnixSeconds(now));
  a.set_valid_until(ToUnixSeconds(now + std::chrono::hours(24 * 90)));
  a.set_renew_after(ToUnixSeconds(now + std::chrono::hours(24 * 30)));
  auto* tag = a.add_tags();
  tag->set_tag("regid.2026-01.com.example.fw.base");
  tag->set_requested(2);
  tag->set_granted(2);
  tag->set_status("AUTHORIZED");
  tag->set_valid_until(a.valid_until());
  return a;
}

}  // namespace outpost::testing
