// `outpost token ...`: registration tokens for devices (/v1/admin/tokens).

#include <iostream>
#include <memory>

#include "cli/commands.h"
#include "cli/connection.h"
#include "cli/output.h"
#include "outpost/v1/common.pb.h"
#include "outpost/v1/tokens.pb.h"

namespace outpost::cli {
namespace {

struct TokenFlags {
  ConnectionFlags connection;
  std::string va;
  int expires_days = 0;
  int64_t max_uses = 0;
  std::string description;
  bool export_controlled = false;
  std::string id;
  // Set when the option was given (absent means "policy default" / "unlimited").
  CLI::Option* expires_days_option = nullptr;
  CLI::Option* max_uses_option = nullptr;
};

std::string MaxUsesText(const v1::Token& t) {
  return t.max_uses() == 0 ? "unlimited" : std::to_string(t.max_uses());
}

std::string UsesText(const v1::Token& t) {
  return t.max_uses() == 0 ? std::to_string(t.uses())
                           : std::to_string(t.uses()) + "/" + std::to_string(t.max_uses());
}

void PrintToken(const v1::Token& t) {
  PrintFields(std::cout, {{"id", t.id()},
                          {"virtual account", t.va()},
                          {"state", t.state()},
                          {"expires", t.expires_at_text()},
                          {"uses", std::to_string(t.uses()) + " of " + MaxUsesText(t)},
                          {"export-controlled", t.export_controlled() ? "allowed" : "not allowed"},
                          {"description", OrDefault(t.description(), "(none)")},
                          {"created by", t.created_by()}});
}

int RunCreate(const GlobalFlags& g, const TokenFlags& f) {
  auto client = ConnectToSatellite(f.connection);
  if (!client.ok()) return Fail(client.status());
  v1::CreateTokenRequest request;
  request.set_va(f.va);
  if (f.expires_days_option->count() > 0) request.set_expires_days(f.expires_days);
  if (f.max_uses_option->count() > 0) request.set_max_uses(f.max_uses);
  request.set_description(f.description);
  request.set_export_controlled(f.export_controlled);
  v1::CreateTokenResponse created;
  if (auto s = (*client)->Call("POST", "/v1/admin/tokens", request, &created); !s.ok()) {
    return Fail(s);
  }
  if (g.json) {
    PrintJson(created);
    return kExitOk;
  }
  std::cout << "Created token " << Printable(created.record().id()) << " for virtual account "
            << Printable(created.record().va()) << "\n"
            << "  " << Printable(created.token()) << "\n"
            << "This token is shown once; copy it now. The satellite keeps only its hash; if it "
               "is lost, revoke it (outpost token revoke "
            << Printable(created.record().id()) << ") and create another.\n";
  PrintToken(created.record());
  return kExitOk;
}

int RunList(const GlobalFlags& g, const TokenFlags& f) {
  auto client = ConnectToSatellite(f.connection);
  if (!client.ok()) return Fail(client.status());
  std::string target = "/v1/admin/tokens";
  if (!f.va.empty()) target += "?va=" + UrlEncode(f.va);
  v1::ListTokensResponse answer;
  if (auto s = (*client)->Call("GET", target, v1::Empty(), &answer); !s.ok()) return Fail(s);
  if (g.json) {
    PrintJson(answer);
    return kExitOk;
  }
  std::vector<std::vector<std::string>> rows;
  for (const auto& t : answer.tokens()) {
    rows.push_back({t.id(), t.va(), t.prefix(), UsesText(t), t.expires_at_text(), t.state(),
                    t.export_controlled() ? "yes" : "no", t.description()});
  }
  PrintTable(std::cout, {"ID", "VA", "PREFIX", "USES", "EXPIRES", "STATE", "EXPORT", "DESCRIPTION"},
             rows);
  return kExitOk;
}

int RunRevoke(const GlobalFlags& g, const TokenFlags& f) {
  auto client = ConnectToSatellite(f.connection);
  if (!client.ok()) return Fail(client.status());
  v1::Token token;
  if (auto s =
          (*client)->Call("DELETE", "/v1/admin/tokens/" + UrlEncode(f.id), v1::Empty(), &token);
      !s.ok()) {
    return Fail(s);
  }
  if (g.json) {
    PrintJson(token);
    return kExitOk;
  }
  std::cout << "Revoked token " << Printable(token.id()) << " of virtual account "
            << Printable(token.va()) << "; devices already registered with it stay registered.\n";
  return kExitOk;
}

}  // namespace

void AddTokenCommands(CLI::App& app, CommandLine& cli) {
  auto* token = app.add_subcommand("token", "Manage registration tokens for devices");
  token->require_subcommand(1);

  auto create_flags = std::make_shared<TokenFlags>();
  auto* create =
      AddConnectedCommand(token, cli, "create", "Create a registration token; it is shown once",
                          create_flags, RunCreate);
  create->add_option("--va", create_flags->va, "Virtual account devices register into")->required();
  create_flags->expires_days_option =
      create->add_option("--expires-days", create_flags->expires_days,
                         "Days until the token stops working (1 to policy.token_max_expiry_days; "
                         "default policy.token_default_expiry_days)");
  create_flags->max_uses_option =
      create->add_option("--max-uses", create_flags->max_uses,
                         "How many devices may register with it (default: no "
                         "limit)");
  create->add_option("--description", create_flags->description,
                     "What the token is for, e.g. \"rack 4 rollout\" (at most 256 bytes)");
  create->add_flag("--export-controlled", create_flags->export_controlled,
                   "Devices registered with it may use export-controlled features");

  auto list_flags = std::make_shared<TokenFlags>();
  AddConnectedCommand(token, cli, "list", "List registration tokens, never their secrets",
                      list_flags, RunList)
      ->add_option("--va", list_flags->va, "Only this virtual account's tokens");

  auto revoke_flags = std::make_shared<TokenFlags>();
  AddConnectedCommand(token, cli, "revoke",
                      "Revoke a token: no more registrations with it (registered devices stay)",
                      revoke_flags, RunRevoke)
      ->add_option("TOKEN_ID", revoke_flags->id, "Token id, as `outpost token list` shows it")
      ->required();
}

}  // namespace outpost::cli
