// `outpost central init`: a new central data directory, all or nothing.

#include <arpa/inet.h>

#include <algorithm>
#include <chrono>

#include "common/config/config.h"
#include "common/created_files.h"
#include "common/crypto/ca.h"
#include "common/crypto/encoding.h"
#include "common/crypto/secure_file.h"
#include "common/ids.h"
#include "common/text.h"
#include "sync/central/central.h"
#include "sync/central/central_internal.h"
#include "sync/central/schema.h"

namespace outpost::central {
namespace fs = std::filesystem;
namespace {

constexpr auto kCaValidity = std::chrono::days(3650);
constexpr auto kTlsValidity = std::chrono::days(825);

Status SaveKey(const crypto::PrivateKey& key, const fs::path& path, CreatedFiles& created) {
  OUTPOST_RETURN_IF_ERROR(key.SaveFile(path));
  created.Add(path);
  return Status::Ok();
}

Status SavePublic(const fs::path& path, const std::vector<crypto::Certificate>& chain,
                  CreatedFiles& created) {
  OUTPOST_RETURN_IF_ERROR(crypto::SaveCertificateChainFile(path, chain, crypto::IfExists::kFail));
  created.Add(path);
  return Status::Ok();
}

bool IsIpLiteral(const std::string& host) {
  unsigned char buf[sizeof(struct in6_addr)];
  return inet_pton(AF_INET, host.c_str(), buf) == 1 || inet_pton(AF_INET6, host.c_str(), buf) == 1;
}

std::string DefaultUrl(const config::ListenAddress& listen) {
  std::string host = listen.host;
  if (host == "0.0.0.0") host = "127.0.0.1";
  if (host == "::") host = "::1";
  if (host.find(':') != std::string::npos) host = "[" + host + "]";
  return "https://" + host + ":" + std::to_string(listen.port);
}

}  // namespace

Result<v1::CentralInitReport> InitCentral(const InitCentralOptions& options, const Clock& clock) {
  const CentralDataDir dir(options.data_dir);
  std::error_code ec;
  if (fs::exists(dir.database(), ec)) {
    return AlreadyExists("data directory " + dir.root.string() +
                         " already holds a central (central.db exists); serve it with "
                         "`outpost central serve --data-dir " +
                         dir.root.string() + "` or choose an empty directory");
  }
  OUTPOST_ASSIGN_OR_RETURN(config::ListenAddress listen,
                           config::ParseListenAddress(options.listen));
  const std::string url = options.url.empty() ? DefaultUrl(listen) : options.url;
  if (!url.starts_with("https://")) {
    return InvalidArgument("--url '" + url + "' must start with https://");
  }
  const int64_t validity_s =
      std::chrono::duration_cast<std::chrono::seconds>(options.response_validity).count();
  if (validity_s < 3600 || validity_s > 366 * 86'400) {
    return InvalidArgument("the response validity must be between 1 hour and 366 days, not " +
                           DurationText(validity_s));
  }
  for (int64_t v :
       {options.policy.authorization_validity_s(), options.policy.authorization_renewal_s(),
        options.policy.floating_lease_s(), options.policy.sync_interval_s()}) {
    if (v < 0) return InvalidArgument("policy durations cannot be negative");
  }

  CreatedFiles created;  // removed again unless init gets to the end
  OUTPOST_RETURN_IF_ERROR(created.MakeDirectory(
      dir.root, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec));
  OUTPOST_RETURN_IF_ERROR(created.MakeDirectory(dir.keys(), fs::perms::owner_all));
  OUTPOST_RETURN_IF_ERROR(created.MakeDirectory(dir.tls_certificate().parent_path(),
                                                fs::perms::owner_all | fs::perms::group_read |
                                                    fs::perms::group_exec | fs::perms::others_read |
                                                    fs::perms::others_exec));
  v1::CentralInitReport report;
  report.set_central_id(NewUuid());
  report.set_data_dir(dir.root.string());
  const TimePoint now = clock.Now();
  const TimePoint not_before = now - std::chrono::hours(1);

  // Bundle signatures: Ed25519, like the satellite's.
  OUTPOST_ASSIGN_OR_RETURN(auto signing_key,
                           crypto::PrivateKey::Generate(crypto::KeyAlgorithm::kEd25519));
  OUTPOST_RETURN_IF_ERROR(SaveKey(signing_key, dir.signing_key(), created));
  report.set_signing_key_id(signing_key.public_key().KeyId());
  report.set_signing_key_fingerprint(signing_key.public_key().Fingerprint());

  // The CA that enrollment bundles pin for online sync, and central's TLS certificate.
  OUTPOST_ASSIGN_OR_RETURN(auto ca_key,
                           crypto::PrivateKey::Generate(crypto::KeyAlgorithm::kEcdsaP256));
  OUTPOST_RETURN_IF_ERROR(SaveKey(ca_key, dir.ca_key(), created));
  OUTPOST_ASSIGN_OR_RETURN(
      auto ca, crypto::CertificateAuthority::CreateRoot(
                   std::move(ca_key), "Outpost Central CA " + report.central_id().substr(0, 8),
                   not_before, now + kCaValidity));
  OUTPOST_RETURN_IF_ERROR(SavePublic(dir.ca_certificate(), {ca.certificate()}, created));
  report.set_ca_certificate(dir.ca_certificate().string());
  report.set_ca_fingerprint(ca.certificate().Fingerprint());

  OUTPOST_ASSIGN_OR_RETURN(auto tls_key,
                           crypto::PrivateKey::Generate(crypto::KeyAlgorithm::kEcdsaP256));
  OUTPOST_RETURN_IF_ERROR(SaveKey(tls_key, dir.tls_key(), created));
  crypto::CertificateProfile profile;
  profile.usage = crypto::CertificateProfile::kServer;
  profile.common_name = "outpost-central";
  profile.dns_names = {"localhost"};
  profile.ip_addresses = {"127.0.0.1", "::1"};
  std::vector<std::string> hosts = options.hostnames;
  hosts.push_back(listen.host);
  for (const auto& host : hosts) {
    if (host.empty() || host == "0.0.0.0" || host == "::") continue;
    auto& list = IsIpLiteral(host) ? profile.ip_addresses : profile.dns_names;
    if (std::find(list.begin(), list.end(), host) == list.end()) list.push_back(host);
  }
  profile.not_before = not_before;
  profile.not_after = now + kTlsValidity;
  OUTPOST_ASSIGN_OR_RETURN(auto tls_cert, ca.Issue(tls_key.public_key(), profile));
  OUTPOST_RETURN_IF_ERROR(SavePublic(dir.tls_certificate(), {tls_cert, ca.certificate()}, created));

  {
    created.Add(dir.database());
    created.Add(dir.database().string() + "-wal");
    created.Add(dir.database().string() + "-shm");
    OUTPOST_ASSIGN_OR_RETURN(auto writer,
                             sqlite::Writer::Create(dir.database(), {}, CentralMigrations()));
    OUTPOST_RETURN_IF_ERROR(writer->Run([&](sqlite::Connection& db) -> Status {
      for (const auto& [key, value] : std::vector<std::pair<std::string, std::string>>{
               {kMetaCentralId, report.central_id()},
               {"created_at", std::to_string(ToUnixSeconds(now))},
               {kMetaSigningKeyId, report.signing_key_id()},
               {kMetaListen, listen.ToString()},
               {kMetaUrl, url},
               {kMetaResponseValidity, std::to_string(validity_s)},
               {kMetaPolicy, crypto::HexEncode(options.policy.SerializeAsString())}}) {
        OUTPOST_RETURN_IF_ERROR(kCentralMeta.Insert(db, key, value));
      }
      return Status::Ok();
    }));
    writer->Stop();
  }
  report.set_listen(listen.ToString());
  report.set_url(url);
  report.set_response_validity_s(validity_s);
  for (const fs::path& p : created.paths()) {
    if (!p.string().ends_with("-wal") && !p.string().ends_with("-shm")) {
      report.add_files_written(p.string());
    }
  }
  created.Commit();
  return report;
}

}  // namespace outpost::central
