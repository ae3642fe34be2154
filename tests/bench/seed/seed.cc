// outpost-bench-seed: a satellite data directory with a large installation in it — N registered
// devices in V virtual accounts, T license tags entitled in every VA, each device consuming K of
// them — written with the satellite's own store code (server/licensing/store.h) on the writer's
// connection in big transactions, not through HTTP, so a benchmark starts from 1,000,000 devices
// in a minute or two.
//
// Seeded devices have no private keys (their certificate serials are random): they load, count
// and sweep like real ones but cannot call the satellite. Devices that call it are registered
// through HTTP by the load generator with the token this writes to --token-out.
//
// Everything is deterministic except the satellite's keys and the token, so runs compare.

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>

#include "common/clock.h"
#include "common/crypto/encoding.h"
#include "common/crypto/hash.h"
#include "common/sqlite/reader_pool.h"
#include "common/sqlite/writer.h"
#include "server/audit/audit_log.h"
#include "server/auth/principal.h"
#include "server/data_dir.h"
#include "server/init.h"
#include "server/licensing/store.h"
#include "server/licensing/tokens.h"
#include "server/store/schema.h"

namespace outpost::bench {
namespace {

namespace fs = std::filesystem;
using server::licensing::ConsumptionDelta;
using server::licensing::DeviceRecord;
using server::licensing::Entitlement;
using server::licensing::TagChange;

struct SeedOptions {
  std::string data_dir;
  int64_t devices = 1'000'000;
  int tags = 1000;
  int vas = 10;
  int tags_per_device = 2;
  int floating_tags = 10;
  int64_t batch = 50'000;
  std::string token_out;
  std::string enroll;  // enrollment bundle from central (outpost-bench-central), for sync
  // Audit records appended after the devices (the console benchmark's audit pages): renewals of
  // seeded devices, and every 1,000th a reservation of a tag (a pool event).
  int64_t audit_records = 0;
};

std::string TagName(int i) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "bench.tag.%04d", i);
  return buf;
}

std::string VaName(int i) {
  if (i == 0) return "default";  // the VA the benchmark's registration token registers into
  char buf[16];
  std::snprintf(buf, sizeof buf, "va-%02d", i);
  return buf;
}

// A UUID-shaped instance id that sorts like the index and cannot collide with NewUuid()'s
// random version-4 ids (the version nibble here is 0).
std::string InstanceId(int64_t i) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "00000000-0000-0000-8000-%012lld", static_cast<long long>(i));
  return buf;
}

double Seconds(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count();
}

Status Seed(const SeedOptions& o) {
  const server::DataDir dir{fs::path(o.data_dir)};
  SystemClock clock;
  const auto started = std::chrono::steady_clock::now();
  if (!fs::exists(dir.config())) {
    server::InitOptions init;
    init.data_dir = dir.root;
    init.scrypt_log2_n = 10;  // the admin password is never used here
    init.config.listen.port = 0;
    if (!o.enroll.empty()) {
      std::ifstream in(o.enroll, std::ios::binary);
      if (!in) return InvalidArgument("cannot read the enrollment bundle " + o.enroll);
      init.enrollment_bundle.assign(std::istreambuf_iterator<char>(in), {});
    }
    OUTPOST_ASSIGN_OR_RETURN(auto report, server::InitDataDir(init, clock));
    std::cerr << "seed: initialised " << dir.root << " (satellite " << report.satellite_id << ")\n";
  }

  // NORMAL is safe here (a crash means seeding again) and saves an fsync per transaction.
  sqlite::WriterOptions writer_options;
  writer_options.synchronous = sqlite::Synchronous::kNormal;
  OUTPOST_ASSIGN_OR_RETURN(
      auto writer,
      sqlite::Writer::Create(dir.database(), writer_options, server::store::SatelliteMigrations()));
  OUTPOST_ASSIGN_OR_RETURN(auto readers, sqlite::ReaderPool::Create(dir.database()));
  const TimePoint now = std::chrono::floor<std::chrono::seconds>(clock.Now());

  // One unlimited token for the HTTP registrations of the benchmark.
  server::licensing::TokenStore tokens(*writer, *readers, clock, {30, 365});
  server::licensing::TokenRequest token_request;
  token_request.va = "default";
  token_request.expires_days = 365;
  token_request.description = "outpost-bench";
  OUTPOST_ASSIGN_OR_RETURN(auto token,
                           tokens.Create(token_request, server::auth::Principal::System()));
  if (!o.token_out.empty()) {
    std::ofstream(o.token_out) << token.token << "\n";
    fs::permissions(o.token_out, fs::perms::owner_read | fs::perms::owner_write);
  }

  // Every tag in every VA, with room for every device; the last `floating_tags` tags float.
  std::vector<Entitlement> entitlements;
  for (int v = 0; v < o.vas; ++v) {
    for (int t = 0; t < o.tags; ++t) {
      Entitlement e;
      e.id = "bench-" + VaName(v) + "-" + TagName(t);
      e.va = VaName(v);
      e.tag = TagName(t);
      e.quantity = 100'000'000;
      e.start = now - std::chrono::hours(24);
      e.floating = t >= o.tags - o.floating_tags;
      entitlements.push_back(std::move(e));
    }
  }
  OUTPOST_RETURN_IF_ERROR(writer->Run([&](sqlite::Connection& db) {
    return server::licensing::UpsertEntitlements(db, entitlements);
  }));

  const int fixed_tags = std::max(1, o.tags - o.floating_tags);
  const TimePoint valid_until = now + std::chrono::days(90);
  int64_t consumption_rows = 0;
  for (int64_t first = 0; first < o.devices; first += o.batch) {
    const int64_t last = std::min(o.devices, first + o.batch);
    OUTPOST_RETURN_IF_ERROR(writer->Run([&](sqlite::Connection& db) -> Status {
      for (int64_t i = first; i < last; ++i) {
        DeviceRecord d;
        d.instance_id = InstanceId(i);
        d.va = VaName(static_cast<int>(i % o.vas));
        d.udi = {"SEED-" + std::to_string(i % 16), "S" + std::to_string(i)};
        d.hostname = "seed-" + std::to_string(i) + ".example.net";
        d.token_id = token.record.id;
        // Unique like a real serial (128 bits of hash) but reproducible.
        d.cert_serial = crypto::HexEncode(crypto::Sha256(d.instance_id)).substr(0, 32);
        d.cert_not_after = now + std::chrono::days(365);
        d.registered_at = now - std::chrono::seconds(i % 86400);
        d.last_seen_at = now - std::chrono::seconds(i % 3600);
        OUTPOST_RETURN_IF_ERROR(server::licensing::InsertDevice(db, d));
        ConsumptionDelta delta;
        delta.instance_id = d.instance_id;
        delta.va = d.va;
        delta.udi = d.udi;
        std::vector<std::string> tags;
        for (int k = 0; k < o.tags_per_device; ++k) {
          // Spread devices over the tags, distinct within a device.
          tags.push_back(TagName(static_cast<int>((i * 7 + k * 131) % fixed_tags)));
        }
        std::sort(tags.begin(), tags.end());
        tags.erase(std::unique(tags.begin(), tags.end()), tags.end());
        for (std::string& tag : tags) {
          delta.changes.push_back(TagChange{std::move(tag), 0, 1, valid_until});
        }
        consumption_rows += static_cast<int64_t>(delta.changes.size());
        OUTPOST_RETURN_IF_ERROR(server::licensing::PersistDelta(db, delta));
      }
      return Status::Ok();
    }));
    std::cerr << "seed: " << last << " devices (" << static_cast<int>(Seconds(started)) << " s)\n";
  }
  for (int64_t first = 0; first < o.audit_records; first += o.batch) {
    const int64_t last = std::min(o.audit_records, first + o.batch);
    OUTPOST_RETURN_IF_ERROR(writer->Run([&](sqlite::Connection& db) -> Status {
      for (int64_t i = first; i < last; ++i) {
        const TimePoint at = now - std::chrono::seconds(o.audit_records - i);
        if (i % 1000 == 999) {
          const std::string va = VaName(static_cast<int>(i / 1000 % o.vas));
          const std::string tag = TagName(static_cast<int>(i / 1000 % o.tags));
          OUTPOST_RETURN_IF_ERROR(server::audit::Append(
              db,
              {server::audit::Actor::System(), "license.reserve", "reservation:" + va + "/" + tag,
               "{\"va\":\"" + va + "\",\"tag\":\"" + tag +
                   "\",\"udi\":\"SEED-0:S0\",\"added\":1,\"count\":1}"},
              at));
          continue;
        }
        // Spread over the devices, a few records each.
        const int64_t device = o.devices == 0 ? 0 : (i * 7919) % o.devices;
        const std::string id = InstanceId(device);
        OUTPOST_RETURN_IF_ERROR(
            server::audit::Append(db,
                                  {{"device", id},
                                   "device.authorize",
                                   "device:" + id,
                                   "{\"va\":\"" + VaName(static_cast<int>(device % o.vas)) +
                                       "\",\"udi\":\"SEED-0:S0\",\"tags\":[]}"},
                                  at));
      }
      return Status::Ok();
    }));
    std::cerr << "seed: " << last << " audit records (" << static_cast<int>(Seconds(started))
              << " s)\n";
  }
  readers.reset();
  writer->Stop();
  std::error_code ec;
  const auto bytes = fs::file_size(dir.database(), ec);
  std::cout << "{\"devices\":" << o.devices << ",\"tags\":" << o.tags << ",\"vas\":" << o.vas
            << ",\"entitlements\":" << entitlements.size()
            << ",\"consumption_rows\":" << consumption_rows << ",\"seconds\":" << Seconds(started)
            << ",\"database_bytes\":" << (ec ? 0 : bytes) << "}" << std::endl;
  return Status::Ok();
}

}  // namespace
}  // namespace outpost::bench

int main(int argc, char** argv) {
  outpost::bench::SeedOptions o;
  CLI::App app{"Seed a satellite data directory with a large installation", "outpost-bench-seed"};
  app.add_option("--data-dir", o.data_dir, "Data directory (initialised when empty)")->required();
  app.add_option("--devices", o.devices, "Registered devices")->check(CLI::NonNegativeNumber);
  app.add_option("--tags", o.tags, "License tags, entitled in every VA")
      ->check(CLI::Range(1, 100000));
  app.add_option("--vas", o.vas, "Virtual accounts (the first is 'default')")
      ->check(CLI::Range(1, 99));
  app.add_option("--tags-per-device", o.tags_per_device, "Tags each device consumes")
      ->check(CLI::Range(0, 100));
  app.add_option("--floating-tags", o.floating_tags, "The last N tags are floating");
  app.add_option("--batch", o.batch, "Devices per transaction")->check(CLI::PositiveNumber);
  app.add_option("--audit-records", o.audit_records,
                 "Audit records to append (device renewals and reservations)")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--token-out", o.token_out, "Write a registration token for VA 'default' here");
  app.add_option("--enroll", o.enroll,
                 "Enrollment bundle to initialise the data directory with (as `init --enroll`)");
  CLI11_PARSE(app, argc, argv);
  if (o.floating_tags >= o.tags) o.floating_tags = 0;
  try {
    if (auto s = outpost::bench::Seed(o); !s.ok()) {
      std::cerr << "outpost-bench-seed: " << s.ToString() << "\n";
      return 1;
    }
  } catch (const std::exception& e) {
    std::cerr << "outpost-bench-seed: internal error: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
