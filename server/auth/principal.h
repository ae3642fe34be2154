#pragma once

// Who is calling the admin API, and the permission check every route makes.

#include <cstdint>
#include <string>

#include "common/status.h"
#include "server/audit/audit_log.h"
#include "server/auth/roles.h"

namespace outpost::server::auth {

// An authenticated caller: a user, and the credential it presented.
struct Principal {
  int64_t user_id = 0;    // users.id; 0 for System()
  std::string user_name;  // "" for System()
  Role role = Role::kAuditor;
  // How the caller authenticated: "apikey:<key id>", "session:<session id>" (the session id is
  // the first 12 hex digits of SHA-256 of the cookie, not the cookie) or "system".
  std::string credential;
  // For a console session, its CSRF token, so GET /v1/admin/whoami can hand it back to a
  // reloaded console page. Empty otherwise. Never log it.
  std::string csrf_token;

  // The actor recorded in the audit trail: "apikey:<id> (<user name>)" for API keys,
  // "user:<name>" for console sessions, "system" for System().
  audit::Actor actor() const;

  // The satellite itself, acting with every permission: `outpost init` creating the first admin
  // and its API key. Never the result of authenticating a request.
  static Principal System();
  bool is_system() const { return credential == "system"; }
};

// Ok if `principal`'s role has `permission`; otherwise kPermissionDenied saying who may, e.g.
// "role auditor may not manage tokens; ask an admin or operator".
Status Require(const Principal& principal, Permission permission);

}  // namespace outpost::server::auth
