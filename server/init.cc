#include "server/init.h"

#include <arpa/inet.h>
#include <sys/stat.h>

#include <algorithm>
#include <fstream>

#include "common/crypto/ca.h"
#include "common/crypto/keys.h"
#include "common/ids.h"
#include "common/sqlite/connection.h"
#include "common/sqlite/migrations.h"
#include "server/data_dir.h"
#include "server/store/schema.h"

namespace outpost::server {
namespace fs = std::filesystem;
namespace {

constexpr auto kCaValidity = std::chrono::days(3650);
constexpr auto kTlsValidity = std::chrono::days(825);

// Removes what a failed init created, unless it was committed.
class Rollback {
 public:
  explicit Rollback(std::vector<fs::path>* created) : created_(created) {}
  ~Rollback() {
    if (committed_) return;
    std::error_code ec;
    for (auto it = created_->rbegin(); it != created_->rend(); ++it) fs::remove(*it, ec);
  }
  void Commit() { committed_ = true; }

 private:
  std::vector<fs::path>* created_;
  bool committed_ = false;
};

Status MakeDir(const fs::path& dir, fs::perms perms, std::vector<fs::path>* created) {
  std::error_code ec;
  if (fs::exists(dir, ec)) return Status::Ok();
  if (!fs::create_directories(dir, ec) || ec) {
    return Unavailable("cannot create directory " + dir.string() + ": " + ec.message());
  }
  created->push_back(dir);
  fs::permissions(dir, perms, ec);
  return Status::Ok();
}

Status WritePublicFile(const fs::path& path, const std::string& content,
                       std::vector<fs::path>* created) {
  std::error_code ec;
  if (fs::exists(path, ec)) return AlreadyExists(path.string() + " already exists");
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << content;
  out.close();
  if (!out) return Unavailable("cannot write " + path.string());
  created->push_back(path);
  fs::permissions(path,
                  fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read |
                      fs::perms::others_read,
                  ec);
  return Status::Ok();
}

bool IsIpLiteral(const std::string& host) {
  unsigned char buf[sizeof(struct in6_addr)];
  return inet_pton(AF_INET, host.c_str(), buf) == 1 || inet_pton(AF_INET6, host.c_str(), buf) == 1;
}

Status SaveKey(const crypto::PrivateKey& key, const fs::path& path,
               std::vector<fs::path>* created) {
  OUTPOST_RETURN_IF_ERROR(key.SaveFile(path));
  created->push_back(path);
  return Status::Ok();
}

}  // namespace

Result<InitReport> InitDataDir(const InitOptions& options, const Clock& clock) {
  const DataDir dir(options.data_dir);
  std::error_code ec;
  for (const fs::path& marker : {dir.config(), dir.database()}) {
    if (fs::exists(marker, ec)) {
      return AlreadyExists("data directory " + dir.root.string() + " is already initialised (" +
                           marker.filename().string() +
                           " exists); serve it with `outpost serve "
                           "--data-dir " +
                           dir.root.string() + "` or choose an empty directory");
    }
  }
  OUTPOST_RETURN_IF_ERROR(config::Validate(options.config));

  std::vector<fs::path> created;
  Rollback rollback(&created);
  OUTPOST_RETURN_IF_ERROR(MakeDir(
      dir.root, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec, &created));
  OUTPOST_RETURN_IF_ERROR(MakeDir(dir.keys(), fs::perms::owner_all, &created));
  OUTPOST_RETURN_IF_ERROR(MakeDir(dir.tls_certificate().parent_path(),
                                  fs::perms::owner_all | fs::perms::group_read |
                                      fs::perms::group_exec | fs::perms::others_read |
                                      fs::perms::others_exec,
                                  &created));

  InitReport report;
  report.satellite_id = NewUuid();
  const TimePoint now = clock.Now();
  // Backdate a little so a device whose clock is slightly behind accepts fresh certificates.
  const TimePoint not_before = now - std::chrono::hours(1);

  // The satellite CA: ECDSA P-256, because devices, browsers and curl all speak it.
  OUTPOST_ASSIGN_OR_RETURN(auto ca_key,
                           crypto::PrivateKey::Generate(crypto::KeyAlgorithm::kEcdsaP256));
  OUTPOST_RETURN_IF_ERROR(SaveKey(ca_key, dir.ca_key(), &created));
  OUTPOST_ASSIGN_OR_RETURN(
      auto ca, crypto::CertificateAuthority::CreateRoot(
                   std::move(ca_key), "Outpost Satellite CA " + report.satellite_id.substr(0, 8),
                   not_before, now + kCaValidity));
  OUTPOST_RETURN_IF_ERROR(
      WritePublicFile(dir.ca_certificate(), ca.certificate().ToPem(), &created));
  report.ca_fingerprint = ca.certificate().Fingerprint();

  // Bundle and authorization signatures: Ed25519.
  OUTPOST_ASSIGN_OR_RETURN(auto signing_key,
                           crypto::PrivateKey::Generate(crypto::KeyAlgorithm::kEd25519));
  OUTPOST_RETURN_IF_ERROR(SaveKey(signing_key, dir.signing_key(), &created));
  report.signing_key_id = signing_key.public_key().KeyId();

  // TLS server certificate for the configured names plus the loopback ones.
  OUTPOST_ASSIGN_OR_RETURN(auto tls_key,
                           crypto::PrivateKey::Generate(crypto::KeyAlgorithm::kEcdsaP256));
  OUTPOST_RETURN_IF_ERROR(SaveKey(tls_key, dir.tls_key(), &created));
  crypto::CertificateProfile profile;
  profile.usage = crypto::CertificateProfile::kServer;
  profile.common_name = "outpost-satellite";
  profile.dns_names = {"localhost"};
  profile.ip_addresses = {"127.0.0.1", "::1"};
  for (const auto& host : options.config.tls.hostnames) {
    if (IsIpLiteral(host)) {
      if (std::find(profile.ip_addresses.begin(), profile.ip_addresses.end(), host) ==
          profile.ip_addresses.end()) {
        profile.ip_addresses.push_back(host);
      }
    } else if (std::find(profile.dns_names.begin(), profile.dns_names.end(), host) ==
               profile.dns_names.end()) {
      profile.dns_names.push_back(host);
    }
  }
  profile.not_before = not_before;
  profile.not_after = now + kTlsValidity;
  OUTPOST_ASSIGN_OR_RETURN(auto tls_cert, ca.Issue(tls_key.public_key(), profile));
  OUTPOST_RETURN_IF_ERROR(WritePublicFile(dir.tls_certificate(),
                                          tls_cert.ToPem() + ca.certificate().ToPem(), &created));

  // Database with the current schema and the satellite's identity.
  {
    OUTPOST_ASSIGN_OR_RETURN(auto db, sqlite::Connection::Open(dir.database(), {}));
    created.push_back(dir.database());
    created.push_back(dir.database().string() + "-wal");
    created.push_back(dir.database().string() + "-shm");
    OUTPOST_RETURN_IF_ERROR(sqlite::Migrate(db, store::SatelliteMigrations()));
    OUTPOST_RETURN_IF_ERROR(db.Exec("BEGIN IMMEDIATE"));
    for (const auto& [key, value] : std::vector<std::pair<std::string, std::string>>{
             {"satellite_id", report.satellite_id},
             {"created_at", std::to_string(ToUnixSeconds(now))},
             {"signing_key_id", report.signing_key_id}}) {
      OUTPOST_RETURN_IF_ERROR(
          db.ExecPrepared("INSERT INTO satellite_meta(key, value) VALUES (?, ?)", key, value));
    }
    OUTPOST_RETURN_IF_ERROR(db.Exec("COMMIT"));
  }

  OUTPOST_RETURN_IF_ERROR(
      WritePublicFile(dir.config(), config::RenderConfig(options.config), &created));
  report.files_written = created;
  rollback.Commit();
  return report;
}

}  // namespace outpost::server
