// `outpost init` and `outpost serve`.

#include <signal.h>

#include <iostream>
#include <memory>

#include "cli/commands.h"
#include "cli/output.h"
#include "common/clock.h"
#include "common/config/config_file.h"
#include "common/crypto/keys.h"
#include "common/crypto/secure_file.h"
#include "common/log/logging.h"
#include "outpost/v1/satellite.pb.h"
#include "server/data_dir.h"
#include "server/init.h"
#include "server/satellite.h"
#include "spdlog/spdlog.h"
#include "sync/bundle/armor.h"
#include "sync/bundle/codec.h"

namespace outpost::cli {
namespace {

struct InitFlags {
  std::string data_dir;
  std::string config_file;
  std::string listen;
  std::vector<std::string> hostnames;
  std::string enroll;
};

struct ServeFlags {
  std::string data_dir;
  std::string config_file;
  std::string listen;
};

Status SetUpLogging(const GlobalFlags& g, const config::Config* c) {
  std::string format = g.log_format.empty() && c ? std::string(c->log.format) : g.log_format;
  std::string level = g.log_level.empty() && c ? std::string(c->log.level) : g.log_level;
  if (format.empty()) format = "text";
  if (level.empty()) level = "info";
  OUTPOST_ASSIGN_OR_RETURN(log::LogFormat f, log::ParseLogFormat(format));
  return log::InitLogging(f, level);
}

int RunInit(const GlobalFlags& g, const InitFlags& f) {
  if (auto s = SetUpLogging(g, nullptr); !s.ok()) return Fail(s);
  server::InitOptions options;
  options.data_dir = f.data_dir;
  // The packaged service's /etc/outpost/outpost.toml: the data directory starts as its copy, so
  // the certificate carries its tls.hostnames and the CLI finds its listen address there.
  if (!f.config_file.empty()) {
    auto base = config::LoadConfigFile(f.config_file);
    if (!base.ok()) return Fail(base.status().WithContext("--config"));
    options.config = std::move(*base);
  }
  if (!f.listen.empty()) {
    if (auto s = config::ApplyOverride(options.config, "listen", f.listen); !s.ok()) {
      return Fail(s);
    }
  }
  for (const auto& h : f.hostnames) options.config.tls.hostnames.push_back(h);
  if (!f.enroll.empty()) {
    auto bundle = crypto::ReadSecretFile(f.enroll, sync::ArmoredSizeLimit(sync::kMaxBundleBytes));
    if (!bundle.ok()) return Fail(bundle.status().WithContext("--enroll"));
    options.enrollment_bundle = std::move(*bundle);
  }
  SystemClock clock;
  auto report = server::InitDataDir(options, clock);
  if (!report.ok()) return Fail(report.status());
  const server::DataDir dir(f.data_dir);
  v1::InitReport out;
  out.set_satellite_id(report->satellite_id);
  out.set_data_dir(f.data_dir);
  out.set_ca_certificate(dir.ca_certificate().string());
  out.set_ca_fingerprint(report->ca_fingerprint);
  out.set_signing_key_id(report->signing_key_id);
  // The fingerprint is what an auditor records and later compares (docs/security.md).
  if (auto key = crypto::PrivateKey::LoadFile(dir.signing_key()); key.ok()) {
    out.set_signing_key_fingerprint(key->public_key().Fingerprint());
  }
  out.set_listen(options.config.listen.ToString());
  for (const auto& file : report->files_written) out.add_files_written(file.string());
  out.set_admin_user(report->admin_user);
  out.set_admin_password(report->admin_password);
  out.set_admin_api_key(report->admin_api_key);
  out.set_admin_api_key_file(report->admin_api_key_file.string());
  out.set_account_id(report->account_id);
  out.set_central_key_id(report->central_key_id);
  out.set_central_key_fingerprint(report->central_key_fingerprint);
  out.set_central_url(report->central_url);
  if (g.json) {
    PrintJson(out);
    return kExitOk;
  }
  std::cout << "Initialised satellite " << out.satellite_id() << " in " << f.data_dir << "\n"
            << "  CA certificate (trust this): " << out.ca_certificate() << "\n"
            << "  CA fingerprint (SHA-256):    " << out.ca_fingerprint() << "\n"
            << "  signing key id:              " << out.signing_key_id() << "\n"
            << "  signing key fingerprint:     "
            << OrDefault(out.signing_key_fingerprint(), "(cannot read keys/signing.key)") << "\n"
            << "    (record it: `outpost audit verify --db` prints the fingerprint it checks "
               "the audit trail with)\n"
            << "  listen:                      " << out.listen() << "\n";
  if (!out.account_id().empty()) {
    std::cout << "Enrolled with central for account " << Printable(out.account_id()) << "\n"
              << "  central key id:              " << out.central_key_id() << "\n"
              << "  central key fingerprint:     " << out.central_key_fingerprint() << "\n"
              << "  central URL:                 "
              << OrDefault(out.central_url(), "(none: offline only)") << "\n"
              << "Check that this fingerprint is the one central printed before you sync.\n";
  }
  if (!out.admin_user().empty()) {
    std::cout << "First admin (shown once; store it now: it cannot be shown again):\n"
              << "  user:                        " << out.admin_user() << "\n";
    if (!out.admin_password().empty()) {
      std::cout << "  password (console login):    " << out.admin_password() << "\n";
    }
    if (!out.admin_api_key().empty()) {
      std::cout << "  API key:                     " << out.admin_api_key() << "\n";
    }
    if (!out.admin_api_key_file().empty()) {
      std::cout << "  API key file (mode 0600):    " << out.admin_api_key_file()
                << " (the CLI reads it with --data-dir)\n";
    }
  }
  std::cout << "Next: outpost serve --data-dir " << f.data_dir << "\n";
  return kExitOk;
}

int RunServe(const GlobalFlags& g, const ServeFlags& f) {
  const server::DataDir dir(f.data_dir);
  std::vector<std::pair<std::string, std::string>> flags;
  if (!f.listen.empty()) flags.emplace_back("listen", f.listen);
  // file < environment < flags.
  const std::filesystem::path file =
      f.config_file.empty() ? dir.config() : std::filesystem::path(f.config_file);
  // The same layers again at every reload (SIGHUP, `outpost reload`); --log-level and
  // --log-format keep winning over the file.
  auto load = [file, data_dir = f.data_dir, flags, g]() -> Result<config::Config> {
    OUTPOST_ASSIGN_OR_RETURN(
        config::Config c,
        config::LoadLayeredConfig(file, data_dir, config::ProcessEnvironment(), flags));
    if (!g.log_level.empty()) c.log.level = g.log_level;
    if (!g.log_format.empty()) c.log.format = g.log_format;
    return c;
  };
  auto config = load();
  if (!config.ok()) return Fail(config.status());
  if (auto s = SetUpLogging(g, &*config); !s.ok()) return Fail(s);

  // Block the shutdown and reload signals before any thread starts so only sigwait below sees
  // them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  SystemClock clock;
  auto satellite = server::Satellite::Open(f.data_dir, *config, clock);
  if (!satellite.ok()) return Fail(satellite.status());
  (*satellite)->SetConfigLoader(load);
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
  while (sigwait(&signals, &sig) == 0 && sig == SIGHUP) {
    // The outcome (what changed, what needs a restart, or why nothing did) is logged and audited.
    spdlog::info("received SIGHUP, reloading the configuration");
    (void)(*satellite)->Reload(server::audit::Actor("signal", "SIGHUP"));
  }
  spdlog::info("received {}, shutting down", sig == SIGINT ? "SIGINT" : "SIGTERM");
  (*satellite)->Shutdown();
  return kExitOk;
}

}  // namespace

void AddSatelliteCommands(CLI::App& app, CommandLine& cli) {
  auto init_flags = std::make_shared<InitFlags>();
  auto* init = app.add_subcommand("init", "Create a satellite data directory");
  init->add_option("--data-dir", init_flags->data_dir, "Directory to create")->required();
  init->add_option("--config", init_flags->config_file,
                   "Configuration file to start from instead of the defaults (e.g. the "
                   "package's /etc/outpost/outpost.toml); DIR/outpost.toml is written as its "
                   "copy with --listen and --hostname applied")
      ->check(CLI::ExistingFile);
  init->add_option("--listen", init_flags->listen,
                   "HOST:PORT to serve on (default 127.0.0.1:8443)");
  init->add_option("--enroll", init_flags->enroll,
                   "Enrollment bundle written by `outpost central satellite enroll`")
      ->check(CLI::ExistingFile);
  init->add_option("--hostname", init_flags->hostnames,
                   "Extra host name or IP for the TLS certificate (repeatable)");
  init->callback([&cli, init_flags] {
    cli.run = [&cli, init_flags] { return RunInit(cli.global, *init_flags); };
  });

  auto serve_flags = std::make_shared<ServeFlags>();
  auto* serve = app.add_subcommand("serve", "Serve the satellite over HTTPS");
  serve->add_option("--data-dir", serve_flags->data_dir, "Initialised data directory")->required();
  serve->add_option("--config", serve_flags->config_file,
                    "Configuration file (default DIR/outpost.toml)");
  serve->add_option("--listen", serve_flags->listen,
                    "HOST:PORT to serve on (overrides the configuration)");
  serve->callback([&cli, serve_flags] {
    cli.run = [&cli, serve_flags] { return RunServe(cli.global, *serve_flags); };
  });
}

}  // namespace outpost::cli
