#include "common/crypto/hash.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "common/crypto/encoding.h"
#include "common/crypto/openssl_util.h"

namespace outpost::crypto {

using internal::DieOnOpenSslFailure;

namespace {

// OpenSSL 3 resolves the EVP_sha256() handle through the provider every time a digest starts
// (a lock and a name lookup: ~1 us per renewal across the Merkle and audit hashes, see
// docs/benchmarks.md). An explicitly fetched EVP_MD skips that. It is fetched once and kept
// for the life of the process: an immutable library handle, not state.
const EVP_MD* Sha256Md() {
  static const EVP_MD* const md = [] {
    EVP_MD* fetched = EVP_MD_fetch(nullptr, "SHA256", nullptr);
    if (fetched == nullptr) DieOnOpenSslFailure("cannot fetch SHA-256");
    return fetched;
  }();
  return md;
}

}  // namespace

std::string Sha256(std::string_view data) {
  // One context per thread, reused: no allocation of a context per digest.
  thread_local EvpMdCtxPtr ctx(EVP_MD_CTX_new());
  std::string out(kSha256Size, '\0');
  unsigned int len = 0;
  if (ctx == nullptr || EVP_DigestInit_ex2(ctx.get(), Sha256Md(), nullptr) != 1 ||
      EVP_DigestUpdate(ctx.get(), data.data(), data.size()) != 1 ||
      EVP_DigestFinal_ex(ctx.get(), reinterpret_cast<unsigned char*>(out.data()), &len) != 1 ||
      len != kSha256Size) {
    DieOnOpenSslFailure("SHA-256 failed");
  }
  return out;
}

std::string Sha256Hex(std::string_view data) { return HexEncode(Sha256(data)); }

std::string Sha256Fingerprint(std::string_view data) {
  static constexpr char kDigits[] = "0123456789ABCDEF";
  const std::string digest = Sha256(data);
  std::string out;
  out.reserve(digest.size() * 3);
  for (unsigned char c : digest) {
    if (!out.empty()) out += ':';
    out += kDigits[c >> 4];
    out += kDigits[c & 0xf];
  }
  return out;
}

Sha256Hasher::Sha256Hasher() : ctx_(EVP_MD_CTX_new()) {
  if (ctx_ == nullptr || EVP_DigestInit_ex2(ctx_.get(), Sha256Md(), nullptr) != 1) {
    DieOnOpenSslFailure("SHA-256 initialisation failed");
  }
}

void Sha256Hasher::Update(std::string_view data) {
  if (EVP_DigestUpdate(ctx_.get(), data.data(), data.size()) != 1) {
    DieOnOpenSslFailure("SHA-256 update failed");
  }
}

std::string Sha256Hasher::Finish() {
  std::string out(kSha256Size, '\0');
  unsigned int len = 0;
  if (EVP_DigestFinal_ex(ctx_.get(), reinterpret_cast<unsigned char*>(out.data()), &len) != 1 ||
      len != kSha256Size || EVP_DigestInit_ex2(ctx_.get(), Sha256Md(), nullptr) != 1) {
    DieOnOpenSslFailure("SHA-256 finalisation failed");
  }
  return out;
}

std::string HmacSha256(std::string_view key, std::string_view data) {
  // EVP_Q_mac needs a non-null key pointer even for an empty key.
  static const unsigned char kEmptyKey = 0;
  const unsigned char* key_ptr = key.empty() ? &kEmptyKey : internal::Bytes(key);
  std::string out(kSha256Size, '\0');
  size_t len = 0;
  if (EVP_Q_mac(nullptr, "HMAC", nullptr, "SHA256", nullptr, key_ptr, key.size(),
                internal::Bytes(data), data.size(), reinterpret_cast<unsigned char*>(out.data()),
                out.size(), &len) == nullptr ||
      len != kSha256Size) {
    DieOnOpenSslFailure("HMAC-SHA256 failed");
  }
  return out;
}

bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  if (a.empty()) return true;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace outpost::crypto
