#pragma once

// The satellite's TLS server certificate: how `outpost init` issues it and how the satellite
// renews it before it expires (DESIGN.md section 7). The decisions here are pure; the
// satellite (server/reloader.h) reads the files, writes the renewed certificate and loads it.

#include <chrono>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/crypto/ca.h"
#include "common/crypto/keys.h"
#include "common/crypto/x509.h"
#include "common/status.h"

namespace outpost::server {

// How long a server certificate the satellite CA issues is valid (at init and at each renewal):
// 825 days, the longest that TLS clients have accepted for a certificate from a private CA.
inline constexpr auto kServerCertificateValidity = std::chrono::days(825);
// Certificates start an hour early, so a device whose clock is slightly behind accepts them.
inline constexpr auto kServerCertificateBackdate = std::chrono::hours(1);

// A server certificate profile for `dns_names` and `ip_addresses`, valid from `now` (backdated)
// for kServerCertificateValidity, but never past `ca_not_after`.
crypto::CertificateProfile ServerCertificateProfile(std::string common_name,
                                                    std::vector<std::string> dns_names,
                                                    std::vector<std::string> ip_addresses,
                                                    TimePoint now, TimePoint ca_not_after);

// True iff `ca` signed `certificate` (issuer name and signature both check).
bool IssuedBy(const crypto::Certificate& certificate, const crypto::Certificate& ca);

// What to do about the certificate being served.
enum class RenewalVerdict {
  kValid,             // not within the renewal window
  kRenew,             // within the window, and the satellite CA issued it: renew it
  kOperatorExpiring,  // within the window, and someone else issued it: raise the alarm
  kCaExpiresTooSoon,  // within the window, but the satellite CA ends before a renewal helps
};

// kRenew only when a renewed certificate would end later than the current one by more than
// `renew_before` (otherwise the CA itself is about to expire, kCaExpiresTooSoon).
RenewalVerdict DecideRenewal(const crypto::Certificate& current, bool issued_by_satellite_ca,
                             const crypto::Certificate& ca, TimePoint now, Duration renew_before);

// A new certificate for `key` with the names, common name and usage of `current`, issued by
// `ca` from `now`, as a PEM chain (the certificate, then the CA certificate) like init writes.
Result<std::string> RenewServerCertificate(const crypto::CertificateAuthority& ca,
                                           const crypto::Certificate& current,
                                           const crypto::PublicKey& key, TimePoint now);

}  // namespace outpost::server
