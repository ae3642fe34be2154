#pragma once

// Cryptographically secure random bytes from OpenSSL's DRBG (RAND_bytes).
//
// Thread-safety: all functions may be called concurrently.
// Errors: kInternal if the generator is not seeded or fails; callers must treat that as fatal
// for whatever needed the randomness (never fall back to a weaker source).

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "common/status.h"

namespace outpost::crypto {

// Fills `out` with random bytes.
Status RandomBytes(std::span<uint8_t> out);

// `n` random bytes.
Result<std::string> RandomBytes(size_t n);

// A bearer token: `bytes` random bytes (default 256 bits) as base64url without padding.
// Store only Sha256(token) and compare with ConstantTimeEquals (see hash.h).
Result<std::string> RandomToken(size_t bytes = 32);

}  // namespace outpost::crypto
