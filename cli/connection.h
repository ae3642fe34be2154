#pragma once

// How the CLI finds and talks to a running satellite's admin API.

#include <google/protobuf/message.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <memory>
#include <string>
#include <string_view>

#include "cli/commands.h"
#include "common/config/config_file.h"
#include "common/net/https_client.h"
#include "common/status.h"

namespace outpost::cli {

// The connection flags of every command that talks to a running satellite.
struct ConnectionFlags {
  std::string server;    // --server URL
  std::string api_key;   // --api-key KEY ("-": read it from standard input)
  std::string ca;        // --ca FILE
  std::string data_dir;  // --data-dir DIR
};

// Adds --server, --api-key, --ca and --data-dir to `command`.
void AddConnectionFlags(CLI::App* command, ConnectionFlags* flags);

// Adds the subcommand `name` to `group` with the connection flags bound to flags->connection;
// when the parser picks it, cli.run calls run(global flags, *flags).
template <typename Flags, typename Run>
CLI::App* AddConnectedCommand(CLI::App* group, CommandLine& cli, const std::string& name,
                              const std::string& description, std::shared_ptr<Flags> flags,
                              Run run) {
  auto* command = group->add_subcommand(name, description);
  AddConnectionFlags(command, &flags->connection);
  command->callback(
      [&cli, flags, run] { cli.run = [&cli, flags, run] { return run(cli.global, *flags); }; });
  return command;
}

// What to connect to, and where each piece came from (for messages), e.g. "--server",
// "OUTPOST_API_KEY", "/var/outpost/admin.apikey".
struct SatelliteConnection {
  std::string server_url;  // "https://HOST:PORT"
  std::string server_source;
  std::string api_key;
  std::string api_key_source;
  std::string ca_pem;
  std::string ca_source;
};

// Resolves each of server, API key and CA on its own: the flag, else its environment variable
// (OUTPOST_SERVER, OUTPOST_API_KEY, OUTPOST_CA), else the data directory (--data-dir, else
// OUTPOST_DATA_DIR): "https://" + `listen` of DIR/outpost.toml (0.0.0.0 -> 127.0.0.1, :: -> ::1),
// the contents of DIR/admin.apikey (whitespace trimmed) and DIR/ca.pem. An API key of "-" is read
// from standard input. Errors (kInvalidArgument, or the file's error) name every missing piece
// and the flag, variable or file that would provide it.
Result<SatelliteConnection> ResolveConnection(const ConnectionFlags& flags,
                                              const config::GetEnv& getenv);

// Ok unless `dir` (given by `source`, e.g. "--data-dir") is recognisably a central's data
// directory (central.db and no outpost.toml): then kInvalidArgument saying so and what to use.
Status CheckSatelliteDataDir(const std::string& dir, const std::string& source);

// A client of /v1/admin/... that sends the API key as a bearer token on every request.
// Not thread-safe.
class AdminClient {
 public:
  // `timeout` bounds each request (net::ClientOptions::timeout).
  static Result<std::unique_ptr<AdminClient>> Create(
      SatelliteConnection connection, std::chrono::milliseconds timeout = kDefaultTimeout);
  static constexpr std::chrono::milliseconds kDefaultTimeout{30'000};

  // Sends `request` as protobuf and parses the answer into `response`. Errors carry the
  // server's message; a refused API key or an unreachable server also says where the key or
  // the URL came from.
  Status Call(std::string_view method, const std::string& target,
              const google::protobuf::Message& request, google::protobuf::Message* response);

  // GETs `target` and returns the answer as is when it is 2xx; otherwise its error, as Call.
  Result<net::ClientResponse> Get(const std::string& target, const std::string& accept);
  // Sends `body` as is and returns the 2xx answer as is; otherwise its error, as Call.
  Result<net::ClientResponse> Send(const std::string& method, const std::string& target,
                                   const std::string& body, const std::string& content_type,
                                   const std::string& accept);

 private:
  AdminClient(SatelliteConnection connection, std::unique_ptr<net::HttpsClient> client);
  Status Explain(Status status) const;

  SatelliteConnection connection_;
  std::unique_ptr<net::HttpsClient> client_;
};

// ResolveConnection (over the process environment) and AdminClient::Create.
Result<std::unique_ptr<AdminClient>> ConnectToSatellite(
    const ConnectionFlags& flags, std::chrono::milliseconds timeout = AdminClient::kDefaultTimeout);

// `text` percent-encoded for a URL path segment or query value (all but A-Z a-z 0-9 - . _ ~).
std::string UrlEncode(std::string_view text);

}  // namespace outpost::cli
