// `outpost central ...`: the reference central service (vendor side), on central's own data
// directory (sync/central). Every command but `serve` opens the database directly, so they
// work with central stopped or running.

#include <signal.h>

#include <iostream>
#include <memory>

#include "cli/central_common.h"
#include "cli/commands.h"
#include "cli/output.h"
#include "common/clock.h"
#include "common/config/duration.h"
#include "common/crypto/keys.h"
#include "common/crypto/secure_file.h"
#include "common/log/logging.h"
#include "common/proto_json.h"
#include "common/time.h"
#include "spdlog/spdlog.h"
#include "sync/bundle/armor.h"
#include "sync/bundle/display.h"
#include "sync/central/central.h"
#include "sync/central/central_server.h"
#include "sync/central/request_checks.h"

namespace outpost::cli {

using central::Central;

std::string When(int64_t seconds) {
  return seconds == 0 ? std::string("-") : FormatRfc3339Seconds(seconds);
}

Result<std::unique_ptr<Central>> OpenCentral(const CentralFlags& f, const Clock& clock) {
  // A satellite's directory is the likeliest wrong --data-dir: say so instead of suggesting
  // `central init` there.
  const central::CentralDataDir dir(f.data_dir);
  std::error_code ec;
  if (!std::filesystem::exists(dir.database(), ec) &&
      (std::filesystem::exists(dir.root / "outpost.toml", ec) ||
       std::filesystem::exists(dir.root / "outpost.db", ec))) {
    return InvalidArgument("--data-dir " + f.data_dir +
                           " is a satellite's data directory (it holds outpost.toml), not "
                           "central's: pass the directory `outpost central init` created; "
                           "satellite commands take this one (e.g. `outpost licenses --data-dir " +
                           f.data_dir + "`)");
  }
  return Central::Open(f.data_dir, clock);
}

// Checked before anything is written: an existing FILE only with --force.
Status CheckOutputFile(const std::string& path, bool force) {
  std::error_code ec;
  if (!force && std::filesystem::exists(path, ec)) {
    return AlreadyExists(path +
                         " already exists; choose another file, or pass --force to "
                         "replace it");
  }
  return Status::Ok();
}

namespace {

std::string EndText(int64_t end) { return end == 0 ? "perpetual" : FormatRfc3339Seconds(end); }

std::string EnforcementText(v1::Enforcement e) {
  return e == v1::ENFORCEMENT_ENFORCED ? "ENFORCED" : "REPORTED";
}

std::string Flags(bool floating, bool export_controlled) {
  std::string out;
  if (floating) out += "floating";
  if (export_controlled) out += std::string(out.empty() ? "" : ",") + "export-controlled";
  return out.empty() ? "-" : out;
}

// Parses an optional duration flag into seconds (0 when not given).
Result<int64_t> DurationSeconds(const std::string& text, std::string_view flag) {
  if (text.empty()) return int64_t{0};
  auto d = config::ParseDuration(text);
  if (!d.ok()) return d.status().WithContext(flag);
  return std::chrono::duration_cast<std::chrono::seconds>(*d).count();
}

Result<central::LicenseTerms> TermsFrom(const CentralFlags& f) {
  central::LicenseTerms terms;
  terms.quantity = f.count;
  if (!f.start.empty()) {
    OUTPOST_ASSIGN_OR_RETURN(terms.start, central::ParseDate(f.start, "--start"));
  }
  if (!f.end.empty()) {
    OUTPOST_ASSIGN_OR_RETURN(terms.end, central::ParseDate(f.end, "--end"));
  }
  terms.enforced = f.enforced;
  terms.floating = f.floating;
  terms.export_controlled = f.export_controlled;
  return terms;
}

int RunInit(const GlobalFlags& g, const CentralFlags& f) {
  central::InitCentralOptions options;
  options.data_dir = f.data_dir;
  if (!f.listen.empty()) options.listen = f.listen;
  options.url = f.url;
  options.hostnames = f.hostnames;
  auto validity = config::ParseDuration(f.response_validity);
  if (!validity.ok()) return Fail(validity.status().WithContext("--response-validity"));
  options.response_validity = *validity;
  const std::pair<const std::string*, std::string_view> policy_flags[] = {
      {&f.authorization_validity, "--authorization-validity"},
      {&f.authorization_renewal, "--authorization-renewal"},
      {&f.floating_lease, "--floating-lease"},
      {&f.sync_interval, "--sync-interval"}};
  int64_t seconds[4] = {};
  for (int i = 0; i < 4; ++i) {
    auto s = DurationSeconds(*policy_flags[i].first, policy_flags[i].second);
    if (!s.ok()) return Fail(s.status());
    seconds[i] = *s;
  }
  options.policy.set_authorization_validity_s(seconds[0]);
  options.policy.set_authorization_renewal_s(seconds[1]);
  options.policy.set_floating_lease_s(seconds[2]);
  options.policy.set_sync_interval_s(seconds[3]);
  SystemClock clock;
  auto report = central::InitCentral(options, clock);
  if (!report.ok()) return Fail(report.status());
  if (g.json) {
    PrintJson(*report);
    return kExitOk;
  }
  std::cout << "Initialised central " << report->central_id() << " in " << f.data_dir << "\n";
  PrintFields(std::cout, {{"signing key id", report->signing_key_id()},
                          {"signing key fingerprint", report->signing_key_fingerprint()},
                          {"CA certificate", report->ca_certificate()},
                          {"CA fingerprint", report->ca_fingerprint()},
                          {"listen", report->listen()},
                          {"URL in enrollment bundles", report->url()},
                          {"response validity", DurationText(report->response_validity_s())}});
  std::cout << "Satellite operators compare the signing key fingerprint with the one "
               "`outpost init --enroll` prints.\n"
            << "Next: outpost central account create ACCOUNT --data-dir " << f.data_dir << "\n";
  return kExitOk;
}

int RunServe(const GlobalFlags& g, const CentralFlags& f) {
  auto format = log::ParseLogFormat(g.log_format.empty() ? "text" : g.log_format);
  if (!format.ok()) return Fail(format.status());
  if (auto s = log::InitLogging(*format, g.log_level.empty() ? "info" : g.log_level); !s.ok()) {
    return Fail(s);
  }
  // Block the shutdown signals before any thread starts so only sigwait below sees them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  SystemClock clock;
  auto c = OpenCentral(f, clock);
  if (!c.ok()) return Fail(c.status());
  central::CentralServerOptions options;
  options.listen = f.listen;
  auto server = central::CentralServer::Create(**c, options);
  if (!server.ok()) return Fail(server.status());
  if (auto s = (*server)->Start(); !s.ok()) return Fail(s);
  const std::string& listen = (*server)->listen();
  std::string host = listen.substr(0, listen.rfind(':'));
  if (host == "0.0.0.0") host = "127.0.0.1";
  if (host == "::" || host == "[::]") host = "[::1]";
  const std::string url = "https://" + host + ":" + std::to_string((*server)->port());
  std::cout << "Outpost central is serving\n"
            << "  URL:            " << url << "\n"
            << "  CA to trust:    " << (*c)->data_dir().ca_certificate().string() << "\n"
            << "  sync endpoint:  POST " << url << "/v1/sync\n"
            << "Press Ctrl-C to stop." << std::endl;
  int sig = 0;
  sigwait(&signals, &sig);
  spdlog::info("received {}, shutting down", sig == SIGINT ? "SIGINT" : "SIGTERM");
  (*server)->Shutdown();
  server->reset();
  c->reset();  // stops the database writer after in-flight requests committed
  spdlog::info("central stopped; database closed");
  return kExitOk;
}

int RunAccountCreate(const GlobalFlags& g, const CentralFlags& f) {
  SystemClock clock;
  auto c = OpenCentral(f, clock);
  if (!c.ok()) return Fail(c.status());
  auto account = (*c)->CreateAccount(f.account, f.name);
  if (!account.ok()) return Fail(account.status());
  if (g.json) {
    PrintJson(*account);
    return kExitOk;
  }
  std::cout << "Created account " << Printable(account->account_id()) << " ("
            << Printable(account->name()) << ") with virtual account default\n";
  return kExitOk;
}

int RunAccountList(const GlobalFlags& g, const CentralFlags& f) {
  SystemClock clock;
  auto c = OpenCentral(f, clock);
  if (!c.ok()) return Fail(c.status());
  auto list = (*c)->ListAccounts();
  if (!list.ok()) return Fail(list.status());
  if (g.json) {
    PrintJson(*list);
    return kExitOk;
  }
  std::vector<std::vector<std::string>> rows;
  for (const auto& a : list->accounts()) {
    std::string vas;
    for (const auto& va : a.virtual_accounts()) vas += (vas.empty() ? "" : ",") + va;
    rows.push_back({a.account_id(), a.name(), When(a.created_at()), vas});
  }
  PrintTable(std::cout, {"ACCOUNT", "NAME", "CREATED", "VIRTUAL ACCOUNTS"}, rows);
  return kExitOk;
}

int RunVaCreate(const GlobalFlags& g, const CentralFlags& f) {
  SystemClock clock;
  auto c = OpenCentral(f, clock);
  if (!c.ok()) return Fail(c.status());
  auto va = (*c)->CreateVirtualAccount(f.account, f.va);
  if (!va.ok()) return Fail(va.status());
  if (g.json) {
    PrintJson(*va);
    return kExitOk;
  }
  std::cout << "Created virtual account " << Printable(va->va()) << " in account "
            << Printable(va->account_id()) << "\n";
  return kExitOk;
}

void PrintEntitlements(const google::protobuf::RepeatedPtrField<v1::Entitlement>& list) {
  std::vector<std::vector<std::string>> rows;
  for (const auto& e : list) {
    rows.push_back({e.id(), e.va(), e.tag(), std::to_string(e.quantity()), When(e.start()),
                    EndText(e.end()), EnforcementText(e.enforcement()),
                    Flags(e.floating(), e.export_controlled())});
  }
  PrintTable(std::cout, {"ID", "VA", "TAG", "QUANTITY", "START", "END", "ENFORCEMENT", "FLAGS"},
             rows);
}

int RunLicenseAdd(const GlobalFlags& g, const CentralFlags& f) {
  auto terms = TermsFrom(f);
  if (!terms.ok()) return Fail(terms.status());
  SystemClock clock;
  auto c = OpenCentral(f, clock);
  if (!c.ok()) return Fail(c.status());
  auto e = (*c)->AddLicense(f.account, f.va, f.tag, *terms);
  if (!e.ok()) return Fail(e.status());
  if (g.json) {
    PrintJson(*e);
    return kExitOk;
  }
  std::cout << "Added entitlement " << e->id() << " to account " << Printable(f.account)
            << "; satellites receive it with their next sync\n";
  PrintFields(std::cout, {{"virtual account", e->va()},
                          {"tag", e->tag()},
                          {"quantity", std::to_string(e->quantity())},
                          {"start", When(e->start())},
                          {"end", EndText(e->end())},
                          {"enforcement", EnforcementText(e->enforcement())},
                          {"flags", Flags(e->floating(), e->export_controlled())}});
  return kExitOk;
}

int RunLicenseList(const GlobalFlags& g, const CentralFlags& f) {
  SystemClock clock;
  auto c = OpenCentral(f, clock);
  if (!c.ok()) return Fail(c.status());
  auto list = (*c)->ListLicenses(f.account);
  if (!list.ok()) return Fail(list.status());
  if (g.json) {
    PrintJson(*list);
    return kExitOk;
  }
  PrintEntitlements(list->entitlements());
  return kExitOk;
}

int RunEnroll(const GlobalFlags& g, const CentralFlags& f) {
  SystemClock clock;
  auto c = OpenCentral(f, clock);
  if (!c.ok()) return Fail(c.status());
  std::optional<std::string> url;
  if (f.offline) {
    url = "";
  } else if (!f.url.empty()) {
    url = f.url;
  }
  auto enrollment = (*c)->EnrollSatellite(f.account, f.name, f.output, f.armor, url);
  if (!enrollment.ok()) return Fail(enrollment.status());
  if (g.json) {
    PrintJson(*enrollment);
    return kExitOk;
  }
  std::cout << "Enrolled satellite " << enrollment->satellite().satellite_id() << " ("
            << Printable(enrollment->satellite().name()) << ") for account "
            << Printable(enrollment->satellite().account_id()) << "\n";
  PrintFields(std::cout,
              {{"enrollment bundle", enrollment->file()},
               {"central key id", enrollment->central_key_id()},
               {"central key fingerprint", enrollment->central_key_fingerprint()},
               {"central URL", OrDefault(enrollment->central_url(), "(none: offline only)")},
               {"central CA fingerprint", enrollment->ca_fingerprint()}});
  std::cout << "The bundle holds a one-time secret (mode 0600): hand it to the satellite operator "
               "only, who installs it with `outpost init --enroll FILE` and checks the central "
               "key fingerprint above.\n";
  return kExitOk;
}

std::string SatelliteState(const v1::CentralSatellite& s) {
  if (s.revoked_at() != 0) return "REVOKED";
  return s.key_id().empty() ? "enrolled, not yet synced" : "active";
}

int RunSatelliteList(const GlobalFlags& g, const CentralFlags& f) {
  SystemClock clock;
  auto c = OpenCentral(f, clock);
  if (!c.ok()) return Fail(c.status());
  auto list = (*c)->ListSatellites(f.account);
  if (!list.ok()) return Fail(list.status());
  if (g.json) {
    PrintJson(*list);
    return kExitOk;
  }
  std::vector<std::vector<std::string>> rows;
  for (const auto& s : list->satellites()) {
    rows.push_back({s.satellite_id(), s.account_id(), Printable(s.name()), SatelliteState(s),
                    s.key_id().empty() ? "-" : s.key_id(), std::to_string(s.last_sequence()),
                    When(s.last_sync_at()), std::to_string(s.devices_total()),
                    OrDefault(Printable(s.software_version()), "-")});
  }
  PrintTable(std::cout,
             {"SATELLITE", "ACCOUNT", "NAME", "STATE", "KEY", "LAST REQUEST", "LAST SYNC",
              "DEVICES", "VERSION"},
             rows);
  return kExitOk;
}

void PrintSatellite(const v1::CentralSatellite& s, bool with_quotas) {
  std::vector<std::pair<std::string, std::string>> fields = {
      {"satellite", s.satellite_id()},
      {"account", s.account_id()},
      {"name", Printable(s.name())},
      {"state", SatelliteState(s)},
      {"enrolled", When(s.enrolled_at())},
      {"key", s.key_id().empty() ? "(bound by its first sync request)" : s.key_id()},
      {"key bound", When(s.bound_at())},
      {"last request", std::to_string(s.last_sequence())},
      {"last sync", When(s.last_sync_at())},
      {"devices", std::to_string(s.devices_total())},
      {"software version", OrDefault(Printable(s.software_version()), "-")}};
  if (s.revoked_at() != 0) {
    fields.push_back({"revoked", When(s.revoked_at())});
    fields.push_back({"revoked because", Printable(s.revoked_reason())});
  }
  if (s.reenrolled_at() != 0) fields.push_back({"re-enrolled", When(s.reenrolled_at())});
  if (with_quotas) {
    fields.push_back({"sync requests, last 24 h", std::to_string(s.requests_last_day()) + " of " +
                                                      std::to_string(central::kMaxRequestsPerDay)});
    fields.push_back({"usage reports, last 24 h",
                      std::to_string(s.usage_reports_last_day()) + " of " +
                          std::to_string(central::kMaxUsageReportsPerDay) + " (" +
                          std::to_string(s.usage_bytes_last_day() >> 10) + " KiB of " +
                          std::to_string(central::kMaxUsageBytesPerDay >> 20) + " MiB)"});
  }
  PrintFields(std::cout, fields);
}

int RunSatelliteShow(const GlobalFlags& g, const CentralFlags& f) {
  SystemClock clock;
  auto c = OpenCentral(f, clock);
  if (!c.ok()) return Fail(c.status());
  auto satellite = (*c)->GetSatellite(f.satellite);
  if (!satellite.ok()) return Fail(satellite.status());
  if (g.json) {
    PrintJson(*satellite);
    return kExitOk;
  }
  PrintSatellite(*satellite, /*with_quotas=*/true);
  if (satellite->history_size() > 0) {
    std::vector<std::vector<std::string>> rows;
    for (const auto& e : satellite->history()) {
      rows.push_back({When(e.at()), e.event(), OrDefault(e.key_id(), "-"), Printable(e.detail())});
    }
    std::cout << "\nHistory:\n";
    PrintTable(std::cout, {"TIME", "EVENT", "SATELLITE KEY", "DETAIL"}, rows);
  }
  return kExitOk;
}

int RunSatelliteRevoke(const GlobalFlags& g, const CentralFlags& f) {
  SystemClock clock;
  auto c = OpenCentral(f, clock);
  if (!c.ok()) return Fail(c.status());
  auto satellite = (*c)->RevokeSatellite(f.satellite, f.reason);
  if (!satellite.ok()) return Fail(satellite.status());
  if (g.json) {
    PrintJson(*satellite);
    return kExitOk;
  }
  std::cout << "Revoked satellite " << satellite->satellite_id() << " ("
            << Printable(satellite->name()) << ") of account " << satellite->account_id()
            << ": its sync requests are refused from now on, online and as files. To replace "
               "the appliance under the same id, `outpost central satellite reenroll "
            << satellite->satellite_id() << " -o FILE`; or enrol a new satellite (`outpost central "
            << "satellite enroll " << satellite->account_id() << " --name ... -o FILE`).\n";
  return kExitOk;
}

int RunSatelliteReenroll(const GlobalFlags& g, const CentralFlags& f) {
  SystemClock clock;
  auto c = OpenCentral(f, clock);
  if (!c.ok()) return Fail(c.status());
  std::optional<std::string> url;
  if (f.offline) {
    url = "";
  } else if (!f.url.empty()) {
    url = f.url;
  }
  auto enrollment = (*c)->ReenrollSatellite(f.satellite, f.output, f.armor, url);
  if (!enrollment.ok()) return Fail(enrollment.status());
  if (g.json) {
    PrintJson(*enrollment);
    return kExitOk;
  }
  std::cout << "Re-enrolled satellite " << enrollment->satellite().satellite_id() << " ("
            << Printable(enrollment->satellite().name()) << ") of account "
            << Printable(enrollment->satellite().account_id())
            << ": its previous key is refused, and the first sync with the new bundle binds the "
               "new satellite's key.\n";
  PrintFields(std::cout,
              {{"enrollment bundle", enrollment->file()},
               {"central key id", enrollment->central_key_id()},
               {"central key fingerprint", enrollment->central_key_fingerprint()},
               {"central URL", OrDefault(enrollment->central_url(), "(none: offline only)")},
               {"central CA fingerprint", enrollment->ca_fingerprint()}});
  std::cout << "The bundle holds a one-time secret (mode 0600): hand it to the satellite operator "
               "only, who initialises a new data directory with `outpost init --enroll FILE` and "
               "checks the central key fingerprint above.\n";
  return kExitOk;
}

int RunSyncProcess(const GlobalFlags& g, const CentralFlags& f) {
  std::error_code ec;
  // Checked first so that a refusal here changes nothing at central.
  if (std::filesystem::exists(f.output, ec)) {
    return Fail(AlreadyExists(f.output + " already exists; choose another file for the response"));
  }
  auto bytes =
      crypto::ReadSmallFile(f.input, sync::ArmoredSizeLimit(central::kDefaultMaxRequestBytes));
  if (!bytes.ok()) return Fail(bytes.status());
  SystemClock clock;
  auto c = OpenCentral(f, clock);
  if (!c.ok()) return Fail(c.status());
  auto outcome = (*c)->ProcessSyncRequest(*bytes);
  if (!outcome.ok()) return Fail(outcome.status().WithContext(f.input));
  auto bundle = sync::ParseBundleBytes(outcome->response_bytes, "the sync response");
  if (!bundle.ok()) return Fail(bundle.status());
  if (auto s = sync::WriteBundleFile(f.output, *bundle, v1::BUNDLE_KIND_SYNC_RESPONSE, f.armor);
      !s.ok()) {
    return Fail(
        s.WithContext("the request was processed, but writing the response failed (run "
                      "the same command again with another -o: central answers the same "
                      "request with the same response): "));
  }
  v1::CentralSyncOutcome summary = outcome->summary;
  summary.set_output_file(f.output);
  if (g.json) {
    PrintJson(summary);
    return kExitOk;
  }
  const v1::SyncResponse& r = summary.response();
  std::cout << (summary.resent() ? "Answered again (an exact repeat of the last request; nothing "
                                   "applied twice): "
                                 : "Processed ")
            << "sync request " << summary.request_sequence() << " of satellite "
            << summary.satellite_id() << "\n";
  int applied = 0, converted = 0;
  for (const auto& m : r.move_results()) applied += m.status() == v1::MoveResult::STATUS_APPLIED;
  for (const auto& cr : r.conversion_results()) {
    converted += cr.status() == v1::ConversionResult::STATUS_CONVERTED;
  }
  PrintFields(
      std::cout,
      {{"response", f.output},
       {"response number", std::to_string(r.response_number())},
       {"valid until", When(r.valid_until())},
       {"entitlements", std::to_string(r.entitlements_size())},
       {"usage reports acknowledged", std::to_string(r.acknowledged_report_ids_size()) + " (" +
                                          std::to_string(summary.new_usage_reports()) + " new)"},
       {"moves applied", std::to_string(applied) + " of " + std::to_string(r.move_results_size())},
       {"conversions",
        std::to_string(converted) + " of " + std::to_string(r.conversion_results_size())},
       {"satellite key bound", summary.key_bound() ? "now (first contact)" : "earlier"}});
  for (const auto& m : r.move_results()) {
    if (m.status() != v1::MoveResult::STATUS_APPLIED) {
      std::cout << "  move " << Printable(m.move_id()) << " rejected: " << Printable(m.message())
                << "\n";
    }
  }
  for (const auto& cr : r.conversion_results()) {
    if (cr.status() != v1::ConversionResult::STATUS_CONVERTED) {
      std::cout << "  conversion " << Printable(cr.conversion_id())
                << " rejected: " << Printable(cr.message()) << "\n";
    }
  }
  return kExitOk;
}

int RunPakCreate(const GlobalFlags& g, const CentralFlags& f) {
  auto terms = TermsFrom(f);
  if (!terms.ok()) return Fail(terms.status());
  SystemClock clock;
  auto c = OpenCentral(f, clock);
  if (!c.ok()) return Fail(c.status());
  auto pak = (*c)->CreatePak(f.account, f.va, f.tag, *terms);
  if (!pak.ok()) return Fail(pak.status());
  if (g.json) {
    PrintJson(*pak);
    return kExitOk;
  }
  std::cout << "Created license key for " << pak->quantity() << " of " << Printable(pak->tag())
            << " (account " << Printable(pak->account_id()) << ", virtual account "
            << Printable(pak->va()) << ")\n"
            << "  " << pak->key() << "\n"
            << "This key is shown once; central keeps only its hash. It converts once: the "
               "customer runs `outpost convert KEY --va VA` on the satellite and syncs.\n";
  return kExitOk;
}

int RunPakList(const GlobalFlags& g, const CentralFlags& f) {
  SystemClock clock;
  auto c = OpenCentral(f, clock);
  if (!c.ok()) return Fail(c.status());
  auto list = (*c)->ListPaks(f.account);
  if (!list.ok()) return Fail(list.status());
  if (g.json) {
    PrintJson(*list);
    return kExitOk;
  }
  std::vector<std::vector<std::string>> rows;
  for (const auto& p : list->paks()) {
    rows.push_back(
        {p.key_prefix() + "...", p.va(), p.tag(), std::to_string(p.quantity()), EndText(p.end()),
         p.converted_at() == 0
             ? "not converted"
             : "converted " + When(p.converted_at()) + " by " + p.converted_by_satellite()});
  }
  PrintTable(std::cout, {"KEY", "VA", "TAG", "QUANTITY", "END", "STATE"}, rows);
  return kExitOk;
}

int RunUsage(const GlobalFlags& g, const CentralFlags& f) {
  SystemClock clock;
  auto c = OpenCentral(f, clock);
  if (!c.ok()) return Fail(c.status());
  auto list = (*c)->ListUsage(f.account);
  if (!list.ok()) return Fail(list.status());
  if (g.json) {
    PrintJson(*list);
    return kExitOk;
  }
  std::vector<std::vector<std::string>> rows;
  for (const auto& r : list->reports()) {
    rows.push_back({r.report().va(), r.report().tag(), When(r.report().period_start()),
                    When(r.report().period_end()), std::to_string(r.report().peak_in_use()),
                    r.satellite_id(), r.report().report_id()});
  }
  PrintTable(std::cout, {"VA", "TAG", "FROM", "TO", "PEAK", "SATELLITE", "REPORT"}, rows);
  return kExitOk;
}

void AddTermsOptions(CLI::App* command, CentralFlags* f) {
  command->add_option("--tag", f->tag, "License tag, e.g. regid.2026-01.com.example.fw.base")
      ->required();
  command->add_option("--count", f->count, "Quantity (1 to 1000000000)")->required();
  command->add_option("--start", f->start, "First day, YYYY-MM-DD (UTC; default now)");
  command->add_option("--end", f->end, "End, YYYY-MM-DD (UTC, exclusive; default perpetual)");
  command->add_flag("--enforced", f->enforced,
                    "ENFORCED: the satellite refuses allocation beyond the quantity");
  command->add_flag("--floating", f->floating,
                    "Concurrent-use leases instead of per-device counts");
  command->add_flag("--export-controlled", f->export_controlled,
                    "Only devices whose token allows export-controlled features may use it");
}

}  // namespace

CLI::App* AddCentralCommand(CLI::App* group, CommandLine& cli, const std::string& name,
                            const std::string& description, std::shared_ptr<CentralFlags> flags,
                            CentralRunFn run) {
  auto* command = group->add_subcommand(name, description);
  command->add_option("--data-dir", flags->data_dir, "Central data directory")->required();
  command->callback(
      [&cli, flags, run] { cli.run = [&cli, flags, run] { return run(cli.global, *flags); }; });
  return command;
}

void AddCentralCommands(CLI::App& app, CommandLine& cli) {
  auto* central = app.add_subcommand(
      "central", "The reference central service (vendor side), on its own data directory");
  central->require_subcommand(1);

  auto init_flags = std::make_shared<CentralFlags>();
  auto* init = AddCentralCommand(central, cli, "init", "Create a central data directory",
                                 init_flags, RunInit);
  init->add_option("--listen", init_flags->listen,
                   std::string("HOST:PORT that `central serve` listens on (default ") +
                       central::kDefaultListen + ")");
  init->add_option("--url", init_flags->url,
                   "https URL written into enrollment bundles (default https://LISTEN)");
  init->add_option("--hostname", init_flags->hostnames,
                   "Extra host name or IP for the TLS certificate (repeatable)");
  init->add_option("--response-validity", init_flags->response_validity,
                   "How long a sync response stays valid (default 30d; 1h to 366d)");
  init->add_option("--authorization-validity", init_flags->authorization_validity,
                   "Policy sent to satellites (default: the satellite's own)");
  init->add_option("--authorization-renewal", init_flags->authorization_renewal,
                   "Policy sent to satellites (default: the satellite's own)");
  init->add_option("--floating-lease", init_flags->floating_lease,
                   "Policy sent to satellites (default: the satellite's own)");
  init->add_option("--sync-interval", init_flags->sync_interval,
                   "Policy sent to satellites (default: the satellite's own)");

  auto serve_flags = std::make_shared<CentralFlags>();
  AddCentralCommand(central, cli, "serve", "Serve POST /v1/sync over HTTPS until SIGTERM",
                    serve_flags, RunServe)
      ->add_option("--listen", serve_flags->listen,
                   "HOST:PORT (default: the address given to `central init`)");

  auto* account = central->add_subcommand("account", "Customer accounts");
  account->require_subcommand(1);
  auto account_flags = std::make_shared<CentralFlags>();
  auto* account_create = AddCentralCommand(account, cli, "create",
                                           "Create an account (with its virtual account 'default')",
                                           account_flags, RunAccountCreate);
  account_create->add_option("ACCOUNT", account_flags->account, "Account id, e.g. acme")
      ->required();
  account_create->add_option("--name", account_flags->name, "Display name (default: the id)");
  AddCentralCommand(account, cli, "list", "List accounts", std::make_shared<CentralFlags>(),
                    RunAccountList);

  auto* va = central->add_subcommand("va", "Virtual accounts");
  va->require_subcommand(1);
  auto va_flags = std::make_shared<CentralFlags>();
  auto* va_create =
      AddCentralCommand(va, cli, "create", "Create a virtual account", va_flags, RunVaCreate);
  va_create->add_option("ACCOUNT", va_flags->account, "Account id")->required();
  va_create->add_option("VA", va_flags->va, "Virtual account name, e.g. lab")->required();

  auto* license = central->add_subcommand("license", "Entitlements");
  license->require_subcommand(1);
  auto license_flags = std::make_shared<CentralFlags>();
  auto* license_add =
      AddCentralCommand(license, cli, "add", "Grant an entitlement to a virtual account",
                        license_flags, RunLicenseAdd);
  license_add->add_option("ACCOUNT", license_flags->account, "Account id")->required();
  license_add->add_option("VA", license_flags->va, "Virtual account")->required();
  AddTermsOptions(license_add, license_flags.get());
  auto license_list_flags = std::make_shared<CentralFlags>();
  AddCentralCommand(license, cli, "list", "The complete entitlement set of an account",
                    license_list_flags, RunLicenseList)
      ->add_option("ACCOUNT", license_list_flags->account, "Account id")
      ->required();

  auto* satellite = central->add_subcommand("satellite", "Satellites");
  satellite->require_subcommand(1);
  auto enroll_flags = std::make_shared<CentralFlags>();
  auto* enroll = AddCentralCommand(satellite, cli, "enroll",
                                   "Enrol a satellite and write its enrollment bundle",
                                   enroll_flags, RunEnroll);
  enroll->add_option("ACCOUNT", enroll_flags->account, "Account id")->required();
  enroll->add_option("--name", enroll_flags->name, "What the satellite is, e.g. \"plant 4\"")
      ->required();
  enroll->add_option("-o,--output", enroll_flags->output, "Enrollment bundle file to write")
      ->required();
  enroll->add_option("--url", enroll_flags->url, "Central URL for online sync (default: init's)");
  enroll->add_flag("--offline", enroll_flags->offline, "Write no central URL (offline only)");
  enroll->add_flag("--armor", enroll_flags->armor, "Write the bundle as ASCII armor");
  auto satellite_list_flags = std::make_shared<CentralFlags>();
  AddCentralCommand(satellite, cli, "list", "Satellites and their last sync", satellite_list_flags,
                    RunSatelliteList)
      ->add_option("--account", satellite_list_flags->account, "Only this account's");
  auto satellite_show_flags = std::make_shared<CentralFlags>();
  AddCentralCommand(satellite, cli, "show",
                    "One satellite: its key, last sync, revocation and use of the daily quotas",
                    satellite_show_flags, RunSatelliteShow)
      ->add_option("SATELLITE", satellite_show_flags->satellite, "Satellite id (satellite list)")
      ->required();
  auto revoke_flags = std::make_shared<CentralFlags>();
  auto* revoke = AddCentralCommand(satellite, cli, "revoke",
                                   "Refuse a satellite's sync requests for good (a stolen, "
                                   "replaced or re-enrolled appliance)",
                                   revoke_flags, RunSatelliteRevoke);
  revoke->add_option("SATELLITE", revoke_flags->satellite, "Satellite id (satellite list)")
      ->required();
  revoke
      ->add_option("--reason", revoke_flags->reason,
                   "Why, shown to the satellite's operator when it is refused (required)")
      ->required();

  auto reenroll_flags = std::make_shared<CentralFlags>();
  auto* reenroll = AddCentralCommand(satellite, cli, "reenroll",
                                     "Enrol a revoked satellite again under its id (a new "
                                     "appliance): new one-time secret, its old key refused",
                                     reenroll_flags, RunSatelliteReenroll);
  reenroll->add_option("SATELLITE", reenroll_flags->satellite, "Satellite id (satellite list)")
      ->required();
  reenroll->add_option("-o,--output", reenroll_flags->output, "Enrollment bundle file to write")
      ->required();
  reenroll->add_option("--url", reenroll_flags->url,
                       "Central URL for online sync (default: init's)");
  reenroll->add_flag("--offline", reenroll_flags->offline, "Write no central URL (offline only)");
  reenroll->add_flag("--armor", reenroll_flags->armor, "Write the bundle as ASCII armor");

  auto* sync_group = central->add_subcommand("sync", "Sync requests");
  sync_group->require_subcommand(1);
  auto process_flags = std::make_shared<CentralFlags>();
  auto* process = AddCentralCommand(sync_group, cli, "process",
                                    "Answer a sync request file with a sync response file",
                                    process_flags, RunSyncProcess);
  process->add_option("REQUEST", process_flags->input, "Sync request (binary or armored)")
      ->required();
  process->add_option("-o,--output", process_flags->output, "Sync response file to write")
      ->required();
  process->add_flag("--armor", process_flags->armor, "Write the response as ASCII armor");

  auto* pak = central->add_subcommand("pak", "Traditional (key-based) licenses");
  pak->require_subcommand(1);
  auto pak_flags = std::make_shared<CentralFlags>();
  auto* pak_create = AddCentralCommand(pak, cli, "create", "Create a license key; it is shown once",
                                       pak_flags, RunPakCreate);
  pak_create->add_option("ACCOUNT", pak_flags->account, "Account id")->required();
  pak_create->add_option("VA", pak_flags->va, "Virtual account it is for")->required();
  AddTermsOptions(pak_create, pak_flags.get());
  auto pak_list_flags = std::make_shared<CentralFlags>();
  AddCentralCommand(pak, cli, "list", "License keys of an account (never the keys)", pak_list_flags,
                    RunPakList)
      ->add_option("ACCOUNT", pak_list_flags->account, "Account id")
      ->required();

  auto usage_flags = std::make_shared<CentralFlags>();
  AddCentralCommand(central, cli, "usage", "Usage reports received from an account's satellites",
                    usage_flags, RunUsage)
      ->add_option("ACCOUNT", usage_flags->account, "Account id")
      ->required();

  AddCentralKeyCommands(central, cli);
}

}  // namespace outpost::cli
