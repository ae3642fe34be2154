// outpost-bench-central: a reference central (sync/central/central.h) with a large catalogue for
// the sync benchmarks — one account, V virtual accounts and N entitlements spread over them —
// and enrollment bundles for the satellites the benchmark syncs. Written with Central's own
// methods (AddLicense per entitlement), not the CLI, so 100,000 entitlements take seconds
// rather than 100,000 process starts.
//
// The database runs with synchronous=NORMAL while seeding (a crash means seeding again); `outpost
// central sync process` opens it afterwards with the default (FULL).

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

#include "common/clock.h"
#include "sync/central/central.h"

namespace outpost::bench {
namespace {

namespace fs = std::filesystem;

struct CentralSeedOptions {
  std::string data_dir;
  std::string account = "bench";
  int64_t entitlements = 100'000;
  int vas = 100;
  std::vector<std::string> enroll;  // NAME=FILE
};

double Seconds(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count();
}

std::string VaName(int i) {
  if (i == 0) return "default";  // created with the account
  char buf[16];
  std::snprintf(buf, sizeof buf, "va-%03d", i);
  return buf;
}

Status Seed(const CentralSeedOptions& o) {
  SystemClock clock;
  const auto started = std::chrono::steady_clock::now();
  central::InitCentralOptions init;
  init.data_dir = o.data_dir;
  // The default listen and URL: never used, the bundles are written offline.
  OUTPOST_RETURN_IF_ERROR(central::InitCentral(init, clock).status());

  central::Central::Options options;
  options.synchronous = sqlite::Synchronous::kNormal;
  OUTPOST_ASSIGN_OR_RETURN(auto c, central::Central::Open(o.data_dir, clock, options));
  OUTPOST_RETURN_IF_ERROR(c->CreateAccount(o.account, "Outpost benchmark").status());
  for (int v = 1; v < o.vas; ++v) {
    OUTPOST_RETURN_IF_ERROR(c->CreateVirtualAccount(o.account, VaName(v)).status());
  }
  // Entitlement i: VA i % vas, tag "bench.sync.<i / vas>", so every (VA, tag) has one order.
  central::LicenseTerms terms;
  terms.quantity = 1000;
  terms.start =
      std::chrono::duration_cast<std::chrono::seconds>(clock.Now().time_since_epoch()).count() -
      86400;
  for (int64_t i = 0; i < o.entitlements; ++i) {
    char tag[48];
    std::snprintf(tag, sizeof tag, "bench.sync.%06lld", static_cast<long long>(i / o.vas));
    terms.floating = i % 10 == 9;
    OUTPOST_RETURN_IF_ERROR(
        c->AddLicense(o.account, VaName(static_cast<int>(i % o.vas)), tag, terms).status());
    if ((i + 1) % 20'000 == 0) {
      std::cerr << "central-seed: " << (i + 1) << " entitlements ("
                << static_cast<int>(Seconds(started)) << " s)\n";
    }
  }
  std::string enrolled = "{";
  for (const std::string& spec : o.enroll) {
    const auto eq = spec.find('=');
    if (eq == std::string::npos) return InvalidArgument("--enroll wants NAME=FILE: " + spec);
    const std::string name = spec.substr(0, eq);
    OUTPOST_ASSIGN_OR_RETURN(
        auto e, c->EnrollSatellite(o.account, name, spec.substr(eq + 1), /*armor=*/false,
                                   std::string()));  // "": offline, no central URL
    if (enrolled.size() > 1) enrolled += ",";
    enrolled += "\"" + name + "\":\"" + e.satellite().satellite_id() + "\"";
  }
  enrolled += "}";
  c.reset();
  std::cout << "{\"entitlements\":" << o.entitlements << ",\"vas\":" << o.vas
            << ",\"satellites\":" << enrolled << ",\"seconds\":" << Seconds(started) << "}"
            << std::endl;
  return Status::Ok();
}

}  // namespace
}  // namespace outpost::bench

int main(int argc, char** argv) {
  outpost::bench::CentralSeedOptions o;
  CLI::App app{"A reference central with a large catalogue for the sync benchmarks",
               "outpost-bench-central"};
  app.add_option("--data-dir", o.data_dir, "Central data directory (must not exist yet)")
      ->required();
  app.add_option("--account", o.account, "Account id");
  app.add_option("--entitlements", o.entitlements, "Entitlements (orders) in the account")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--vas", o.vas, "Virtual accounts (the first is 'default')")
      ->check(CLI::Range(1, 999));
  app.add_option("--enroll", o.enroll, "Enrol a satellite: NAME=FILE (repeatable)");
  CLI11_PARSE(app, argc, argv);
  try {
    if (auto s = outpost::bench::Seed(o); !s.ok()) {
      std::cerr << "outpost-bench-central: " << s.ToString() << "\n";
      return 1;
    }
  } catch (const std::exception& e) {
    std::cerr << "outpost-bench-central: internal error: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
