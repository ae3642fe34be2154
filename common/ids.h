#pragma once

#include <string>

namespace outpost {

// A random (version 4) UUID in canonical lower-case form, from the OpenSSL CSPRNG. Used for
// satellite, instance, token and report ids. Aborts if the CSPRNG fails (nothing sensible can
// continue without randomness).
std::string NewUuid();

// True if `s` has the canonical 8-4-4-4-12 lower-case hex form.
bool IsUuid(std::string_view s);

}  // namespace outpost
