#include "server/tls_renewal.h"

#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <algorithm>

namespace outpost::server {

crypto::CertificateProfile ServerCertificateProfile(std::string common_name,
                                                    std::vector<std::string> dns_names,
                                                    std::vector<std::string> ip_addresses,
                                                    TimePoint now, TimePoint ca_not_after) {
  crypto::CertificateProfile profile;
  profile.usage = crypto::CertificateProfile::kServer;
  profile.common_name = std::move(common_name);
  profile.dns_names = std::move(dns_names);
  profile.ip_addresses = std::move(ip_addresses);
  profile.not_before = now - kServerCertificateBackdate;
  profile.not_after = std::min<TimePoint>(now + kServerCertificateValidity, ca_not_after);
  return profile;
}

bool IssuedBy(const crypto::Certificate& certificate, const crypto::Certificate& ca) {
  if (X509_check_issued(ca.get(), certificate.get()) != X509_V_OK) return false;
  EVP_PKEY* ca_key = X509_get0_pubkey(ca.get());
  return ca_key != nullptr && X509_verify(certificate.get(), ca_key) == 1;
}

RenewalVerdict DecideRenewal(const crypto::Certificate& current, bool issued_by_satellite_ca,
                             const crypto::Certificate& ca, TimePoint now, Duration renew_before) {
  if (current.not_after() - now > renew_before) return RenewalVerdict::kValid;
  if (!issued_by_satellite_ca) return RenewalVerdict::kOperatorExpiring;
  const TimePoint renewed_until =
      std::min<TimePoint>(now + kServerCertificateValidity, ca.not_after());
  // A renewal must leave the window, or it would be renewed again at every check.
  if (renewed_until - now <= renew_before) return RenewalVerdict::kCaExpiresTooSoon;
  return RenewalVerdict::kRenew;
}

Result<std::string> RenewServerCertificate(const crypto::CertificateAuthority& ca,
                                           const crypto::Certificate& current,
                                           const crypto::PublicKey& key, TimePoint now) {
  std::string common_name = current.subject_common_name();
  if (common_name.empty()) common_name = "outpost-satellite";
  crypto::CertificateProfile profile =
      ServerCertificateProfile(std::move(common_name), current.dns_names(), current.ip_addresses(),
                               now, ca.certificate().not_after());
  OUTPOST_ASSIGN_OR_RETURN(crypto::Certificate renewed, ca.Issue(key, profile));
  return renewed.ToPem() + ca.certificate().ToPem();
}

}  // namespace outpost::server
