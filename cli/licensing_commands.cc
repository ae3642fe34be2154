// `outpost licenses`, `outpost devices [release|rehost]`, `outpost va move|list`, `outpost moves`,
// `outpost reserve`,
// `outpost reservations`, `outpost unreserve`: compliance, devices, moves and reservations over
// /v1/admin/licenses, /v1/admin/devices and /v1/admin/reservations.

#include <iostream>
#include <memory>

#include "cli/commands.h"
#include "cli/connection.h"
#include "cli/output.h"
#include "common/csv.h"
#include "outpost/v1/common.pb.h"
#include "outpost/v1/licensing.pb.h"

namespace outpost::cli {
namespace {

struct LicensingFlags {
  ConnectionFlags connection;
  std::string va;
  std::string from_va;
  std::string to_va;
  std::string tag;
  int64_t count = 0;
  std::string udi;
  std::string id;
  int limit = 1000;
  bool limit_given = false;  // devices --csv: without --limit it writes every device
  int page_size = 1000;      // devices --csv: devices per request (hidden; tests page with 1)
  bool csv = false;          // licenses, devices, reservations: CSV (RFC 4180) instead of a table
};

// --json and --csv both choose the output; one at a time.
bool BothFormats(const GlobalFlags& g, const LicensingFlags& f) { return g.json && f.csv; }
constexpr char kBothFormats[] = "--json and --csv both choose the output format; give one";

// A report for a spreadsheet: the header, then every row, with formulas neutralised (a
// hostname or UDI a device chose must not run in the operator's spreadsheet).
void PrintCsv(const std::vector<std::string>& header,
              const std::vector<std::vector<std::string>>& rows) {
  std::cout << csv::Row(header, csv::Formulas::kNeutralise);
  for (const auto& row : rows) std::cout << csv::Row(row, csv::Formulas::kNeutralise);
}

Result<std::unique_ptr<AdminClient>> Connect(const LicensingFlags& f) {
  return ConnectToSatellite(f.connection);
}

std::string Holdings(const v1::Device& d) {
  std::string out;
  for (const auto& h : d.holdings()) {
    if (!out.empty()) out += ", ";
    out += h.tag() + ":" + std::to_string(h.count());
  }
  return out.empty() ? "-" : out;
}

std::string Released(const google::protobuf::RepeatedPtrField<v1::TagUse>& released) {
  std::string out;
  for (const auto& t : released) {
    if (!out.empty()) out += ", ";
    out += t.tag() + ":" + std::to_string(t.count());
  }
  return out.empty() ? "nothing" : out;
}

int RunLicenses(const GlobalFlags& g, const LicensingFlags& f) {
  if (BothFormats(g, f)) return UsageError(kBothFormats);
  auto client = Connect(f);
  if (!client.ok()) return Fail(client.status());
  std::string target = "/v1/admin/licenses";
  if (!f.va.empty()) target += "?va=" + UrlEncode(f.va);
  v1::ListLicensesResponse answer;
  if (auto s = (*client)->Call("GET", target, v1::Empty(), &answer); !s.ok()) return Fail(s);
  if (g.json) {
    PrintJson(answer);
    return kExitOk;
  }
  if (f.csv) {
    std::vector<std::vector<std::string>> rows;
    for (const auto& p : answer.pools()) {
      rows.push_back({p.va(), p.tag(), std::to_string(p.purchased()), std::to_string(p.in_use()),
                      std::to_string(p.reserved()), std::to_string(p.available()), p.status(),
                      p.enforcement(), p.floating() ? "true" : "false",
                      p.export_controlled() ? "true" : "false", p.next_end_text()});
    }
    PrintCsv({"va", "tag", "purchased", "in_use", "reserved", "available", "status", "enforcement",
              "floating", "export_controlled", "next_end"},
             rows);
    return kExitOk;
  }
  if (answer.pools().empty()) {
    std::cout << "No licenses" << (f.va.empty() ? "" : " in virtual account " + Printable(f.va))
              << " yet: entitlements arrive with a sync from central (`outpost sync import`).\n";
    return kExitOk;
  }
  std::vector<std::vector<std::string>> rows;
  for (const auto& p : answer.pools()) {
    std::string kind = p.enforcement();
    if (p.floating()) kind += ",FLOATING";
    if (p.export_controlled()) kind += ",EXPORT";
    rows.push_back({p.va(), p.tag(), std::to_string(p.purchased()), std::to_string(p.in_use()),
                    std::to_string(p.reserved()), std::to_string(p.available()), p.status(), kind,
                    p.next_end() != 0 ? p.next_end_text() : "perpetual"});
  }
  PrintTable(
      std::cout,
      {"VA", "TAG", "PURCHASED", "IN USE", "RESERVED", "AVAILABLE", "STATUS", "KIND", "ENDS"},
      rows);
  return kExitOk;
}

// `devices --csv` is an export: every device, page by page along the listing's cursor
// (GET /v1/admin/devices ?after=), unless --limit caps it.
int RunDevicesCsv(AdminClient& client, const LicensingFlags& f) {
  std::vector<std::vector<std::string>> rows;
  std::string after;
  bool capped = false;
  for (;;) {
    std::string target = "/v1/admin/devices?limit=" + std::to_string(f.page_size);
    if (!f.va.empty()) target += "&va=" + UrlEncode(f.va);
    if (!after.empty()) target += "&after=" + UrlEncode(after);
    v1::ListDevicesResponse page;
    if (auto s = client.Call("GET", target, v1::Empty(), &page); !s.ok()) return Fail(s);
    for (const auto& d : page.devices()) {
      if (f.limit_given && rows.size() >= static_cast<size_t>(f.limit)) {
        capped = true;
        break;
      }
      rows.push_back({d.instance_id(), d.va(), d.udi(), d.hostname(), d.registered_at_text(),
                      d.last_seen_at_text(), d.holdings().empty() ? "" : Holdings(d)});
    }
    if (capped || page.next_after().empty()) break;
    after = page.next_after();
  }
  PrintCsv({"instance_id", "va", "udi", "hostname", "registered_at", "last_seen_at", "holds"},
           rows);
  if (capped) {
    std::cerr << "outpost: more devices than --limit " << f.limit << "; the CSV holds the first "
              << f.limit << " (leave out --limit to write them all)\n";
  }
  return kExitOk;
}

int RunDevices(const GlobalFlags& g, const LicensingFlags& f) {
  if (BothFormats(g, f)) return UsageError(kBothFormats);
  auto client = Connect(f);
  if (!client.ok()) return Fail(client.status());
  if (f.csv) return RunDevicesCsv(**client, f);
  std::string target = "/v1/admin/devices?limit=" + std::to_string(f.limit);
  if (!f.va.empty()) target += "&va=" + UrlEncode(f.va);
  v1::ListDevicesResponse answer;
  if (auto s = (*client)->Call("GET", target, v1::Empty(), &answer); !s.ok()) return Fail(s);
  if (g.json) {
    PrintJson(answer);
    return kExitOk;
  }
  std::vector<std::vector<std::string>> rows;
  for (const auto& d : answer.devices()) {
    rows.push_back({d.instance_id(), d.va(), d.udi(), OrDefault(d.hostname(), "-"),
                    d.registered_at_text(), OrDefault(d.last_seen_at_text(), "never"),
                    Holdings(d)});
  }
  PrintTable(std::cout, {"INSTANCE", "VA", "UDI", "HOSTNAME", "REGISTERED", "LAST SEEN", "HOLDS"},
             rows);
  if (answer.truncated()) {
    std::cout << "(more devices than --limit " << f.limit << "; narrow with --va or raise it)\n";
  }
  return kExitOk;
}

int RunRelease(const GlobalFlags& g, const LicensingFlags& f) {
  auto client = Connect(f);
  if (!client.ok()) return Fail(client.status());
  v1::ReleaseDeviceResponse answer;
  if (auto s = (*client)->Call("POST", "/v1/admin/devices/" + UrlEncode(f.id) + "/release",
                               v1::Empty(), &answer);
      !s.ok()) {
    return Fail(s);
  }
  if (g.json) {
    PrintJson(answer);
    return kExitOk;
  }
  std::cout << "Released instance " << Printable(answer.instance_id()) << " ("
            << Printable(Released(answer.released()))
            << " returned to the pool); its certificate is refused from now on.\n";
  return kExitOk;
}

int RunRehost(const GlobalFlags& g, const LicensingFlags& f) {
  auto client = Connect(f);
  if (!client.ok()) return Fail(client.status());
  v1::RehostDeviceRequest request;
  request.set_udi(f.udi);
  v1::Device answer;
  if (auto s = (*client)->Call("POST", "/v1/admin/devices/" + UrlEncode(f.id) + "/rehost", request,
                               &answer);
      !s.ok()) {
    return Fail(s);
  }
  if (g.json) {
    PrintJson(answer);
    return kExitOk;
  }
  std::cout << "Instance " << Printable(answer.instance_id()) << " now belongs to UDI "
            << Printable(answer.udi()) << " and holds " << Printable(Holdings(answer))
            << ".\nThe old device's certificate is refused; register the replacement with "
               "`outpost device register --pid ... --serial ...` (a token is needed) to take "
               "the licenses over.\n";
  return kExitOk;
}

int RunMove(const GlobalFlags& g, const LicensingFlags& f) {
  auto client = Connect(f);
  if (!client.ok()) return Fail(client.status());
  v1::MoveLicensesRequest request;
  request.set_from_va(f.from_va);
  request.set_to_va(f.to_va);
  request.set_tag(f.tag);
  request.set_count(f.count);
  v1::MoveLicensesResponse answer;
  if (auto s = (*client)->Call("POST", "/v1/admin/licenses/move", request, &answer); !s.ok()) {
    return Fail(s);
  }
  if (g.json) {
    PrintJson(answer);
    return kExitOk;
  }
  std::cout << "Moved " << answer.count() << " of " << Printable(answer.tag()) << " from "
            << Printable(answer.from_va()) << " to " << Printable(answer.to_va()) << " (move "
            << Printable(answer.move_id()) << "); central learns of it with the next sync.\n";
  return kExitOk;
}

int RunVaList(const GlobalFlags& g, const LicensingFlags& f) {
  auto client = Connect(f);
  if (!client.ok()) return Fail(client.status());
  v1::ListVirtualAccountsResponse answer;
  if (auto s = (*client)->Call("GET", "/v1/admin/virtual-accounts", v1::Empty(), &answer);
      !s.ok()) {
    return Fail(s);
  }
  if (g.json) {
    PrintJson(answer);
    return kExitOk;
  }
  std::vector<std::vector<std::string>> rows;
  for (const auto& v : answer.virtual_accounts()) {
    rows.push_back({v.name(), v.from_central() ? "central" : "local", std::to_string(v.tags()),
                    std::to_string(v.purchased()), std::to_string(v.in_use())});
  }
  PrintTable(std::cout, {"VA", "KNOWN FROM", "TAGS", "PURCHASED", "IN USE"}, rows);
  if (!answer.central_list_known()) {
    std::cout << "No sync response imported yet: central names the account's virtual accounts "
                 "in its responses (`outpost sync export`, then `outpost sync import`).\n";
  }
  return kExitOk;
}

int RunMoves(const GlobalFlags& g, const LicensingFlags& f) {
  auto client = Connect(f);
  if (!client.ok()) return Fail(client.status());
  v1::ListMovesResponse answer;
  if (auto s = (*client)->Call("GET", "/v1/admin/licenses/moves", v1::Empty(), &answer); !s.ok()) {
    return Fail(s);
  }
  if (g.json) {
    PrintJson(answer);
    return kExitOk;
  }
  if (answer.moves().empty()) {
    std::cout << "No moves yet: `outpost va move --from VA --to VA --tag TAG --count N` makes "
                 "one.\n";
    return kExitOk;
  }
  std::vector<std::vector<std::string>> rows;
  for (const auto& m : answer.moves()) {
    rows.push_back(
        {m.move_id(), m.created_at_text(), m.from_va(), m.to_va(), m.tag(),
         std::to_string(m.count()), m.status(),
         m.status() == "PENDING" ? "waiting for the next sync" : OrDefault(m.message(), "-")});
  }
  PrintTable(std::cout, {"MOVE", "MADE", "FROM", "TO", "TAG", "COUNT", "CENTRAL", "REASON"}, rows);
  return kExitOk;
}

v1::ReservationRequest ReservationFrom(const LicensingFlags& f) {
  v1::ReservationRequest request;
  request.set_va(f.va);
  request.set_tag(f.tag);
  request.set_count(f.count);
  request.set_udi(f.udi);
  return request;
}

int RunReserve(const GlobalFlags& g, const LicensingFlags& f) {
  auto client = Connect(f);
  if (!client.ok()) return Fail(client.status());
  v1::Reservation answer;
  if (auto s = (*client)->Call("POST", "/v1/admin/reservations", ReservationFrom(f), &answer);
      !s.ok()) {
    return Fail(s);
  }
  if (g.json) {
    PrintJson(answer);
    return kExitOk;
  }
  std::cout << "Reserved " << answer.count() << " of " << Printable(answer.tag()) << " in "
            << Printable(answer.va()) << " for " << Printable(answer.udi()) << ".\n";
  return kExitOk;
}

int RunUnreserve(const GlobalFlags& g, const LicensingFlags& f) {
  auto client = Connect(f);
  if (!client.ok()) return Fail(client.status());
  v1::Empty answer;
  if (auto s =
          (*client)->Call("POST", "/v1/admin/reservations/remove", ReservationFrom(f), &answer);
      !s.ok()) {
    return Fail(s);
  }
  if (g.json) {
    PrintJson(answer);
    return kExitOk;
  }
  std::cout << "Removed the reservation of " << Printable(f.tag) << " in " << Printable(f.va)
            << " for " << Printable(f.udi) << ".\n";
  return kExitOk;
}

int RunReservations(const GlobalFlags& g, const LicensingFlags& f) {
  if (BothFormats(g, f)) return UsageError(kBothFormats);
  auto client = Connect(f);
  if (!client.ok()) return Fail(client.status());
  v1::ListReservationsResponse answer;
  if (auto s = (*client)->Call("GET", "/v1/admin/reservations", v1::Empty(), &answer); !s.ok()) {
    return Fail(s);
  }
  if (g.json) {
    PrintJson(answer);
    return kExitOk;
  }
  std::vector<std::vector<std::string>> rows;
  for (const auto& r : answer.reservations()) {
    if (!f.va.empty() && r.va() != f.va) continue;
    rows.push_back({r.va(), r.tag(), r.udi(), std::to_string(r.count())});
  }
  if (f.csv) {
    PrintCsv({"va", "tag", "udi", "count"}, rows);
    return kExitOk;
  }
  PrintTable(std::cout, {"VA", "TAG", "UDI", "COUNT"}, rows);
  return kExitOk;
}

}  // namespace

void AddLicensingCommands(CLI::App& app, CommandLine& cli) {
  static constexpr char kCsvHelp[] =
      "Print CSV (RFC 4180, a header row; cells a spreadsheet would run as formulas start with "
      "')";
  auto licenses_flags = std::make_shared<LicensingFlags>();
  AddConnectedCommand(&app, cli, "licenses",
                      "Compliance per virtual account and tag: purchased, in use, available, "
                      "status",
                      licenses_flags, RunLicenses)
      ->add_option("--va", licenses_flags->va, "Only this virtual account");
  app.get_subcommand("licenses")->add_flag("--csv", licenses_flags->csv, kCsvHelp);

  // `devices` lists; `devices release ID` and `devices rehost ID --udi` act on one.
  auto list_flags = std::make_shared<LicensingFlags>();
  auto* devices = app.add_subcommand("devices", "List registered devices, or act on one");
  devices->require_subcommand(0, 1);
  AddConnectionFlags(devices, &list_flags->connection);
  devices->add_option("--va", list_flags->va, "Only this virtual account");
  devices
      ->add_option("--limit", list_flags->limit,
                   "Most devices to list (1 to 10000; with --csv every device unless given)")
      ->check(CLI::Range(1, 10000));
  devices->add_flag("--csv", list_flags->csv, kCsvHelp);
  devices->add_option("--page-size", list_flags->page_size)
      ->check(CLI::Range(1, 10000))
      ->group("");  // hidden: how many devices `--csv` asks for per request
  devices->callback([&cli, list_flags, devices] {
    list_flags->limit_given = devices->count("--limit") > 0;
    // A subcommand that was picked sets cli.run itself.
    if (!cli.run) cli.run = [&cli, list_flags] { return RunDevices(cli.global, *list_flags); };
  });
  auto release_flags = std::make_shared<LicensingFlags>();
  AddConnectedCommand(devices, cli, "release",
                      "Return all of a device's licenses and deregister it", release_flags,
                      RunRelease)
      ->add_option("INSTANCE_ID", release_flags->id, "Instance id, as `outpost devices` shows it")
      ->required();
  auto rehost_flags = std::make_shared<LicensingFlags>();
  auto* rehost = AddConnectedCommand(devices, cli, "rehost",
                                     "Move a failed device's registration and licenses to a "
                                     "replacement with another UDI",
                                     rehost_flags, RunRehost);
  rehost->add_option("INSTANCE_ID", rehost_flags->id, "Instance id of the failed device")
      ->required();
  rehost->add_option("--udi", rehost_flags->udi, "The replacement's UDI, PID:SN")->required();

  auto* va = app.add_subcommand("va", "Virtual accounts");
  va->require_subcommand(1);
  auto move_flags = std::make_shared<LicensingFlags>();
  auto* move = AddConnectedCommand(va, cli, "move",
                                   "Move license quantity between virtual accounts (reported to "
                                   "central at the next sync)",
                                   move_flags, RunMove);
  move->add_option("--from", move_flags->from_va, "Virtual account giving licenses")->required();
  move->add_option("--to", move_flags->to_va, "Virtual account receiving them")->required();
  move->add_option("--tag", move_flags->tag, "License tag")->required();
  move->add_option("--count", move_flags->count, "How many")->required();
  auto va_list_flags = std::make_shared<LicensingFlags>();
  AddConnectedCommand(va, cli, "list",
                      "The virtual accounts this satellite knows (from central's last sync)",
                      va_list_flags, RunVaList);
  auto moves_flags = std::make_shared<LicensingFlags>();
  AddConnectedCommand(&app, cli, "moves", "Moves made here, with central's verdict and reason",
                      moves_flags, RunMoves);

  auto reserve_flags = std::make_shared<LicensingFlags>();
  auto* reserve =
      AddConnectedCommand(&app, cli, "reserve", "Reserve licenses of a tag for a named device",
                          reserve_flags, RunReserve);
  reserve->add_option("--va", reserve_flags->va, "Virtual account")->required();
  reserve->add_option("--tag", reserve_flags->tag, "License tag")->required();
  reserve->add_option("--count", reserve_flags->count, "How many to add to the reservation")
      ->required();
  reserve->add_option("--udi", reserve_flags->udi, "The device, PID:SN")->required();

  auto unreserve_flags = std::make_shared<LicensingFlags>();
  auto* unreserve = AddConnectedCommand(&app, cli, "unreserve", "Remove a reservation",
                                        unreserve_flags, RunUnreserve);
  unreserve->add_option("--va", unreserve_flags->va, "Virtual account")->required();
  unreserve->add_option("--tag", unreserve_flags->tag, "License tag")->required();
  unreserve->add_option("--udi", unreserve_flags->udi, "The device, PID:SN")->required();

  auto reservations_flags = std::make_shared<LicensingFlags>();
  AddConnectedCommand(&app, cli, "reservations", "List reservations", reservations_flags,
                      RunReservations)
      ->add_option("--va", reservations_flags->va, "Only this virtual account");
  app.get_subcommand("reservations")->add_flag("--csv", reservations_flags->csv, kCsvHelp);
}

}  // namespace outpost::cli
