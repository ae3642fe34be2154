// `outpost device ...`: the device side (register, authorize, status, renew, release) over the
// client library in client/, for scripts and for trying a satellite out without writing a program.

#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "cli/input.h"
#include "cli/output.h"
#include "client/device_client.h"
#include "client/tag_use.h"
#include "common/proto_json.h"

namespace outpost::cli {
namespace {

struct DeviceFlags {
  client::RegisterOptions register_options;
  std::string ca_file;
  std::string state_dir;
  std::vector<std::string> tags;
  bool offline = false;
};

std::string Count(int64_t n) { return std::to_string(n); }

// Fail(), with the message made safe for a terminal: it can quote the satellite (its error
// message, which the library already cut to client::kMaxSatelliteMessageBytes, or names from
// its answer), and a hostile satellite must not be able to clear the screen or move the cursor.
int FailSafely(const Status& status) {
  return Fail(Status(status.code(), Printable(status.message())));
}

// "2026-08-01T00:00:00Z", with "(expired)" when that time has passed, or "-" for none.
std::string Until(int64_t unix_seconds, const std::string& text, const Clock& clock) {
  if (unix_seconds == 0) return "-";
  std::string out = OrDefault(text, std::to_string(unix_seconds));
  if (FromUnixSeconds(unix_seconds) <= clock.Now()) out += " (expired)";
  return out;
}

void PrintAuthorization(const v1::Authorization& a, const Clock& clock) {
  std::vector<std::vector<std::string>> rows;
  for (const auto& t : a.tags()) {
    rows.push_back({t.tag(), t.status(), Count(t.requested()), Count(t.granted()),
                    Until(t.valid_until(), t.valid_until_text(), clock),
                    t.floating() ? "yes" : "no", t.reason()});
  }
  PrintTable(std::cout,
             {"TAG", "STATUS", "REQUESTED", "GRANTED", "VALID UNTIL", "FLOATING", "REASON"}, rows);
  PrintFields(std::cout, {{"issued at", OrDefault(a.issued_at_text(), Count(a.issued_at()))},
                          {"valid until", Until(a.valid_until(), a.valid_until_text(), clock)},
                          {"renew after", Until(a.renew_after(), a.renew_after_text(), clock)},
                          {"signed by", "satellite " + a.satellite_id() + " (verified)"}});
}

// When the ID certificate should be renewed, and whether that time has come.
std::string RenewAfter(const v1::RegisterResponse& r, const Clock& clock) {
  if (r.renew_after() == 0) return "-";
  std::string out = OrDefault(r.renew_after_text(), std::to_string(r.renew_after()));
  if (FromUnixSeconds(r.renew_after()) <= clock.Now()) {
    out +=
        " (due: renewed automatically by the next authorize or status, or `outpost device "
        "renew`)";
  }
  return out;
}

Result<client::DeviceClient> OpenDevice(const DeviceFlags& f) {
  return client::DeviceClient::Open(f.state_dir);
}

int RunRegister(const GlobalFlags& g, DeviceFlags f) {
  // `--token -` or `--token @FILE` keeps the token out of the process list.
  auto token = ReadSecretArgument(f.register_options.token, "--token");
  if (!token.ok()) return FailSafely(token.status());
  f.register_options.token = std::move(*token);
  f.register_options.ca_file = f.ca_file;
  f.register_options.state_dir = f.state_dir;
  auto device = client::DeviceClient::Register(f.register_options);
  if (!device.ok()) return FailSafely(device.status());
  const v1::RegisterResponse& r = device->registration();
  if (g.json) {
    PrintJson(r);
    return kExitOk;
  }
  std::cout << "Registered " << Printable(r.udi()) << " as instance " << Printable(r.instance_id())
            << " in virtual account " << Printable(r.va()) << ".\n";
  std::vector<std::pair<std::string, std::string>> fields = {
      {"instance", r.instance_id()},
      {"satellite", r.satellite_id()},
      {"certificate valid until", r.certificate_not_after_text()},
      {"renew after", r.renew_after() == 0
                          ? "-"
                          : r.renew_after_text() + " (`outpost device renew`; automatic on "
                                                   "authorize and status)"},
      {"export-controlled", r.export_allowed() ? "allowed" : "not allowed"},
      {"signing key", r.signing_key_id()},
      {"state directory", f.state_dir}};
  if (!r.replaced_instance_id().empty()) {
    fields.push_back({"replaced instance", r.replaced_instance_id()});
  }
  PrintFields(std::cout, fields);
  std::cout << "Next: outpost device authorize --state-dir " << Printable(f.state_dir)
            << " --tag TAG[:COUNT]\n";
  return kExitOk;
}

int RunAuthorize(const GlobalFlags& g, const DeviceFlags& f) {
  // A malformed --tag is a usage error (exit 2), found before anything is read or sent.
  auto tags = client::ParseTagUses(f.tags);
  if (!tags.ok()) return UsageError(tags.status().message());
  auto device = OpenDevice(f);
  if (!device.ok()) return FailSafely(device.status());
  auto authorization = device->Authorize(*tags);
  if (!authorization.ok()) return FailSafely(authorization.status());
  if (g.json) {
    PrintJson(*authorization);
    return kExitOk;
  }
  PrintAuthorization(*authorization, device->clock());
  return kExitOk;
}

int RunStatus(const GlobalFlags& g, const DeviceFlags& f) {
  auto device = OpenDevice(f);
  if (!device.ok()) return FailSafely(device.status());
  client::DeviceStatus status;
  if (f.offline) {
    auto last = device->LastAuthorization();
    if (!last.ok()) return FailSafely(last.status());
    status.last_authorization = std::move(*last);
  } else {
    auto answer = device->GetStatus();
    if (!answer.ok()) {
      Status s = answer.status();
      if (s.code() == Errc::kUnavailable || s.code() == Errc::kDeadlineExceeded) {
        s = Status(s.code(), s.message() +
                                 "; `outpost device status --offline` shows the last "
                                 "authorization without the satellite");
      }
      return FailSafely(s);
    }
    status = std::move(*answer);
  }
  const auto& r = device->registration();
  if (g.json) {
    // Two messages in one object; the offline form has no "device".
    std::string json = "{";
    if (!f.offline) json += "\"device\": " + ToJson(status.device) + ", ";
    json += "\"registration\": " + ToJson(r) + ", \"last_authorization\": " +
            (status.last_authorization ? ToJson(*status.last_authorization) : "null") + "}";
    PrintJsonText(json);  // laid out like every other --json answer
    return kExitOk;
  }
  std::vector<std::pair<std::string, std::string>> fields = {
      {"instance", r.instance_id()},
      {"virtual account", r.va()},
      {"UDI", r.udi()},
      {"satellite", device->server_url() + " (" + r.satellite_id() + ")"},
      {"certificate valid until",
       Until(r.certificate_not_after(), r.certificate_not_after_text(), device->clock())},
      {"certificate renew after", RenewAfter(r, device->clock())}};
  if (!f.offline) {
    const v1::Device& d = status.device;
    fields.push_back({"hostname", OrDefault(d.hostname(), "(none)")});
    fields.push_back({"registered at", OrDefault(d.registered_at_text(), "-")});
    fields.push_back({"last seen", OrDefault(d.last_seen_at_text(), "never")});
  }
  PrintFields(std::cout, fields);
  if (!f.offline) {
    std::vector<std::vector<std::string>> rows;
    for (const auto& h : status.device.holdings()) {
      rows.push_back({h.tag(), Count(h.count()),
                      Until(h.valid_until(), h.valid_until_text(), device->clock())});
    }
    std::cout << "\nHeld on the satellite:\n";
    if (rows.empty()) {
      std::cout << "  nothing\n";
    } else {
      PrintTable(std::cout, {"TAG", "COUNT", "VALID UNTIL"}, rows);
    }
  }
  std::cout << "\nLast authorization (stored in " << Printable(f.state_dir) << "):\n";
  if (!status.last_authorization) {
    std::cout << "  none yet; run `outpost device authorize`\n";
  } else {
    PrintAuthorization(*status.last_authorization, device->clock());
  }
  return kExitOk;
}

int RunRenew(const GlobalFlags& g, const DeviceFlags& f) {
  auto device = OpenDevice(f);
  if (!device.ok()) return FailSafely(device.status());
  const std::string old_expiry = device->registration().certificate_not_after_text();
  auto renewed = device->RenewCertificate();
  if (!renewed.ok()) return FailSafely(renewed.status());
  if (g.json) {
    PrintJson(*renewed);
    return kExitOk;
  }
  std::cout << "Renewed the ID certificate of instance " << Printable(renewed->instance_id())
            << " with a new key; the previous certificate (valid until " << Printable(old_expiry)
            << ") is refused from now on.\n";
  PrintFields(std::cout, {{"certificate valid until", renewed->certificate_not_after_text()},
                          {"renew after", renewed->renew_after_text()},
                          {"state directory", f.state_dir}});
  return kExitOk;
}

int RunRelease(const GlobalFlags& g, const DeviceFlags& f) {
  auto device = OpenDevice(f);
  if (!device.ok()) return FailSafely(device.status());
  auto released = device->Release();
  if (!released.ok()) return FailSafely(released.status());
  if (g.json) {
    PrintJson(*released);
    return kExitOk;
  }
  std::cout << "Released instance " << Printable(released->instance_id())
            << " and deregistered it; its ID certificate is refused from now on.\n";
  std::vector<std::vector<std::string>> rows;
  for (const auto& use : released->released()) rows.push_back({use.tag(), Count(use.count())});
  if (rows.empty()) {
    std::cout << "It held no licenses.\n";
  } else {
    std::cout << "Licenses returned to the pool:\n";
    PrintTable(std::cout, {"TAG", "COUNT"}, rows);
  }
  std::cout << "To use licenses again, run `outpost device register --state-dir "
            << Printable(f.state_dir) << " ...`.\n";
  return kExitOk;
}

template <typename Run>
CLI::App* AddDeviceCommand(CLI::App* group, CommandLine& cli, const std::string& name,
                           const std::string& description, std::shared_ptr<DeviceFlags> flags,
                           Run run) {
  auto* command = group->add_subcommand(name, description);
  command
      ->add_option("--state-dir", flags->state_dir,
                   "Directory with the device's key, certificate and last authorization")
      ->required();
  command->callback(
      [&cli, flags, run] { cli.run = [&cli, flags, run] { return run(cli.global, *flags); }; });
  return command;
}

}  // namespace

void AddDeviceCommands(CLI::App& app, CommandLine& cli) {
  auto* device = app.add_subcommand(
      "device", "Act as a device: register with a token, authorize license use, release");
  device->require_subcommand(1);

  auto reg = std::make_shared<DeviceFlags>();
  auto* register_command = AddDeviceCommand(
      device, cli, "register",
      "Register with a satellite: new device key, ID certificate, state saved in --state-dir", reg,
      RunRegister);
  register_command
      ->add_option("--server", reg->register_options.server_url,
                   "Satellite URL, e.g. https://satellite.example:8443")
      ->required();
  register_command
      ->add_option("--ca", reg->ca_file,
                   "The satellite's CA certificate (its data directory's ca.pem)")
      ->required();
  register_command
      ->add_option("--token", reg->register_options.token,
                   "Registration token from `outpost token create`; - reads it from standard "
                   "input, @FILE from FILE (either keeps it out of the process list)")
      ->required();
  register_command->add_option("--pid", reg->register_options.pid, "Product id")->required();
  register_command->add_flag(
      "--force", reg->register_options.replace_registered,
      "Register even if --state-dir holds a registered device; that device is abandoned: its "
      "key is replaced and it keeps its licenses until an operator releases it");
  register_command->add_option("--serial", reg->register_options.serial, "Serial number")
      ->required();
  register_command->add_option("--hostname", reg->register_options.hostname,
                               "Host name to show operators (informational)");

  auto authorize = std::make_shared<DeviceFlags>();
  AddDeviceCommand(device, cli, "authorize",
                   "State the licenses this device uses now (replaces the previous use); the "
                   "signed answer is verified and stored",
                   authorize, RunAuthorize)
      ->add_option("--tag", authorize->tags,
                   "TAG or TAG:COUNT (COUNT default 1); repeat for each license tag in use")
      ->required();

  auto status = std::make_shared<DeviceFlags>();
  AddDeviceCommand(device, cli, "status",
                   "Show this device as the satellite sees it and its last verified authorization",
                   status, RunStatus)
      ->add_flag("--offline", status->offline,
                 "Do not contact the satellite: show the stored authorization, verified offline");

  auto renew = std::make_shared<DeviceFlags>();
  AddDeviceCommand(device, cli, "renew",
                   "Renew the ID certificate over mTLS (new key, same instance; no token), once "
                   "its renew-after time has passed",
                   renew, RunRenew);

  auto release = std::make_shared<DeviceFlags>();
  AddDeviceCommand(device, cli, "release",
                   "Give back all licenses and deregister this device (register again to return)",
                   release, RunRelease);
}

}  // namespace outpost::cli
