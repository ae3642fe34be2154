// outpost-bench-registration-crypto: the certificate work of one device registration
// (LicensingService::Register), without HTTP or the database. A P-256 CA made as `outpost init`
// makes it, and N distinct P-256 device CSRs made up front (as the load generator's devices
// send them). Measured per registration:
//   registration_csr   CertificateSigningRequest::FromPem + IssueFromCsr + Certificate::ToPem
//                      + serial_hex + not_after + subject_common_name (the CSR path);
//   registration_key   PublicKey::FromPem + Issue + the same accessors (the public-key path);
// and each step alone (csr_from_pem, csr_verify, issue_from_csr, issue, cert_to_pem,
// cert_fields, public_key_from_pem) so a profile can be read against them.
// Every figure is the median of --runs runs over all N inputs, in microseconds per operation
// of the calling thread's CPU time (wall time is printed too). With --threads T > 1 the
// registration_csr loop also runs on T threads at once and reports the aggregate rate, which
// shows contention on shared OpenSSL state. Prints one JSON object.
// With --sample-dir DIR it instead writes sample certificates (CSR path, public-key path and a
// server certificate, fixed names and times) issued by the CA key and for the device key kept
// in DIR, so that builds can be compared with `openssl x509 -text`.

#include <time.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <filesystem>
#include <functional>
#include <iostream>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "common/crypto/ca.h"
#include "common/crypto/keys.h"
#include "common/crypto/x509.h"
#include "common/ids.h"

namespace outpost::bench {
namespace {

namespace crypto = outpost::crypto;
using SteadyClock = std::chrono::steady_clock;

double ThreadCpuMicros() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e6 + static_cast<double>(ts.tv_nsec) / 1e3;
}

struct Timing {
  double cpu_us = 0;
  double wall_us = 0;
};

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// Median over `runs` of the per-operation cost of `op(i)` for i in [0, n).
Result<Timing> Measure(int runs, int n, const std::function<Status(int)>& op) {
  std::vector<double> cpu, wall;
  for (int r = 0; r < runs; ++r) {
    const double cpu_start = ThreadCpuMicros();
    const auto wall_start = SteadyClock::now();
    for (int i = 0; i < n; ++i) OUTPOST_RETURN_IF_ERROR(op(i));
    wall.push_back(
        std::chrono::duration<double, std::micro>(SteadyClock::now() - wall_start).count() / n);
    cpu.push_back((ThreadCpuMicros() - cpu_start) / n);
  }
  return Timing{Median(cpu), Median(wall)};
}

struct Inputs {
  std::vector<std::string> csr_pems;
  std::vector<std::string> public_key_pems;
  std::vector<crypto::CertificateSigningRequest> csrs;
  std::vector<crypto::PublicKey> public_keys;
  std::vector<crypto::CertificateProfile> profiles;
};

Result<Inputs> MakeInputs(int n, TimePoint now) {
  Inputs in;
  for (int i = 0; i < n; ++i) {
    OUTPOST_ASSIGN_OR_RETURN(auto key,
                             crypto::PrivateKey::Generate(crypto::KeyAlgorithm::kEcdsaP256));
    OUTPOST_ASSIGN_OR_RETURN(
        auto csr, crypto::CertificateSigningRequest::Create(key, "outpost-bench-device"));
    in.csr_pems.push_back(csr.ToPem());
    in.public_key_pems.push_back(key.public_key().ToPem());
    in.csrs.push_back(std::move(csr));
    in.public_keys.push_back(key.public_key());
    // As Register fills it: a fresh instance id as the CN, one year of validity.
    crypto::CertificateProfile profile;
    profile.usage = crypto::CertificateProfile::kClient;
    profile.common_name = NewUuid();
    profile.not_before = now;
    profile.not_after = now + std::chrono::hours(24 * 365);
    in.profiles.push_back(std::move(profile));
  }
  return in;
}

// What Register reads from the issued certificate.
Status ReadFields(const crypto::Certificate& cert, size_t* sink) {
  const std::string pem = cert.ToPem();
  const std::string serial = cert.serial_hex();
  const std::string cn = cert.subject_common_name();
  *sink += pem.size() + serial.size() + cn.size() +
           static_cast<size_t>(ToUnixSeconds(cert.not_after()) & 1);
  return Status::Ok();
}

Result<crypto::PrivateKey> LoadOrCreateKey(const std::filesystem::path& path) {
  if (std::filesystem::exists(path)) return crypto::PrivateKey::LoadFile(path);
  OUTPOST_ASSIGN_OR_RETURN(auto key,
                           crypto::PrivateKey::Generate(crypto::KeyAlgorithm::kEcdsaP256));
  OUTPOST_RETURN_IF_ERROR(key.SaveFile(path));
  return key;
}

Status WriteSamples(const std::filesystem::path& dir, const std::string& label) {
  namespace fs = std::filesystem;
  fs::create_directories(dir);
  const TimePoint t0 = FromUnixSeconds(1'780'000'000);
  OUTPOST_ASSIGN_OR_RETURN(auto ca_key, LoadOrCreateKey(dir / "ca-key.pem"));
  OUTPOST_ASSIGN_OR_RETURN(auto device_key, LoadOrCreateKey(dir / "device-key.pem"));
  OUTPOST_ASSIGN_OR_RETURN(
      auto ca, crypto::CertificateAuthority::CreateRoot(std::move(ca_key), "Outpost Satellite CA",
                                                        t0 - std::chrono::hours(1),
                                                        t0 + std::chrono::hours(24 * 3650)));
  crypto::CertificateProfile client;
  client.usage = crypto::CertificateProfile::kClient;
  client.common_name = "00000000-0000-4000-8000-000000000001";
  client.not_before = t0;
  client.not_after = t0 + std::chrono::hours(24 * 365);
  crypto::CertificateProfile server = client;
  server.usage = crypto::CertificateProfile::kServer;
  server.common_name = "outpost-satellite";
  server.dns_names = {"localhost", "outpost.example"};
  server.ip_addresses = {"127.0.0.1", "::1"};

  OUTPOST_ASSIGN_OR_RETURN(auto csr,
                           crypto::CertificateSigningRequest::Create(device_key, "device"));
  OUTPOST_ASSIGN_OR_RETURN(auto parsed, crypto::CertificateSigningRequest::FromPem(csr.ToPem()));
  OUTPOST_ASSIGN_OR_RETURN(auto from_csr, ca.IssueFromCsr(parsed, client));
  OUTPOST_ASSIGN_OR_RETURN(auto key, crypto::PublicKey::FromPem(device_key.public_key().ToPem()));
  OUTPOST_ASSIGN_OR_RETURN(auto from_key, ca.Issue(key, client));
  OUTPOST_ASSIGN_OR_RETURN(auto server_cert, ca.Issue(key, server));
  const std::vector<std::pair<std::string, const crypto::Certificate*>> out = {
      {"ca", &ca.certificate()},
      {"client-csr", &from_csr},
      {"client-key", &from_key},
      {"server", &server_cert}};
  for (const auto& [name, cert] : out) {
    OUTPOST_RETURN_IF_ERROR(crypto::SaveCertificateChainFile(dir / (label + "-" + name + ".pem"),
                                                             {*cert}, crypto::IfExists::kReplace));
  }
  return Status::Ok();
}

Status RunBench(int n, int runs, int threads) {
  const TimePoint now = SystemClock().Now();
  OUTPOST_ASSIGN_OR_RETURN(auto ca_key,
                           crypto::PrivateKey::Generate(crypto::KeyAlgorithm::kEcdsaP256));
  OUTPOST_ASSIGN_OR_RETURN(
      auto ca, crypto::CertificateAuthority::CreateRoot(std::move(ca_key), "Outpost Satellite CA",
                                                        now - std::chrono::hours(1),
                                                        now + std::chrono::hours(24 * 3650)));
  OUTPOST_ASSIGN_OR_RETURN(Inputs in, MakeInputs(n, now));
  auto at = [](int i) { return static_cast<size_t>(i); };
  size_t sink = 0;

  auto registration_csr = [&](int i) -> Status {
    OUTPOST_ASSIGN_OR_RETURN(auto csr,
                             crypto::CertificateSigningRequest::FromPem(in.csr_pems[at(i)]));
    OUTPOST_ASSIGN_OR_RETURN(auto cert, ca.IssueFromCsr(csr, in.profiles[at(i)]));
    return ReadFields(cert, &sink);
  };
  auto registration_key = [&](int i) -> Status {
    OUTPOST_ASSIGN_OR_RETURN(auto key, crypto::PublicKey::FromPem(in.public_key_pems[at(i)]));
    OUTPOST_ASSIGN_OR_RETURN(auto cert, ca.Issue(key, in.profiles[at(i)]));
    return ReadFields(cert, &sink);
  };
  // Issued once so that the encoding and accessor steps can be timed alone.
  std::vector<crypto::Certificate> issued;
  for (int i = 0; i < n; ++i) {
    OUTPOST_ASSIGN_OR_RETURN(auto cert, ca.Issue(in.public_keys[at(i)], in.profiles[at(i)]));
    issued.push_back(std::move(cert));
  }

  const std::vector<std::pair<std::string, std::function<Status(int)>>> cases = {
      {"registration_csr", registration_csr},
      {"registration_key", registration_key},
      {"csr_from_pem",
       [&](int i) {
         return crypto::CertificateSigningRequest::FromPem(in.csr_pems[at(i)]).status();
       }},
      {"csr_verify", [&](int i) { return in.csrs[at(i)].VerifySelfSignature(); }},
      {"issue_from_csr",
       [&](int i) { return ca.IssueFromCsr(in.csrs[at(i)], in.profiles[at(i)]).status(); }},
      {"issue",
       [&](int i) { return ca.Issue(in.public_keys[at(i)], in.profiles[at(i)]).status(); }},
      {"cert_to_pem",
       [&](int i) {
         sink += issued[at(i)].ToPem().size();
         return Status::Ok();
       }},
      {"cert_fields",
       [&](int i) {
         const crypto::Certificate& cert = issued[at(i)];
         sink += cert.serial_hex().size() + cert.subject_common_name().size() +
                 static_cast<size_t>(ToUnixSeconds(cert.not_after()) & 1);
         return Status::Ok();
       }},
      {"public_key_from_pem",
       [&](int i) { return crypto::PublicKey::FromPem(in.public_key_pems[at(i)]).status(); }},
  };

  std::cout << "{\"inputs\":" << n << ",\"runs\":" << runs << ",\"ca\":\""
            << crypto::AlgorithmName(ca.key().algorithm()) << "\"";
  for (const auto& [name, op] : cases) {
    OUTPOST_ASSIGN_OR_RETURN(Timing t, Measure(runs, n, op));
    std::cout << ",\"" << name << "_us\":" << t.cpu_us << ",\"" << name
              << "_wall_us\":" << t.wall_us;
  }

  if (threads > 1) {
    // Each thread issues for every input; certificates differ by their random serials.
    std::vector<Status> failures(static_cast<size_t>(threads), Status::Ok());
    std::vector<size_t> sinks(static_cast<size_t>(threads), 0);
    const auto start = SteadyClock::now();
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t) {
      pool.emplace_back([&, t] {
        const auto ut = static_cast<size_t>(t);
        for (int r = 0; r < runs && failures[ut].ok(); ++r) {
          for (int i = 0; i < n; ++i) {
            auto csr = crypto::CertificateSigningRequest::FromPem(in.csr_pems[at(i)]);
            if (!csr.ok()) {
              failures[ut] = csr.status();
              break;
            }
            auto cert = ca.IssueFromCsr(*csr, in.profiles[at(i)]);
            if (!cert.ok()) {
              failures[ut] = cert.status();
              break;
            }
            failures[ut] = ReadFields(*cert, &sinks[ut]);
          }
        }
      });
    }
    for (auto& th : pool) th.join();
    for (const Status& s : failures) OUTPOST_RETURN_IF_ERROR(s);
    const double seconds = std::chrono::duration<double>(SteadyClock::now() - start).count();
    std::cout << ",\"threads\":" << threads << ",\"registration_csr_per_second\":"
              << static_cast<double>(threads) * runs * n / seconds;
  }
  std::cout << ",\"checksum\":" << sink << "}" << std::endl;
  return Status::Ok();
}

}  // namespace
}  // namespace outpost::bench

int main(int argc, char** argv) {
  int n = 500;
  int runs = 5;
  int threads = 1;
  std::string sample_dir;
  std::string sample_label = "sample";
  CLI::App app{"Micro-benchmark of the certificate work of a device registration",
               "outpost-bench-registration-crypto"};
  app.add_option("--inputs", n, "Distinct device CSRs (and public keys)")
      ->check(CLI::PositiveNumber);
  app.add_option("--runs", runs, "Runs per figure (the median is printed)")
      ->check(CLI::PositiveNumber);
  app.add_option("--threads", threads, "Also run the CSR registration loop on this many threads")
      ->check(CLI::PositiveNumber);
  app.add_option("--sample-dir", sample_dir,
                 "Write sample certificates to this directory instead of timing");
  app.add_option("--sample-label", sample_label, "File name prefix of the samples");
  CLI11_PARSE(app, argc, argv);
  if (!sample_dir.empty()) {
    if (auto s = outpost::bench::WriteSamples(sample_dir, sample_label); !s.ok()) {
      std::cerr << "outpost-bench-registration-crypto: " << s.ToString() << "\n";
      return 1;
    }
    return 0;
  }
  if (auto s = outpost::bench::RunBench(n, runs, threads); !s.ok()) {
    std::cerr << "outpost-bench-registration-crypto: " << s.ToString() << "\n";
    return 1;
  }
  return 0;
}
