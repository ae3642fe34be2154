#include "common/crypto/openssl_util.h"

#include <openssl/asn1.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include <algorithm>
#include <chrono>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <ctime>

namespace outpost::crypto {

void OpenSslDeleter::operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
void OpenSslDeleter::operator()(EVP_PKEY_CTX* p) const { EVP_PKEY_CTX_free(p); }
void OpenSslDeleter::operator()(EVP_MD_CTX* p) const { EVP_MD_CTX_free(p); }
void OpenSslDeleter::operator()(BIO* p) const { BIO_free_all(p); }
void OpenSslDeleter::operator()(BIGNUM* p) const { BN_free(p); }
void OpenSslDeleter::operator()(ASN1_STRING* p) const { ASN1_STRING_free(p); }
void OpenSslDeleter::operator()(X509* p) const { X509_free(p); }
void OpenSslDeleter::operator()(X509_req_st* p) const { X509_REQ_free(p); }
void OpenSslDeleter::operator()(X509_extension_st* p) const { X509_EXTENSION_free(p); }
void OpenSslDeleter::operator()(X509_NAME* p) const { X509_NAME_free(p); }
void OpenSslDeleter::operator()(X509_PUBKEY* p) const { X509_PUBKEY_free(p); }
void OpenSslDeleter::operator()(X509_STORE* p) const { X509_STORE_free(p); }
void OpenSslDeleter::operator()(X509_STORE_CTX* p) const { X509_STORE_CTX_free(p); }

namespace internal {

std::string DrainOpenSslErrors() {
  // The first few entries say what went wrong; later ones are usually the same failure seen
  // from further up OpenSSL's stack. Everything is drained either way so that a stale error
  // never leaks into an unrelated later call on this thread.
  constexpr int kMaxReported = 4;
  std::string out;
  int reported = 0;
  const char* data = nullptr;
  int flags = 0;
  while (unsigned long e = ERR_get_error_all(nullptr, nullptr, nullptr, &data, &flags)) {
    if (reported++ >= kMaxReported) continue;
    char buf[256];
    ERR_error_string_n(e, buf, sizeof(buf));
    out += reported == 1 ? "; OpenSSL: " : "; ";
    out += buf;
    if (data != nullptr && (flags & ERR_TXT_STRING) && *data != '\0') {
      out += " (";
      out += data;
      out += ")";
    }
  }
  return out;
}

Status OpenSslFailure(Errc code, std::string message) {
  return Status(code, std::move(message) + DrainOpenSslErrors());
}

void DieOnOpenSslFailure(std::string_view what) {
  std::string errors = DrainOpenSslErrors();
  std::fprintf(stderr, "outpost: fatal: %.*s%s\n", static_cast<int>(what.size()), what.data(),
               errors.c_str());
  std::abort();
}

Result<BioPtr> ReadOnlyBio(std::string_view data) {
  if (data.size() > static_cast<size_t>(INT_MAX)) {
    return InvalidArgument("input of " + std::to_string(data.size()) + " bytes is too large");
  }
  // BIO_new_mem_buf with a length of 0 would be fine, but it needs a non-null pointer.
  static const char kEmpty = 0;
  BioPtr bio(BIO_new_mem_buf(data.empty() ? &kEmpty : data.data(), static_cast<int>(data.size())));
  if (bio == nullptr) DieOnOpenSslFailure("BIO_new_mem_buf");
  return bio;
}

BioPtr WritableBio(bool secure) {
  BioPtr bio(BIO_new(secure ? BIO_s_secmem() : BIO_s_mem()));
  if (bio == nullptr) DieOnOpenSslFailure("BIO_new");
  return bio;
}

std::string BioContents(BIO* bio) {
  char* data = nullptr;
  long len = BIO_get_mem_data(bio, &data);
  if (len <= 0 || data == nullptr) return "";
  return std::string(data, static_cast<size_t>(len));
}

std::string PemEncode(std::string_view der, std::string_view label) {
  constexpr size_t kBytesPerLine = 48;  // 64 base64 characters
  std::string out;
  out.reserve(2 * label.size() + 32 + (der.size() / kBytesPerLine + 1) * 65);
  out.append("-----BEGIN ").append(label).append("-----\n");
  unsigned char line[65];  // 64 characters and EVP_EncodeBlock's NUL
  for (size_t at = 0; at < der.size(); at += kBytesPerLine) {
    const int n = EVP_EncodeBlock(line, Bytes(der) + at,
                                  static_cast<int>(std::min(kBytesPerLine, der.size() - at)));
    out.append(reinterpret_cast<const char*>(line), static_cast<size_t>(n)).push_back('\n');
  }
  out.append("-----END ").append(label).append("-----\n");
  return out;
}

Result<TimePoint> FromAsn1Time(const ASN1_TIME* t) {
  std::tm tm{};
  if (t == nullptr || ASN1_TIME_to_tm(t, &tm) != 1) {
    return OpenSslFailure(Errc::kInvalidArgument, "malformed certificate validity time");
  }
  using namespace std::chrono;
  const year_month_day ymd(year(tm.tm_year + 1900), month(static_cast<unsigned>(tm.tm_mon + 1)),
                           day(static_cast<unsigned>(tm.tm_mday)));
  if (!ymd.ok()) return InvalidArgument("malformed certificate validity time");
  return TimePoint(sys_days(ymd) + hours(tm.tm_hour) + minutes(tm.tm_min) + seconds(tm.tm_sec));
}

Status CheckCommonName(std::string_view common_name) {
  constexpr size_t kMaxCommonName = 64;
  if (common_name.empty()) return InvalidArgument("the common name must not be empty");
  if (common_name.size() > kMaxCommonName) {
    return InvalidArgument("the common name is " + std::to_string(common_name.size()) +
                           " bytes; X.509 allows at most 64");
  }
  if (common_name.find('\0') != std::string_view::npos) {
    return InvalidArgument("the common name must not contain a NUL byte");
  }
  return Status::Ok();
}

Result<X509NamePtr> MakeName(std::string_view common_name) {
  X509NamePtr name(X509_NAME_new());
  if (name == nullptr) DieOnOpenSslFailure("X509_NAME_new");
  OUTPOST_RETURN_IF_ERROR(SetCommonName(name.get(), common_name));
  return name;
}

Status SetCommonName(X509_NAME* name, std::string_view common_name) {
  OUTPOST_RETURN_IF_ERROR(CheckCommonName(common_name));
  if (X509_NAME_entry_count(name) != 0) DieOnOpenSslFailure("SetCommonName on a non-empty name");
  if (X509_NAME_add_entry_by_NID(name, NID_commonName, MBSTRING_UTF8, Bytes(common_name),
                                 static_cast<int>(common_name.size()), -1, 0) != 1) {
    return OpenSslFailure(Errc::kInvalidArgument, "the common name \"" + std::string(common_name) +
                                                      "\" is not valid UTF-8");
  }
  return Status::Ok();
}

std::string CommonNameOf(const X509_NAME* name) {
  const int index = name == nullptr ? -1 : X509_NAME_get_index_by_NID(name, NID_commonName, -1);
  if (index < 0) return "";
  const ASN1_STRING* data = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, index));
  unsigned char* utf8 = nullptr;
  const int len = ASN1_STRING_to_UTF8(&utf8, data);
  if (len < 0) {
    ERR_clear_error();
    return "";
  }
  std::string out(reinterpret_cast<const char*>(utf8), static_cast<size_t>(len));
  OPENSSL_free(utf8);
  return out;
}

void Cleanse(std::string& s) {
  if (!s.empty()) OPENSSL_cleanse(s.data(), s.size());
  s.clear();
}

}  // namespace internal
}  // namespace outpost::crypto
