#pragma once

// Roles and permissions of the admin API: the one table that says which role may do what.
//
// Thread-safety: all functions are pure and may be called concurrently.

#include <span>
#include <string>
#include <string_view>

#include "common/status.h"

namespace outpost::server::auth {

// DESIGN.md section 2, "Users and roles".
enum class Role {
  kAdmin,     // everything
  kOperator,  // tokens, devices, moves, reservations, conversions, sync; reads licenses/devices
  kAuditor,   // read-only: licenses, devices, audit (read, export, verify), reports, users and
              // API key ids
};

// Every role, in the order admin, operator, auditor.
std::span<const Role> AllRoles();

// "admin", "operator", "auditor": the names in the database, the API and the CLI.
std::string_view RoleName(Role role);
// Inverse of RoleName. kInvalidArgument naming the text and the valid roles otherwise.
Result<Role> ParseRole(std::string_view name);

// What a route or command needs. API keys are a special case: every user may create, list and
// revoke their OWN API keys without any permission; kManageApiKeys is needed for other users'
// keys (and for listing all keys).
enum class Permission {
  kManageUsers,         // create, list, disable users; set their passwords
  kManageApiKeys,       // create, list, revoke other users' API keys
  kManageTokens,        // create, list, revoke registration tokens
  kManageDevices,       // release, deregister, rehost devices
  kMoveLicenses,        // move license quantity between virtual accounts
  kManageReservations,  // reserve quantity for named devices
  kConvertLicenses,     // submit traditional-license conversions
  kSync,                // export, import, run and inspect sync
  kReadLicenses,        // compliance and entitlements
  kReadDevices,         // product instances and their authorizations
  kReadAudit,           // read and export the audit trail
  kVerifyAudit,         // verify the audit chain and its checkpoints
  kReadReports,         // usage reports
  kReadUsers,           // list users and every user's API key ids (never secrets); read-only
  kSignCheckpoint,      // sign an audit checkpoint on demand (the satellite also signs on its own)
  kManageConfig,        // change the satellite's configuration
  kReloadConfig,        // reload outpost.toml and the TLS files into the running satellite
  kReadMetrics,         // GET /metrics when server.metrics_require_auth is true (every role)
};

// Every permission, in declaration order.
std::span<const Permission> AllPermissions();

// Stable snake_case identifier, e.g. "manage_tokens" (docs/security.md and tests use it).
std::string_view PermissionName(Permission permission);
// A verb phrase for messages, e.g. "manage tokens".
std::string_view PermissionDescription(Permission permission);

// True if `role` has `permission`. Backed by one table in roles.cc.
bool Allows(Role role, Permission permission);

// The roles that have `permission`, in the order of AllRoles(); never empty (admin has all).
std::string RolesAllowedText(Permission permission);  // e.g. "admin or operator"

}  // namespace outpost::server::auth
