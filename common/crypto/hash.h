#pragma once

// SHA-256, HMAC-SHA256 and constant-time comparison (OpenSSL EVP).
//
// Thread-safety: the free functions may be called concurrently. A Sha256Hasher is a single
// stream of state: use one per thread (or guard it).
// Errors: none are reported; these operations can only fail if memory is exhausted or the
// OpenSSL build is broken, and then the process aborts with a message.

#include <cstddef>
#include <string>
#include <string_view>

#include "common/crypto/openssl_ptr.h"

namespace outpost::crypto {

inline constexpr size_t kSha256Size = 32;

// The raw 32-byte SHA-256 digest of `data`.
std::string Sha256(std::string_view data);
// The SHA-256 digest of `data` as 64 lowercase hex characters.
std::string Sha256Hex(std::string_view data);
// The SHA-256 digest of `data` as 32 colon-separated uppercase hex pairs ("AB:CD:..."), the
// form operators compare by eye (same as `openssl x509 -fingerprint -sha256`).
std::string Sha256Fingerprint(std::string_view data);

// Incremental SHA-256 for data that arrives in pieces (files, request bodies).
class Sha256Hasher {
 public:
  Sha256Hasher();
  Sha256Hasher(Sha256Hasher&&) noexcept = default;
  Sha256Hasher& operator=(Sha256Hasher&&) noexcept = default;

  void Update(std::string_view data);
  // The raw 32-byte digest of everything passed to Update since construction or the previous
  // Finish. Resets the hasher, which can then be reused for a new stream.
  std::string Finish();

 private:
  EvpMdCtxPtr ctx_;
};

// The raw 32-byte HMAC-SHA256 of `data` under `key` (any length, including empty).
std::string HmacSha256(std::string_view key, std::string_view data);

// True iff `a` and `b` are byte-for-byte equal. For equal lengths the time taken does not
// depend on the contents; different lengths return false at once (lengths are not secret:
// compare fixed-size values such as digests or MACs).
bool ConstantTimeEquals(std::string_view a, std::string_view b);

}  // namespace outpost::crypto
