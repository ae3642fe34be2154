#include "common/crypto/ca.h"

#include <arpa/inet.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include <cctype>
#include <cstring>
#include <memory>
#include <utility>
#include <vector>

#include "common/crypto/openssl_util.h"
#include "common/crypto/random.h"
#include "common/crypto/spki.h"
#include "common/time.h"

namespace outpost::crypto {
namespace {

using internal::Bytes;
using internal::DieOnOpenSslFailure;
using internal::OpenSslFailure;

constexpr size_t kSerialBytes = 16;

struct GeneralNamesDeleter {
  void operator()(GENERAL_NAMES* names) const {
    sk_GENERAL_NAME_pop_free(names, GENERAL_NAME_free);
  }
};
struct GeneralNameDeleter {
  void operator()(GENERAL_NAME* name) const { GENERAL_NAME_free(name); }
};
struct X509StackDeleter {
  void operator()(STACK_OF(X509) * stack) const { sk_X509_free(stack); }
};
using GeneralNamesPtr = std::unique_ptr<GENERAL_NAMES, GeneralNamesDeleter>;
using GeneralNamePtr = std::unique_ptr<GENERAL_NAME, GeneralNameDeleter>;

// A random positive serial number. RFC 5280 asks for unpredictable, unique, positive serials
// of at most 20 octets; 128 random bits make collisions negligible without a counter.
Result<Asn1StringPtr> RandomSerial() {
  OUTPOST_ASSIGN_OR_RETURN(std::string bytes, RandomBytes(kSerialBytes));
  BignumPtr bn(BN_bin2bn(Bytes(bytes), static_cast<int>(bytes.size()), nullptr));
  if (bn == nullptr) DieOnOpenSslFailure("BN_bin2bn");
  if (BN_is_zero(bn.get()) && BN_set_word(bn.get(), 1) != 1) DieOnOpenSslFailure("BN_set_word");
  Asn1StringPtr serial(BN_to_ASN1_INTEGER(bn.get(), nullptr));
  if (serial == nullptr) DieOnOpenSslFailure("BN_to_ASN1_INTEGER");
  return serial;
}

Status CheckValidity(TimePoint not_before, TimePoint not_after) {
  if (not_before < not_after) return Status::Ok();
  return InvalidArgument("the validity period is empty: not_before " + FormatRfc3339(not_before) +
                         " is not before not_after " + FormatRfc3339(not_after));
}

// An unsigned version 3 certificate with serial, issuer and validity set, and the subject
// name if `subject` is not null, for the caller to add the public key to.
Result<X509Ptr> NewCertificate(const X509_NAME* subject, const X509_NAME* issuer,
                               TimePoint not_before, TimePoint not_after) {
  OUTPOST_ASSIGN_OR_RETURN(Asn1StringPtr serial, RandomSerial());
  X509Ptr cert(X509_new());
  if (cert == nullptr) DieOnOpenSslFailure("X509_new");
  if (X509_set_version(cert.get(), X509_VERSION_3) != 1 ||
      X509_set_serialNumber(cert.get(), serial.get()) != 1 ||
      (subject != nullptr && X509_set_subject_name(cert.get(), subject) != 1) ||
      X509_set_issuer_name(cert.get(), issuer) != 1 ||
      ASN1_TIME_set(X509_getm_notBefore(cert.get()), ToUnixSeconds(not_before)) == nullptr ||
      ASN1_TIME_set(X509_getm_notAfter(cert.get()), ToUnixSeconds(not_after)) == nullptr) {
    return OpenSslFailure(Errc::kInternal, "cannot build a certificate");
  }
  return cert;
}

// Values are fixed strings from this file, never caller input (which goes through
// AddSubjectAltNames instead), so the config syntax cannot be injected into.
Status AddExtension(X509* cert, X509V3_CTX* ctx, int nid, const char* value) {
  X509ExtensionPtr ext(X509V3_EXT_nconf_nid(nullptr, ctx, nid, value));
  if (ext == nullptr || X509_add_ext(cert, ext.get(), -1) != 1) {
    return OpenSslFailure(Errc::kInternal, "cannot add certificate extension " +
                                               std::string(OBJ_nid2sn(nid)) + "=" + value);
  }
  return Status::Ok();
}

// subjectKeyIdentifier as X509V3_EXT_nconf "hash" computes it (RFC 5280 method 1: SHA-1 of
// the subjectPublicKey bits), without parsing a config string and fetching SHA-1 each time.
Status AddSubjectKeyIdentifier(X509* cert) {
  const unsigned char* key = nullptr;
  int key_len = 0;
  if (X509_PUBKEY_get0_param(nullptr, &key, &key_len, nullptr, X509_get_X509_PUBKEY(cert)) != 1) {
    return OpenSslFailure(Errc::kInternal, "cannot read the certificate's public key");
  }
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int digest_len = 0;
  if (EVP_Digest(key, static_cast<size_t>(key_len), digest, &digest_len, internal::Sha1(),
                 nullptr) != 1) {
    return OpenSslFailure(Errc::kInternal, "cannot hash the certificate's public key");
  }
  Asn1StringPtr id(ASN1_OCTET_STRING_new());
  if (id == nullptr || ASN1_OCTET_STRING_set(id.get(), digest, static_cast<int>(digest_len)) != 1) {
    DieOnOpenSslFailure("ASN1_OCTET_STRING_set");
  }
  if (X509_add1_ext_i2d(cert, NID_subject_key_identifier, id.get(), 0, X509V3_ADD_DEFAULT) != 1) {
    return OpenSslFailure(Errc::kInternal, "cannot add the subjectKeyIdentifier extension");
  }
  return Status::Ok();
}

bool IsIpAddress(const std::string& text, unsigned char (&buf)[16], int* len) {
  if (inet_pton(AF_INET, text.c_str(), buf) == 1) {
    *len = 4;
    return true;
  }
  if (inet_pton(AF_INET6, text.c_str(), buf) == 1) {
    *len = 16;
    return true;
  }
  return false;
}

Status CheckDnsName(const std::string& name) {
  unsigned char ip[16];
  int ip_len = 0;
  if (IsIpAddress(name, ip, &ip_len)) {
    return InvalidArgument("\"" + name + "\" is an IP address; list it in ip_addresses, not " +
                           "dns_names");
  }
  const Status bad = InvalidArgument(
      "\"" + name + "\" is not a valid DNS name (labels of 1 to 63 letters, digits or '-', " +
      "separated by '.'; an initial \"*.\" is allowed)");
  if (name.empty() || name.size() > 253) return bad;
  std::string_view rest(name);
  if (rest.starts_with("*.")) rest.remove_prefix(2);
  for (;;) {
    const size_t dot = rest.find('.');
    const std::string_view label = rest.substr(0, dot);
    if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-') {
      return bad;
    }
    for (char c : label) {
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-') return bad;
    }
    if (dot == std::string_view::npos) return Status::Ok();
    rest.remove_prefix(dot + 1);
  }
}

Status PushName(GENERAL_NAMES* names, int type, ASN1_STRING* value) {
  GeneralNamePtr name(GENERAL_NAME_new());
  if (name == nullptr) {
    ASN1_STRING_free(value);
    DieOnOpenSslFailure("GENERAL_NAME_new");
  }
  GENERAL_NAME_set0_value(name.get(), type, value);
  if (sk_GENERAL_NAME_push(names, name.get()) <= 0) DieOnOpenSslFailure("sk_GENERAL_NAME_push");
  name.release();  // now owned by `names`
  return Status::Ok();
}

// Builds the SAN from typed GENERAL_NAMEs rather than a config string, so a name containing
// ',' or ':' is rejected by validation instead of being parsed as extra entries.
Status AddSubjectAltNames(X509* cert, const CertificateProfile& profile) {
  if (profile.dns_names.empty() && profile.ip_addresses.empty()) return Status::Ok();
  GeneralNamesPtr names(sk_GENERAL_NAME_new_null());
  if (names == nullptr) DieOnOpenSslFailure("sk_GENERAL_NAME_new_null");
  for (const std::string& dns : profile.dns_names) {
    ASN1_STRING* value = ASN1_IA5STRING_new();
    if (value == nullptr || ASN1_STRING_set(value, dns.data(), static_cast<int>(dns.size())) != 1) {
      DieOnOpenSslFailure("ASN1_STRING_set");
    }
    OUTPOST_RETURN_IF_ERROR(PushName(names.get(), GEN_DNS, value));
  }
  for (const std::string& ip : profile.ip_addresses) {
    unsigned char buf[16];
    int len = 0;
    if (!IsIpAddress(ip, buf, &len)) DieOnOpenSslFailure("unvalidated IP address");
    ASN1_STRING* value = ASN1_OCTET_STRING_new();
    if (value == nullptr || ASN1_OCTET_STRING_set(value, buf, len) != 1) {
      DieOnOpenSslFailure("ASN1_OCTET_STRING_set");
    }
    OUTPOST_RETURN_IF_ERROR(PushName(names.get(), GEN_IPADD, value));
  }
  if (X509_add1_ext_i2d(cert, NID_subject_alt_name, names.get(), 0, X509V3_ADD_DEFAULT) != 1) {
    return OpenSslFailure(Errc::kInternal, "cannot add the subjectAltName extension");
  }
  return Status::Ok();
}

Status CheckProfile(const CertificateProfile& profile) {
  OUTPOST_RETURN_IF_ERROR(internal::CheckCommonName(profile.common_name));
  OUTPOST_RETURN_IF_ERROR(CheckValidity(profile.not_before, profile.not_after));
  if (profile.usage == CertificateProfile::kServer && profile.dns_names.empty() &&
      profile.ip_addresses.empty()) {
    return InvalidArgument(
        "a server certificate needs at least one DNS name or IP address (TLS clients match "
        "the host they connect to against these, not against the common name)");
  }
  for (const std::string& dns : profile.dns_names) OUTPOST_RETURN_IF_ERROR(CheckDnsName(dns));
  for (const std::string& ip : profile.ip_addresses) {
    unsigned char buf[16];
    int len = 0;
    if (!IsIpAddress(ip, buf, &len)) {
      return InvalidArgument("\"" + ip + "\" is not an IPv4 or IPv6 address");
    }
  }
  return Status::Ok();
}

Status SignCertificate(X509* cert, const PrivateKey& key) {
  if (X509_sign(cert, key.get(), CertificateSignatureDigest(key.algorithm())) <= 0) {
    return OpenSslFailure(Errc::kInternal, "cannot sign the certificate with the CA key");
  }
  return Status::Ok();
}

std::string VerifyHint(int error) {
  switch (error) {
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
    case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
      return "; it was not issued by a trusted CA";
    case X509_V_ERR_CERT_HAS_EXPIRED:
    case X509_V_ERR_CERT_NOT_YET_VALID:
      return "; check the clock, or renew the certificate";
    case X509_V_ERR_INVALID_PURPOSE:
      return "; it was issued for another use (server vs client)";
    case X509_V_ERR_CERT_SIGNATURE_FAILURE:
      return "; it was altered, or signed by a different key";
    default:
      return "";
  }
}

}  // namespace

// Extension values that are the same in every leaf certificate of this CA, parsed once with
// X509V3_EXT_nconf_nid (the parse that Issue used to repeat for every certificate: ~50 us of
// config-string handling) and copied into each certificate by X509_add_ext. The
// authorityKeyIdentifier "keyid:always" depends only on the issuer: it copies the CA
// certificate's subjectKeyIdentifier. Immutable after construction.
class CertificateAuthority::LeafExtensions {
 public:
  explicit LeafExtensions(X509* ca_certificate) {
    X509V3_CTX ctx;
    // No subject: none of these values depends on it (see the class comment).
    X509V3_set_ctx(&ctx, ca_certificate, nullptr, nullptr, nullptr, 0);
    const std::pair<int, const char*> values[] = {{NID_basic_constraints, "critical,CA:FALSE"},
                                                  {NID_key_usage, "critical,digitalSignature"},
                                                  {NID_ext_key_usage, "serverAuth"},
                                                  {NID_ext_key_usage, "clientAuth"},
                                                  {NID_authority_key_identifier, "keyid:always"}};
    for (const auto& [nid, value] : values) {
      // A value that cannot be prepared (e.g. keyid:always for a CA certificate without a
      // subjectKeyIdentifier) is parsed per certificate instead, failing there as before.
      ERR_set_mark();
      X509ExtensionPtr ext(X509V3_EXT_nconf_nid(nullptr, &ctx, nid, value));
      ERR_pop_to_mark();
      if (ext != nullptr) prepared_.push_back({nid, value, std::move(ext)});
    }
  }

  // Adds extension `nid` = `value` to `cert`: a copy of the prepared one if there is one, else
  // parsed from `value` in `ctx`.
  Status Add(X509* cert, X509V3_CTX* ctx, int nid, const char* value) const {
    for (const Prepared& p : prepared_) {
      if (p.nid != nid || std::strcmp(p.value, value) != 0) continue;
      if (X509_add_ext(cert, p.extension.get(), -1) != 1) {
        return OpenSslFailure(Errc::kInternal, "cannot add certificate extension " +
                                                   std::string(OBJ_nid2sn(nid)) + "=" + value);
      }
      return Status::Ok();
    }
    return AddExtension(cert, ctx, nid, value);
  }

 private:
  struct Prepared {
    int nid;
    const char* value;  // a string literal
    X509ExtensionPtr extension;
  };
  std::vector<Prepared> prepared_;
};

CertificateAuthority::CertificateAuthority(Certificate certificate, PrivateKey key)
    : certificate_(std::move(certificate)),
      key_(std::move(key)),
      leaf_extensions_(std::make_shared<const LeafExtensions>(certificate_.get())) {}

Result<CertificateAuthority> CertificateAuthority::CreateRoot(PrivateKey key,
                                                              std::string common_name,
                                                              TimePoint not_before,
                                                              TimePoint not_after) {
  OUTPOST_RETURN_IF_ERROR(CheckValidity(not_before, not_after));
  OUTPOST_ASSIGN_OR_RETURN(X509NamePtr name, internal::MakeName(common_name));
  OUTPOST_ASSIGN_OR_RETURN(X509Ptr cert,
                           NewCertificate(name.get(), name.get(), not_before, not_after));
  if (X509_set_pubkey(cert.get(), key.public_key().get()) != 1) {
    return OpenSslFailure(Errc::kInternal, "cannot set the CA certificate's public key");
  }
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, cert.get(), cert.get(), nullptr, nullptr, 0);
  OUTPOST_RETURN_IF_ERROR(
      AddExtension(cert.get(), &ctx, NID_basic_constraints, "critical,CA:TRUE,pathlen:0"));
  OUTPOST_RETURN_IF_ERROR(
      AddExtension(cert.get(), &ctx, NID_key_usage, "critical,keyCertSign,cRLSign"));
  OUTPOST_RETURN_IF_ERROR(AddExtension(cert.get(), &ctx, NID_subject_key_identifier, "hash"));
  OUTPOST_RETURN_IF_ERROR(SignCertificate(cert.get(), key));
  OUTPOST_ASSIGN_OR_RETURN(Certificate certificate, Certificate::FromX509(cert.get()));
  return CertificateAuthority(std::move(certificate), std::move(key));
}

Result<CertificateAuthority> CertificateAuthority::Load(Certificate certificate, PrivateKey key) {
  const std::string which = "CA certificate \"" + certificate.subject_common_name() +
                            "\" (fingerprint " + certificate.Fingerprint() + ")";
  const int matches = X509_check_private_key(certificate.get(), key.get());
  ERR_clear_error();
  if (matches != 1) {
    return InvalidArgument("the CA private key (key id " + key.public_key().KeyId() +
                           ") does not belong to the " + which +
                           "; check that the key and certificate files are a pair");
  }
  if (!certificate.is_ca()) {
    return InvalidArgument("the " + which +
                           " is not a CA certificate (basicConstraints CA:TRUE is missing)");
  }
  if ((X509_get_key_usage(certificate.get()) & KU_KEY_CERT_SIGN) == 0) {
    return InvalidArgument("the " + which + " may not sign certificates (keyUsage lacks " +
                           "keyCertSign)");
  }
  return CertificateAuthority(std::move(certificate), std::move(key));
}

Result<Certificate> CertificateAuthority::Issue(const PublicKey& subject,
                                                const CertificateProfile& profile) const {
  return IssueForKey(subject, "", profile);
}

Result<Certificate> CertificateAuthority::IssueForKey(const PublicKey& subject,
                                                      std::string_view encoded_point,
                                                      const CertificateProfile& profile) const {
  if (Status s = CheckProfile(profile); !s.ok()) {
    return s.WithContext("certificate for \"" + profile.common_name + "\": ");
  }
  if (profile.not_after > certificate_.not_after()) {
    return FailedPrecondition("certificate for \"" + profile.common_name + "\" would be valid " +
                              "until " + FormatRfc3339(profile.not_after) + ", after its CA \"" +
                              certificate_.subject_common_name() + "\" expires at " +
                              FormatRfc3339(certificate_.not_after()) +
                              "; shorten the validity or renew the CA");
  }
  OUTPOST_ASSIGN_OR_RETURN(X509Ptr cert,
                           NewCertificate(nullptr, X509_get_subject_name(certificate_.get()),
                                          profile.not_before, profile.not_after));
  OUTPOST_RETURN_IF_ERROR(
      internal::SetCommonName(X509_get_subject_name(cert.get()), profile.common_name));
  OUTPOST_RETURN_IF_ERROR(internal::SetCertificatePublicKey(cert.get(), subject, encoded_point));
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, certificate_.get(), cert.get(), nullptr, nullptr, 0);
  const char* eku = profile.usage == CertificateProfile::kServer ? "serverAuth" : "clientAuth";
  const LeafExtensions& fixed = *leaf_extensions_;
  OUTPOST_RETURN_IF_ERROR(fixed.Add(cert.get(), &ctx, NID_basic_constraints, "critical,CA:FALSE"));
  OUTPOST_RETURN_IF_ERROR(fixed.Add(cert.get(), &ctx, NID_key_usage, "critical,digitalSignature"));
  OUTPOST_RETURN_IF_ERROR(fixed.Add(cert.get(), &ctx, NID_ext_key_usage, eku));
  // "hash" depends on the subject's key, so it is computed here rather than prepared.
  OUTPOST_RETURN_IF_ERROR(AddSubjectKeyIdentifier(cert.get()));
  OUTPOST_RETURN_IF_ERROR(
      fixed.Add(cert.get(), &ctx, NID_authority_key_identifier, "keyid:always"));
  OUTPOST_RETURN_IF_ERROR(AddSubjectAltNames(cert.get(), profile));
  OUTPOST_RETURN_IF_ERROR(SignCertificate(cert.get(), key_));
  return Certificate::FromX509(cert.get());
}

Result<Certificate> CertificateAuthority::IssueFromCsr(const CertificateSigningRequest& csr,
                                                       const CertificateProfile& profile) const {
  OUTPOST_RETURN_IF_ERROR(csr.VerifySelfSignature());
  OUTPOST_ASSIGN_OR_RETURN(PublicKey subject, csr.public_key());
  // The request's subjectPublicKey bits are the key's encoding (it was decoded from them).
  const unsigned char* bits = nullptr;
  int len = 0;
  if (subject.algorithm() != KeyAlgorithm::kEcdsaP256 ||
      X509_PUBKEY_get0_param(nullptr, &bits, &len, nullptr, X509_REQ_get_X509_PUBKEY(csr.get())) !=
          1) {
    return Issue(subject, profile);
  }
  return IssueForKey(
      subject, std::string_view(reinterpret_cast<const char*>(bits), static_cast<size_t>(len)),
      profile);
}

Status VerifyChain(const Certificate& leaf, const std::vector<Certificate>& intermediates,
                   const std::vector<Certificate>& trusted_roots, TimePoint at,
                   std::optional<CertificateProfile::Usage> purpose) {
  const std::string leaf_name = "certificate \"" + leaf.subject_common_name() + "\"";
  if (trusted_roots.empty()) {
    return InvalidArgument("no trusted root certificates to verify " + leaf_name + " against");
  }
  X509StorePtr store(X509_STORE_new());
  if (store == nullptr) DieOnOpenSslFailure("X509_STORE_new");
  for (const Certificate& root : trusted_roots) {
    if (X509_STORE_add_cert(store.get(), root.get()) != 1) {
      return OpenSslFailure(Errc::kInternal,
                            "cannot add trusted root \"" + root.subject_common_name() + "\"");
    }
  }
  // The stack borrows the certificates (sk_X509_free does not free its elements).
  std::unique_ptr<STACK_OF(X509), X509StackDeleter> untrusted(sk_X509_new_null());
  if (untrusted == nullptr) DieOnOpenSslFailure("sk_X509_new_null");
  for (const Certificate& cert : intermediates) {
    if (sk_X509_push(untrusted.get(), cert.get()) <= 0) DieOnOpenSslFailure("sk_X509_push");
  }
  X509StoreCtxPtr ctx(X509_STORE_CTX_new());
  if (ctx == nullptr) DieOnOpenSslFailure("X509_STORE_CTX_new");
  if (X509_STORE_CTX_init(ctx.get(), store.get(), leaf.get(), untrusted.get()) != 1) {
    return OpenSslFailure(Errc::kInternal, "cannot set up verification of " + leaf_name);
  }
  X509_VERIFY_PARAM* param = X509_STORE_CTX_get0_param(ctx.get());
  X509_VERIFY_PARAM_set_time(param, ToUnixSeconds(at));
  X509_VERIFY_PARAM_set_flags(param, X509_V_FLAG_X509_STRICT);
  if (purpose.has_value() &&
      X509_STORE_CTX_set_purpose(ctx.get(), *purpose == CertificateProfile::kServer
                                                ? X509_PURPOSE_SSL_SERVER
                                                : X509_PURPOSE_SSL_CLIENT) != 1) {
    return OpenSslFailure(Errc::kInternal, "cannot set the verification purpose");
  }

  const int rc = X509_verify_cert(ctx.get());
  if (rc == 1) {
    ERR_clear_error();
    return Status::Ok();
  }
  if (rc < 0) return OpenSslFailure(Errc::kInternal, "verification of " + leaf_name + " failed");
  const int error = X509_STORE_CTX_get_error(ctx.get());
  std::string message = leaf_name + " does not verify at " + FormatRfc3339(at) + ": " +
                        X509_verify_cert_error_string(error);
  if (X509* culprit = X509_STORE_CTX_get_current_cert(ctx.get()); culprit != nullptr) {
    message += " (certificate \"" + internal::CommonNameOf(X509_get_subject_name(culprit)) +
               "\" at depth " + std::to_string(X509_STORE_CTX_get_error_depth(ctx.get()));
    if (error == X509_V_ERR_CERT_HAS_EXPIRED || error == X509_V_ERR_CERT_NOT_YET_VALID) {
      Result<TimePoint> from = internal::FromAsn1Time(X509_get0_notBefore(culprit));
      Result<TimePoint> to = internal::FromAsn1Time(X509_get0_notAfter(culprit));
      if (from.ok() && to.ok())
        message += ", valid " + FormatRfc3339(*from) + " to " + FormatRfc3339(*to);
    }
    message += ")";
  }
  ERR_clear_error();
  return Unauthenticated(message + VerifyHint(error));
}

}  // namespace outpost::crypto
