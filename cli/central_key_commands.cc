// `outpost central status|key|audit-heads`: what central shows of itself and what it holds as
// evidence: its settings, its signing public key (for `bundle inspect --key` and operators'
// fingerprint checks), key rotation, and the audit heads satellites sent (for `outpost audit
// compare-heads`).

#include <filesystem>
#include <iostream>
#include <memory>

#include "cli/central_common.h"
#include "cli/output.h"
#include "common/clock.h"
#include "common/crypto/keys.h"
#include "common/crypto/secure_file.h"
#include "common/proto_json.h"

namespace outpost::cli {
namespace {

int RunStatus(const GlobalFlags& g, const CentralFlags& f) {
  SystemClock clock;
  auto c = OpenCentral(f, clock);
  if (!c.ok()) return Fail(c.status());
  auto status = (*c)->GetStatus();
  if (!status.ok()) return Fail(status.status());
  if (g.json) {
    PrintJson(*status);
    return kExitOk;
  }
  PrintFields(std::cout, {{"central id", status->central_id()},
                          {"signing key id", status->signing_key_id()},
                          {"signing key fingerprint", status->signing_key_fingerprint()},
                          {"CA fingerprint", status->ca_fingerprint()},
                          {"listen", status->listen()},
                          {"URL", status->url()},
                          {"response validity", DurationText(status->response_validity_s())},
                          {"accounts", std::to_string(status->accounts())},
                          {"satellites", std::to_string(status->satellites())}});
  std::cout << "Signing public key (`outpost central key -o FILE` writes it to a file for "
               "`outpost bundle inspect --key`):\n"
            << status->signing_public_key_pem();
  return kExitOk;
}

// `central key [-o FILE]`: the current signing public key, for operators and `bundle inspect`.
int RunKeyShow(const GlobalFlags& g, const CentralFlags& f) {
  if (!f.output.empty()) {
    if (auto s = CheckOutputFile(f.output, f.force); !s.ok()) return Fail(s);
  }
  SystemClock clock;
  auto c = OpenCentral(f, clock);
  if (!c.ok()) return Fail(c.status());
  const crypto::PublicKey& key = (*c)->signing_public_key();
  v1::CentralSigningKey out;
  out.set_key_id(key.KeyId());
  out.set_fingerprint(key.Fingerprint());
  out.set_public_key_pem(key.ToPem());
  std::error_code ec;
  if (std::filesystem::exists((*c)->data_dir().next_signing_key(), ec)) {
    auto next = crypto::PrivateKey::LoadFile((*c)->data_dir().next_signing_key());
    if (!next.ok()) return Fail(next.status().WithContext("the key announced by `key rotate`"));
    out.set_next_key_id(next->public_key().KeyId());
    out.set_next_fingerprint(next->public_key().Fingerprint());
    out.set_next_public_key_pem(next->public_key().ToPem());
  }
  for (const auto& [id, at] : (*c)->retired_signing_keys()) out.add_retired_key_ids(id);
  if (!f.output.empty()) {
    if (auto s = crypto::WriteFileAtomically(
            f.output, out.public_key_pem(),
            std::filesystem::perms::owner_read | std::filesystem::perms::owner_write |
                std::filesystem::perms::group_read | std::filesystem::perms::others_read,
            f.force ? crypto::IfExists::kReplace : crypto::IfExists::kFail);
        !s.ok()) {
      return Fail(s);
    }
    out.set_file(f.output);
  }
  if (g.json) {
    PrintJson(out);
    return kExitOk;
  }
  if (!f.output.empty()) std::cout << "Wrote central's signing public key to " << f.output << "\n";
  PrintFields(std::cout, {{"key id", out.key_id()}, {"fingerprint", out.fingerprint()}});
  if (f.output.empty()) std::cout << out.public_key_pem();
  if (!out.next_key_id().empty()) {
    std::cout << "A rotation is in progress: satellites that imported the announcement are "
                 "answered with the new key\n";
    PrintFields(std::cout,
                {{"new key id", out.next_key_id()}, {"new fingerprint", out.next_fingerprint()}});
    if (f.output.empty()) std::cout << out.next_public_key_pem();
  }
  for (const std::string& id : out.retired_key_ids()) {
    std::cout << "Retired key " << id << " (`central key retire`): no longer signs; its public key "
              << "is " << ((*c)->data_dir().retired_keys() / (id + ".pem")).string() << "\n";
  }
  return kExitOk;
}

int RunKeyRotate(const GlobalFlags& g, const CentralFlags& f) {
  SystemClock clock;
  auto c = OpenCentral(f, clock);
  if (!c.ok()) return Fail(c.status());
  auto rotation = (*c)->RotateSigningKey();
  if (!rotation.ok()) return Fail(rotation.status());
  if (g.json) {
    PrintJson(*rotation);
    return kExitOk;
  }
  auto next = crypto::PublicKey::FromPem(rotation->new_public_key_pem());
  std::cout << "Announced central's new signing key " << rotation->new_key_id() << "\n"
            << "  fingerprint:   " << (next.ok() ? next->Fingerprint() : "?") << "\n"
            << "  replaces key:  " << rotation->previous_key_id() << "\n"
            << "Every satellite learns it from its next sync response (signed by the old key it "
               "trusts) and is answered with the new key from then on; satellites that have not "
               "synced since keep being answered with the old key.\n";
  return kExitOk;
}

int RunKeyRetire(const GlobalFlags& g, const CentralFlags& f) {
  SystemClock clock;
  auto c = OpenCentral(f, clock);
  if (!c.ok()) return Fail(c.status());
  auto retired = (*c)->RetireSigningKey(f.key_id, f.force);
  if (!retired.ok()) return Fail(retired.status());
  if (!retired->satellites_cut_off().empty()) {
    std::cerr << "Warning: " << Plural(retired->satellites_cut_off_size(), "satellite")
              << " had not moved to the new key and are refused from now on; they must be "
                 "enrolled again (`outpost central satellite revoke` and `reenroll`):\n";
    for (const auto& s : retired->satellites_cut_off()) std::cerr << "  " << Printable(s) << "\n";
  }
  if (g.json) {
    PrintJson(*retired);
    return kExitOk;
  }
  std::cout << "Retired central's signing key " << retired->retired_key_id()
            << ": its private key was destroyed; central signs with key "
            << retired->signing_key_id() << " only.\n";
  PrintFields(std::cout, {{"signing key id", retired->signing_key_id()},
                          {"signing key fingerprint", retired->signing_key_fingerprint()},
                          {"retired public key", retired->retired_public_key_file()}});
  std::cout << "Restart `outpost central serve` if it is running: it keeps the keys it loaded.\n";
  return kExitOk;
}

// `central metrics-token`: prints a new token once (the database keeps its SHA-256);
// `--remove` turns /metrics off.
int RunMetricsToken(const GlobalFlags& g, const CentralFlags& f) {
  SystemClock clock;
  auto c = OpenCentral(f, clock);
  if (!c.ok()) return Fail(c.status());
  if (f.remove) {
    if (Status s = (*c)->RemoveMetricsToken(); !s.ok()) return Fail(s);
    std::cout << "Removed the /metrics token: central's /metrics answers 403 from now on.\n";
    return kExitOk;
  }
  auto token = (*c)->NewMetricsToken();
  if (!token.ok()) return Fail(token.status());
  if (g.json) {
    std::cout << "{\"token\": \"" << *token << "\"}\n";
    return kExitOk;
  }
  std::cout << *token << "\n";
  std::cerr << "This is the only time the token is shown (central keeps its SHA-256); any older "
               "token no longer works. Scrape with \"Authorization: Bearer TOKEN\", e.g. "
               "Prometheus' authorization.credentials_file.\n";
  return kExitOk;
}

int RunAuditHeads(const GlobalFlags& g, const CentralFlags& f) {
  if (!f.output.empty()) {
    if (auto s = CheckOutputFile(f.output, f.force); !s.ok()) return Fail(s);
  }
  SystemClock clock;
  auto c = OpenCentral(f, clock);
  if (!c.ok()) return Fail(c.status());
  auto list = (*c)->ListAuditHeads(f.satellite);
  if (!list.ok()) return Fail(list.status());
  if (!f.output.empty()) {
    // The file the satellite's auditor gives `outpost audit compare-heads`.
    if (auto s = crypto::WriteFileAtomically(
            f.output, ToJson(*list, true) + "\n",
            std::filesystem::perms::owner_read | std::filesystem::perms::owner_write |
                std::filesystem::perms::group_read | std::filesystem::perms::others_read,
            f.force ? crypto::IfExists::kReplace : crypto::IfExists::kFail);
        !s.ok()) {
      return Fail(s);
    }
    std::cout << "Wrote " << Plural(list->heads_size(), "audit head") << " of satellite "
              << Printable(f.satellite) << " to " << f.output
              << "; the satellite's auditor runs `outpost audit compare-heads " << f.output
              << "`\n";
    return kExitOk;
  }
  if (g.json) {
    PrintJson(*list);
    return kExitOk;
  }
  std::vector<std::vector<std::string>> rows;
  for (const auto& h : list->heads()) {
    rows.push_back({std::to_string(h.request_sequence()), When(h.received_at()),
                    std::to_string(h.head().seq()), h.head().hash(), h.head().key_id()});
  }
  PrintTable(std::cout, {"REQUEST", "RECEIVED", "AUDIT SEQ", "HASH", "SIGNED BY"}, rows);
  return kExitOk;
}

}  // namespace

void AddCentralKeyCommands(CLI::App* central, CommandLine& cli) {
  AddCentralCommand(central, cli, "status", "Central's identity, keys and settings",
                    std::make_shared<CentralFlags>(), RunStatus);

  // `central key` alone shows (or with -o exports) the public key; `central key rotate` rotates.
  auto key_flags = std::make_shared<CentralFlags>();
  auto* key = central->add_subcommand(
      "key", "Print central's signing public key (PEM, key id, fingerprint), or write it with -o");
  key->require_subcommand(0, 1);
  key->add_option("--data-dir", key_flags->data_dir, "Central data directory");
  key->add_option("-o,--output", key_flags->output, "Write the PEM public key to FILE");
  key->add_flag("--force", key_flags->force, "With -o: replace FILE if it exists");
  key->callback([&cli, key, key_flags] {
    if (!key->get_subcommands().empty()) return;  // `central key rotate`
    cli.run = [&cli, key_flags] {
      if (key_flags->data_dir.empty()) {
        return UsageError("central key: --data-dir is required");
      }
      return RunKeyShow(cli.global, *key_flags);
    };
  });
  auto rotate_flags = std::make_shared<CentralFlags>();
  AddCentralCommand(key, cli, "rotate",
                    "Announce a new signing key to satellites (signed by the old one, TUF-style)",
                    rotate_flags, RunKeyRotate);

  auto retire_flags = std::make_shared<CentralFlags>();
  auto* retire = AddCentralCommand(
      key, cli, "retire",
      "Retire the previous signing key once satellites moved to the new one (after rotate)",
      retire_flags, RunKeyRetire);
  retire->add_option("KEY_ID", retire_flags->key_id, "The key to retire (`outpost central key`)")
      ->required();
  retire->add_flag("--force", retire_flags->force,
                   "Retire even though some satellites still trust the key (they are cut off)");

  auto metrics_flags = std::make_shared<CentralFlags>();
  AddCentralCommand(central, cli, "metrics-token",
                    "Make a new bearer token for GET /metrics (shown once; replaces the old one)",
                    metrics_flags, RunMetricsToken)
      ->add_flag("--remove", metrics_flags->remove, "Remove the token: /metrics answers 403");

  auto heads_flags = std::make_shared<CentralFlags>();
  auto* heads =
      AddCentralCommand(central, cli, "audit-heads",
                        "Audit chain heads a satellite sent with its requests; -o FILE writes "
                        "them for `outpost audit compare-heads`",
                        heads_flags, RunAuditHeads);
  heads->add_option("SATELLITE", heads_flags->satellite, "Satellite id")->required();
  heads->add_option("-o,--output", heads_flags->output, "Write the heads (JSON) to FILE");
  heads->add_flag("--force", heads_flags->force, "With -o: replace FILE if it exists");
}

}  // namespace outpost::cli
