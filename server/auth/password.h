#pragma once

// Console passwords: the policy, and scrypt hashing (OpenSSL 3 EVP_KDF "SCRYPT").
//
// Stored form (PHC string format, base64 without padding):
//   $scrypt$ln=15,r=8,p=1$<16-byte salt>$<32-byte hash>
// where N = 2^ln. Verification reads the parameters from the string, so raising the cost later
// keeps old hashes valid.
//
// Thread-safety: PasswordHasher is immutable; all functions may be called concurrently.
// Errors never contain the password.

#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"

namespace outpost::server::auth {

inline constexpr size_t kMinPasswordChars = 12;    // Unicode code points
inline constexpr size_t kMaxPasswordBytes = 1024;  // bounds the work an attacker can ask for

inline constexpr size_t kMinDistinctPasswordChars = 5;
inline constexpr size_t kMinUserNameCharsChecked = 3;  // shorter names are not looked for

// Ok, or kInvalidArgument saying what is wrong: shorter than 12 characters, longer than 1024
// bytes, not valid UTF-8, or containing a NUL character. The hasher's own check; new
// passwords must also pass CheckPasswordStrength.
Status CheckPasswordPolicy(std::string_view password);

// The rules for a NEW password of `user_name` (creating a user, an admin setting one, a user
// changing their own), on top of CheckPasswordPolicy. kInvalidArgument naming the rule broken:
//   - fewer than 5 different characters ("aaaaaaaaaaaa", "abababababab");
//   - contains the user name, ignoring ASCII case (names of 3 characters or more);
//   - one of the common passwords compiled in (common_passwords.inc), ignoring ASCII case, or
//     one of them with digits or symbols before or after it ("Password2025!"), or repeated;
//   - a run of consecutive letters, digits or keyboard keys ("abcdefghijkl", "qwertyuiopas").
// Stored passwords are not re-checked: a rule added later applies at the next change.
Status CheckPasswordStrength(std::string_view password, std::string_view user_name);

struct ScryptParams {
  int log2_n = 15;  // N = 2^15 (32 MiB with r = 8); tests use 10
  uint32_t r = 8;
  uint32_t p = 1;
};

// Limits on parameters read from a stored hash, so a tampered row cannot make verification
// allocate gigabytes or spin for minutes: 1 <= ln <= 20, 1 <= r <= 32, 1 <= p <= 16, and
// 128 * r * N <= 256 MiB.
inline constexpr uint64_t kMaxScryptMemory = 256ull << 20;

class PasswordHasher {
 public:
  explicit PasswordHasher(ScryptParams params = {}) : params_(params) {}

  // The stored form of `password` with a fresh random 16-byte salt. kInvalidArgument if the
  // password breaks the policy or the parameters are out of the limits above; kInternal if
  // OpenSSL fails.
  Result<std::string> Hash(std::string_view password) const;

  const ScryptParams& params() const { return params_; }

 private:
  ScryptParams params_;
};

// True if `password` matches `stored` (compared in constant time), false if it does not.
// kDataLoss if `stored` is not a well-formed hash within the limits above (a corrupt or
// tampered row). Does not check the policy: a stored password stays valid when it changes.
Result<bool> VerifyPassword(std::string_view password, std::string_view stored);

// A fresh password of `length` characters from an alphabet without look-alikes (no 0/O/o, 1/l/I/i),
// for `outpost init`'s first admin. 24 characters carry about 138 bits.
Result<std::string> GeneratePassword(size_t length = 24);

}  // namespace outpost::server::auth
