#pragma once

// Internal to common/crypto: helpers shared by the .cc files. Not part of the public API;
// include it only from common/crypto/*.cc.

#include <openssl/bio.h>

#include <string>
#include <string_view>

#include "common/clock.h"
#include "common/crypto/openssl_ptr.h"
#include "common/status.h"

namespace outpost::crypto::internal {

// Drains the calling thread's OpenSSL error queue. Returns "" if it was empty, else
// "; OpenSSL: <first error>; <second error>..." ready to append to a message.
std::string DrainOpenSslErrors();

// Status `code` with `message` followed by the drained OpenSSL error queue.
Status OpenSslFailure(Errc code, std::string message);

// For failures that can only mean memory exhaustion or a broken OpenSSL build: prints `what`
// and the OpenSSL error queue to stderr and aborts.
[[noreturn]] void DieOnOpenSslFailure(std::string_view what);

// A read-only memory BIO over `data` (which must outlive the BIO).
Result<BioPtr> ReadOnlyBio(std::string_view data);
// A growable memory BIO; `secure` selects the secure heap (cleansed on free) for secrets.
BioPtr WritableBio(bool secure = false);
// The bytes written to a memory BIO so far.
std::string BioContents(BIO* bio);
// `der` as a PEM block labelled `label` ("CERTIFICATE"), byte for byte what PEM_write_bio
// writes (64-character base64 lines), without its BIO and encoder-context round trips.
std::string PemEncode(std::string_view der, std::string_view label);

inline const unsigned char* Bytes(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

// The time in an ASN1_TIME, or an error if it is malformed.
Result<TimePoint> FromAsn1Time(const ASN1_TIME* t);

// Checks that `common_name` can be a certificate's CN: 1 to 64 bytes (RFC 5280 ub-common-name),
// no NUL. UTF-8 validity is checked by MakeName.
Status CheckCommonName(std::string_view common_name);
// A distinguished name holding only CN=`common_name` (UTF8String).
Result<X509NamePtr> MakeName(std::string_view common_name);
// Makes the empty `name` (e.g. a new certificate's own subject) what MakeName returns, in place:
// setting a copy with X509_set_subject_name costs an encode and a full parse of the name.
Status SetCommonName(X509_NAME* name, std::string_view common_name);
// The first commonName in `name` as UTF-8, or "" if there is none.
std::string CommonNameOf(const X509_NAME* name);

// Overwrites `s` with zeros (not optimised away) and clears it.
void Cleanse(std::string& s);

}  // namespace outpost::crypto::internal
