// `outpost user ...` and `outpost whoami`: users of the admin API (/v1/admin/users).

#include <iostream>
#include <memory>

#include "cli/commands.h"
#include "cli/connection.h"
#include "cli/input.h"
#include "cli/output.h"
#include "outpost/v1/admin_auth.pb.h"
#include "outpost/v1/common.pb.h"

namespace outpost::cli {
namespace {

struct UserFlags {
  ConnectionFlags connection;
  std::string name;
  std::string role;
  bool password_stdin = false;
  std::string current_password;  // `passwd`: "-" or "@FILE"
  std::string new_password;      // `passwd`: "@FILE" (or --password-stdin)
};

std::string UserTarget(const std::string& name, std::string_view action) {
  return "/v1/admin/users/" + UrlEncode(name) + "/" + std::string(action);
}

// --password-stdin and --api-key - cannot both have standard input.
bool StdinClaimedTwice(const UserFlags& f) {
  return f.password_stdin && f.connection.api_key == "-";
}

void PrintUser(const v1::User& user) {
  PrintFields(std::cout,
              {{"user", user.name()},
               {"role", user.role()},
               {"status", user.disabled() ? "disabled" : "active"},
               {"login", user.has_password() ? "password and API keys" : "API keys only"},
               {"created", user.created_at_text()},
               {"created by", user.created_by()}});
}

int RunUserAdd(const GlobalFlags& g, const UserFlags& f) {
  if (StdinClaimedTwice(f)) {
    return UsageError(
        "--password-stdin and --api-key - both need standard input; pass the "
        "API key another way (--api-key KEY, OUTPOST_API_KEY or --data-dir)");
  }
  v1::CreateUserRequest request;
  request.set_name(f.name);
  request.set_role(f.role);
  // Connect first: a missing connection flag must not cost the operator a typed password.
  auto client = ConnectToSatellite(f.connection);
  if (!client.ok()) return Fail(client.status());
  if (f.password_stdin) {
    auto password = ReadPasswordFromStdin(f.name);
    if (!password.ok()) return Fail(password.status());
    request.set_password(*password);
  }
  v1::User user;
  if (auto s = (*client)->Call("POST", "/v1/admin/users", request, &user); !s.ok()) {
    return Fail(s);
  }
  if (g.json) {
    PrintJson(user);
    return kExitOk;
  }
  std::cout << "Created user " << Printable(user.name()) << "\n";
  PrintUser(user);
  std::cout << "Next: outpost apikey create --user " << Printable(user.name())
            << " (an API key for the CLI and scripts)\n";
  return kExitOk;
}

int RunUserList(const GlobalFlags& g, const UserFlags& f) {
  auto client = ConnectToSatellite(f.connection);
  if (!client.ok()) return Fail(client.status());
  v1::ListUsersResponse answer;
  if (auto s = (*client)->Call("GET", "/v1/admin/users", v1::Empty(), &answer); !s.ok()) {
    return Fail(s);
  }
  if (g.json) {
    PrintJson(answer);
    return kExitOk;
  }
  std::vector<std::vector<std::string>> rows;
  for (const auto& u : answer.users()) {
    rows.push_back({u.name(), u.role(), u.disabled() ? "disabled" : "active",
                    u.has_password() ? "password" : "API keys only", u.created_at_text(),
                    u.created_by()});
  }
  PrintTable(std::cout, {"NAME", "ROLE", "STATUS", "LOGIN", "CREATED", "CREATED BY"}, rows);
  return kExitOk;
}

// disable, enable and passwd: one POST that answers with the user as it is afterwards.
int RunUserChange(const GlobalFlags& g, const UserFlags& f, std::string_view action,
                  std::string_view done) {
  if (StdinClaimedTwice(f)) {
    return UsageError(
        "--password-stdin and --api-key - both need standard input; pass the "
        "API key another way (--api-key KEY, OUTPOST_API_KEY or --data-dir)");
  }
  auto client = ConnectToSatellite(f.connection);
  if (!client.ok()) return Fail(client.status());
  v1::User user;
  Status s;
  if (action == "password") {
    auto password = ReadPasswordFromStdin(f.name);
    if (!password.ok()) return Fail(password.status());
    v1::SetPasswordRequest request;
    request.set_password(*password);
    s = (*client)->Call("POST", UserTarget(f.name, action), request, &user);
  } else {
    s = (*client)->Call("POST", UserTarget(f.name, action), v1::Empty(), &user);
  }
  if (!s.ok()) return Fail(s);
  if (g.json) {
    PrintJson(user);
    return kExitOk;
  }
  std::cout << done << " user " << Printable(user.name()) << "\n";
  PrintUser(user);
  return kExitOk;
}

// `outpost passwd`: the caller changes their own password; the satellite checks the current one.
int RunPasswd(const GlobalFlags& g, const UserFlags& f) {
  // Two secrets, so at most one of them (or the API key) may come from standard input; neither
  // may be a literal argument (the process list and shell history would keep it).
  const bool current_from_stdin = f.current_password == "-";
  if (!current_from_stdin && !f.current_password.starts_with("@")) {
    return UsageError(
        "--current-password takes - (standard input) or @FILE, never the password itself (it "
        "would show in the process list and shell history)");
  }
  if (f.password_stdin == !f.new_password.empty()) {
    return UsageError(
        "give the new password with --password-stdin or --new-password @FILE (one of them)");
  }
  if (!f.new_password.empty() && !f.new_password.starts_with("@")) {
    return UsageError("--new-password takes @FILE, never the password itself");
  }
  const int stdin_readers = (current_from_stdin ? 1 : 0) + (f.password_stdin ? 1 : 0) +
                            (f.connection.api_key == "-" ? 1 : 0);
  if (stdin_readers > 1) {
    return UsageError(
        "only one of --current-password -, --password-stdin and --api-key - can read standard "
        "input; put the other secret in a file (@FILE), e.g. --current-password @old.txt");
  }
  auto client = ConnectToSatellite(f.connection);
  if (!client.ok()) return Fail(client.status());
  auto current = ReadSecretArgument(f.current_password, "--current-password");
  if (!current.ok()) return Fail(current.status());
  Result<std::string> fresh = f.password_stdin
                                  ? ReadPasswordFromStdin("your user")
                                  : ReadSecretArgument(f.new_password, "--new-password");
  if (!fresh.ok()) return Fail(fresh.status());
  v1::ChangePasswordRequest request;
  request.set_current_password(*current);
  request.set_new_password(*fresh);
  v1::Empty answer;
  if (auto s = (*client)->Call("POST", "/v1/admin/password", request, &answer); !s.ok()) {
    return Fail(s);
  }
  if (g.json) {
    PrintJson(answer);
    return kExitOk;
  }
  std::cout << "Changed your password; your console sessions have ended (log in again). API "
               "keys are not affected.\n";
  return kExitOk;
}

int RunWhoAmI(const GlobalFlags& g, const ConnectionFlags& connection) {
  auto client = ConnectToSatellite(connection);
  if (!client.ok()) return Fail(client.status());
  v1::WhoAmIResponse me;
  if (auto s = (*client)->Call("GET", "/v1/admin/whoami", v1::Empty(), &me); !s.ok()) {
    return Fail(s);
  }
  if (g.json) {
    PrintJson(me);
    return kExitOk;
  }
  std::string permissions;
  for (const auto& p : me.permissions()) {
    permissions += (permissions.empty() ? "" : ", ") + p;
  }
  PrintFields(std::cout, {{"user", me.user()},
                          {"role", me.role()},
                          {"credential", me.credential()},
                          {"permissions", OrDefault(permissions, "(none)")}});
  return kExitOk;
}

}  // namespace

void AddUserCommands(CLI::App& app, CommandLine& cli) {
  auto* user = app.add_subcommand("user", "Manage the users of the admin API and console");
  user->require_subcommand(1);

  auto add_flags = std::make_shared<UserFlags>();
  auto* add = AddConnectedCommand(user, cli, "add", "Create a user", add_flags, RunUserAdd);
  add->add_option("NAME", add_flags->name, "User name: 1 to 64 of a-z 0-9 . _ -")->required();
  add->add_option("--role", add_flags->role, "What the user may do")
      ->required()
      ->check(CLI::IsMember({"admin", "operator", "auditor"}));
  add->add_flag("--password-stdin", add_flags->password_stdin,
                "Read a console password from standard input (prompted when it is a terminal); "
                "without it the user has API keys only");

  auto list_flags = std::make_shared<UserFlags>();
  AddConnectedCommand(user, cli, "list", "List users (admin or auditor; read-only)", list_flags,
                      RunUserList);

  auto disable_flags = std::make_shared<UserFlags>();
  AddConnectedCommand(user, cli, "disable",
                      "Disable a user: their API keys and console sessions stop working",
                      disable_flags,
                      [](const GlobalFlags& g, const UserFlags& f) {
                        return RunUserChange(g, f, "disable", "Disabled");
                      })
      ->add_option("NAME", disable_flags->name, "User to disable")
      ->required();

  auto enable_flags = std::make_shared<UserFlags>();
  AddConnectedCommand(user, cli, "enable", "Enable a disabled user", enable_flags,
                      [](const GlobalFlags& g, const UserFlags& f) {
                        return RunUserChange(g, f, "enable", "Enabled");
                      })
      ->add_option("NAME", enable_flags->name, "User to enable")
      ->required();

  auto passwd_flags = std::make_shared<UserFlags>();
  auto* passwd = AddConnectedCommand(
      user, cli, "passwd",
      "Set another user's console password (admin; for your own use `outpost passwd`)",
      passwd_flags, [](const GlobalFlags& g, const UserFlags& f) {
        return RunUserChange(g, f, "password", "Set the password of");
      });
  passwd->add_option("NAME", passwd_flags->name, "User whose password to set")->required();
  passwd
      ->add_flag("--password-stdin", passwd_flags->password_stdin,
                 "Read the new password from standard input (prompted when it is a terminal)")
      ->required();

  auto self_flags = std::make_shared<UserFlags>();
  auto* self = AddConnectedCommand(&app, cli, "passwd",
                                   "Change your own console password (needs the current one)",
                                   self_flags, RunPasswd);
  self->add_option("--current-password", self_flags->current_password,
                   "Your current password: - reads standard input, @FILE reads FILE")
      ->required();
  self->add_flag("--password-stdin", self_flags->password_stdin,
                 "Read the new password from standard input (prompted twice on a terminal)");
  self->add_option("--new-password", self_flags->new_password, "Read the new password from @FILE");

  auto whoami_flags = std::make_shared<ConnectionFlags>();
  auto* whoami = app.add_subcommand("whoami", "Show the user and role of the API key in use");
  AddConnectionFlags(whoami, whoami_flags.get());
  whoami->callback([&cli, whoami_flags] {
    cli.run = [&cli, whoami_flags] { return RunWhoAmI(cli.global, *whoami_flags); };
  });
}

}  // namespace outpost::cli
