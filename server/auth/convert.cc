#include "server/auth/convert.h"

#include <optional>

#include "common/time.h"

namespace outpost::server::auth {

v1::User ToProto(const User& user) {
  v1::User out;
  out.set_name(user.name);
  out.set_role(std::string(RoleName(user.role)));
  out.set_created_at(ToUnixSeconds(user.created_at));
  out.set_created_at_text(FormatRfc3339(user.created_at));
  out.set_created_by(user.created_by);
  out.set_disabled(user.disabled);
  out.set_has_password(user.has_password);
  return out;
}

v1::ApiKey ToProto(const ApiKey& key) {
  v1::ApiKey out;
  out.set_id(key.id);
  out.set_user(key.user);
  out.set_description(key.description);
  out.set_created_at(ToUnixSeconds(key.created_at));
  out.set_created_at_text(FormatRfc3339(key.created_at));
  out.set_created_by(key.created_by);
  if (key.last_used_at.has_value()) {
    out.set_last_used_at(ToUnixSeconds(*key.last_used_at));
    out.set_last_used_at_text(FormatRfc3339(*key.last_used_at));
  }
  if (key.revoked_at.has_value()) {
    out.set_revoked_at(ToUnixSeconds(*key.revoked_at));
    out.set_revoked_at_text(FormatRfc3339(*key.revoked_at));
  }
  if (key.expires_at.has_value()) {
    out.set_expires_at(ToUnixSeconds(*key.expires_at));
    out.set_expires_at_text(FormatRfc3339(*key.expires_at));
  }
  return out;
}

v1::CreateApiKeyResponse ToProto(const CreatedApiKey& created) {
  v1::CreateApiKeyResponse out;
  *out.mutable_api_key() = ToProto(created.record);
  out.set_key(created.key);
  return out;
}

v1::LoginResponse ToLoginResponse(const Session& session) {
  v1::LoginResponse out;
  out.set_user(session.user);
  out.set_role(std::string(RoleName(session.role)));
  out.set_csrf_token(session.csrf_token);
  out.set_expires_at(ToUnixSeconds(session.expires_at));
  out.set_expires_at_text(FormatRfc3339(session.expires_at));
  return out;
}

v1::WhoAmIResponse ToWhoAmI(const Principal& principal) {
  v1::WhoAmIResponse out;
  out.set_user(principal.user_name);
  out.set_role(std::string(RoleName(principal.role)));
  out.set_credential(principal.credential);
  for (Permission permission : AllPermissions()) {
    if (Allows(principal.role, permission)) {
      out.add_permissions(std::string(PermissionName(permission)));
    }
  }
  out.set_csrf_token(principal.csrf_token);
  return out;
}

}  // namespace outpost::server::auth
