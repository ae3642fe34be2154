#include "server/auth/principal.h"

#include <string_view>

namespace outpost::server::auth {

audit::Actor Principal::actor() const {
  if (is_system()) return audit::Actor::System();
  constexpr std::string_view kApiKeyPrefix = "apikey:";
  if (credential.starts_with(kApiKeyPrefix)) {
    return {"apikey", credential.substr(kApiKeyPrefix.size()), user_name};
  }
  return {"user", user_name};
}

Principal Principal::System() {
  Principal principal;
  principal.role = Role::kAdmin;
  principal.credential = "system";
  return principal;
}

Status Require(const Principal& principal, Permission permission) {
  if (Allows(principal.role, permission)) return Status::Ok();
  return PermissionDenied("role " + std::string(RoleName(principal.role)) + " may not " +
                          std::string(PermissionDescription(permission)) + "; ask an " +
                          RolesAllowedText(permission));
}

}  // namespace outpost::server::auth
