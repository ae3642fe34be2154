// `outpost bundle inspect FILE`: prints any bundle (enrollment, sync request, sync response),
// binary or armored, and whether its signature verifies. Works without a satellite.

#include <filesystem>
#include <iostream>
#include <memory>
#include <optional>

#include "cli/commands.h"
#include "cli/output.h"
#include "common/crypto/keys.h"
#include "common/crypto/secure_file.h"
#include "sync/bundle/armor.h"
#include "sync/bundle/inspect.h"

namespace outpost::cli {
namespace {

struct InspectFlags {
  std::string file;
  std::string key_file;
};

// A missing file named on the command line is the user's typo, not a configuration problem.
Status CheckFileExists(const std::string& path, std::string_view what) {
  std::error_code ec;
  if (std::filesystem::exists(path, ec)) return Status::Ok();
  return NotFound(path + ": no such file; give the path of " + std::string(what));
}

int RunInspect(const GlobalFlags& g, const InspectFlags& f) {
  if (auto s = CheckFileExists(f.file,
                               "a bundle file (an enrollment bundle, a sync request or a "
                               "sync response)");
      !s.ok()) {
    return Fail(s);
  }
  if (!f.key_file.empty()) {
    if (auto s = CheckFileExists(f.key_file,
                                 "a PEM public key for --key (central's: `outpost "
                                 "central key -o FILE`)");
        !s.ok()) {
      return Fail(s);
    }
  }
  auto bundle = sync::ReadBundleFile(f.file);
  if (!bundle.ok()) return Fail(bundle.status());
  std::optional<crypto::PublicKey> key;
  if (!f.key_file.empty()) {
    auto pem = crypto::ReadSmallFile(f.key_file, 1 << 20);
    if (!pem.ok()) return Fail(pem.status());
    auto parsed = crypto::PublicKey::FromPem(*pem);
    if (!parsed.ok()) {
      return Fail(parsed.status().WithContext("--key " + f.key_file + " is not a PEM public key"));
    }
    key = std::move(*parsed);
  }
  const crypto::PublicKey* key_ptr = key ? &*key : nullptr;
  const v1::BundleInspection inspection = sync::InspectBundle(*bundle, key_ptr);
  if (g.json) {
    auto json = sync::BundleToJson(*bundle, key_ptr);
    if (!json.ok()) return Fail(json.status());
    std::cout << *json << "\n";
  } else {
    std::cout << sync::DescribeBundle(*bundle, key_ptr);
  }
  // A signature that was checked and failed is a failure; "not checked" is not.
  return inspection.signature_status() == "not_verified" ? kExitFailure : kExitOk;
}

}  // namespace

void AddBundleCommands(CLI::App& app, CommandLine& cli) {
  auto* bundle = app.add_subcommand("bundle", "Look inside sync and enrollment bundles");
  bundle->require_subcommand(1);
  auto flags = std::make_shared<InspectFlags>();
  auto* inspect = bundle->add_subcommand(
      "inspect",
      "Print a bundle file (binary or armored) readably and check its signature; exits 1 when "
      "a signature was checked and does not verify");
  inspect->add_option("FILE", flags->file, "Bundle file")->required();
  inspect->add_option("--key", flags->key_file,
                      "PEM public key to check the signature with (enrollment bundles are "
                      "checked against the central key they carry)");
  inspect->callback(
      [&cli, flags] { cli.run = [&cli, flags] { return RunInspect(cli.global, *flags); }; });
}

}  // namespace outpost::cli
