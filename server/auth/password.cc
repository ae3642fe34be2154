#include "server/auth/password.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/kdf.h>
#include <openssl/params.h>

#include <charconv>
#include <memory>
#include <optional>
#include <string_view>
#include <vector>

#include "common/crypto/encoding.h"
#include "common/crypto/hash.h"
#include "common/crypto/random.h"
#include "server/auth/text.h"

namespace outpost::server::auth {
namespace {

constexpr size_t kSaltBytes = 16;
constexpr size_t kHashBytes = 32;
constexpr std::string_view kPrefix = "$scrypt$";
// Unambiguous: no 0/O/o, 1/l/I/i.
constexpr std::string_view kPasswordAlphabet =
    "23456789abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ";

struct KdfDeleter {
  void operator()(EVP_KDF* kdf) const { EVP_KDF_free(kdf); }
  void operator()(EVP_KDF_CTX* ctx) const { EVP_KDF_CTX_free(ctx); }
};

Status CheckParams(const ScryptParams& params) {
  if (params.log2_n < 1 || params.log2_n > 20 || params.r < 1 || params.r > 32 || params.p < 1 ||
      params.p > 16) {
    return InvalidArgument(
        "scrypt parameters out of range: need 1 <= ln <= 20, 1 <= r <= 32, "
        "1 <= p <= 16");
  }
  if (uint64_t{128} * params.r * (uint64_t{1} << params.log2_n) > kMaxScryptMemory) {
    return InvalidArgument("scrypt parameters need more than 256 MiB; lower ln or r");
  }
  return Status::Ok();
}

// Runs scrypt. The password and the derived key are secrets; only the caller's copies remain.
Result<std::string> Scrypt(std::string_view password, std::string_view salt,
                           const ScryptParams& params, size_t length) {
  std::unique_ptr<EVP_KDF, KdfDeleter> kdf(EVP_KDF_fetch(nullptr, OSSL_KDF_NAME_SCRYPT, nullptr));
  if (kdf == nullptr) {
    return Internal(
        "OpenSSL has no scrypt KDF; install an OpenSSL 3 build with the default "
        "provider");
  }
  std::unique_ptr<EVP_KDF_CTX, KdfDeleter> ctx(EVP_KDF_CTX_new(kdf.get()));
  if (ctx == nullptr) return Internal("cannot allocate an scrypt context");

  uint64_t n = uint64_t{1} << params.log2_n;
  uint32_t r = params.r;
  uint32_t p = params.p;
  // OpenSSL refuses (rather than allocates) above maxmem; leave room for its own overhead.
  uint64_t maxmem = 2 * kMaxScryptMemory;
  // OSSL_PARAM wants non-const pointers; OpenSSL does not write through them for a derive.
  OSSL_PARAM ossl_params[] = {
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_PASSWORD, const_cast<char*>(password.data()),
                                        password.size()),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, const_cast<char*>(salt.data()),
                                        salt.size()),
      OSSL_PARAM_construct_uint64(OSSL_KDF_PARAM_SCRYPT_N, &n),
      OSSL_PARAM_construct_uint32(OSSL_KDF_PARAM_SCRYPT_R, &r),
      OSSL_PARAM_construct_uint32(OSSL_KDF_PARAM_SCRYPT_P, &p),
      OSSL_PARAM_construct_uint64(OSSL_KDF_PARAM_SCRYPT_MAXMEM, &maxmem),
      OSSL_PARAM_construct_end(),
  };
  std::string out(length, '\0');
  if (EVP_KDF_derive(ctx.get(), reinterpret_cast<unsigned char*>(out.data()), out.size(),
                     ossl_params) != 1) {
    return Internal("scrypt failed (out of memory?); try again or lower the scrypt cost");
  }
  return out;
}

// PHC strings use standard base64 without padding; encoding.h's decoder wants the padding.
std::string B64NoPad(std::string_view bytes) {
  std::string text = crypto::Base64Encode(bytes);
  while (!text.empty() && text.back() == '=') text.pop_back();
  return text;
}

Result<std::string> B64NoPadDecode(std::string_view text) {
  std::string padded(text);
  while (padded.size() % 4 != 0) padded += '=';
  return crypto::Base64Decode(padded);
}

std::vector<std::string_view> Split(std::string_view text, char separator) {
  std::vector<std::string_view> parts;
  size_t start = 0;
  while (true) {
    const size_t end = text.find(separator, start);
    parts.push_back(text.substr(start, end == std::string_view::npos ? end : end - start));
    if (end == std::string_view::npos) return parts;
    start = end + 1;
  }
}

// Parses "<key>=<decimal>" into `value` when `key` matches; no sign, no leading zeros.
bool ParseParam(std::string_view part, std::string_view key, uint64_t& value) {
  if (!part.starts_with(key) || part.size() <= key.size() + 1 || part[key.size()] != '=') {
    return false;
  }
  const std::string_view digits = part.substr(key.size() + 1);
  if (digits.size() > 1 && digits[0] == '0') return false;
  const auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
  return ec == std::errc() && ptr == digits.data() + digits.size();
}

struct ParsedHash {
  ScryptParams params;
  std::string salt;
  std::string hash;
};

Result<ParsedHash> ParseStored(std::string_view stored) {
  const Status bad = DataLoss(
      "stored password hash is malformed (not \"$scrypt$ln=..,r=..,p=..$salt$hash\"); the users "
      "table may be corrupt or tampered with; set a new password for this user");
  if (!stored.starts_with(kPrefix)) return bad;
  const std::vector<std::string_view> fields = Split(stored.substr(kPrefix.size()), '$');
  if (fields.size() != 3) return bad;
  const std::vector<std::string_view> params = Split(fields[0], ',');
  uint64_t ln = 0, r = 0, p = 0;
  if (params.size() != 3 || !ParseParam(params[0], "ln", ln) || !ParseParam(params[1], "r", r) ||
      !ParseParam(params[2], "p", p) || ln > 64 || r > UINT32_MAX || p > UINT32_MAX) {
    return bad;
  }
  ParsedHash parsed;
  parsed.params = {static_cast<int>(ln), static_cast<uint32_t>(r), static_cast<uint32_t>(p)};
  if (Status limits = CheckParams(parsed.params); !limits.ok()) {
    return DataLoss("stored password hash has " + limits.message() +
                    "; the users table may be tampered with; set a new password for this user");
  }
  Result<std::string> salt = B64NoPadDecode(fields[1]);
  Result<std::string> hash = B64NoPadDecode(fields[2]);
  // The encoder never pads, so padding in the stored text means it was not written by us.
  if (!salt.ok() || !hash.ok() || fields[1].find('=') != std::string_view::npos ||
      fields[2].find('=') != std::string_view::npos || salt->size() < 8 || salt->size() > 64 ||
      hash->size() < 16 || hash->size() > 64) {
    return bad;
  }
  parsed.salt = std::move(salt).value();
  parsed.hash = std::move(hash).value();
  return parsed;
}

}  // namespace

Status CheckPasswordPolicy(std::string_view password) {
  if (password.size() > kMaxPasswordBytes) {
    return InvalidArgument("password is longer than " + std::to_string(kMaxPasswordBytes) +
                           " bytes; choose a shorter one");
  }
  const std::optional<size_t> chars = Utf8Length(password);
  if (!chars.has_value()) return InvalidArgument("password is not valid UTF-8");
  if (password.find('\0') != std::string_view::npos) {
    return InvalidArgument("password must not contain a NUL character");
  }
  if (*chars < kMinPasswordChars) {
    return InvalidArgument("password is too short; use at least " +
                           std::to_string(kMinPasswordChars) + " characters");
  }
  return Status::Ok();
}

Result<std::string> PasswordHasher::Hash(std::string_view password) const {
  OUTPOST_RETURN_IF_ERROR(CheckPasswordPolicy(password));
  OUTPOST_RETURN_IF_ERROR(CheckParams(params_));
  OUTPOST_ASSIGN_OR_RETURN(std::string salt, crypto::RandomBytes(kSaltBytes));
  OUTPOST_ASSIGN_OR_RETURN(std::string hash, Scrypt(password, salt, params_, kHashBytes));
  std::string stored = std::string(kPrefix) + "ln=" + std::to_string(params_.log2_n) +
                       ",r=" + std::to_string(params_.r) + ",p=" + std::to_string(params_.p) + "$" +
                       B64NoPad(salt) + "$" + B64NoPad(hash);
  OPENSSL_cleanse(hash.data(), hash.size());
  return stored;
}

Result<bool> VerifyPassword(std::string_view password, std::string_view stored) {
  OUTPOST_ASSIGN_OR_RETURN(ParsedHash parsed, ParseStored(stored));
  // Over-long input is refused before the KDF runs, so it cannot be used to burn CPU.
  if (password.size() > kMaxPasswordBytes) return false;
  OUTPOST_ASSIGN_OR_RETURN(std::string hash,
                           Scrypt(password, parsed.salt, parsed.params, parsed.hash.size()));
  const bool match = crypto::ConstantTimeEquals(hash, parsed.hash);
  OPENSSL_cleanse(hash.data(), hash.size());
  return match;
}

Result<std::string> GeneratePassword(size_t length) {
  // Rejection sampling: bytes at or above the largest multiple of the alphabet size are
  // discarded, so every character is equally likely.
  const size_t alphabet = kPasswordAlphabet.size();
  const size_t limit = 256 - 256 % alphabet;
  std::string password;
  password.reserve(length);
  while (password.size() < length) {
    OUTPOST_ASSIGN_OR_RETURN(std::string bytes, crypto::RandomBytes(length * 2));
    for (char b : bytes) {
      const auto v = static_cast<unsigned char>(b);
      if (v >= limit || password.size() == length) continue;
      password += kPasswordAlphabet[v % alphabet];
    }
    OPENSSL_cleanse(bytes.data(), bytes.size());
  }
  return password;
}

}  // namespace outpost::server::auth
