#pragma once

// The auth types as the admin API's messages (proto/outpost/v1/admin_auth.proto).

#include <string>

#include "common/clock.h"
#include "outpost/v1/admin_auth.pb.h"
#include "server/auth/principal.h"
#include "server/auth/store.h"

namespace outpost::server::auth {

// "2026-05-28T20:26:40Z" (UTC, whole seconds).
std::string Rfc3339(TimePoint t);

v1::User ToProto(const User& user);
v1::ApiKey ToProto(const ApiKey& key);
// Carries the whole key: answer the creating request with it and nothing else.
v1::CreateApiKeyResponse ToProto(const CreatedApiKey& created);
// Carries the CSRF token; the cookie goes in Set-Cookie (SessionSetCookie), never in a body.
v1::LoginResponse ToLoginResponse(const Session& session);
v1::WhoAmIResponse ToWhoAmI(const Principal& principal);

}  // namespace outpost::server::auth
