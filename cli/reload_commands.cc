// `outpost reload`: the running satellite re-reads outpost.toml and its TLS files.

#include <iostream>
#include <memory>

#include "cli/commands.h"
#include "cli/connection.h"
#include "cli/output.h"
#include "outpost/v1/common.pb.h"
#include "outpost/v1/reload.pb.h"

namespace outpost::cli {
namespace {

struct ReloadFlags {
  ConnectionFlags connection;
};

int RunReload(const GlobalFlags& g, const ReloadFlags& f) {
  auto client = ConnectToSatellite(f.connection);
  if (!client.ok()) return Fail(client.status());
  v1::ReloadReport report;
  if (auto s = (*client)->Call("POST", "/v1/admin/reload", v1::Empty(), &report); !s.ok()) {
    return Fail(s);
  }
  if (g.json) {
    PrintJson(report);
    return kExitOk;
  }
  std::cout << "Configuration reloaded.\n";
  for (const std::string& line : report.messages()) std::cout << "  " << Printable(line) << "\n";
  const v1::TlsCertificateInfo& cert = report.certificate();
  if (!cert.serial().empty()) {
    std::cout << "TLS certificate in service: serial " << cert.serial() << ", expires "
              << cert.not_after_text()
              << (cert.issued_by_satellite_ca() ? " (the satellite renews it)"
                                                : " (provided by an operator: not renewed)")
              << "\n";
  }
  if (report.needs_restart_size() > 0) {
    std::cout << "Restart the satellite for the settings marked \"needs a restart\".\n";
  }
  return kExitOk;
}

}  // namespace

void AddReloadCommands(CLI::App& app, CommandLine& cli) {
  AddConnectedCommand(&app, cli, "reload",
                      "Make the running satellite re-read outpost.toml and its TLS certificate "
                      "(like SIGHUP); says what needs a restart",
                      std::make_shared<ReloadFlags>(), RunReload);
}

}  // namespace outpost::cli
