#include "server/api/admin_routes.h"

#include "common/net/codec.h"
#include "common/text.h"
#include "common/time.h"
#include "outpost/v1/admin_auth.pb.h"
#include "outpost/v1/audit.pb.h"
#include "outpost/v1/common.pb.h"
#include "outpost/v1/licensing.pb.h"
#include "outpost/v1/satellite_sync.pb.h"
#include "outpost/v1/tokens.pb.h"
#include "server/api/admin_route_def.h"
#include "server/audit/archive.h"
#include "server/audit/audit_proto.h"
#include "server/audit/checkpoint.h"
#include "server/audit/evidence.h"
#include "server/audit/export.h"
#include "server/audit/verify.h"
#include "server/auth/convert.h"
#include "server/auth/http_auth.h"
#include "server/licensing/operator_service.h"
#include "server/licensing/tokens.h"
#include "server/sync/satellite_sync.h"
#include "sync/bundle/armor.h"
#include "sync/bundle/codec.h"

namespace outpost::server::api {
namespace {

using auth::Permission;
using auth::Principal;

constexpr int64_t kMaxPageRecords = 10'000;

}  // namespace

Result<int64_t> ParseCount(const std::string& name, const std::string& text, int64_t min,
                           int64_t max) {
  char* end = nullptr;
  errno = 0;
  const long long v = std::strtoll(text.c_str(), &end, 10);
  if (text.empty() || *end != '\0' || errno != 0 || v < min || v > max) {
    return InvalidArgument("query parameter '" + name + "' must be a whole number from " +
                           std::to_string(min) + " to " + std::to_string(max) + ", not '" + text +
                           "'");
  }
  return v;
}

std::string QueryOr(const net::Request& req, const std::string& name, std::string fallback) {
  auto it = req.query.find(name);
  return it == req.query.end() ? fallback : it->second;
}

namespace {

Result<audit::ExportFilter> FilterFrom(const net::Request& req) {
  audit::ExportFilter filter;
  for (const char* name : {"since", "until"}) {
    auto it = req.query.find(name);
    if (it == req.query.end()) continue;
    auto t = ParseRfc3339(it->second);
    if (!t.ok()) return t.status().WithContext(std::string("query parameter '") + name + "'");
    (std::string(name) == "since" ? filter.since : filter.until) = *t;
  }
  filter.actor = QueryOr(req, "actor", "");
  filter.action = QueryOr(req, "action", "");
  filter.device = QueryOr(req, "device", "");
  return filter;
}

v1::Token ToProto(const licensing::Token& t, TimePoint now) {
  v1::Token out;
  out.set_id(t.id);
  out.set_va(t.va);
  out.set_description(t.description);
  out.set_prefix(t.prefix);
  out.set_created_at(ToUnixSeconds(t.created_at));
  out.set_created_at_text(FormatRfc3339(t.created_at));
  out.set_created_by(t.created_by);
  out.set_expires_at(ToUnixSeconds(t.expires_at));
  out.set_expires_at_text(FormatRfc3339(t.expires_at));
  out.set_max_uses(t.max_uses.value_or(0));
  out.set_uses(t.uses);
  out.set_export_controlled(t.export_controlled);
  out.set_state(std::string(licensing::TokenStateName(t.StateAt(now))));
  if (t.revoked_at.has_value()) {
    out.set_revoked_at(ToUnixSeconds(*t.revoked_at));
    out.set_revoked_at_text(FormatRfc3339(*t.revoked_at));
  }
  out.set_revoked_by(t.revoked_by);
  return out;
}

template <typename Message>
Result<Message> Decode(const net::Request& req) {
  Message m;
  OUTPOST_RETURN_IF_ERROR(net::DecodeBody(req, &m));
  return m;
}

std::vector<RouteDef> MakeRoutes(const AdminContext& c) {
  std::vector<RouteDef> r;
  auto add = [&r](std::string method, std::string pattern, Access access,
                  std::optional<Permission> permission, std::string summary, AdminFn fn) {
    r.push_back({{std::move(method), std::move(pattern), access, permission, std::move(summary)},
                 std::move(fn)});
  };
  auto fail = [](const net::Request& req, const Status& s) { return net::ErrorResponse(req, s); };

  // --- Session ---
  add("POST", "/v1/admin/login", Access::kPublic, std::nullopt,
      "log in to the console with a password; sets the session cookie",
      [c, fail](const Principal&, net::Request& req) {
        auto body = Decode<v1::LoginRequest>(req);
        if (!body.ok()) return fail(req, body.status());
        auto session = c.auth->Login(body->user(), body->password(), req.remote_address);
        if (!session.ok()) return fail(req, session.status());
        net::Response res = net::Encode(req, auth::ToLoginResponse(*session));
        res.headers.emplace_back(
            "Set-Cookie",
            auth::SessionSetCookie(session->cookie, c.auth->policy().session_absolute_timeout));
        return res;
      });
  add("POST", "/v1/admin/logout", Access::kAuthenticated, std::nullopt, "end the console session",
      [c, fail](const Principal&, net::Request& req) {
        const std::string_view cookie =
            auth::CookieValue(req.Header("cookie"), auth::kSessionCookieName);
        if (!cookie.empty()) {
          if (Status s = c.auth->Logout(cookie); !s.ok()) return fail(req, s);
        }
        net::Response res = net::Encode(req, v1::Empty());
        res.headers.emplace_back("Set-Cookie", auth::ClearSessionSetCookie());
        return res;
      });
  add("GET", "/v1/admin/whoami", Access::kAuthenticated, std::nullopt,
      "the caller's user, role and permissions",
      [](const Principal& p, net::Request& req) { return net::Encode(req, auth::ToWhoAmI(p)); });

  // --- Users ---
  add("GET", "/v1/admin/users", Access::kPermission, Permission::kReadUsers, "list users",
      [c, fail](const Principal& p, net::Request& req) {
        auto users = c.auth->ListUsers(p);
        if (!users.ok()) return fail(req, users.status());
        v1::ListUsersResponse out;
        for (const auto& u : *users) *out.add_users() = auth::ToProto(u);
        return net::Encode(req, out);
      });
  add("POST", "/v1/admin/users", Access::kPermission, Permission::kManageUsers, "create a user",
      [c, fail](const Principal& p, net::Request& req) {
        auto body = Decode<v1::CreateUserRequest>(req);
        if (!body.ok()) return fail(req, body.status());
        auto role = auth::ParseRole(body->role());
        if (!role.ok()) return fail(req, role.status());
        std::optional<std::string_view> password;
        if (body->has_password()) password = body->password();
        auto user = c.auth->CreateUser(body->name(), *role, password, p);
        if (!user.ok()) return fail(req, user.status());
        return net::Encode(req, auth::ToProto(*user), 201);
      });
  // The three user changes answer with the user as it is afterwards.
  auto user_after = [c, fail](const Principal& p, net::Request& req, const Status& s) {
    if (!s.ok()) return fail(req, s);
    auto users = c.auth->ListUsers(p);
    if (!users.ok()) return fail(req, users.status());
    for (const auto& u : *users) {
      if (u.name == req.path_params["name"]) return net::Encode(req, auth::ToProto(u));
    }
    return fail(req, NotFound("no user named '" + req.path_params["name"] + "'"));
  };
  add("POST", "/v1/admin/password", Access::kAuthenticated, std::nullopt,
      "change one's own password (needs the current one)",
      [c, fail](const Principal& p, net::Request& req) {
        auto body = Decode<v1::ChangePasswordRequest>(req);
        if (!body.ok()) return fail(req, body.status());
        if (Status s = c.auth->ChangeOwnPassword(p, body->current_password(), body->new_password(),
                                                 req.remote_address);
            !s.ok()) {
          return fail(req, s);
        }
        return net::Encode(req, v1::Empty());
      });
  add("POST", "/v1/admin/users/{name}/password", Access::kPermission, Permission::kManageUsers,
      "set another user's password", [c, fail, user_after](const Principal& p, net::Request& req) {
        auto body = Decode<v1::SetPasswordRequest>(req);
        if (!body.ok()) return fail(req, body.status());
        return user_after(p, req,
                          c.auth->SetPassword(req.path_params["name"], body->password(), p));
      });
  add("POST", "/v1/admin/users/{name}/disable", Access::kPermission, Permission::kManageUsers,
      "disable a user (sessions end, API keys stop working)",
      [c, user_after](const Principal& p, net::Request& req) {
        return user_after(p, req, c.auth->DisableUser(req.path_params["name"], p));
      });
  add("POST", "/v1/admin/users/{name}/enable", Access::kPermission, Permission::kManageUsers,
      "enable a disabled user", [c, user_after](const Principal& p, net::Request& req) {
        return user_after(p, req, c.auth->EnableUser(req.path_params["name"], p));
      });

  // --- API keys: own keys for everyone, other users' keys with manage_api_keys ---
  add("GET", "/v1/admin/apikeys", Access::kAuthenticated, std::nullopt,
      "list API keys (own; ?user= or ?all=true needs read_users)",
      [c, fail](const Principal& p, net::Request& req) {
        std::optional<std::string_view> user = p.user_name;
        const std::string named = QueryOr(req, "user", "");
        if (QueryOr(req, "all", "") == "true") {
          user = std::nullopt;
        } else if (!named.empty()) {
          user = named;
        }
        auto keys = c.auth->ListApiKeys(user, p);
        if (!keys.ok()) return fail(req, keys.status());
        v1::ListApiKeysResponse out;
        for (const auto& k : *keys) *out.add_api_keys() = auth::ToProto(k);
        return net::Encode(req, out);
      });
  add("POST", "/v1/admin/apikeys", Access::kAuthenticated, std::nullopt,
      "create an API key (own; for another user needs manage_api_keys); shown once",
      [c, fail](const Principal& p, net::Request& req) {
        auto body = Decode<v1::CreateApiKeyRequest>(req);
        if (!body.ok()) return fail(req, body.status());
        const std::string user = body->user().empty() ? p.user_name : body->user();
        std::optional<TimePoint> expires_at;
        if (body->expires_in_seconds() != 0 && body->expires_at() != 0) {
          return fail(req, InvalidArgument("give expires_in_seconds or expires_at, not both"));
        }
        if (body->expires_in_seconds() < 0 ||
            body->expires_in_seconds() > auth::kMaxApiKeyLifetime.count()) {
          return fail(req, InvalidArgument("expires_in_seconds must be from 1 to " +
                                           std::to_string(auth::kMaxApiKeyLifetime.count()) +
                                           " (10 years)"));
        }
        if (body->expires_in_seconds() > 0) {
          expires_at = c.clock->Now() + std::chrono::seconds(body->expires_in_seconds());
        } else if (body->expires_at() != 0) {
          constexpr int64_t kYear9999 = 253402300799;  // 9999-12-31T23:59:59Z
          if (body->expires_at() < 0 || body->expires_at() > kYear9999) {
            return fail(req, InvalidArgument("expires_at must be a unix time from 1970 to 9999"));
          }
          expires_at = FromUnixSeconds(body->expires_at());
        }
        auto created = c.auth->CreateApiKey(user, body->description(), p, expires_at);
        if (!created.ok()) return fail(req, created.status());
        return net::Encode(req, auth::ToProto(*created), 201);
      });
  add("DELETE", "/v1/admin/apikeys/{id}", Access::kAuthenticated, std::nullopt,
      "revoke an API key (own; another user's needs manage_api_keys)",
      [c, fail](const Principal& p, net::Request& req) {
        const std::string id = req.path_params["id"];
        if (Status s = c.auth->RevokeApiKey(id, p); !s.ok()) return fail(req, s);
        // Answer with the revoked key as listed: the caller's own, or anyone's for an admin.
        for (std::optional<std::string_view> user :
             {std::optional<std::string_view>(p.user_name), std::optional<std::string_view>()}) {
          auto keys = c.auth->ListApiKeys(user, p);
          if (!keys.ok()) continue;
          for (const auto& k : *keys) {
            if (k.id == id) return net::Encode(req, auth::ToProto(k));
          }
        }
        return net::Encode(req, v1::ApiKey());
      });

  // --- Registration tokens ---
  add("GET", "/v1/admin/tokens", Access::kPermission, Permission::kManageTokens,
      "list registration tokens (?va= for one virtual account); never their secrets",
      [c, fail](const Principal& p, net::Request& req) {
        std::optional<std::string_view> va;
        const std::string named = QueryOr(req, "va", "");
        if (!named.empty()) va = named;
        auto tokens = c.tokens->List(va, p);
        if (!tokens.ok()) return fail(req, tokens.status());
        const TimePoint now = c.clock->Now();
        v1::ListTokensResponse out;
        for (const auto& t : *tokens) *out.add_tokens() = ToProto(t, now);
        return net::Encode(req, out);
      });
  add("POST", "/v1/admin/tokens", Access::kPermission, Permission::kManageTokens,
      "create a registration token; the token is shown once",
      [c, fail](const Principal& p, net::Request& req) {
        auto body = Decode<v1::CreateTokenRequest>(req);
        if (!body.ok()) return fail(req, body.status());
        if (Status s = c.licensing->CheckVirtualAccount(body->va()); !s.ok()) return fail(req, s);
        licensing::TokenRequest request;
        request.va = body->va();
        if (body->has_expires_days()) request.expires_days = body->expires_days();
        if (body->has_max_uses()) request.max_uses = body->max_uses();
        request.description = body->description();
        request.export_controlled = body->export_controlled();
        auto created = c.tokens->Create(request, p);
        if (!created.ok()) return fail(req, created.status());
        v1::CreateTokenResponse out;
        *out.mutable_record() = ToProto(created->record, c.clock->Now());
        out.set_token(created->token);
        return net::Encode(req, out, 201);
      });
  add("DELETE", "/v1/admin/tokens/{id}", Access::kPermission, Permission::kManageTokens,
      "revoke a registration token (registered devices stay registered)",
      [c, fail](const Principal& p, net::Request& req) {
        auto revoked = c.tokens->Revoke(req.path_params["id"], p);
        if (!revoked.ok()) return fail(req, revoked.status());
        return net::Encode(req, ToProto(*revoked, c.clock->Now()));
      });

  // --- Licenses and devices ---
  auto optional_va = [](const net::Request& req) -> std::optional<std::string> {
    std::string va = QueryOr(req, "va", "");
    if (va.empty()) return std::nullopt;
    return va;
  };
  add("GET", "/v1/admin/licenses", Access::kPermission, Permission::kReadLicenses,
      "compliance per VA and tag: purchased, in use, reserved, available, status "
      "(?va=&q=&limit=&after=)",
      [c, fail, optional_va](const Principal&, net::Request& req) {
        licensing::LicenseQuery query;
        query.va = optional_va(req);
        // A filter naming no VA of this satellite is a typo, not an empty VA.
        if (query.va) {
          if (Status s = c.licensing->CheckVirtualAccount(*query.va); !s.ok()) return fail(req, s);
        }
        query.search = QueryOr(req, "q", "");
        // Paged on request (the console; docs/console-api.md): rows in (va, tag) order, ?after=
        // the next_after of the previous page. Without either, every row, as the CLI reads it.
        if (req.query.count("limit") > 0 || req.query.count("after") > 0) {
          auto limit =
              ParseCount("limit", QueryOr(req, "limit", "100"), 1, licensing::kMaxLicensePage);
          if (!limit.ok()) return fail(req, limit.status());
          query.limit = *limit;
          query.after = QueryOr(req, "after", "");
        }
        auto out = c.licensing->ListLicenses(query);
        if (!out.ok()) return fail(req, out.status());
        return net::Encode(req, *out);
      });
  add("GET", "/v1/admin/devices", Access::kPermission, Permission::kReadDevices,
      "registered devices and what they hold, searched and paged (?q=, ?udi=, ?hostname=, "
      "?tag=, ?va=, ?after=, ?limit= up to 10000; docs/console-api.md)",
      [c, fail, optional_va](const Principal&, net::Request& req) {
        licensing::DeviceQuery query;
        auto limit =
            ParseCount("limit", QueryOr(req, "limit", "100"), 1, licensing::kMaxDevicePage);
        if (!limit.ok()) return fail(req, limit.status());
        query.limit = *limit;
        query.q = QueryOr(req, "q", "");
        query.udi = QueryOr(req, "udi", "");
        query.hostname = QueryOr(req, "hostname", "");
        query.tag = QueryOr(req, "tag", "");
        query.after = QueryOr(req, "after", "");
        query.va = optional_va(req);
        if (query.va) {
          if (Status s = c.licensing->CheckVirtualAccount(*query.va); !s.ok()) return fail(req, s);
        }
        auto out = c.licensing->SearchDevices(query);
        if (!out.ok()) return fail(req, out.status());
        return net::Encode(req, *out);
      });
  add("POST", "/v1/admin/devices/{id}/release", Access::kPermission, Permission::kManageDevices,
      "release a device's licenses and deregister it (its certificate is refused afterwards)",
      [c, fail](const Principal& p, net::Request& req) {
        auto out = c.licensing->ReleaseDevice(req.path_params["id"], p.actor());
        if (!out.ok()) return fail(req, out.status());
        return net::Encode(req, *out);
      });
  add("POST", "/v1/admin/devices/{id}/rehost", Access::kPermission, Permission::kManageDevices,
      "move a failed device's registration and licenses to a new UDI",
      [c, fail](const Principal& p, net::Request& req) {
        auto body = Decode<v1::RehostDeviceRequest>(req);
        if (!body.ok()) return fail(req, body.status());
        auto out = c.licensing->RehostDevice(req.path_params["id"], body->udi(), p.actor());
        if (!out.ok()) return fail(req, out.status());
        return net::Encode(req, *out);
      });
  add("POST", "/v1/admin/licenses/move", Access::kPermission, Permission::kMoveLicenses,
      "move license quantity between virtual accounts (reported to central at the next sync)",
      [c, fail](const Principal& p, net::Request& req) {
        auto body = Decode<v1::MoveLicensesRequest>(req);
        if (!body.ok()) return fail(req, body.status());
        auto out = c.licensing->MoveLicenses(*body, p.actor());
        if (!out.ok()) return fail(req, out.status());
        return net::Encode(req, *out);
      });
  add("GET", "/v1/admin/licenses/moves", Access::kPermission, Permission::kReadLicenses,
      "moves made here, newest first, with central's verdict and reason",
      [c, fail](const Principal&, net::Request& req) {
        auto out = c.licensing->Moves();
        if (!out.ok()) return fail(req, out.status());
        return net::Encode(req, *out);
      });
  add("GET", "/v1/admin/virtual-accounts", Access::kPermission, Permission::kReadLicenses,
      "the virtual accounts this satellite knows (central's list and local entitlements)",
      [c](const Principal&, net::Request& req) {
        return net::Encode(req, c.licensing->VirtualAccounts());
      });
  add("GET", "/v1/admin/reservations", Access::kPermission, Permission::kReadLicenses,
      "reservations of licenses for named devices", [c, fail](const Principal&, net::Request& req) {
        auto out = c.licensing->Reservations();
        if (!out.ok()) return fail(req, out.status());
        return net::Encode(req, *out);
      });
  add("POST", "/v1/admin/reservations", Access::kPermission, Permission::kManageReservations,
      "reserve licenses of a tag for a device (by UDI); adds to an existing reservation",
      [c, fail](const Principal& p, net::Request& req) {
        auto body = Decode<v1::ReservationRequest>(req);
        if (!body.ok()) return fail(req, body.status());
        auto out = c.licensing->Reserve(*body, p.actor());
        if (!out.ok()) return fail(req, out.status());
        return net::Encode(req, *out);
      });
  add("POST", "/v1/admin/reservations/remove", Access::kPermission, Permission::kManageReservations,
      "remove a reservation (va, tag, udi)", [c, fail](const Principal& p, net::Request& req) {
        auto body = Decode<v1::ReservationRequest>(req);
        if (!body.ok()) return fail(req, body.status());
        if (Status s = c.licensing->Unreserve(*body, p.actor()); !s.ok()) return fail(req, s);
        return net::Encode(req, v1::Empty());
      });

  // --- Sync with central ---
  add("POST", "/v1/admin/sync/export", Access::kPermission, Permission::kSync,
      "a signed sync request with everything central has not acknowledged (binary bundle; "
      "?armor=true: the armored text)",
      [c, fail](const Principal& p, net::Request& req) {
        const std::string armor = QueryOr(req, "armor", "false");
        if (armor != "true" && armor != "false") {
          return fail(req, InvalidArgument("query parameter 'armor' must be true (armored text) "
                                           "or false (binary), not '" +
                                           armor + "'"));
        }
        auto exported = c.sync->Export(p.actor());
        if (!exported.ok()) return fail(req, exported.status());
        net::Response res;
        if (armor == "true") {
          res.content_type = "text/plain; charset=utf-8";
          res.body = outpost::sync::Armor(exported->bundle, v1::BUNDLE_KIND_SYNC_REQUEST);
        } else {
          res.content_type = "application/octet-stream";
          res.body = outpost::sync::SerializeBundle(exported->bundle);
        }
        res.headers.emplace_back("x-outpost-sequence", std::to_string(exported->sequence));
        res.headers.emplace_back("x-outpost-usage-reports",
                                 std::to_string(exported->usage_reports));
        res.headers.emplace_back("x-outpost-moves", std::to_string(exported->moves));
        res.headers.emplace_back("x-outpost-conversions", std::to_string(exported->conversions));
        return res;
      });
  add("POST", "/v1/admin/sync/import", Access::kPermission, Permission::kSync,
      "import a sync response from central (body: the bundle, binary or armored)",
      [c, fail](const Principal& p, net::Request& req) {
        auto result = c.sync->Import(req.body, p.actor());
        if (!result.ok()) return fail(req, result.status());
        return net::Encode(req, *result);
      });
  add("POST", "/v1/admin/sync/now", Access::kPermission, Permission::kSync,
      "sync with central online now (export, send, import)",
      [c, fail](const Principal& p, net::Request& req) {
        auto result = c.sync->SyncNow(p.actor());
        if (!result.ok()) return fail(req, result.status());
        return net::Encode(req, *result);
      });
  add("GET", "/v1/admin/sync/status", Access::kPermission, Permission::kReadLicenses,
      "enrollment, last export and import, SYNC_OVERDUE, pending items, online failures",
      [c](const Principal&, net::Request& req) { return net::Encode(req, c.sync->GetStatus()); });
  add("POST", "/v1/admin/conversions", Access::kPermission, Permission::kConvertLicenses,
      "queue a traditional-license conversion for the next sync",
      [c, fail](const Principal& p, net::Request& req) {
        auto body = Decode<v1::ConvertRequest>(req);
        if (!body.ok()) return fail(req, body.status());
        auto out = c.sync->QueueConversion(body->key(), body->va(), p);
        if (!out.ok()) return fail(req, out.status());
        return net::Encode(req, *out, 201);
      });
  add("GET", "/v1/admin/conversions", Access::kPermission, Permission::kReadLicenses,
      "traditional-license conversions and their results",
      [c, fail](const Principal&, net::Request& req) {
        auto out = c.sync->Conversions();
        if (!out.ok()) return fail(req, out.status());
        return net::Encode(req, *out);
      });

  // --- Audit trail ---
  add("GET", "/v1/admin/audit/records", Access::kPermission, Permission::kReadAudit,
      "one page of audit records (jsonl or csv) with filters; follow x-outpost-next-after "
      "(?order=desc: newest first, follow x-outpost-next-before)",
      [c, fail](const Principal&, net::Request& req) {
        auto filter = FilterFrom(req);
        if (!filter.ok()) return fail(req, filter.status());
        auto format = audit::ParseExportFormat(QueryOr(req, "format", "jsonl"));
        if (!format.ok()) return fail(req, format.status());
        const std::string order = QueryOr(req, "order", "asc");
        if (order != "asc" && order != "desc") {
          return fail(req, InvalidArgument("query parameter 'order' must be asc (oldest first) "
                                           "or desc (newest first), not '" +
                                           order + "'"));
        }
        const bool newest_first = order == "desc";
        if (req.query.count(newest_first ? "after" : "before") > 0) {
          return fail(
              req, InvalidArgument(
                       newest_first ? "query parameter 'after' pages oldest first; with order=desc "
                                      "pass 'before' (the x-outpost-next-before of the last page)"
                                    : "query parameter 'before' pages newest first; add "
                                      "order=desc, or pass 'after' to page oldest first"));
        }
        auto bound = ParseCount(newest_first ? "before" : "after",
                                QueryOr(req, newest_first ? "before" : "after", "0"), 0, INT64_MAX);
        if (!bound.ok()) return fail(req, bound.status());
        auto limit = ParseCount("limit", QueryOr(req, "limit", "1000"), 1, kMaxPageRecords);
        if (!limit.ok()) return fail(req, limit.status());
        auto lease = c.readers->Acquire();
        if (!lease.ok()) return fail(req, lease.status());
        auto page = newest_first
                        ? audit::ExportPageNewestFirst(**lease, *filter, *format, *bound, *limit)
                        : audit::ExportPage(**lease, *filter, *format, *bound, *limit);
        if (!page.ok()) return fail(req, page.status());
        net::Response res;
        res.content_type = *format == audit::ExportFormat::kCsv ? "text/csv; charset=utf-8"
                                                                : "application/x-ndjson";
        res.body = std::move(page->text);
        res.headers.emplace_back(newest_first ? "x-outpost-next-before" : "x-outpost-next-after",
                                 std::to_string(page->next_after_seq));
        res.headers.emplace_back("x-outpost-more", page->more ? "true" : "false");
        return res;
      });
  add("GET", "/v1/admin/audit/head", Access::kPermission, Permission::kReadAudit,
      "the newest audit record's sequence number and hash",
      [c, fail](const Principal&, net::Request& req) {
        auto lease = c.readers->Acquire();
        if (!lease.ok()) return fail(req, lease.status());
        auto head = audit::CurrentHead(**lease);
        if (!head.ok()) return fail(req, head.status());
        return net::Encode(req, audit::ToProto(*head));
      });
  add("POST", "/v1/admin/audit/verify", Access::kPermission, Permission::kVerifyAudit,
      "recompute the hash chain and check checkpoint signatures (body, optional: an AuditHead "
      "saved earlier, which the chain must still hold)",
      [c, fail](const Principal&, net::Request& req) {
        auto body = Decode<v1::AuditHead>(req);
        if (!body.ok()) return fail(req, body.status());
        std::optional<audit::SavedHead> saved;
        if (body->seq() != 0 || !body->hash().empty()) {
          auto parsed = audit::SavedHeadFromProto(*body, "the saved head");
          if (!parsed.ok()) return fail(req, parsed.status());
          saved = std::move(*parsed);
        }
        auto lease = c.readers->Acquire();
        if (!lease.ok()) return fail(req, lease.status());
        auto report = audit::Verify(**lease, c.signing_key->public_key(),
                                    saved.has_value() ? &*saved : nullptr);
        if (!report.ok()) return fail(req, report.status());
        return net::Encode(req, audit::ToProto(*report));
      });
  add("POST", "/v1/admin/audit/checkpoint", Access::kPermission, Permission::kSignCheckpoint,
      "sign a checkpoint of the current head now", [c, fail](const Principal&, net::Request& req) {
        Status s = c.writer->Run([&c](sqlite::Connection& db) {
          return audit::SignCheckpoint(db, *c.signing_key, c.clock->Now());
        });
        if (!s.ok()) return fail(req, s);
        auto lease = c.readers->Acquire();
        if (!lease.ok()) return fail(req, lease.status());
        auto head = audit::CurrentHead(**lease);
        if (!head.ok()) return fail(req, head.status());
        return net::Encode(req, audit::ToProto(*head));
      });
  // Sealed segments (server/audit/archive.h): seal, fetch the records page by page, commit once
  // the file is durable. Only the commit removes anything.
  add("POST", "/v1/admin/audit/archive/seal", Access::kPermission, Permission::kManageConfig,
      "seal the audit records before a time for archiving (signs the closing checkpoint; "
      "removes nothing)",
      [c, fail](const Principal&, net::Request& req) {
        auto body = Decode<v1::AuditArchiveSealRequest>(req);
        if (!body.ok()) return fail(req, body.status());
        v1::AuditArchiveSegment segment;
        Status s = c.writer->Run([&](sqlite::Connection& db) -> Status {
          OUTPOST_ASSIGN_OR_RETURN(std::string satellite_id, audit::StoredSatelliteId(db));
          const TimePoint before{std::chrono::milliseconds(body->before_ms())};
          OUTPOST_ASSIGN_OR_RETURN(segment, audit::SealSegment(db, *c.signing_key, satellite_id,
                                                               before, c.clock->Now()));
          return Status::Ok();
        });
        if (!s.ok()) return fail(req, s);
        return net::Encode(req, segment);
      });
  add("GET", "/v1/admin/audit/archive/records", Access::kPermission, Permission::kManageConfig,
      "one page of a sealed segment's records (after, through, limit), each re-verified",
      [c, fail](const Principal&, net::Request& req) {
        auto after = ParseCount("after", QueryOr(req, "after", "0"), 0, INT64_MAX);
        if (!after.ok()) return fail(req, after.status());
        auto through = ParseCount("through", QueryOr(req, "through", "0"), 0, INT64_MAX);
        if (!through.ok()) return fail(req, through.status());
        auto limit = ParseCount("limit", QueryOr(req, "limit", "1000"), 1, kMaxPageRecords);
        if (!limit.ok()) return fail(req, limit.status());
        auto lease = c.readers->Acquire();
        if (!lease.ok()) return fail(req, lease.status());
        v1::AuditArchive page;
        Status s = audit::ReadSegmentRecords(**lease, c.signing_key->public_key(), *after, *through,
                                             *limit, [&page](const v1::AuditArchiveRecord& r) {
                                               *page.add_records() = r;
                                               return Status::Ok();
                                             });
        if (!s.ok()) return fail(req, s);
        return net::Encode(req, page);
      });
  add("POST", "/v1/admin/audit/archive/commit", Access::kPermission, Permission::kManageConfig,
      "the sealed segment is in a durable archive file: record it and remove its records",
      [c, fail](const Principal& p, net::Request& req) {
        auto body = Decode<v1::AuditArchiveSegment>(req);
        if (!body.ok()) return fail(req, body.status());
        auto out = audit::CommitSegment(*c.writer, c.signing_key->public_key(), *body, p.actor(),
                                        *c.clock);
        if (!out.ok()) return fail(req, out.status());
        return net::Encode(req, *out);
      });
  add("GET", "/v1/admin/audit/checkpoints", Access::kPermission, Permission::kReadAudit,
      "every signed checkpoint with its signature, each checked",
      [c, fail](const Principal&, net::Request& req) {
        auto lease = c.readers->Acquire();
        if (!lease.ok()) return fail(req, lease.status());
        auto list = audit::ListCheckpoints(**lease, c.signing_key->public_key());
        if (!list.ok()) return fail(req, list.status());
        return net::Encode(req, *list);
      });
  add("POST", "/v1/admin/audit/alarm/acknowledge", Access::kPermission, Permission::kManageConfig,
      "clear the AUDIT_TRUNCATED alarm after investigating it (body: a reason, kept in the audit "
      "trail)",
      [c, fail](const Principal& p, net::Request& req) {
        auto body = Decode<v1::AcknowledgeAuditAlarmRequest>(req);
        if (!body.ok()) return fail(req, body.status());
        auto status = c.sync->AcknowledgeAuditAlarm(body->reason(), p.actor());
        if (!status.ok()) return fail(req, status.status());
        return net::Encode(req, *status);
      });
  add("POST", "/v1/admin/audit/compare-heads", Access::kPermission, Permission::kVerifyAudit,
      "compare the audit heads central holds (body: CentralAuditHeadList) with the chain",
      [c, fail](const Principal&, net::Request& req) {
        auto body = Decode<v1::CentralAuditHeadList>(req);
        if (!body.ok()) return fail(req, body.status());
        auto lease = c.readers->Acquire();
        if (!lease.ok()) return fail(req, lease.status());
        auto report = audit::CompareHeads(**lease, *body, c.signing_key->public_key());
        if (!report.ok()) return fail(req, report.status());
        return net::Encode(req, *report);
      });

  // --- Configuration ---
  add("POST", "/v1/admin/reload", Access::kPermission, Permission::kReloadConfig,
      "re-read outpost.toml and the TLS files without a restart (like SIGHUP); says what "
      "changed and what needs a restart",
      [c, fail](const Principal& p, net::Request& req) {
        if (!c.reload) return fail(req, Unavailable("this server cannot reload its configuration"));
        auto report = c.reload(p.actor());
        if (!report.ok()) return fail(req, report.status());
        return net::Encode(req, *report);
      });
  for (RouteDef& def : ConsoleRoutes(c)) r.push_back(std::move(def));
  return r;
}

}  // namespace

const std::vector<AdminRouteSpec>& AdminRouteTable() {
  static const std::vector<AdminRouteSpec> table = [] {
    std::vector<AdminRouteSpec> out;
    for (auto& def : MakeRoutes(AdminContext{})) out.push_back(def.spec);
    return out;
  }();
  return table;
}

namespace {

// The routes whose work is a password hash (scrypt, ~0.1-0.3 s of CPU each).
bool HashesAPassword(const AdminRouteSpec& spec) {
  return spec.method == "POST" &&
         (spec.pattern == "/v1/admin/login" || spec.pattern == "/v1/admin/users" ||
          spec.pattern == "/v1/admin/users/{name}/password" ||
          spec.pattern == "/v1/admin/password");
}

net::Response Busy(const net::Request& req, Status status, int retry_after_seconds) {
  net::Response res = net::ErrorResponse(req, status);
  res.headers.emplace_back("Retry-After", std::to_string(retry_after_seconds));
  return res;
}

}  // namespace

void AddAdminRoutes(net::Router& router, AdminContext context) {
  for (auto& def : MakeRoutes(context)) {
    const bool password_work = HashesAPassword(def.spec) && context.run_password_work;
    const bool is_login = def.spec.pattern == "/v1/admin/login";
    router.Add(
        def.spec.method, def.spec.pattern,
        [c = context, spec = def.spec, fn = std::move(def.fn), password_work, is_login](
            net::Request& req, net::Reply reply) {
          if (is_login && c.login_limiter != nullptr) {
            if (auto wait = c.login_limiter->Take(req.remote_address)) {
              return reply(
                  Busy(req,
                       ResourceExhausted("too many logins from " + req.remote_address + " (limit " +
                                         std::to_string(c.login_limiter->per_minute()) +
                                         " per minute); retry in " + DurationText(*wait)),
                       *wait));
            }
          }
          // The request object lives only as long as this call: hand a copy to the
          // blocking worker. The reply is shared so that a refused task can still answer.
          auto answer = std::make_shared<net::Reply>(std::move(reply));
          auto work = [c, spec, fn, req, answer]() mutable {
            Principal principal;
            if (spec.access != Access::kPublic) {
              auto who = auth::Authenticate(*c.auth, req);
              if (!who.ok()) return (*answer)(net::ErrorResponse(req, who.status()));
              principal = std::move(*who);
              if (spec.permission) {
                if (Status s = auth::Require(principal, *spec.permission); !s.ok()) {
                  return (*answer)(net::ErrorResponse(req, s));
                }
              }
            }
            (*answer)(fn(principal, req));
          };
          if (!password_work) return c.run_blocking(std::move(work));
          if (!c.run_password_work(std::move(work))) {
            (*answer)(Busy(req,
                           Unavailable("too many password checks are waiting; retry in a "
                                       "few seconds (API-key requests are not affected)"),
                           2));
          }
        });
  }
}

}  // namespace outpost::server::api
