#include "server/auth/password.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/kdf.h>
#include <openssl/params.h>

#include <algorithm>
#include <charconv>
#include <memory>
#include <optional>
#include <set>
#include <string_view>
#include <unordered_set>
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

constexpr std::string_view kCommonPasswords[] = {
#include "server/auth/common_passwords.inc"
};

// Runs that people type as "random": letters, digits and keyboard rows, forwards and backwards.
constexpr std::string_view kSequences[] = {
    "abcdefghijklmnopqrstuvwxyz",   "01234567890123456789",
    "qwertyuiopasdfghjklzxcvbnm",   "qwertzuiopasdfghjklyxcvbnm",
    "azertyuiopqsdfghjklmwxcvbn",   "1qaz2wsx3edc4rfv5tgb6yhn7ujm",
    "zaq1xsw2cde3vfr4bgt5nhy6mju7", "!@#$%^&*()_+",
};

std::string AsciiLower(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

bool IsAsciiLetter(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

// `text` without the characters that are not ASCII letters at either end: "2025password!" ->
// "password". People "strengthen" a common word this way.
std::string_view LetterCore(std::string_view text) {
  while (!text.empty() && !IsAsciiLetter(text.front())) text.remove_prefix(1);
  while (!text.empty() && !IsAsciiLetter(text.back())) text.remove_suffix(1);
  return text;
}

// The compiled-in list as typed, and the words inside its entries ("monkey" of "monkey123").
struct CommonPasswords {
  std::unordered_set<std::string_view> exact;
  std::unordered_set<std::string_view> cores;
  CommonPasswords() {
    for (std::string_view entry : kCommonPasswords) {
      exact.insert(entry);
      const std::string_view core = LetterCore(entry);
      if (core.size() >= 3) cores.insert(core);
    }
  }
  bool Has(std::string_view text) const { return exact.contains(text) || cores.contains(text); }
};

const CommonPasswords& Common() {
  static const CommonPasswords* common = new CommonPasswords();
  return *common;
}

// True if `text` is some shorter `unit` repeated, with `unit` a common password.
bool IsRepeatedCommon(std::string_view text) {
  for (size_t unit = 1; unit <= text.size() / 2; ++unit) {
    if (text.size() % unit != 0) continue;
    bool repeated = true;
    for (size_t i = unit; i < text.size() && repeated; ++i) repeated = text[i] == text[i - unit];
    if (repeated) return Common().Has(text.substr(0, unit));
  }
  return false;
}

bool IsSequence(std::string_view lower) {
  for (std::string_view sequence : kSequences) {
    if (sequence.find(lower) != std::string_view::npos) return true;
    const std::string reversed(sequence.rbegin(), sequence.rend());
    if (reversed.find(lower) != std::string::npos) return true;
  }
  return false;
}

}  // namespace

Status CheckPasswordStrength(std::string_view password, std::string_view user_name) {
  OUTPOST_RETURN_IF_ERROR(CheckPasswordPolicy(password));
  // Distinct code points: a lead byte starts each, so counting distinct sequences is enough.
  std::set<std::string_view> distinct;
  for (size_t i = 0; i < password.size();) {
    size_t n = 1;
    while (i + n < password.size() &&
           (static_cast<unsigned char>(password[i + n]) & 0xC0) == 0x80) {
      ++n;
    }
    distinct.insert(password.substr(i, n));
    i += n;
  }
  if (distinct.size() < kMinDistinctPasswordChars) {
    return InvalidArgument("password has too few different characters (" +
                           std::to_string(distinct.size()) + "); use at least " +
                           std::to_string(kMinDistinctPasswordChars) +
                           " different ones, e.g. a few unrelated words");
  }
  const std::string lower = AsciiLower(password);
  if (user_name.size() >= kMinUserNameCharsChecked &&
      lower.find(AsciiLower(user_name)) != std::string::npos) {
    return InvalidArgument("password contains the user name \"" + std::string(user_name) +
                           "\"; choose one that does not");
  }
  const std::string_view core = LetterCore(lower);
  if (Common().Has(lower) || IsRepeatedCommon(lower)) {
    return InvalidArgument(
        "password is one of the most commonly used passwords, which are tried first; choose "
        "another (e.g. a few unrelated words)");
  }
  if (Common().Has(core) || IsRepeatedCommon(core)) {
    // The word is not quoted: errors never contain (part of) a password.
    return InvalidArgument(
        "password is a commonly used password with digits or symbols added, which are tried "
        "first; choose another (e.g. a few unrelated words)");
  }
  if (IsSequence(lower)) {
    return InvalidArgument(
        "password is a run of consecutive letters, digits or keyboard keys; choose another "
        "(e.g. a few unrelated words)");
  }
  return Status::Ok();
}

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
