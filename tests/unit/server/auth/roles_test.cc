#include "server/auth/roles.h"

#include <gtest/gtest.h>

#include <map>
#include <set>
#include <string>
#include <utility>

#include "server/auth/principal.h"
#include "tests/testing/test_util.h"

namespace outpost::server::auth {
namespace {

// The expected matrix, written out independently of roles.cc: DESIGN.md section 2 says admin
// (everything), operator (tokens, devices, moves, sync; reads licenses and devices), auditor
// (read-only: licenses, devices, audit, reports).
struct Expected {
  bool admin;
  bool operator_;
  bool auditor;
};
const std::map<Permission, Expected>& ExpectedMatrix() {
  static const auto* matrix = new std::map<Permission, Expected>{
      {Permission::kManageUsers, {true, false, false}},
      {Permission::kManageApiKeys, {true, false, false}},
      {Permission::kManageTokens, {true, true, false}},
      {Permission::kManageDevices, {true, true, false}},
      {Permission::kMoveLicenses, {true, true, false}},
      {Permission::kManageReservations, {true, true, false}},
      {Permission::kConvertLicenses, {true, true, false}},
      {Permission::kSync, {true, true, false}},
      {Permission::kReadLicenses, {true, true, true}},
      {Permission::kReadDevices, {true, true, true}},
      {Permission::kReadAudit, {true, false, true}},
      {Permission::kVerifyAudit, {true, false, true}},
      {Permission::kReadReports, {true, false, true}},
      {Permission::kReadUsers, {true, false, true}},
      {Permission::kSignCheckpoint, {true, false, false}},
      {Permission::kManageConfig, {true, false, false}},
      {Permission::kReloadConfig, {true, false, false}},
      {Permission::kReadMetrics, {true, true, true}},
  };
  return *matrix;
}

bool ExpectedAllows(Role role, Permission permission) {
  const Expected& row = ExpectedMatrix().at(permission);
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

TEST(RolesTest, EveryRoleAndPermissionMatchesTheExpectedMatrix) {
  ASSERT_EQ(AllRoles().size(), 3u);
  ASSERT_EQ(AllPermissions().size(), ExpectedMatrix().size())
      << "a permission was added: add its row to the expected matrix";
  int checked = 0;
  for (Role role : AllRoles()) {
    for (Permission permission : AllPermissions()) {
      ASSERT_TRUE(ExpectedMatrix().contains(permission)) << PermissionName(permission);
      EXPECT_EQ(Allows(role, permission), ExpectedAllows(role, permission))
          << RoleName(role) << " x " << PermissionName(permission);
      ++checked;
    }
  }
  EXPECT_EQ(checked, 3 * 18);
}

TEST(RolesTest, AdminHasEverythingAndAuditorOnlyReads) {
  for (Permission permission : AllPermissions()) {
    EXPECT_TRUE(Allows(Role::kAdmin, permission)) << PermissionName(permission);
    if (Allows(Role::kAuditor, permission)) {
      const std::string_view name = PermissionName(permission);
      EXPECT_TRUE(name.starts_with("read_") || name.starts_with("verify_")) << name;
    }
  }
}

TEST(RolesTest, RoleNamesRoundTrip) {
  for (Role role : AllRoles()) {
    auto parsed = ParseRole(RoleName(role));
    ASSERT_OK(parsed);
    EXPECT_EQ(*parsed, role);
  }
  EXPECT_EQ(RoleName(Role::kAdmin), "admin");
  EXPECT_EQ(RoleName(Role::kOperator), "operator");
  EXPECT_EQ(RoleName(Role::kAuditor), "auditor");
}

TEST(RolesTest, UnknownRoleIsInvalidArgumentListingTheValidOnes) {
  for (std::string_view bad : {"", "Admin", "root", "admin ", "superuser"}) {
    auto parsed = ParseRole(bad);
    ASSERT_FALSE(parsed.ok()) << bad;
    EXPECT_EQ(parsed.status().code(), Errc::kInvalidArgument);
    EXPECT_NE(parsed.status().message().find("use admin, operator or auditor"), std::string::npos);
  }
}

TEST(RolesTest, PermissionNamesAreUniqueSnakeCase) {
  std::set<std::string_view> names;
  for (Permission permission : AllPermissions()) {
    const std::string_view name = PermissionName(permission);
    EXPECT_TRUE(names.insert(name).second) << "duplicate " << name;
    for (char c : name) EXPECT_TRUE((c >= 'a' && c <= 'z') || c == '_') << name;
    EXPECT_FALSE(PermissionDescription(permission).empty()) << name;
  }
}

TEST(RequireTest, AllowedRoleIsOk) {
  Principal principal;
  principal.role = Role::kOperator;
  EXPECT_OK(Require(principal, Permission::kManageTokens));
}

TEST(RequireTest, DeniedRoleGetsAClearMessage) {
  Principal auditor;
  auditor.role = Role::kAuditor;
  Status status = Require(auditor, Permission::kManageTokens);
  EXPECT_EQ(status.code(), Errc::kPermissionDenied);
  EXPECT_EQ(status.message(), "role auditor may not manage tokens; ask an admin or operator");

  Principal operator_;
  operator_.role = Role::kOperator;
  status = Require(operator_, Permission::kReadAudit);
  EXPECT_EQ(status.code(), Errc::kPermissionDenied);
  EXPECT_EQ(status.message(),
            "role operator may not read the audit trail; ask an admin or auditor");

  status = Require(operator_, Permission::kManageUsers);
  EXPECT_EQ(status.message(), "role operator may not manage users; ask an admin");
}

TEST(RequireTest, SystemPrincipalIsAnAdminActingAsSystem) {
  const Principal system = Principal::System();
  EXPECT_TRUE(system.is_system());
  EXPECT_EQ(system.actor().ToString(), "system");
  for (Permission permission : AllPermissions()) EXPECT_OK(Require(system, permission));
}

TEST(RequireTest, ActorDependsOnTheCredential) {
  Principal by_key;
  by_key.user_name = "bob";
  by_key.credential = "apikey:0123456789ab";
  EXPECT_EQ(by_key.actor().ToString(), "apikey:0123456789ab (bob)");
  Principal by_session;
  by_session.user_name = "bob";
  by_session.credential = "session:0123456789ab";
  EXPECT_EQ(by_session.actor().ToString(), "user:bob");
}

// The name is quoted cut to 64 bytes, between characters (issue 14, finding 8).
TEST(RolesTest, AnUnknownLongRoleIsCutBetweenCharacters) {
  const std::string name = std::string(63, 'x') + "\xC3\xA9" + "tail";
  const Result<Role> role = ParseRole(name);
  ASSERT_FALSE(role.ok());
  EXPECT_EQ(role.status().message(),
            "unknown role \"" + std::string(63, 'x') + "\"; use admin, operator or auditor");
}

}  // namespace
}  // namespace outpost::server::auth
