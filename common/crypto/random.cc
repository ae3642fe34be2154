#include "common/crypto/random.h"

#include <openssl/rand.h>

#include <algorithm>
#include <climits>

#include "common/crypto/encoding.h"
#include "common/crypto/openssl_util.h"

namespace outpost::crypto {

Status RandomBytes(std::span<uint8_t> out) {
  // RAND_bytes takes an int length; large requests are served in chunks.
  while (!out.empty()) {
    const size_t chunk = std::min<size_t>(out.size(), INT_MAX);
    if (RAND_bytes(out.data(), static_cast<int>(chunk)) != 1) {
      return internal::OpenSslFailure(
          Errc::kInternal,
          "the system random number generator failed; check that the kernel "
          "entropy source (getrandom, /dev/urandom) is available");
    }
    out = out.subspan(chunk);
  }
  return Status::Ok();
}

Result<std::string> RandomBytes(size_t n) {
  std::string out(n, '\0');
  OUTPOST_RETURN_IF_ERROR(
      RandomBytes(std::span<uint8_t>(reinterpret_cast<uint8_t*>(out.data()), out.size())));
  return out;
}

Result<std::string> RandomToken(size_t bytes) {
  OUTPOST_ASSIGN_OR_RETURN(std::string raw, RandomBytes(bytes));
  std::string token = Base64UrlEncode(raw);
  internal::Cleanse(raw);
  return token;
}

}  // namespace outpost::crypto
