// Bearer secrets presented by callers: API keys ("Authorization: Bearer opk_...",
// auth::ParseApiKey) and registration tokens ("opt_...", the parser TokenStore::Consume uses).
// Property: what parses is exactly the canonical form, and its parts rebuild the text.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "server/auth/secrets.h"
#include "tests/fuzz/fuzz_util.h"

namespace {

using namespace outpost;

void CheckParts(std::string_view prefix, std::string_view text,
                const server::auth::BearerParts& parts) {
  fuzz::Check(text.size() == server::auth::kBearerChars, "accepted a bearer of the wrong length");
  fuzz::Check(parts.key == text, "key is not the text");
  fuzz::Check(std::string(prefix) + parts.id + "_" + parts.secret == text,
              "parts do not rebuild the text");
  fuzz::Check(server::auth::IsBearerId(parts.id), "accepted a bad id");
  fuzz::Check(parts.secret.size() == server::auth::kBearerSecretChars, "bad secret length");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  if (auto key = server::auth::ParseApiKey(text); key.ok()) {
    CheckParts(server::auth::kApiKeyPrefix, text, *key);
  }
  const Status malformed = Unauthenticated("malformed token");
  if (auto token = server::auth::ParseBearer("opt_", text, malformed); token.ok()) {
    CheckParts("opt_", text, *token);
  } else {
    fuzz::Check(token.status().code() == malformed.code(), "unexpected error for a bad token");
  }
  (void)server::auth::IsApiKeyId(text);
  (void)server::auth::SecretMatches(text, server::auth::HashSecret("x"));
  return 0;
}
