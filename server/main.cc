// The `outpost` binary: parses the command line and runs one command. Exit status: 0 success,
// 1 failure (message on stderr), 2 usage error.

#include <signal.h>

#include <CLI/CLI.hpp>
#include <cstdlib>
#include <iostream>

#include "common/clock.h"
#include "common/config/config_file.h"
#include "common/log/logging.h"
#include "common/proto_json.h"
#include "outpost/v1/satellite.pb.h"
#include "server/data_dir.h"
#include "server/init.h"
#include "server/satellite.h"
#include "spdlog/spdlog.h"

namespace outpost {
namespace {

struct GlobalFlags {
  bool json = false;
  std::string log_format;
  std::string log_level;
};

int Fail(const Status& status) {
  std::cerr << "outpost: " << status.message() << "\n";
  return 1;
}

Status SetUpLogging(const GlobalFlags& g, const config::Config* c) {
  std::string format = g.log_format.empty() && c ? std::string(c->log.format) : g.log_format;
  std::string level = g.log_level.empty() && c ? std::string(c->log.level) : g.log_level;
  if (format.empty()) format = "text";
  if (level.empty()) level = "info";
  OUTPOST_ASSIGN_OR_RETURN(log::LogFormat f, log::ParseLogFormat(format));
  return log::InitLogging(f, level);
}

int RunInit(const GlobalFlags& g, const std::string& data_dir, const std::string& listen,
            const std::vector<std::string>& hostnames) {
  if (auto s = SetUpLogging(g, nullptr); !s.ok()) return Fail(s);
  server::InitOptions options;
  options.data_dir = data_dir;
  if (!listen.empty()) {
    if (auto s = config::ApplyOverride(options.config, "listen", listen); !s.ok()) return Fail(s);
  }
  for (const auto& h : hostnames) options.config.tls.hostnames.push_back(h);
  SystemClock clock;
  auto report = server::InitDataDir(options, clock);
  if (!report.ok()) return Fail(report.status());
  const server::DataDir dir(data_dir);
  v1::InitReport out;
  out.set_satellite_id(report->satellite_id);
  out.set_data_dir(data_dir);
  out.set_ca_certificate(dir.ca_certificate().string());
  out.set_ca_fingerprint(report->ca_fingerprint);
  out.set_signing_key_id(report->signing_key_id);
  out.set_listen(options.config.listen.ToString());
  for (const auto& f : report->files_written) out.add_files_written(f.string());
  if (g.json) {
    std::cout << ToJson(out, true) << "\n";
    return 0;
  }
  std::cout << "Initialised satellite " << out.satellite_id() << " in " << data_dir << "\n"
            << "  CA certificate (trust this): " << out.ca_certificate() << "\n"
            << "  CA fingerprint (SHA-256):    " << out.ca_fingerprint() << "\n"
            << "  signing key id:              " << out.signing_key_id() << "\n"
            << "  listen:                      " << out.listen() << "\n"
            << "Next: outpost serve --data-dir " << data_dir << "\n";
  return 0;
}

int RunServe(const GlobalFlags& g, const std::string& data_dir, const std::string& config_file,
             const std::string& listen) {
  const server::DataDir dir(data_dir);
  std::vector<std::pair<std::string, std::string>> flags;
  if (!listen.empty()) flags.emplace_back("listen", listen);
  // file < environment < flags.
  const std::filesystem::path file =
      config_file.empty() ? dir.config() : std::filesystem::path(config_file);
  auto config = config::LoadLayeredConfig(file, data_dir, config::ProcessEnvironment(), flags);
  if (!config.ok()) return Fail(config.status());
  if (auto s = SetUpLogging(g, &*config); !s.ok()) return Fail(s);

  // Block the shutdown signals before any thread starts so only sigwait below sees them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  SystemClock clock;
  auto satellite = server::Satellite::Open(data_dir, *config, clock);
  if (!satellite.ok()) return Fail(satellite.status());
  if (auto s = (*satellite)->Start(); !s.ok()) return Fail(s);
  std::string host = config->listen.host;
  if (host == "0.0.0.0") host = "127.0.0.1";
  if (host == "::") host = "::1";
  if (host.find(':') != std::string::npos) host = "[" + host + "]";
  std::cout << "Outpost satellite " << (*satellite)->satellite_id() << " is serving\n"
            << "  URL:            https://" << host << ":" << (*satellite)->port() << "\n"
            << "  CA to trust:    " << dir.ca_certificate().string() << "\n"
            << "  health check:   curl --cacert " << dir.ca_certificate().string() << " https://"
            << host << ":" << (*satellite)->port() << "/healthz\n"
            << "Press Ctrl-C to stop." << std::endl;
  int sig = 0;
  sigwait(&signals, &sig);
  spdlog::info("received {}, shutting down", sig == SIGINT ? "SIGINT" : "SIGTERM");
  (*satellite)->Shutdown();
  return 0;
}

int Main(int argc, char** argv) {
  CLI::App app{"Outpost: an air-gapped, on-premises license satellite", "outpost"};
  app.require_subcommand(1);
  GlobalFlags g;
  app.add_flag("--json", g.json, "Print the answer as protobuf JSON instead of a table");
  app.add_option("--log-format", g.log_format, "Log format: text or json");
  app.add_option("--log-level", g.log_level, "Log level: trace, debug, info, warn, error");

  std::string data_dir;
  std::string listen;
  std::vector<std::string> hostnames;
  auto* init = app.add_subcommand("init", "Create a satellite data directory");
  init->add_option("--data-dir", data_dir, "Directory to create")->required();
  init->add_option("--listen", listen, "HOST:PORT to serve on (default 127.0.0.1:8443)");
  init->add_option("--hostname", hostnames,
                   "Extra host name or IP for the TLS certificate (repeatable)");

  std::string config_file;
  auto* serve = app.add_subcommand("serve", "Serve the satellite over HTTPS");
  serve->add_option("--data-dir", data_dir, "Initialised data directory")->required();
  serve->add_option("--config", config_file, "Configuration file (default DIR/outpost.toml)");
  serve->add_option("--listen", listen, "HOST:PORT to serve on (overrides the configuration)");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? 0 : 2;
  }
  if (*init) return RunInit(g, data_dir, listen, hostnames);
  if (*serve) return RunServe(g, data_dir, config_file, listen);
  return 2;
}

}  // namespace
}  // namespace outpost

int main(int argc, char** argv) {
  // A peer or a pipe that goes away must be an error code, not the end of the process.
  signal(SIGPIPE, SIG_IGN);
  // Exceptions stop here (and in each connection's handler); anything else is a bug.
  try {
    return outpost::Main(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << "outpost: internal error: " << e.what() << "\n";
    return 1;
  }
}
