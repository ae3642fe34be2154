// outpost-bench-audit: what one audit record costs (server/audit Append through the group-commit
// writer, synchronous=FULL as in production), measured three ways:
//   in_unit      N appends inside one unit of work: the chain's own cost (lookup of the head,
//                SHA-256, insert) without commits;
//   grouped      N units of one append each, submitted at once: what a burst of audited device
//                calls pays per record with group commit, next to the same units doing nothing
//                (`grouped_empty`) to separate the audit record from the writer's overhead;
//   serial       units of one append, each waited for (a commit and an fsync per record).
// Prints one JSON object; times are microseconds per record.

#include <CLI/CLI.hpp>
#include <chrono>
#include <filesystem>
#include <future>
#include <iostream>

#include "common/sqlite/writer.h"
#include "server/audit/audit_log.h"
#include "server/store/schema.h"

namespace outpost::bench {
namespace {

namespace fs = std::filesystem;
namespace audit = server::audit;
using SteadyClock = std::chrono::steady_clock;

audit::AuditEvent DeviceEvent(int i) {
  // Shaped like the record of a device authorization (the most frequent one).
  return {{"device", "00000000-0000-0000-8000-" + std::to_string(100000000000 + i)},
          "device.authorize",
          "device:00000000-0000-0000-8000-" + std::to_string(100000000000 + i),
          R"({"va":"default","udi":"BENCH:bench-1","tags":[{"tag":"bench.tag.0000",)"
          R"("requested":1,"granted":1,"status":"AUTHORIZED"}]})"};
}

double MicrosPer(SteadyClock::time_point start, int n) {
  return std::chrono::duration<double, std::micro>(SteadyClock::now() - start).count() / n;
}

// Submits `n` units running `work` without waiting in between, then waits for all of them.
Result<double> Grouped(sqlite::Writer& writer, int n,
                       const std::function<Status(sqlite::Connection&, int)>& work) {
  std::vector<std::promise<Status>> done(static_cast<size_t>(n));
  const auto start = SteadyClock::now();
  for (int i = 0; i < n; ++i) {
    writer.Submit([&work, i](sqlite::Connection& db) { return work(db, i); },
                  [&done, i](const Status& s) { done[static_cast<size_t>(i)].set_value(s); });
  }
  for (auto& d : done) OUTPOST_RETURN_IF_ERROR(d.get_future().get());
  return MicrosPer(start, n);
}

Status RunBench(const std::string& dir, int n, int serial_n) {
  fs::create_directories(dir);
  const fs::path db_path = fs::path(dir) / "audit-bench.db";
  for (const char* suffix : {"", "-wal", "-shm"}) fs::remove(db_path.string() + suffix);
  OUTPOST_ASSIGN_OR_RETURN(
      auto writer, sqlite::Writer::Create(db_path, {}, server::store::SatelliteMigrations()));
  const TimePoint now = SystemClock().Now();
  auto append = [&](sqlite::Connection& db, int i) {
    return audit::Append(db, DeviceEvent(i), now);
  };

  auto start = SteadyClock::now();
  OUTPOST_RETURN_IF_ERROR(writer->Run([&](sqlite::Connection& db) -> Status {
    for (int i = 0; i < n; ++i) OUTPOST_RETURN_IF_ERROR(append(db, i));
    return Status::Ok();
  }));
  const double in_unit = MicrosPer(start, n);

  OUTPOST_ASSIGN_OR_RETURN(double grouped_empty, Grouped(*writer, n, [](sqlite::Connection&, int) {
                             return Status::Ok();
                           }));
  OUTPOST_ASSIGN_OR_RETURN(double grouped, Grouped(*writer, n, append));

  start = SteadyClock::now();
  for (int i = 0; i < serial_n; ++i) {
    OUTPOST_RETURN_IF_ERROR(writer->Run([&](sqlite::Connection& db) { return append(db, i); }));
  }
  const double serial = MicrosPer(start, serial_n);
  const auto stats = writer->Stats();
  writer->Stop();
  std::cout << "{\"records\":" << n << ",\"in_unit_us\":" << in_unit
            << ",\"grouped_us\":" << grouped << ",\"grouped_empty_us\":" << grouped_empty
            << ",\"serial_us\":" << serial << ",\"serial_records\":" << serial_n
            << ",\"max_batch\":" << stats.max_batch_size << "}" << std::endl;
  return Status::Ok();
}

}  // namespace
}  // namespace outpost::bench

int main(int argc, char** argv) {
  std::string dir;
  int n = 20000;
  int serial_n = 300;
  CLI::App app{"Micro-benchmark of audit Append through the writer", "outpost-bench-audit"};
  app.add_option("--dir", dir, "Scratch directory for the database")->required();
  app.add_option("--records", n, "Records for the in-unit and grouped runs")
      ->check(CLI::PositiveNumber);
  app.add_option("--serial-records", serial_n, "Records committed one at a time")
      ->check(CLI::PositiveNumber);
  CLI11_PARSE(app, argc, argv);
  if (auto s = outpost::bench::RunBench(dir, n, serial_n); !s.ok()) {
    std::cerr << "outpost-bench-audit: " << s.ToString() << "\n";
    return 1;
  }
  return 0;
}
