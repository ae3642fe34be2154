// `outpost sync export|import|now|status`, `outpost convert`, `outpost conversions`: the
// satellite's side of sync with central over /v1/admin/sync/... and /v1/admin/conversions.

#include <filesystem>
#include <iostream>
#include <memory>

#include "cli/commands.h"
#include "cli/connection.h"
#include "cli/output.h"
#include "common/crypto/secure_file.h"
#include "outpost/v1/common.pb.h"
#include "outpost/v1/satellite_sync.pb.h"
#include "sync/bundle/armor.h"
#include "sync/bundle/codec.h"

namespace outpost::cli {
namespace {

struct SyncFlags {
  ConnectionFlags connection;
  std::string output;
  bool armor = false;
  bool force = false;
  std::string file;
  std::string key;
  std::string va;
};

std::string Header(const net::ClientResponse& res, const std::string& name) {
  auto it = res.headers.find(name);
  return it == res.headers.end() ? "0" : it->second;
}

int RunExport(const GlobalFlags& g, const SyncFlags& f) {
  // Every export records and audits a new request: refuse an unusable -o before that happens.
  const crypto::IfExists if_exists = f.force ? crypto::IfExists::kReplace : crypto::IfExists::kFail;
  if (Status s = crypto::CheckWritable(f.output, if_exists); !s.ok()) {
    return Fail(s.WithContext("-o"));
  }
  auto client = ConnectToSatellite(f.connection);
  if (!client.ok()) return Fail(client.status());
  auto res = (*client)->Send("POST", "/v1/admin/sync/export", "", "", "application/octet-stream");
  if (!res.ok()) return Fail(res.status());
  auto bundle = sync::ParseBundleBytes(res->body, "the satellite's answer");
  if (!bundle.ok()) return Fail(bundle.status());
  if (Status s = sync::WriteBundleFile(f.output, *bundle, v1::BUNDLE_KIND_SYNC_REQUEST, f.armor,
                                       if_exists);
      !s.ok()) {
    return Fail(s);
  }
  if (g.json) {
    std::cout << "{\"file\":\"" << Printable(f.output) << "\",\"sequence\":\""
              << Header(*res, "x-outpost-sequence") << "\",\"usage_reports\":\""
              << Header(*res, "x-outpost-usage-reports") << "\",\"moves\":\""
              << Header(*res, "x-outpost-moves") << "\",\"conversions\":\""
              << Header(*res, "x-outpost-conversions") << "\"}\n";
    return kExitOk;
  }
  std::cout << "Wrote sync request " << Header(*res, "x-outpost-sequence") << " to "
            << Printable(f.output) << (f.armor ? " (armored)" : "") << "\n"
            << "  usage reports: " << Header(*res, "x-outpost-usage-reports")
            << ", moves: " << Header(*res, "x-outpost-moves")
            << ", conversions: " << Header(*res, "x-outpost-conversions") << "\n"
            << "Carry it to central; there: outpost central sync process FILE -o RESPONSE "
               "--data-dir DIR. Then here: outpost sync import RESPONSE\n";
  return kExitOk;
}

// Central's verdict on each move and conversion a response answered, one line each, so that an
// operator sees why something was rejected without another command.
void PrintVerdicts(const v1::SyncImportResult& result) {
  if (!result.audit_alarm().empty()) {
    std::cout << "ALARM AUDIT_TRUNCATED: " << Printable(result.audit_alarm()) << "\n";
  }
  for (const auto& m : result.move_results()) {
    const bool applied = m.status() == v1::MoveResult::STATUS_APPLIED;
    std::cout << "  move " << Printable(m.move_id()) << ": " << (applied ? "applied" : "REJECTED")
              << (m.message().empty() ? "" : " - " + Printable(m.message())) << "\n";
  }
  for (const auto& c : result.conversion_results()) {
    const bool converted = c.status() == v1::ConversionResult::STATUS_CONVERTED;
    std::cout << "  conversion " << Printable(c.conversion_id()) << ": "
              << (converted ? "converted" : "REJECTED")
              << (c.message().empty() ? "" : " - " + Printable(c.message())) << "\n";
  }
  if (result.moves_rejected() > 0 || result.conversions_rejected() > 0) {
    std::cout << "Rejected moves and conversions changed nothing at central; `outpost moves` and "
                 "`outpost conversions` list them.\n";
  }
}

int RunImport(const GlobalFlags& g, const SyncFlags& f) {
  // The satellite checks size, armor, signature and freshness; read at most what it accepts.
  auto bytes = crypto::ReadSmallFile(f.file, sync::ArmoredSizeLimit(sync::kMaxBundleBytes));
  if (!bytes.ok()) return Fail(bytes.status());
  auto client = ConnectToSatellite(f.connection);
  if (!client.ok()) return Fail(client.status());
  auto res = (*client)->Send("POST", "/v1/admin/sync/import", *bytes, "application/octet-stream",
                             "application/x-protobuf");
  if (!res.ok()) return Fail(res.status());
  v1::SyncImportResult result;
  if (!result.ParseFromString(res->body)) {
    return Fail(Internal("the satellite's answer to the import is not a SyncImportResult"));
  }
  if (g.json) {
    PrintJson(result);
    return kExitOk;
  }
  std::cout << Printable(result.message()) << "\n";
  if (!result.already_imported()) {
    PrintFields(
        std::cout,
        {{"response", std::to_string(result.response_number())},
         {"answers request", std::to_string(result.answers_request_sequence())},
         {"entitlements", std::to_string(result.entitlements())},
         {"usage reports acknowledged", std::to_string(result.acknowledged_usage_reports())},
         {"moves applied / rejected",
          std::to_string(result.moves_applied()) + " / " + std::to_string(result.moves_rejected())},
         {"conversions converted / rejected", std::to_string(result.conversions_converted()) +
                                                  " / " +
                                                  std::to_string(result.conversions_rejected())},
         {"valid until", result.valid_until_text()},
         {"central key rotated", result.central_key_rotated() ? "yes" : "no"}});
    PrintVerdicts(result);
  }
  return kExitOk;
}

int RunNow(const GlobalFlags& g, const SyncFlags& f) {
  // Longer than the satellite's own 30 s towards central, so that when central is slow the
  // operator reads the satellite's answer (which names central) rather than a timeout of the
  // satellite's own address.
  auto client = ConnectToSatellite(f.connection, std::chrono::seconds(90));
  if (!client.ok()) return Fail(client.status());
  v1::SyncImportResult result;
  if (auto s = (*client)->Call("POST", "/v1/admin/sync/now", v1::Empty(), &result); !s.ok()) {
    return Fail(s);
  }
  if (g.json) {
    PrintJson(result);
    return kExitOk;
  }
  std::cout << "Synced with central: " << Printable(result.message()) << "; valid until "
            << result.valid_until_text() << "\n";
  PrintVerdicts(result);
  return kExitOk;
}

int RunStatus(const GlobalFlags& g, const SyncFlags& f) {
  auto client = ConnectToSatellite(f.connection);
  if (!client.ok()) return Fail(client.status());
  v1::SyncStatus st;
  if (auto s = (*client)->Call("GET", "/v1/admin/sync/status", v1::Empty(), &st); !s.ok()) {
    return Fail(s);
  }
  if (g.json) {
    PrintJson(st);
    return kExitOk;
  }
  if (!st.enrolled()) {
    std::cout << "Not enrolled with central: initialise with `outpost init --enroll FILE`.\n";
    return kExitOk;
  }
  std::vector<std::pair<std::string, std::string>> fields = {
      {"account",
       st.account_id() + (st.account_name().empty() ? "" : " (" + st.account_name() + ")")},
      {"mode", st.mode()},
      {"central", OrDefault(st.central_url(), "(offline only)")},
      {"central key id", st.central_key_id()},
      {"last export", st.last_request_sequence() == 0
                          ? "never"
                          : "request " + std::to_string(st.last_request_sequence()) + " at " +
                                st.last_export_at_text()},
      {"last import", st.last_response_number() == 0
                          ? "never"
                          : "response " + std::to_string(st.last_response_number()) + " at " +
                                st.last_import_at_text()},
      {"valid until", OrDefault(st.valid_until_text(), "-")},
      {"alarm", st.sync_overdue() ? "SYNC_OVERDUE: the last response expired; sync now" : "none"},
      {"audit witness",
       st.audit_alarm().empty() ? "no alarm" : "AUDIT_TRUNCATED: " + st.audit_alarm()},
      {"entitlements", std::to_string(st.entitlements())},
      {"waiting for central", Plural(st.pending_usage_reports(), "usage report") + ", " +
                                  Plural(st.pending_moves(), "move") + ", " +
                                  Plural(st.pending_conversions(), "conversion")}};
  if (!st.last_failed_import_error().empty()) {
    fields.emplace_back("last failed import",
                        st.last_failed_import_at_text() + ": " + st.last_failed_import_error());
  }
  // Online attempts are shown in offline mode too once `sync now` was tried.
  if (st.mode() == "online" || st.last_attempt_at() != 0) {
    fields.emplace_back("last attempt", st.last_attempt_at() == 0
                                            ? "none yet"
                                            : st.last_attempt_at_text() +
                                                  (st.last_attempt_ok() ? " (ok)" : " (failed)"));
    if (!st.last_error().empty()) {
      fields.emplace_back("last error", st.last_error());
      fields.emplace_back("failures in a row", std::to_string(st.consecutive_failures()));
    }
    if (st.next_attempt_at() != 0) fields.emplace_back("next attempt", st.next_attempt_at_text());
  }
  PrintFields(std::cout, fields);
  return kExitOk;
}

int RunConvert(const GlobalFlags& g, const SyncFlags& f) {
  auto client = ConnectToSatellite(f.connection);
  if (!client.ok()) return Fail(client.status());
  v1::ConvertRequest request;
  request.set_key(f.key);
  request.set_va(f.va);
  v1::Conversion out;
  if (auto s = (*client)->Call("POST", "/v1/admin/conversions", request, &out); !s.ok()) {
    return Fail(s);
  }
  if (g.json) {
    PrintJson(out);
    return kExitOk;
  }
  std::cout << "Queued conversion " << Printable(out.id()) << " of key "
            << Printable(out.key_prefix()) << "... into " << Printable(out.va())
            << "; it goes to central with the next sync (`outpost sync export` or `sync now`), "
               "and `outpost conversions` shows the result after the import.\n";
  return kExitOk;
}

int RunConversions(const GlobalFlags& g, const SyncFlags& f) {
  auto client = ConnectToSatellite(f.connection);
  if (!client.ok()) return Fail(client.status());
  v1::ListConversionsResponse out;
  if (auto s = (*client)->Call("GET", "/v1/admin/conversions", v1::Empty(), &out); !s.ok()) {
    return Fail(s);
  }
  if (g.json) {
    PrintJson(out);
    return kExitOk;
  }
  std::vector<std::vector<std::string>> rows;
  for (const auto& c : out.conversions()) {
    std::string ids;
    for (const auto& id : c.entitlement_ids()) ids += (ids.empty() ? "" : ",") + id;
    rows.push_back({c.id(), c.key_prefix() + "...", c.va(), c.status(), c.requested_at_text(),
                    OrDefault(c.message(), OrDefault(ids, "-"))});
  }
  PrintTable(std::cout, {"ID", "KEY", "VA", "STATUS", "REQUESTED", "RESULT"}, rows);
  return kExitOk;
}

}  // namespace

void AddSyncCommands(CLI::App& app, CommandLine& cli) {
  auto* sync = app.add_subcommand("sync", "Exchange signed bundles with central");
  sync->require_subcommand(1);

  auto export_flags = std::make_shared<SyncFlags>();
  auto* exp =
      AddConnectedCommand(sync, cli, "export", "Write a signed sync request for central to a file",
                          export_flags, RunExport);
  exp->add_option("-o,--output", export_flags->output, "File to write")->required();
  exp->add_flag("--armor", export_flags->armor, "Write base64 text for copy and paste");
  exp->add_flag("--force", export_flags->force, "Replace the output file if it exists");

  auto import_flags = std::make_shared<SyncFlags>();
  AddConnectedCommand(sync, cli, "import", "Verify and apply a sync response from central",
                      import_flags, RunImport)
      ->add_option("FILE", import_flags->file, "The response file (binary or armored)")
      ->required()
      ->check(CLI::ExistingFile);

  auto now_flags = std::make_shared<SyncFlags>();
  AddConnectedCommand(sync, cli, "now", "Sync with central online now", now_flags, RunNow);
  auto status_flags = std::make_shared<SyncFlags>();
  AddConnectedCommand(sync, cli, "status",
                      "Enrollment, last exchange, SYNC_OVERDUE and online failures", status_flags,
                      RunStatus);

  auto convert_flags = std::make_shared<SyncFlags>();
  auto* convert = AddConnectedCommand(&app, cli, "convert",
                                      "Queue a traditional license key for conversion at the next "
                                      "sync",
                                      convert_flags, RunConvert);
  convert->add_option("KEY", convert_flags->key, "The license key central issued")->required();
  convert->add_option("--va", convert_flags->va, "Virtual account to convert into")->required();

  auto conversions_flags = std::make_shared<SyncFlags>();
  AddConnectedCommand(&app, cli, "conversions", "List conversions and their results",
                      conversions_flags, RunConversions);
}

}  // namespace outpost::cli
