#include "cli/connection.h"

#include <optional>
#include <vector>

#include "cli/input.h"
#include "common/crypto/secure_file.h"
#include "server/data_dir.h"

namespace outpost::cli {
namespace {

constexpr size_t kMaxApiKeyFileBytes = 4096;
constexpr size_t kMaxCaFileBytes = 1 << 20;

struct Setting {
  std::string value;
  std::string source;  // the flag or variable it came from
};

std::optional<Setting> FromFlagOrEnv(const std::string& flag_value, std::string_view flag,
                                     const std::string& env, const config::GetEnv& getenv) {
  if (!flag_value.empty()) return Setting{flag_value, std::string(flag)};
  if (auto v = getenv(env); v && !v->empty()) return Setting{*v, env};
  return std::nullopt;
}

std::string Join(const std::vector<std::string>& parts, std::string_view separator) {
  std::string out;
  for (size_t i = 0; i < parts.size(); ++i) {
    if (i > 0) out += separator;
    out += parts[i];
  }
  return out;
}

// The URL a local client reaches a server on that listens on `listen` of the configuration.
Result<std::string> ServerUrlFromDataDir(const server::DataDir& dir) {
  auto config = config::LoadConfigFile(dir.config());
  if (!config.ok()) {
    return Status(config.status().code(),
                  config.status().message() + "; or pass --server URL (or set OUTPOST_SERVER)");
  }
  if (config->listen.port == 0) {
    return InvalidArgument(dir.config().string() + " has listen = " + config->listen.ToString() +
                           " (any free port), so only the running `outpost serve` knows its " +
                           "port: pass --server with the URL it printed (or set OUTPOST_SERVER)");
  }
  std::string host = config->listen.host;
  if (host == "0.0.0.0") host = "127.0.0.1";
  if (host == "::") host = "::1";
  if (host.find(':') != std::string::npos) host = "[" + host + "]";
  return "https://" + host + ":" + std::to_string(config->listen.port);
}

Status CheckApiKey(const std::string& key, const std::string& source) {
  for (char c : key) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7F) {
      return InvalidArgument("the API key from " + source +
                             " holds spaces or characters no API key has; an API key looks " +
                             "like opk_<id>_<secret>");
    }
  }
  return Status::Ok();
}

}  // namespace

Status CheckSatelliteDataDir(const std::string& dir, const std::string& source) {
  std::error_code ec;
  const std::filesystem::path root(dir);
  if (!std::filesystem::exists(root / "outpost.toml", ec) &&
      std::filesystem::exists(root / "central.db", ec)) {
    return InvalidArgument(source + " " + dir +
                           " is a central's data directory (it holds central.db), not a "
                           "satellite's: pass the directory `outpost init` created, or use "
                           "`outpost central ... --data-dir " +
                           dir + "` for central");
  }
  return Status::Ok();
}

void AddConnectionFlags(CLI::App* command, ConnectionFlags* flags) {
  const std::string group = "Connection (flags > environment > data directory)";
  command
      ->add_option("--server", flags->server,
                   "Satellite URL, e.g. https://127.0.0.1:8443 [env OUTPOST_SERVER]")
      ->type_name("URL")
      ->group(group);
  command
      ->add_option("--api-key", flags->api_key,
                   "API key; - reads it from standard input, @FILE from FILE (either keeps it "
                   "out of the process list) [env OUTPOST_API_KEY]")
      ->type_name("KEY")
      ->group(group);
  command
      ->add_option("--ca", flags->ca,
                   "CA certificate that issued the satellite's certificate [env OUTPOST_CA]")
      ->type_name("FILE")
      ->group(group);
  command
      ->add_option("--data-dir", flags->data_dir,
                   "Local satellite data directory: the URL from DIR/outpost.toml, the key from "
                   "DIR/admin.apikey, the CA from DIR/ca.pem [env OUTPOST_DATA_DIR]")
      ->type_name("DIR")
      ->group(group);
}

Result<SatelliteConnection> ResolveConnection(const ConnectionFlags& flags,
                                              const config::GetEnv& getenv) {
  const auto server = FromFlagOrEnv(flags.server, "--server", "OUTPOST_SERVER", getenv);
  const auto key = FromFlagOrEnv(flags.api_key, "--api-key", "OUTPOST_API_KEY", getenv);
  const auto ca = FromFlagOrEnv(flags.ca, "--ca", "OUTPOST_CA", getenv);
  const auto dir = FromFlagOrEnv(flags.data_dir, "--data-dir", "OUTPOST_DATA_DIR", getenv);
  if (!dir) {
    std::vector<std::string> missing;
    if (!server) missing.push_back("--server URL (or OUTPOST_SERVER)");
    if (!key) missing.push_back("--api-key KEY (or OUTPOST_API_KEY)");
    if (!ca) missing.push_back("--ca FILE (or OUTPOST_CA)");
    if (missing.size() == 3) {
      return InvalidArgument(
          "which satellite? Pass --data-dir DIR of a local satellite (or set OUTPOST_DATA_DIR), "
          "or all of --server URL, --api-key KEY and --ca FILE (or set OUTPOST_SERVER, "
          "OUTPOST_API_KEY and OUTPOST_CA)");
    }
    if (!missing.empty()) {
      return InvalidArgument("missing " + Join(missing, ", ") +
                             "; or pass --data-dir DIR (or set OUTPOST_DATA_DIR) to take what " +
                             "is missing from a local satellite's data directory");
    }
  }
  const server::DataDir data(dir ? dir->value : "");
  if (dir) OUTPOST_RETURN_IF_ERROR(CheckSatelliteDataDir(dir->value, dir->source));

  SatelliteConnection c;
  if (server) {
    c.server_url = server->value;
    c.server_source = server->source;
  } else {
    OUTPOST_ASSIGN_OR_RETURN(c.server_url, ServerUrlFromDataDir(data));
    c.server_source = data.config().string();
  }
  while (c.server_url.size() > 1 && c.server_url.back() == '/') c.server_url.pop_back();

  if (key && key->value == "-") {
    OUTPOST_ASSIGN_OR_RETURN(c.api_key, ReadApiKeyFromStdin());
    c.api_key_source = "standard input (--api-key -)";
  } else if (key && key->value.starts_with("@")) {
    OUTPOST_ASSIGN_OR_RETURN(c.api_key, ReadSecretArgument(key->value, key->source));
    c.api_key_source = key->source + " " + key->value;
  } else if (key) {
    c.api_key = TrimWhitespace(key->value);
    c.api_key_source = key->source;
  } else {
    auto text = crypto::ReadSecretFile(data.admin_api_key(), kMaxApiKeyFileBytes);
    if (!text.ok()) {
      return Status(text.status().code(),
                    text.status().message() + "; or pass --api-key KEY (or set OUTPOST_API_KEY)");
    }
    c.api_key = TrimWhitespace(*text);
    c.api_key_source = data.admin_api_key().string();
    if (c.api_key.empty()) {
      return InvalidArgument(c.api_key_source +
                             " is empty; pass --api-key KEY (or set OUTPOST_API_KEY)");
    }
  }
  OUTPOST_RETURN_IF_ERROR(CheckApiKey(c.api_key, c.api_key_source));

  const std::filesystem::path ca_path =
      ca ? std::filesystem::path(ca->value) : data.ca_certificate();
  auto pem = crypto::ReadSmallFile(ca_path, kMaxCaFileBytes);
  if (!pem.ok()) {
    return Status(pem.status().code(),
                  pem.status().message() + (ca ? " (given by " + ca->source + ")"
                                               : "; or pass --ca FILE (or set OUTPOST_CA)"));
  }
  c.ca_pem = std::move(*pem);
  c.ca_source = ca ? ca->source + " " + ca_path.string() : ca_path.string();
  return c;
}

AdminClient::AdminClient(SatelliteConnection connection, std::unique_ptr<net::HttpsClient> client)
    : connection_(std::move(connection)), client_(std::move(client)) {}

Result<std::unique_ptr<AdminClient>> AdminClient::Create(SatelliteConnection connection,
                                                         std::chrono::milliseconds timeout) {
  net::ClientOptions options;
  options.timeout = timeout;
  options.base_url = connection.server_url;
  options.ca_pem = connection.ca_pem;
  auto client = net::HttpsClient::Create(std::move(options));
  if (!client.ok()) {
    return client.status().WithContext("the URL from " + connection.server_source);
  }
  return std::unique_ptr<AdminClient>(new AdminClient(std::move(connection), std::move(*client)));
}

Status AdminClient::Explain(Status status) const {
  switch (status.code()) {
    case Errc::kUnauthenticated:
      return Status(status.code(), status.message() + " (the API key came from " +
                                       connection_.api_key_source + ")");
    case Errc::kUnavailable:
    case Errc::kDeadlineExceeded:
      if (status.message().find("TLS") != std::string::npos) {
        return Status(status.code(),
                      status.message() + " (the CA came from " + connection_.ca_source + ")");
      }
      return Status(status.code(),
                    status.message() + " (the URL came from " + connection_.server_source + ")");
    default:
      return status;
  }
}

Status AdminClient::Call(std::string_view method, const std::string& target,
                         const google::protobuf::Message& request,
                         google::protobuf::Message* response) {
  OUTPOST_ASSIGN_OR_RETURN(net::ClientResponse res,
                           Send(std::string(method), target, request.SerializeAsString(),
                                "application/x-protobuf", "application/x-protobuf"));
  if (!response->ParseFromString(res.body)) {
    return DataLoss("the satellite's answer to " + std::string(method) + " " + target +
                    " is not a valid " + response->GetDescriptor()->name());
  }
  return Status::Ok();
}

Result<net::ClientResponse> AdminClient::Get(const std::string& target, const std::string& accept) {
  return Send("GET", target, "", "", accept);
}

Result<net::ClientResponse> AdminClient::Send(const std::string& method, const std::string& target,
                                              const std::string& body,
                                              const std::string& content_type,
                                              const std::string& accept) {
  auto res =
      client_->Send(method, target, body, content_type,
                    {{"authorization", "Bearer " + connection_.api_key}, {"accept", accept}});
  if (!res.ok()) return Explain(res.status());  // never reached the satellite: say where from
  if (res->status < 200 || res->status >= 300) {
    // The satellite answered: its message stands (e.g. "central at ... is unreachable" from
    // `sync now` is not about this URL), except that a refused key names where it came from.
    Status s = net::StatusFromResponse(*res);
    return s.code() == Errc::kUnauthenticated ? Explain(s) : s;
  }
  return res;
}

Result<std::unique_ptr<AdminClient>> ConnectToSatellite(const ConnectionFlags& flags,
                                                        std::chrono::milliseconds timeout) {
  OUTPOST_ASSIGN_OR_RETURN(SatelliteConnection connection,
                           ResolveConnection(flags, config::ProcessEnvironment()));
  return AdminClient::Create(std::move(connection), timeout);
}

std::string UrlEncode(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if ((u >= 'A' && u <= 'Z') || (u >= 'a' && u <= 'z') || (u >= '0' && u <= '9') || c == '-' ||
        c == '.' || c == '_' || c == '~') {
      out.push_back(c);
    } else {
      out.push_back('%');
      out.push_back(kHex[u >> 4]);
      out.push_back(kHex[u & 0xF]);
    }
  }
  return out;
}

}  // namespace outpost::cli
