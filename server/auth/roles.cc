#include "server/auth/roles.h"

#include <array>
#include <cstddef>
#include <vector>

#include "common/text.h"

namespace outpost::server::auth {
namespace {

constexpr std::array kRoles = {Role::kAdmin, Role::kOperator, Role::kAuditor};

struct PermissionRow {
  Permission permission;
  std::string_view name;
  std::string_view description;
};

// Names and message phrases, in the order of enum Permission (checked below), so the enum value
// is the row index.
constexpr std::array kPermissionRows = {
    PermissionRow{Permission::kManageUsers, "manage_users", "manage users"},
    PermissionRow{Permission::kManageApiKeys, "manage_api_keys", "manage other users' API keys"},
    PermissionRow{Permission::kManageTokens, "manage_tokens", "manage tokens"},
    PermissionRow{Permission::kManageDevices, "manage_devices", "manage devices"},
    PermissionRow{Permission::kMoveLicenses, "move_licenses", "move licenses"},
    PermissionRow{Permission::kManageReservations, "manage_reservations", "manage reservations"},
    PermissionRow{Permission::kConvertLicenses, "convert_licenses", "convert licenses"},
    PermissionRow{Permission::kSync, "sync", "sync"},
    PermissionRow{Permission::kReadLicenses, "read_licenses", "read licenses"},
    PermissionRow{Permission::kReadDevices, "read_devices", "read devices"},
    PermissionRow{Permission::kReadAudit, "read_audit", "read the audit trail"},
    PermissionRow{Permission::kVerifyAudit, "verify_audit", "verify the audit trail"},
    PermissionRow{Permission::kReadReports, "read_reports", "read reports"},
    PermissionRow{Permission::kReadUsers, "read_users", "list users and API keys"},
    PermissionRow{Permission::kSignCheckpoint, "sign_checkpoint", "sign audit checkpoints"},
    PermissionRow{Permission::kManageConfig, "manage_config", "change the configuration"},
    PermissionRow{Permission::kReloadConfig, "reload_config", "reload the configuration"},
    PermissionRow{Permission::kReadMetrics, "read_metrics", "read /metrics"},
};

struct Grant {
  Permission permission;
  bool admin;
  bool operator_;
  bool auditor;
};

// THE role table: who may do what. Same order as kPermissionRows.
// clang-format off
constexpr std::array kGrants = {
    //    permission                          admin operator auditor
    Grant{Permission::kManageUsers,           true, false,   false},
    Grant{Permission::kManageApiKeys,         true, false,   false},
    Grant{Permission::kManageTokens,          true, true,    false},
    Grant{Permission::kManageDevices,         true, true,    false},
    Grant{Permission::kMoveLicenses,          true, true,    false},
    Grant{Permission::kManageReservations,    true, true,    false},
    Grant{Permission::kConvertLicenses,       true, true,    false},
    Grant{Permission::kSync,                  true, true,    false},
    Grant{Permission::kReadLicenses,          true, true,    true},
    Grant{Permission::kReadDevices,           true, true,    true},
    Grant{Permission::kReadAudit,             true, false,   true},
    Grant{Permission::kVerifyAudit,           true, false,   true},
    Grant{Permission::kReadReports,           true, false,   true},
    Grant{Permission::kReadUsers,             true, false,   true},
    Grant{Permission::kSignCheckpoint,        true, false,   false},
    Grant{Permission::kManageConfig,          true, false,   false},
    Grant{Permission::kReloadConfig,          true, false,   false},
    Grant{Permission::kReadMetrics,           true, true,    true},
};
// clang-format on

constexpr bool RowsInEnumOrder() {
  static_assert(kPermissionRows.size() == kGrants.size());
  for (size_t i = 0; i < kPermissionRows.size(); ++i) {
    if (static_cast<size_t>(kPermissionRows[i].permission) != i) return false;
    if (static_cast<size_t>(kGrants[i].permission) != i) return false;
  }
  return kPermissionRows.back().permission == Permission::kReadMetrics;
}
static_assert(RowsInEnumOrder(), "the tables must list every Permission once, in enum order");

constexpr std::array<Permission, kPermissionRows.size()> PermissionList() {
  std::array<Permission, kPermissionRows.size()> out{};
  for (size_t i = 0; i < kPermissionRows.size(); ++i) out[i] = kPermissionRows[i].permission;
  return out;
}
constexpr std::array kPermissions = PermissionList();

const PermissionRow& Row(Permission permission) {
  return kPermissionRows[static_cast<size_t>(permission)];
}

}  // namespace

std::span<const Role> AllRoles() { return kRoles; }

std::string_view RoleName(Role role) {
  switch (role) {
    case Role::kAdmin:
      return "admin";
    case Role::kOperator:
      return "operator";
    case Role::kAuditor:
      return "auditor";
  }
  return "unknown";
}

Result<Role> ParseRole(std::string_view name) {
  for (Role role : kRoles) {
    if (RoleName(role) == name) return role;
  }
  return InvalidArgument("unknown role \"" + std::string(Utf8Prefix(name, 64)) +
                         "\"; use admin, operator or auditor");
}

std::span<const Permission> AllPermissions() { return kPermissions; }

std::string_view PermissionName(Permission permission) { return Row(permission).name; }

std::string_view PermissionDescription(Permission permission) {
  return Row(permission).description;
}

bool Allows(Role role, Permission permission) {
  const Grant& row = kGrants[static_cast<size_t>(permission)];
  switch (role) {
    case Role::kAdmin:
      return row.admin;
    case Role::kOperator:
      return row.operator_;
    case Role::kAuditor:
      return row.auditor;
  }
  return false;
}

std::string RolesAllowedText(Permission permission) {
  std::vector<std::string_view> names;
  for (Role role : kRoles) {
    if (Allows(role, permission)) names.push_back(RoleName(role));
  }
  std::string text;
  for (size_t i = 0; i < names.size(); ++i) {
    if (i > 0) text += (i + 1 == names.size()) ? " or " : ", ";
    text += names[i];
  }
  return text;
}

}  // namespace outpost::server::auth
