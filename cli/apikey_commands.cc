// `outpost apikey ...`: API keys of admin API users (/v1/admin/apikeys).

#include <iostream>
#include <memory>

#include "cli/commands.h"
#include "cli/connection.h"
#include "cli/output.h"
#include "common/config/duration.h"
#include "common/time.h"
#include "outpost/v1/admin_auth.pb.h"
#include "outpost/v1/common.pb.h"
#include "server/api/admin_routes.h"

namespace outpost::cli {
namespace {

struct ApiKeyFlags {
  ConnectionFlags connection;
  std::string user;
  std::string description;
  bool all = false;
  std::string id;
  std::string expires_in;  // "90d"
  std::string expires;     // "2026-12-31" or RFC 3339
};

// `now` is the CLI's clock: only for telling expired from active in a listing; the satellite
// decides (and its clock) at authentication.
std::string KeyStatus(const v1::ApiKey& key, int64_t now) {
  if (key.revoked_at() != 0) return "revoked " + key.revoked_at_text();
  if (key.expires_at() != 0 && key.expires_at() <= now) return "expired";
  return "active";
}

// Sets the request's expiry from --expires-in or --expires; kInvalidArgument naming the flag.
Status SetExpiry(const ApiKeyFlags& f, v1::CreateApiKeyRequest& request) {
  if (!f.expires_in.empty()) {
    auto d = config::ParseDuration(f.expires_in);
    if (!d.ok()) {
      return InvalidArgument("--expires-in " + f.expires_in + ": " + d.status().message() +
                             "; e.g. --expires-in 90d");
    }
    const int64_t seconds = std::chrono::duration_cast<std::chrono::seconds>(*d).count();
    if (seconds <= 0) return InvalidArgument("--expires-in must be longer than 0s, e.g. 90d");
    request.set_expires_in_seconds(seconds);
  } else if (!f.expires.empty()) {
    auto t = ParseRfc3339(f.expires);
    if (!t.ok()) return t.status().WithContext("--expires");
    request.set_expires_at(ToUnixSeconds(*t));
  }
  return Status::Ok();
}

int RunCreate(const GlobalFlags& g, const ApiKeyFlags& f) {
  v1::CreateApiKeyRequest request;
  request.set_user(f.user);
  request.set_description(f.description);
  if (Status s = SetExpiry(f, request); !s.ok()) return UsageError(s.message());
  auto client = ConnectToSatellite(f.connection);
  if (!client.ok()) return Fail(client.status());
  v1::CreateApiKeyResponse created;
  if (auto s = (*client)->Call("POST", "/v1/admin/apikeys", request, &created); !s.ok()) {
    return Fail(s);
  }
  if (g.json) {
    PrintJson(created);
    return kExitOk;
  }
  const v1::ApiKey& key = created.api_key();
  std::cout << "Created API key " << Printable(key.id()) << " for user " << Printable(key.user())
            << "\n"
            << "  " << Printable(created.key()) << "\n"
            << (key.expires_at() != 0 ? "It expires on " + key.expires_at_text() + ".\n"
                                      : std::string("It does not expire.\n"))
            << "This key is shown once; store it now. The satellite keeps only its hash; if it "
               "is lost, revoke it (outpost apikey revoke "
            << Printable(key.id()) << ") and create another.\n";
  return kExitOk;
}

int RunList(const GlobalFlags& g, const ApiKeyFlags& f) {
  auto client = ConnectToSatellite(f.connection);
  if (!client.ok()) return Fail(client.status());
  std::string target = "/v1/admin/apikeys";
  if (f.all) {
    target += "?all=true";
  } else if (!f.user.empty()) {
    target += "?user=" + UrlEncode(f.user);
  }
  v1::ListApiKeysResponse answer;
  if (auto s = (*client)->Call("GET", target, v1::Empty(), &answer); !s.ok()) return Fail(s);
  if (g.json) {
    PrintJson(answer);
    return kExitOk;
  }
  const int64_t now = ToUnixSeconds(SystemClock().Now());
  std::vector<std::vector<std::string>> rows;
  for (const auto& k : answer.api_keys()) {
    rows.push_back({k.id(), k.user(), k.description(), k.created_at_text(),
                    OrDefault(k.last_used_at_text(), "never"),
                    OrDefault(k.expires_at_text(), "never"), KeyStatus(k, now)});
  }
  PrintTable(std::cout, {"ID", "USER", "DESCRIPTION", "CREATED", "LAST USED", "EXPIRES", "STATUS"},
             rows);
  return kExitOk;
}

int RunRevoke(const GlobalFlags& g, const ApiKeyFlags& f) {
  auto client = ConnectToSatellite(f.connection);
  if (!client.ok()) return Fail(client.status());
  v1::ApiKey key;
  if (auto s = (*client)->Call("DELETE", "/v1/admin/apikeys/" + UrlEncode(f.id), v1::Empty(), &key);
      !s.ok()) {
    return Fail(s);
  }
  if (g.json) {
    PrintJson(key);
    return kExitOk;
  }
  std::cout << "Revoked API key " << Printable(f.id);
  if (!key.user().empty()) std::cout << " of user " << Printable(key.user());
  std::cout << "\n";
  return kExitOk;
}

}  // namespace

void AddApiKeyCommands(CLI::App& app, CommandLine& cli) {
  auto* apikey = app.add_subcommand("apikey", "Manage API keys (bearer credentials of users)");
  apikey->require_subcommand(1);

  auto create_flags = std::make_shared<ApiKeyFlags>();
  auto* create = AddConnectedCommand(apikey, cli, "create", "Create an API key; it is shown once",
                                     create_flags, RunCreate);
  create->add_option("--user", create_flags->user,
                     "Whose key (default: the caller; another user needs the admin role)");
  create->add_option("--description", create_flags->description,
                     "What the key is for, e.g. \"nightly export\" (at most 256 bytes)");
  auto* expires_in = create->add_option(
      "--expires-in", create_flags->expires_in,
      "Lifetime, e.g. 90d or 12h (at most 10 years); default: the key never expires");
  create
      ->add_option("--expires", create_flags->expires,
                   "Expiry date, e.g. 2026-12-31 (UTC midnight) or 2026-12-31T18:00:00Z")
      ->excludes(expires_in);

  auto list_flags = std::make_shared<ApiKeyFlags>();
  auto* list = AddConnectedCommand(apikey, cli, "list",
                                   "List API keys (default: your own), never their secrets",
                                   list_flags, RunList);
  auto* user = list->add_option("--user", list_flags->user,
                                "Only this user's keys (another user's: admin or auditor)");
  list->add_flag("--all", list_flags->all, "Every user's keys (admin or auditor)")->excludes(user);

  auto revoke_flags = std::make_shared<ApiKeyFlags>();
  AddConnectedCommand(apikey, cli, "revoke", "Revoke an API key: it stops working at once",
                      revoke_flags, RunRevoke)
      ->add_option("ID", revoke_flags->id, "Key id, as `outpost apikey list` shows it")
      ->required();
}

}  // namespace outpost::cli
