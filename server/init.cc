#include "server/init.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>

#include "common/created_files.h"
#include "common/crypto/ca.h"
#include "common/crypto/keys.h"
#include "common/crypto/secure_file.h"
#include "common/file_lock.h"
#include "common/ids.h"
#include "common/sqlite/reader_pool.h"
#include "common/sqlite/writer.h"
#include "server/audit/audit_log.h"
#include "server/auth/password.h"
#include "server/auth/store.h"
#include "server/data_dir.h"
#include "server/store/meta.h"
#include "server/store/schema.h"
#include "server/tls_renewal.h"
#include "sync/bundle/armor.h"
#include "sync/bundle/codec.h"
#include "sync/bundle/trust.h"

namespace outpost::server {
namespace fs = std::filesystem;
namespace {

constexpr auto kCaValidity = std::chrono::days(3650);

Status WritePublicFile(const fs::path& path, const std::string& content, CreatedFiles& created) {
  std::error_code ec;
  if (fs::exists(path, ec)) return AlreadyExists(path.string() + " already exists");
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << content;
  out.close();
  if (!out) return Unavailable("cannot write " + path.string());
  created.Add(path);
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

Status SaveKey(const crypto::PrivateKey& key, const fs::path& path, CreatedFiles& created) {
  OUTPOST_RETURN_IF_ERROR(key.SaveFile(path));
  created.Add(path);
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
  config::Config config = options.config;

  // Enrollment: checked before anything is created, so a bad file leaves no directory behind.
  std::optional<v1::EnrollmentBundle> enrollment;
  std::optional<crypto::PublicKey> central_key;
  if (!options.enrollment_bundle.empty()) {
    OUTPOST_ASSIGN_OR_RETURN(
        auto bundle, sync::DecodeBundle(options.enrollment_bundle, "the enrollment bundle"));
    OUTPOST_ASSIGN_OR_RETURN(auto opened, sync::OpenEnrollmentBundle(bundle));
    enrollment = opened.payload.enrollment();
    central_key = std::move(opened.central_key);
    if (enrollment->enrollment_secret().size() != sync::kEnrollmentSecretSize ||
        enrollment->account_id().empty() || !IsUuid(enrollment->satellite_id())) {
      return InvalidArgument(
          "the enrollment bundle lacks a satellite id, account or a 32-byte secret; ask the "
          "vendor for a new one (`outpost central satellite enroll`)");
    }
    if (config.sync.central_url.empty()) config.sync.central_url = enrollment->central_url();
  }

  CreatedFiles created;  // removed again unless init gets to the end
  OUTPOST_RETURN_IF_ERROR(created.MakeDirectory(
      dir.root, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec));
  // One process per data directory, init included: two inits racing on one directory would
  // interleave their keys.
  if (!fs::exists(dir.lock())) created.Add(dir.lock());
  OUTPOST_ASSIGN_OR_RETURN(FileLock lock,
                           FileLock::Acquire(dir.lock(), "data directory " + dir.root.string()));
  for (const fs::path& marker : {dir.config(), dir.database()}) {
    if (fs::exists(marker)) {
      return AlreadyExists("data directory " + dir.root.string() +
                           " was initialised by another "
                           "process meanwhile (" +
                           marker.filename().string() + " exists)");
    }
  }
  OUTPOST_RETURN_IF_ERROR(created.MakeDirectory(dir.keys(), fs::perms::owner_all));
  OUTPOST_RETURN_IF_ERROR(created.MakeDirectory(dir.tls_certificate().parent_path(),
                                                fs::perms::owner_all | fs::perms::group_read |
                                                    fs::perms::group_exec | fs::perms::others_read |
                                                    fs::perms::others_exec));

  InitReport report;
  report.satellite_id = enrollment ? enrollment->satellite_id() : NewUuid();
  const TimePoint now = clock.Now();
  // Backdate a little so a device whose clock is slightly behind accepts fresh certificates.
  const TimePoint not_before = now - std::chrono::hours(1);

  // The satellite CA: ECDSA P-256, because devices, browsers and curl all speak it.
  OUTPOST_ASSIGN_OR_RETURN(auto ca_key,
                           crypto::PrivateKey::Generate(crypto::KeyAlgorithm::kEcdsaP256));
  OUTPOST_RETURN_IF_ERROR(SaveKey(ca_key, dir.ca_key(), created));
  OUTPOST_ASSIGN_OR_RETURN(
      auto ca, crypto::CertificateAuthority::CreateRoot(
                   std::move(ca_key), "Outpost Satellite CA " + report.satellite_id.substr(0, 8),
                   not_before, now + kCaValidity));
  OUTPOST_RETURN_IF_ERROR(WritePublicFile(dir.ca_certificate(), ca.certificate().ToPem(), created));
  report.ca_fingerprint = ca.certificate().Fingerprint();

  // Bundle and authorization signatures: Ed25519.
  OUTPOST_ASSIGN_OR_RETURN(auto signing_key,
                           crypto::PrivateKey::Generate(crypto::KeyAlgorithm::kEd25519));
  OUTPOST_RETURN_IF_ERROR(SaveKey(signing_key, dir.signing_key(), created));
  report.signing_key_id = signing_key.public_key().KeyId();

  // TLS server certificate for the configured names plus the loopback ones.
  OUTPOST_ASSIGN_OR_RETURN(auto tls_key,
                           crypto::PrivateKey::Generate(crypto::KeyAlgorithm::kEcdsaP256));
  OUTPOST_RETURN_IF_ERROR(SaveKey(tls_key, dir.tls_key(), created));
  // The satellite renews it with the same names before it expires (server/tls_renewal.h).
  crypto::CertificateProfile profile = ServerCertificateProfile(
      "outpost-satellite", {"localhost"}, {"127.0.0.1", "::1"}, now, ca.certificate().not_after());
  for (const auto& host : config.tls.hostnames) {
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
  OUTPOST_ASSIGN_OR_RETURN(auto tls_cert, ca.Issue(tls_key.public_key(), profile));
  OUTPOST_RETURN_IF_ERROR(
      WritePublicFile(dir.tls_certificate(), tls_cert.ToPem() + ca.certificate().ToPem(), created));

  // Database with the current schema, the satellite's identity and the first admin.
  {
    created.Add(dir.database());
    created.Add(dir.database().string() + "-wal");
    created.Add(dir.database().string() + "-shm");
    // Created empty with mode 0600 before SQLite opens it (an empty file is a new database):
    // it holds password and key hashes and the audit trail, and SQLite gives its -wal and -shm
    // files the same mode.
    const int fd = ::open(dir.database().c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
      return Unavailable("cannot create " + dir.database().string() + ": " + std::strerror(errno));
    }
    ::close(fd);
    OUTPOST_ASSIGN_OR_RETURN(
        auto writer, sqlite::Writer::Create(dir.database(), {}, store::SatelliteMigrations()));
    OUTPOST_RETURN_IF_ERROR(writer->Run([&](sqlite::Connection& db) -> Status {
      for (const auto& [key, value] : std::vector<std::pair<std::string, std::string>>{
               {std::string(store::kMetaSatelliteId), report.satellite_id},
               {"created_at", std::to_string(ToUnixSeconds(now))},
               {"signing_key_id", report.signing_key_id},
               // Lets `outpost audit verify --db` check checkpoints with the satellite stopped;
               // an auditor should compare its fingerprint with one recorded independently.
               {std::string(store::kMetaSigningPublicKey), signing_key.public_key().ToPem()}}) {
        OUTPOST_RETURN_IF_ERROR(store::kSatelliteMeta.Insert(db, key, value));
      }
      if (enrollment) {
        for (const auto& [key, value] : std::vector<std::pair<std::string, std::string>>{
                 {"account_id", enrollment->account_id()},
                 {"account_name", enrollment->account_name()},
                 {"central_public_key", central_key->ToPem()},
                 {"central_url", enrollment->central_url()}}) {
          OUTPOST_RETURN_IF_ERROR(store::kSatelliteMeta.Insert(db, key, value));
        }
        OUTPOST_RETURN_IF_ERROR(audit::Append(
            db,
            {audit::Actor::System(), "satellite.enroll", "account:" + enrollment->account_id(),
             "{\"central_key_id\":\"" + central_key->KeyId() + "\",\"central_url\":\"" +
                 enrollment->central_url() + "\"}"},
            now));
      }
      return audit::Append(
          db,
          {audit::Actor::System(), "satellite.init", "satellite:" + report.satellite_id,
           "{\"ca_fingerprint\":\"" + report.ca_fingerprint + "\",\"signing_key_id\":\"" +
               report.signing_key_id + "\"}"},
          now);
    }));
    OUTPOST_ASSIGN_OR_RETURN(auto readers, sqlite::ReaderPool::Create(dir.database()));
    auth::AuthPolicy policy;
    policy.scrypt.log2_n = options.scrypt_log2_n;
    auth::AuthStore auth_store(*writer, *readers, clock, policy);
    OUTPOST_ASSIGN_OR_RETURN(report.admin_password, auth::GeneratePassword());
    report.admin_user = "admin";
    OUTPOST_ASSIGN_OR_RETURN(
        auto admin, auth_store.CreateUser(report.admin_user, auth::Role::kAdmin,
                                          report.admin_password, auth::Principal::System()));
    (void)admin;
    OUTPOST_ASSIGN_OR_RETURN(auto key,
                             auth_store.CreateApiKey(report.admin_user, "created by outpost init",
                                                     auth::Principal::System()));
    report.admin_api_key = key.key;
    readers.reset();
    writer->Stop();
  }
  if (enrollment) {
    OUTPOST_RETURN_IF_ERROR(crypto::WriteFileAtomically(
        dir.enrollment_secret(), enrollment->enrollment_secret(),
        std::filesystem::perms::owner_read | std::filesystem::perms::owner_write,
        crypto::IfExists::kFail));
    created.Add(dir.enrollment_secret());
    if (!enrollment->central_ca_certificate_pem().empty()) {
      OUTPOST_RETURN_IF_ERROR(
          WritePublicFile(dir.central_ca(), enrollment->central_ca_certificate_pem(), created));
    }
    report.account_id = enrollment->account_id();
    report.central_key_id = central_key->KeyId();
    report.central_key_fingerprint = central_key->Fingerprint();
    report.central_url = enrollment->central_url();
  }
  report.admin_api_key_file = dir.admin_api_key();
  OUTPOST_RETURN_IF_ERROR(crypto::WriteFileAtomically(
      dir.admin_api_key(), report.admin_api_key + "\n",
      std::filesystem::perms::owner_read | std::filesystem::perms::owner_write,
      crypto::IfExists::kFail));
  created.Add(dir.admin_api_key());

  OUTPOST_RETURN_IF_ERROR(WritePublicFile(dir.config(), config::RenderConfig(config), created));
  report.files_written = created.paths();
  created.Commit();
  return report;
}

}  // namespace outpost::server
