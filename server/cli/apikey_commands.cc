// `outpost apikey ...`: API keys of admin API users (/v1/admin/apikeys).

#include <iostream>
#include <memory>

#include "outpost/v1/admin_auth.pb.h"
#include "outpost/v1/common.pb.h"
#include "server/cli/commands.h"
#include "server/cli/connection.h"
#include "server/cli/output.h"

namespace outpost::cli {
namespace {

struct ApiKeyFlags {
  ConnectionFlags connection;
  std::string user;
  std::string description;
  bool all = false;
  std::string id;
};

std::string KeyStatus(const v1::ApiKey& key) {
  return key.revoked_at() != 0 ? "revoked " + key.revoked_at_text() : "active";
}

int RunCreate(const GlobalFlags& g, const ApiKeyFlags& f) {
  auto client = ConnectToSatellite(f.connection);
  if (!client.ok()) return Fail(client.status());
  v1::CreateApiKeyRequest request;
  request.set_user(f.user);
  request.set_description(f.description);
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
  std::vector<std::vector<std::string>> rows;
  for (const auto& k : answer.api_keys()) {
    rows.push_back({k.id(), k.user(), k.description(), k.created_at_text(),
                    OrDefault(k.last_used_at_text(), "never"), KeyStatus(k)});
  }
  PrintTable(std::cout, {"ID", "USER", "DESCRIPTION", "CREATED", "LAST USED", "STATUS"}, rows);
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
