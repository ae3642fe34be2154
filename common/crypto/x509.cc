#include "common/crypto/x509.h"

#include <arpa/inet.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <cctype>
#include <memory>

#include "common/crypto/hash.h"
#include "common/crypto/openssl_util.h"
#include "common/crypto/spki.h"

namespace outpost::crypto {
namespace {

using internal::Bytes;
using internal::DieOnOpenSslFailure;
using internal::OpenSslFailure;

constexpr size_t kMaxCertificateFileBytes = 1024 * 1024;

int NoPassword(char*, int, int, void*) { return -1; }

struct OpenSslFree {
  void operator()(unsigned char* p) const { OPENSSL_free(p); }
};

struct GeneralNamesDeleter {
  void operator()(GENERAL_NAMES* names) const { GENERAL_NAMES_free(names); }
};

// Calls `fn` for each subject alternative name of `cert`.
template <typename Fn>
void ForEachSubjectAltName(X509* cert, Fn fn) {
  std::unique_ptr<GENERAL_NAMES, GeneralNamesDeleter> names(
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr)));
  ERR_clear_error();  // "no such extension" is not an error here
  if (names == nullptr) return;
  for (int i = 0; i < sk_GENERAL_NAME_num(names.get()); ++i) {
    fn(*sk_GENERAL_NAME_value(names.get(), i));
  }
}

template <typename T, int (*Encode)(const T*, unsigned char**)>
std::string ToDerWith(const T* object, std::string_view what) {
  const int len = Encode(object, nullptr);
  if (len <= 0) DieOnOpenSslFailure(what);
  std::string der(static_cast<size_t>(len), '\0');
  unsigned char* p = reinterpret_cast<unsigned char*>(der.data());
  if (Encode(object, &p) != len) DieOnOpenSslFailure(what);
  return der;
}

Status CheckNoTrailingBytes(std::string_view der, const unsigned char* end, std::string_view what) {
  const auto extra = Bytes(der) + der.size() - end;
  if (extra == 0) return Status::Ok();
  return InvalidArgument(std::string(what) + " is followed by " + std::to_string(extra) +
                         " unexpected bytes");
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Certificate

Certificate::Certificate(X509Ptr cert, TimePoint not_before, TimePoint not_after)
    : cert_(std::move(cert)), not_before_(not_before), not_after_(not_after) {
  // Read once here rather than on every call: a device's certificate is asked for its common
  // name and serial on every request of its connection, and each reading walks the X509 name,
  // converts to UTF-8 and goes through a BIGNUM.
  auto names = std::make_shared<Names>();
  names->subject_common_name = internal::CommonNameOf(X509_get_subject_name(cert_.get()));
  names->serial_hex = SerialHexOf(cert_.get());
  names_ = std::move(names);
}

Certificate::Certificate(const Certificate& other)
    : not_before_(other.not_before_), not_after_(other.not_after_), names_(other.names_) {
  if (other.cert_ != nullptr && X509_up_ref(other.cert_.get()) == 1) {
    cert_.reset(other.cert_.get());
  }
}

Certificate& Certificate::operator=(const Certificate& other) {
  if (this != &other) *this = Certificate(other);
  return *this;
}

Result<Certificate> Certificate::Adopt(X509Ptr cert) {
  Result<TimePoint> not_before = internal::FromAsn1Time(X509_get0_notBefore(cert.get()));
  if (!not_before.ok()) return not_before.status().WithContext("certificate notBefore: ");
  Result<TimePoint> not_after = internal::FromAsn1Time(X509_get0_notAfter(cert.get()));
  if (!not_after.ok()) return not_after.status().WithContext("certificate notAfter: ");
  return Certificate(std::move(cert), *not_before, *not_after);
}

Result<Certificate> Certificate::FromX509(X509* cert) {
  if (cert == nullptr) return InvalidArgument("no certificate");
  if (X509_up_ref(cert) != 1) DieOnOpenSslFailure("X509_up_ref");
  return Adopt(X509Ptr(cert));
}

Result<std::vector<Certificate>> Certificate::ParsePemChain(std::string_view pem) {
  OUTPOST_ASSIGN_OR_RETURN(BioPtr bio, internal::ReadOnlyBio(pem));
  std::vector<Certificate> chain;
  for (;;) {
    X509Ptr cert(PEM_read_bio_X509(bio.get(), nullptr, NoPassword, nullptr));
    if (cert == nullptr) {
      const unsigned long e = ERR_peek_last_error();
      if (!chain.empty() && ERR_GET_LIB(e) == ERR_LIB_PEM &&
          ERR_GET_REASON(e) == PEM_R_NO_START_LINE) {
        ERR_clear_error();  // the normal end of the input
        return chain;
      }
      if (chain.empty()) {
        return OpenSslFailure(
            Errc::kInvalidArgument,
            "no PEM certificate found (expected \"-----BEGIN CERTIFICATE-----\")");
      }
      return OpenSslFailure(
          Errc::kInvalidArgument,
          "certificate #" + std::to_string(chain.size() + 1) + " in the PEM input is malformed");
    }
    OUTPOST_ASSIGN_OR_RETURN(Certificate c, Adopt(std::move(cert)));
    chain.push_back(std::move(c));
  }
}

Result<Certificate> Certificate::FromPem(std::string_view pem) {
  OUTPOST_ASSIGN_OR_RETURN(std::vector<Certificate> chain, ParsePemChain(pem));
  if (chain.size() != 1) {
    return InvalidArgument("expected one PEM certificate, found " + std::to_string(chain.size()));
  }
  return std::move(chain.front());
}

Result<Certificate> Certificate::FromDer(std::string_view der) {
  const unsigned char* p = Bytes(der);
  X509Ptr cert(d2i_X509(nullptr, &p, static_cast<long>(der.size())));
  if (cert == nullptr) return OpenSslFailure(Errc::kInvalidArgument, "not a DER certificate");
  OUTPOST_RETURN_IF_ERROR(CheckNoTrailingBytes(der, p, "DER certificate"));
  return Adopt(std::move(cert));
}

Result<std::vector<Certificate>> Certificate::LoadChainFile(const std::filesystem::path& path) {
  OUTPOST_ASSIGN_OR_RETURN(std::string pem, ReadSmallFile(path, kMaxCertificateFileBytes));
  Result<std::vector<Certificate>> chain = ParsePemChain(pem);
  if (!chain.ok()) return chain.status().WithContext("certificate file " + path.string() + ": ");
  return chain;
}

Result<Certificate> Certificate::LoadFile(const std::filesystem::path& path) {
  OUTPOST_ASSIGN_OR_RETURN(std::string pem, ReadSmallFile(path, kMaxCertificateFileBytes));
  Result<Certificate> cert = FromPem(pem);
  if (!cert.ok()) return cert.status().WithContext("certificate file " + path.string() + ": ");
  return cert;
}

std::string Certificate::ToPem() const { return internal::PemEncode(ToDer(), PEM_STRING_X509); }

std::string Certificate::ToDer() const {
  return ToDerWith<X509, i2d_X509>(cert_.get(), "cannot encode a certificate as DER");
}

std::string Certificate::subject_common_name() const { return names_->subject_common_name; }

std::string Certificate::issuer_common_name() const {
  return internal::CommonNameOf(X509_get_issuer_name(cert_.get()));
}

std::string Certificate::serial_hex() const { return names_->serial_hex; }

std::string Certificate::SerialHexOf(const X509* cert) {
  BignumPtr bn(ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), nullptr));
  if (bn == nullptr) DieOnOpenSslFailure("cannot read a certificate serial number");
  char* hex = BN_bn2hex(bn.get());
  if (hex == nullptr) DieOnOpenSslFailure("BN_bn2hex");
  std::string out(hex);
  OPENSSL_free(hex);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  const size_t first = out.find_first_not_of('0');
  return first == std::string::npos ? "0" : out.substr(first);
}

Result<PublicKey> Certificate::public_key() const {
  EVP_PKEY* key = X509_get0_pubkey(cert_.get());
  if (key == nullptr) {
    return OpenSslFailure(Errc::kInvalidArgument, "the certificate's public key cannot be decoded");
  }
  return PublicKey::FromEvpPkey(key);
}

std::vector<std::string> Certificate::dns_names() const {
  std::vector<std::string> out;
  ForEachSubjectAltName(cert_.get(), [&](const GENERAL_NAME& name) {
    if (name.type != GEN_DNS) return;
    const ASN1_STRING* s = name.d.dNSName;
    out.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                     static_cast<size_t>(ASN1_STRING_length(s)));
  });
  return out;
}

std::vector<std::string> Certificate::ip_addresses() const {
  std::vector<std::string> out;
  ForEachSubjectAltName(cert_.get(), [&](const GENERAL_NAME& name) {
    if (name.type != GEN_IPADD) return;
    const ASN1_STRING* s = name.d.iPAddress;
    const int len = ASN1_STRING_length(s);
    if (len != 4 && len != 16) return;  // not an address (e.g. a name-constraint range)
    char text[INET6_ADDRSTRLEN] = {};
    if (inet_ntop(len == 4 ? AF_INET : AF_INET6, ASN1_STRING_get0_data(s), text, sizeof(text))) {
      out.emplace_back(text);
    }
  });
  return out;
}

std::string Certificate::Fingerprint() const { return Sha256Fingerprint(ToDer()); }

bool Certificate::is_ca() const { return (X509_get_extension_flags(cert_.get()) & EXFLAG_CA) != 0; }

bool operator==(const Certificate& a, const Certificate& b) {
  if (a.cert_ == nullptr || b.cert_ == nullptr) return a.cert_ == b.cert_;
  return X509_cmp(a.cert_.get(), b.cert_.get()) == 0;
}

std::string ToPemChain(const std::vector<Certificate>& chain) {
  std::string out;
  for (const Certificate& cert : chain) out += cert.ToPem();
  return out;
}

Status SaveCertificateChainFile(const std::filesystem::path& path,
                                const std::vector<Certificate>& chain, IfExists if_exists) {
  if (chain.empty()) return InvalidArgument("no certificates to write to " + path.string());
  using std::filesystem::perms;
  return WriteFileAtomically(
      path, ToPemChain(chain),
      perms::owner_read | perms::owner_write | perms::group_read | perms::others_read, if_exists);
}

// ---------------------------------------------------------------------------------------------
// CertificateSigningRequest

Result<CertificateSigningRequest> CertificateSigningRequest::Create(const PrivateKey& key,
                                                                    std::string_view common_name) {
  OUTPOST_ASSIGN_OR_RETURN(X509NamePtr name, internal::MakeName(common_name));
  X509ReqPtr req(X509_REQ_new());
  if (req == nullptr) DieOnOpenSslFailure("X509_REQ_new");
  if (X509_REQ_set_version(req.get(), X509_REQ_VERSION_1) != 1 ||
      X509_REQ_set_subject_name(req.get(), name.get()) != 1 ||
      X509_REQ_set_pubkey(req.get(), key.public_key().get()) != 1) {
    return OpenSslFailure(Errc::kInternal, "cannot build a certificate signing request");
  }
  if (X509_REQ_sign(req.get(), key.get(), CertificateSignatureDigest(key.algorithm())) <= 0) {
    return OpenSslFailure(Errc::kInternal, "cannot sign a certificate signing request");
  }
  return CertificateSigningRequest(std::move(req), nullptr);
}

// Parses in two steps so that the usual request costs no OpenSSL 3.0 decoder lookup (see
// spki.h): the request without decoding its key, then the key by DecodeSupportedKey. A request
// that this does not cover is parsed again exactly as before, by d2i_X509_REQ.
Result<CertificateSigningRequest> CertificateSigningRequest::Parse(std::string_view der,
                                                                   bool whole_input) {
  const unsigned char* p = Bytes(der);
  ERR_set_mark();
  X509ReqPtr req(reinterpret_cast<X509_REQ*>(
      ASN1_item_d2i_ex(nullptr, &p, static_cast<long>(der.size()), ASN1_ITEM_rptr(X509_REQ),
                       internal::UndecodedKeyContext(), nullptr)));
  if (req != nullptr) {
    if (auto decoded = internal::DecodeSupportedKey(X509_REQ_get_X509_PUBKEY(req.get()))) {
      ERR_clear_last_mark();
      if (whole_input) {
        OUTPOST_RETURN_IF_ERROR(CheckNoTrailingBytes(der, p, "DER certificate signing request"));
      }
      return CertificateSigningRequest(std::move(req), std::move(decoded->key));
    }
  }
  ERR_pop_to_mark();  // the generic parse below reports its own errors
  p = Bytes(der);
  req.reset(d2i_X509_REQ(nullptr, &p, static_cast<long>(der.size())));
  if (req == nullptr) {
    return OpenSslFailure(Errc::kInvalidArgument, "not a DER certificate signing request");
  }
  if (whole_input) {
    OUTPOST_RETURN_IF_ERROR(CheckNoTrailingBytes(der, p, "DER certificate signing request"));
  }
  return CertificateSigningRequest(std::move(req), nullptr);
}

Result<CertificateSigningRequest> CertificateSigningRequest::FromPem(std::string_view pem) {
  OUTPOST_ASSIGN_OR_RETURN(BioPtr bio, internal::ReadOnlyBio(pem));
  // What PEM_read_bio_X509_REQ does before its d2i_X509_REQ: the first "CERTIFICATE REQUEST"
  // (or "NEW CERTIFICATE REQUEST") block, decoded from base64. Trailing bytes after the DER
  // are ignored, as they always were for PEM.
  unsigned char* data = nullptr;
  long len = 0;
  if (PEM_bytes_read_bio(&data, &len, nullptr, PEM_STRING_X509_REQ, bio.get(), NoPassword,
                         nullptr) != 1) {
    return OpenSslFailure(Errc::kInvalidArgument,
                          "not a PEM certificate signing request (expected \"-----BEGIN "
                          "CERTIFICATE REQUEST-----\")");
  }
  std::unique_ptr<unsigned char, OpenSslFree> der(data);
  Result<CertificateSigningRequest> csr =
      Parse(std::string_view(reinterpret_cast<const char*>(data), static_cast<size_t>(len)),
            /*whole_input=*/false);
  if (!csr.ok()) {
    return Status(csr.status().code(),
                  "not a PEM certificate signing request (expected \"-----BEGIN CERTIFICATE "
                  "REQUEST-----\"): " +
                      csr.status().message());
  }
  return csr;
}

Result<CertificateSigningRequest> CertificateSigningRequest::FromDer(std::string_view der) {
  return Parse(der, /*whole_input=*/true);
}

std::string CertificateSigningRequest::ToPem() const {
  BioPtr bio = internal::WritableBio();
  if (PEM_write_bio_X509_REQ(bio.get(), req_.get()) != 1) {
    DieOnOpenSslFailure("cannot encode a certificate signing request as PEM");
  }
  return internal::BioContents(bio.get());
}

std::string CertificateSigningRequest::ToDer() const {
  return ToDerWith<X509_REQ, i2d_X509_REQ>(req_.get(),
                                           "cannot encode a certificate signing request as DER");
}

EVP_PKEY* CertificateSigningRequest::Key() const {
  return key_ != nullptr ? key_.get() : X509_REQ_get0_pubkey(req_.get());
}

Status CertificateSigningRequest::VerifySelfSignature() const {
  EVP_PKEY* key = Key();
  if (key == nullptr) {
    return OpenSslFailure(Errc::kInvalidArgument,
                          "the certificate signing request's public key cannot be decoded");
  }
  const int rc = X509_REQ_verify(req_.get(), key);
  ERR_clear_error();
  if (rc == 1) return Status::Ok();
  return InvalidArgument("the certificate signing request for \"" + subject_common_name() +
                         "\" is not signed by the key it contains (altered after signing, or "
                         "forged); create a new request with the device's own key");
}

Result<PublicKey> CertificateSigningRequest::public_key() const {
  EVP_PKEY* key = Key();
  if (key == nullptr) {
    return OpenSslFailure(Errc::kInvalidArgument,
                          "the certificate signing request's public key cannot be decoded");
  }
  return PublicKey::FromEvpPkey(key);
}

std::string CertificateSigningRequest::subject_common_name() const {
  return internal::CommonNameOf(X509_REQ_get_subject_name(req_.get()));
}

}  // namespace outpost::crypto
