#include "sync/central/central.h"

#include <algorithm>
#include <cctype>
#include <future>
#include <utility>

#include "common/crypto/encoding.h"
#include "common/crypto/hash.h"
#include "common/crypto/random.h"
#include "common/ids.h"
#include "common/thread_boundary.h"
#include "common/time.h"
#include "sync/bundle/armor.h"
#include "sync/bundle/display.h"
#include "sync/bundle/trust.h"
#include "sync/central/central_internal.h"
#include "sync/central/schema.h"

namespace outpost::central {
namespace fs = std::filesystem;
namespace {

std::string Quote(std::string_view text) { return "'" + sync::Printable(text, 64) + "'"; }

Result<std::string> ReadMeta(sqlite::Connection& db, std::string_view key) {
  OUTPOST_ASSIGN_OR_RETURN(auto value, kCentralMeta.Get(db, key));
  if (!value) {
    return DataLoss("central database " + db.path().string() + " has no '" + std::string(key) +
                    "' setting; it was not created by `outpost central init`");
  }
  return std::move(*value);
}

// "PAK-" and 8 groups of 4 upper-case hex digits: 128 random bits, easy to read out and type.
Result<std::string> NewPakKey() {
  OUTPOST_ASSIGN_OR_RETURN(std::string bytes, crypto::RandomBytes(16));
  std::string hex = crypto::HexEncode(bytes);
  std::string key = "PAK";
  for (size_t i = 0; i < hex.size(); i += 4) {
    key += "-";
    for (size_t j = i; j < i + 4; ++j) key += static_cast<char>(std::toupper(hex[j]));
  }
  return key;
}

}  // namespace

// --- Shared row helpers (central_internal.h) ---------------------------------------------------

v1::Entitlement EntitlementFromRow(const sqlite::Statement& row) {
  v1::Entitlement e;
  e.set_id(row.ColumnText(0));
  e.set_va(row.ColumnText(1));
  e.set_tag(row.ColumnText(2));
  e.set_quantity(row.ColumnInt64(3));
  e.set_start(row.ColumnInt64(4));
  e.set_end(row.ColumnInt64(5));
  e.set_enforcement(static_cast<v1::Enforcement>(row.ColumnInt64(6)));
  e.set_floating(row.ColumnInt64(7) != 0);
  e.set_export_controlled(row.ColumnInt64(8) != 0);
  return e;
}

Status RequireAccount(sqlite::Connection& db, std::string_view account_id) {
  OUTPOST_ASSIGN_OR_RETURN(int64_t n,
                           db.QueryInt64("SELECT count(*) FROM accounts WHERE id = ?", account_id));
  if (n == 0) {
    return NotFound("there is no account " + Quote(account_id) +
                    "; create it with `outpost central account create " +
                    sync::Printable(account_id, 64) +
                    "` (list them with `outpost central account "
                    "list`)");
  }
  return Status::Ok();
}

Result<bool> VaExists(sqlite::Connection& db, std::string_view account_id, std::string_view va) {
  OUTPOST_ASSIGN_OR_RETURN(
      int64_t n,
      db.QueryInt64("SELECT count(*) FROM virtual_accounts WHERE account_id = ? AND name = ?",
                    account_id, va));
  return n > 0;
}

Status RequireVa(sqlite::Connection& db, std::string_view account_id, std::string_view va) {
  OUTPOST_RETURN_IF_ERROR(RequireAccount(db, account_id));
  OUTPOST_ASSIGN_OR_RETURN(bool exists, VaExists(db, account_id, va));
  if (!exists) {
    return NotFound("account " + Quote(account_id) + " has no virtual account " + Quote(va) +
                    "; create it with `outpost central va create " +
                    sync::Printable(account_id, 64) + " " + sync::Printable(va, 64) + "`");
  }
  return Status::Ok();
}

Result<std::vector<v1::Entitlement>> LoadEntitlements(sqlite::Connection& db,
                                                      std::string_view account_id) {
  OUTPOST_ASSIGN_OR_RETURN(
      auto stmt, db.Query(std::string("SELECT ") + kEntitlementColumns +
                              " FROM entitlements WHERE account_id = ? ORDER BY va, tag, id",
                          account_id));
  std::vector<v1::Entitlement> out;
  while (true) {
    OUTPOST_ASSIGN_OR_RETURN(bool row, stmt->Step());
    if (!row) break;
    out.push_back(EntitlementFromRow(*stmt));
  }
  return out;
}

Result<std::vector<std::string>> LoadVas(sqlite::Connection& db, std::string_view account_id) {
  OUTPOST_ASSIGN_OR_RETURN(
      auto stmt,
      db.Query("SELECT name FROM virtual_accounts WHERE account_id = ? ORDER BY name", account_id));
  std::vector<std::string> out;
  while (true) {
    OUTPOST_ASSIGN_OR_RETURN(bool row, stmt->Step());
    if (!row) break;
    out.push_back(stmt->ColumnText(0));
  }
  return out;
}

Result<std::string> AccountName(sqlite::Connection& db, std::string_view account_id) {
  OUTPOST_ASSIGN_OR_RETURN(auto stmt,
                           db.Query("SELECT name FROM accounts WHERE id = ?", account_id));
  OUTPOST_ASSIGN_OR_RETURN(bool row, stmt->Step());
  if (!row) return NotFound("there is no account " + Quote(account_id));
  return stmt->ColumnText(0);
}

Status InsertEntitlement(sqlite::Connection& db, std::string_view account_id,
                         const v1::Entitlement& e, std::string_view origin, int64_t now) {
  return db
      .ExecPrepared(
          "INSERT INTO entitlements(id, account_id, va, tag, quantity, start, end_at, "
          "enforcement, floating, export_controlled, origin, created_at) "
          "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
          e.id(), account_id, e.va(), e.tag(), e.quantity(), e.start(), e.end(),
          static_cast<int64_t>(e.enforcement()), int64_t{e.floating()},
          int64_t{e.export_controlled()}, origin, now)
      .status();
}

v1::Enforcement EnforcementFrom(bool enforced) {
  return enforced ? v1::ENFORCEMENT_ENFORCED : v1::ENFORCEMENT_REPORTED;
}

std::string NormalizePakKey(std::string_view key) {
  std::string out;
  for (char c : key) {
    if (std::isspace(static_cast<unsigned char>(c))) continue;
    out += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  return out;
}

// --- Central -----------------------------------------------------------------------------------

Central::Central(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Central::~Central() {
  // Checks in progress still use the readers and post to the writer.
  impl_->admission.reset();
  // Readers first, so the writer's connection is the last one and checkpoints the WAL.
  impl_->readers.reset();
  if (impl_->writer) impl_->writer->Stop();
}

Result<std::unique_ptr<Central>> Central::Open(const fs::path& data_dir, const Clock& clock,
                                               Options options) {
  auto impl = std::make_unique<Impl>();
  impl->clock = &clock;
  impl->options = options;
  impl->dir = CentralDataDir(data_dir);
  const CentralDataDir& dir = impl->dir;
  std::error_code ec;
  if (!fs::exists(dir.database(), ec)) {
    return NotFound("no central database at " + dir.database().string() +
                    "; create the data directory first with `outpost central init --data-dir " +
                    dir.root.string() + "`");
  }
  OUTPOST_ASSIGN_OR_RETURN(auto key, crypto::PrivateKey::LoadFile(dir.signing_key()));
  impl->signing_key.emplace(std::move(key));
  OUTPOST_ASSIGN_OR_RETURN(auto ca, crypto::Certificate::LoadFile(dir.ca_certificate()));
  impl->ca_pem = ca.ToPem();
  impl->ca_fingerprint = ca.Fingerprint();

  sqlite::WriterOptions writer_options;
  writer_options.synchronous = options.synchronous;
  OUTPOST_ASSIGN_OR_RETURN(
      impl->writer, sqlite::Writer::Create(dir.database(), writer_options, CentralMigrations()));
  OUTPOST_ASSIGN_OR_RETURN(impl->readers, sqlite::ReaderPool::Create(dir.database()));
  impl->admission =
      std::make_unique<AdmissionPool>(options.admission_threads, options.max_admission_queue,
                                      options.max_admission_queue_per_client);
  {
    OUTPOST_ASSIGN_OR_RETURN(auto lease, impl->readers->Acquire());
    sqlite::Connection& db = *lease;
    OUTPOST_ASSIGN_OR_RETURN(impl->central_id, ReadMeta(db, kMetaCentralId));
    OUTPOST_ASSIGN_OR_RETURN(std::string key_id, ReadMeta(db, kMetaSigningKeyId));
    // A `central key retire` that recorded the new key but did not finish with the files.
    OUTPOST_RETURN_IF_ERROR(FinishKeyRetirement(dir, key_id));
    if (key_id != impl->signing_key->public_key().KeyId()) {
      OUTPOST_ASSIGN_OR_RETURN(auto installed, crypto::PrivateKey::LoadFile(dir.signing_key()));
      impl->signing_key.emplace(std::move(installed));
    }
    if (key_id != impl->signing_key->public_key().KeyId()) {
      return DataLoss("the signing key " + dir.signing_key().string() + " (key id " +
                      impl->signing_key->public_key().KeyId() + ") is not central's key " + key_id +
                      " recorded in " + dir.database().string() +
                      "; restore the original key file");
    }
    OUTPOST_ASSIGN_OR_RETURN(impl->listen, ReadMeta(db, kMetaListen));
    OUTPOST_ASSIGN_OR_RETURN(impl->url, ReadMeta(db, kMetaUrl));
    OUTPOST_ASSIGN_OR_RETURN(std::string validity, ReadMeta(db, kMetaResponseValidity));
    impl->response_validity_s = std::strtoll(validity.c_str(), nullptr, 10);
    if (impl->response_validity_s <= 0) {
      return DataLoss("central setting response_validity_s is '" + validity + "' in " +
                      dir.database().string());
    }
    {
      OUTPOST_ASSIGN_OR_RETURN(auto stored, kCentralMeta.Get(db, kMetaKeyRotation));
      if (stored) {
        auto bytes = crypto::HexDecode(*stored);
        v1::KeyRotation rotation;
        if (!bytes.ok() || !rotation.ParseFromString(*bytes)) {
          return DataLoss("central setting key_rotation cannot be read in " +
                          dir.database().string());
        }
        OUTPOST_ASSIGN_OR_RETURN(auto next, crypto::PrivateKey::LoadFile(dir.next_signing_key()));
        if (next.public_key().KeyId() != rotation.new_key_id()) {
          return DataLoss("the key " + dir.next_signing_key().string() +
                          " is not the key announced by the recorded rotation (" +
                          rotation.new_key_id() + "); restore the original key file");
        }
        impl->next_signing_key.emplace(std::move(next));
        impl->rotation = std::move(rotation);
      }
    }
    OUTPOST_ASSIGN_OR_RETURN(auto retired, kCentralMeta.Get(db, kMetaRetiredKeys));
    if (retired) {
      OUTPOST_ASSIGN_OR_RETURN(impl->retired_keys, ParseRetiredKeys(*retired));
    }
    OUTPOST_ASSIGN_OR_RETURN(std::string policy_hex, ReadMeta(db, kMetaPolicy));
    auto policy = crypto::HexDecode(policy_hex);
    if (!policy.ok() || !impl->policy.ParseFromString(*policy)) {
      return DataLoss("central setting policy cannot be read in " + dir.database().string());
    }
  }
  return std::unique_ptr<Central>(new Central(std::move(impl)));
}

Result<v1::CentralAccount> Central::CreateAccount(std::string_view account_id,
                                                  std::string_view name) {
  OUTPOST_RETURN_IF_ERROR(ValidateAccountId(account_id));
  const std::string display = name.empty() ? std::string(account_id) : std::string(name);
  OUTPOST_RETURN_IF_ERROR(ValidateDisplayName(display, "--name"));
  const int64_t now = ToUnixSeconds(impl_->clock->Now());
  OUTPOST_RETURN_IF_ERROR(impl_->writer->Run([&](sqlite::Connection& db) -> Status {
    OUTPOST_ASSIGN_OR_RETURN(
        int64_t n, db.QueryInt64("SELECT count(*) FROM accounts WHERE id = ?", account_id));
    if (n > 0) {
      return AlreadyExists("account " + Quote(account_id) +
                           " already exists; see `outpost central account list`");
    }
    OUTPOST_RETURN_IF_ERROR(db.ExecPrepared(
        "INSERT INTO accounts(id, name, created_at) VALUES (?, ?, ?)", account_id, display, now));
    return db
        .ExecPrepared(
            "INSERT INTO virtual_accounts(account_id, name, created_at) VALUES (?, 'default', ?)",
            account_id, now)
        .status();
  }));
  v1::CentralAccount out;
  out.set_account_id(std::string(account_id));
  out.set_name(display);
  out.set_created_at(now);
  out.add_virtual_accounts("default");
  return out;
}

Result<v1::CentralVirtualAccount> Central::CreateVirtualAccount(std::string_view account_id,
                                                                std::string_view va) {
  OUTPOST_RETURN_IF_ERROR(ValidateAccountId(account_id));
  OUTPOST_RETURN_IF_ERROR(ValidateVaName(va));
  const int64_t now = ToUnixSeconds(impl_->clock->Now());
  OUTPOST_RETURN_IF_ERROR(impl_->writer->Run([&](sqlite::Connection& db) -> Status {
    OUTPOST_RETURN_IF_ERROR(RequireAccount(db, account_id));
    OUTPOST_ASSIGN_OR_RETURN(bool exists, VaExists(db, account_id, va));
    if (exists) {
      return AlreadyExists("account " + Quote(account_id) + " already has virtual account " +
                           Quote(va));
    }
    return db
        .ExecPrepared("INSERT INTO virtual_accounts(account_id, name, created_at) VALUES (?, ?, ?)",
                      account_id, va, now)
        .status();
  }));
  v1::CentralVirtualAccount out;
  out.set_account_id(std::string(account_id));
  out.set_va(std::string(va));
  out.set_created_at(now);
  return out;
}

Result<v1::Entitlement> Central::AddLicense(std::string_view account_id, std::string_view va,
                                            std::string_view tag, const LicenseTerms& terms) {
  OUTPOST_RETURN_IF_ERROR(ValidateAccountId(account_id));
  OUTPOST_RETURN_IF_ERROR(ValidateVaName(va));
  OUTPOST_RETURN_IF_ERROR(ValidateTag(tag));
  const int64_t now = ToUnixSeconds(impl_->clock->Now());
  const int64_t start = terms.start.value_or(now);
  OUTPOST_RETURN_IF_ERROR(ValidateTerms(terms, start));
  v1::Entitlement e;
  e.set_id(NewUuid());
  e.set_va(std::string(va));
  e.set_tag(std::string(tag));
  e.set_quantity(terms.quantity);
  e.set_start(start);
  e.set_end(terms.end);
  e.set_enforcement(EnforcementFrom(terms.enforced));
  e.set_floating(terms.floating);
  e.set_export_controlled(terms.export_controlled);
  OUTPOST_RETURN_IF_ERROR(impl_->writer->Run([&](sqlite::Connection& db) -> Status {
    OUTPOST_RETURN_IF_ERROR(RequireVa(db, account_id, va));
    return InsertEntitlement(db, account_id, e, "order", now);
  }));
  return e;
}

Result<v1::CentralPak> Central::CreatePak(std::string_view account_id, std::string_view va,
                                          std::string_view tag, const LicenseTerms& terms) {
  OUTPOST_RETURN_IF_ERROR(ValidateAccountId(account_id));
  OUTPOST_RETURN_IF_ERROR(ValidateVaName(va));
  OUTPOST_RETURN_IF_ERROR(ValidateTag(tag));
  const int64_t now = ToUnixSeconds(impl_->clock->Now());
  const int64_t start = terms.start.value_or(now);
  OUTPOST_RETURN_IF_ERROR(ValidateTerms(terms, start));
  OUTPOST_ASSIGN_OR_RETURN(std::string key, NewPakKey());
  v1::CentralPak pak;
  pak.set_pak_id(NewUuid());
  pak.set_key(key);
  pak.set_key_prefix(key.substr(0, 8));
  pak.set_account_id(std::string(account_id));
  pak.set_va(std::string(va));
  pak.set_tag(std::string(tag));
  pak.set_quantity(terms.quantity);
  pak.set_start(start);
  pak.set_end(terms.end);
  pak.set_enforcement(EnforcementFrom(terms.enforced));
  pak.set_floating(terms.floating);
  pak.set_export_controlled(terms.export_controlled);
  pak.set_created_at(now);
  OUTPOST_RETURN_IF_ERROR(impl_->writer->Run([&](sqlite::Connection& db) -> Status {
    OUTPOST_RETURN_IF_ERROR(RequireVa(db, account_id, va));
    return db
        .ExecPrepared(
            "INSERT INTO paks(id, key_sha256, key_prefix, account_id, va, tag, quantity, start, "
            "end_at, enforcement, floating, export_controlled, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            pak.pak_id(), sqlite::Blob{crypto::Sha256(NormalizePakKey(key))}, pak.key_prefix(),
            account_id, va, tag, pak.quantity(), pak.start(), pak.end(),
            static_cast<int64_t>(pak.enforcement()), int64_t{pak.floating()},
            int64_t{pak.export_controlled()}, now)
        .status();
  }));
  return pak;
}

namespace {

// What enrolment and re-enrolment check before anything is recorded: the URL and the file.
Result<std::string> CheckEnrollmentTarget(const std::string& default_url,
                                          const std::optional<std::string>& url,
                                          const fs::path& file) {
  std::string central_url = url.value_or(default_url);
  if (!central_url.empty() && !central_url.starts_with("https://")) {
    return InvalidArgument("central URL '" + sync::Printable(central_url) +
                           "' does not start with https://; satellites sync online only over "
                           "HTTPS");
  }
  std::error_code ec;
  if (fs::exists(file, ec)) {
    return AlreadyExists(file.string() +
                         " already exists; choose another file (an enrollment bundle is never "
                         "overwritten)");
  }
  return central_url;
}

// Signs and writes the enrollment bundle of `satellite` (inside the caller's transaction: a
// bundle that cannot be written leaves nothing recorded).
Status WriteEnrollment(sqlite::Connection& db, const crypto::PrivateKey& key,
                       const std::string& ca_pem, const v1::CentralSatellite& satellite,
                       const std::string& secret, const std::string& central_url, int64_t now,
                       const fs::path& file, bool armor) {
  OUTPOST_ASSIGN_OR_RETURN(std::string account_name, AccountName(db, satellite.account_id()));
  sync::BundlePayload payload;
  payload.set_kind(v1::BUNDLE_KIND_ENROLLMENT);
  v1::EnrollmentBundle* e = payload.mutable_enrollment();
  e->set_satellite_id(satellite.satellite_id());
  e->set_account_id(satellite.account_id());
  e->set_account_name(account_name);
  e->set_central_public_key_pem(key.public_key().ToPem());
  e->set_central_key_id(key.public_key().KeyId());
  e->set_enrollment_secret(secret);
  e->set_central_url(central_url);
  e->set_issued_at(now);
  e->set_central_ca_certificate_pem(ca_pem);
  OUTPOST_ASSIGN_OR_RETURN(sync::SignedBundle bundle, sync::SignBundle(payload, key));
  return sync::WriteBundleFile(file, bundle, v1::BUNDLE_KIND_ENROLLMENT, armor);
}

}  // namespace

Result<v1::CentralEnrollment> Central::EnrollSatellite(std::string_view account_id,
                                                       std::string_view name, const fs::path& file,
                                                       bool armor, std::optional<std::string> url) {
  OUTPOST_RETURN_IF_ERROR(ValidateAccountId(account_id));
  OUTPOST_RETURN_IF_ERROR(ValidateDisplayName(name, "--name"));
  OUTPOST_ASSIGN_OR_RETURN(const std::string central_url,
                           CheckEnrollmentTarget(impl_->url, url, file));
  OUTPOST_ASSIGN_OR_RETURN(std::string secret, crypto::RandomBytes(sync::kEnrollmentSecretSize));
  OUTPOST_ASSIGN_OR_RETURN(std::string verifier, sync::EnrollmentVerifier(secret));
  const int64_t now = ToUnixSeconds(impl_->clock->Now());
  const crypto::PrivateKey& key = *impl_->signing_key;

  v1::CentralEnrollment out;
  v1::CentralSatellite* satellite = out.mutable_satellite();
  satellite->set_satellite_id(NewUuid());
  satellite->set_account_id(std::string(account_id));
  satellite->set_name(std::string(name));
  satellite->set_enrolled_at(now);
  bool file_written = false;
  Status s = impl_->writer->Run([&](sqlite::Connection& db) -> Status {
    OUTPOST_RETURN_IF_ERROR(RequireAccount(db, account_id));
    OUTPOST_RETURN_IF_ERROR(db.ExecPrepared(
        "INSERT INTO satellites(id, account_id, name, enrolled_at, enrollment_verifier) "
        "VALUES (?, ?, ?, ?, ?)",
        satellite->satellite_id(), account_id, name, now, sqlite::Blob{verifier}));
    OUTPOST_RETURN_IF_ERROR(
        WriteEnrollment(db, key, impl_->ca_pem, *satellite, secret, central_url, now, file, armor));
    file_written = true;
    return Status::Ok();
  });
  std::error_code ec;
  if (!s.ok()) {
    // The commit failed after the file was written: the secret in it matches nothing.
    if (file_written) fs::remove(file, ec);
    return s;
  }
  out.set_file(file.string());
  out.set_central_key_id(key.public_key().KeyId());
  out.set_central_key_fingerprint(key.public_key().Fingerprint());
  out.set_central_url(central_url);
  out.set_ca_fingerprint(impl_->ca_fingerprint);
  return out;
}

Result<v1::CentralEnrollment> Central::ReenrollSatellite(std::string_view satellite_id,
                                                         const fs::path& file, bool armor,
                                                         std::optional<std::string> url) {
  OUTPOST_ASSIGN_OR_RETURN(const std::string central_url,
                           CheckEnrollmentTarget(impl_->url, url, file));
  OUTPOST_ASSIGN_OR_RETURN(std::string secret, crypto::RandomBytes(sync::kEnrollmentSecretSize));
  OUTPOST_ASSIGN_OR_RETURN(std::string verifier, sync::EnrollmentVerifier(secret));
  const int64_t now = ToUnixSeconds(impl_->clock->Now());
  const crypto::PrivateKey& key = *impl_->signing_key;
  v1::CentralEnrollment out;
  bool file_written = false;
  Status s = impl_->writer->Run([&](sqlite::Connection& db) -> Status {
    OUTPOST_ASSIGN_OR_RETURN(v1::CentralSatellite satellite, ReadSatellite(db, satellite_id));
    if (satellite.revoked_at() == 0) {
      return FailedPrecondition(
          "satellite " + satellite.satellite_id() + " (" + sync::Printable(satellite.name()) +
          ") is not revoked: revoke it first (`outpost central satellite revoke " +
          satellite.satellite_id() +
          " --reason TEXT`), so that its current key is refused, then enrol it again");
    }
    // The new line of the satellite's history starts here: a new one-time secret, no key bound
    // (the next first contact binds the new appliance's key; the old key is refused from now
    // on), the sequence from 0. Response numbers keep counting up. What the old line sent stays
    // as evidence: usage reports, moves and conversions under the satellite's id, its audit
    // heads moved aside under a restore id of their own, so the new satellite's chain is not
    // held to the old one's heads.
    const std::string line = "before-reenrollment-" + std::to_string(now);
    OUTPOST_RETURN_IF_ERROR(db.ExecPrepared(
        "UPDATE audit_heads SET restore_id = ? || ':' || restore_id WHERE satellite_id = ?", line,
        satellite.satellite_id()));
    OUTPOST_RETURN_IF_ERROR(db.ExecPrepared(
        "UPDATE satellites SET enrollment_verifier = ?, public_key_pem = NULL, key_id = NULL, "
        "bound_at = NULL, last_sequence = 0, last_request_sha256 = NULL, last_response = NULL, "
        "restore_id = '', revoked_at = NULL, revoked_reason = NULL, reenrolled_at = ? "
        "WHERE id = ?",
        sqlite::Blob{verifier}, now, satellite.satellite_id()));
    OUTPOST_RETURN_IF_ERROR(db.ExecPrepared(
        "INSERT INTO satellite_events(satellite_id, at, event, detail, key_id) "
        "VALUES (?, ?, 'reenrolled', ?, ?)",
        satellite.satellite_id(), now,
        "new enrollment after the revocation of " + FormatRfc3339Seconds(satellite.revoked_at()) +
            " (" + satellite.revoked_reason() + "); last sequence was " +
            std::to_string(satellite.last_sequence()),
        satellite.key_id()));
    OUTPOST_RETURN_IF_ERROR(
        WriteEnrollment(db, key, impl_->ca_pem, satellite, secret, central_url, now, file, armor));
    file_written = true;
    OUTPOST_ASSIGN_OR_RETURN(*out.mutable_satellite(), ReadSatellite(db, satellite_id));
    return Status::Ok();
  });
  std::error_code ec;
  if (!s.ok()) {
    if (file_written) fs::remove(file, ec);
    return s;
  }
  out.set_file(file.string());
  out.set_central_key_id(key.public_key().KeyId());
  out.set_central_key_fingerprint(key.public_key().Fingerprint());
  out.set_central_url(central_url);
  out.set_ca_fingerprint(impl_->ca_fingerprint);
  return out;
}

namespace {

// Size first, then the envelope: nothing else is looked at before both pass.
Result<std::pair<sync::SignedBundle, std::string>> DecodeRequest(std::string_view bytes,
                                                                 size_t max_bytes) {
  OUTPOST_ASSIGN_OR_RETURN(sync::SignedBundle bundle,
                           sync::DecodeBundle(bytes, "the sync request", max_bytes));
  return std::make_pair(std::move(bundle), crypto::Sha256(sync::SerializeBundle(bundle)));
}

}  // namespace

namespace {
constexpr char kMetaMetricsToken[] = "metrics_token_sha256";
constexpr std::string_view kMetricsTokenPrefix = "opm_";
}  // namespace

Result<std::string> Central::NewMetricsToken() {
  OUTPOST_ASSIGN_OR_RETURN(std::string random, crypto::RandomToken());
  std::string token = std::string(kMetricsTokenPrefix) + random;
  OUTPOST_RETURN_IF_ERROR(impl_->writer->Run([&](sqlite::Connection& db) -> Status {
    return kCentralMeta.Set(db, kMetaMetricsToken, crypto::Sha256Hex(token));
  }));
  return token;
}

Status Central::RemoveMetricsToken() {
  return impl_->writer->Run(
      [](sqlite::Connection& db) { return kCentralMeta.Erase(db, kMetaMetricsToken); });
}

Status Central::CheckMetricsToken(std::string_view authorization) {
  OUTPOST_ASSIGN_OR_RETURN(auto lease, impl_->readers->Acquire());
  OUTPOST_ASSIGN_OR_RETURN(auto stored, kCentralMeta.Get(*lease, kMetaMetricsToken));
  if (!stored) {
    return FailedPrecondition(
        "central's /metrics is off: it shows every customer's sync activity, so it needs a "
        "token; create one with `outpost central metrics-token --data-dir DIR` and send it as "
        "\"Authorization: Bearer TOKEN\"");
  }
  constexpr std::string_view kBearer = "Bearer ";
  const bool bearer =
      authorization.size() > kBearer.size() && authorization.substr(0, kBearer.size()) == kBearer;
  const std::string presented =
      bearer ? crypto::Sha256Hex(authorization.substr(kBearer.size())) : std::string();
  if (!bearer || !crypto::ConstantTimeEquals(presented, *stored)) {
    return Unauthenticated(
        "central's /metrics needs \"Authorization: Bearer TOKEN\" with the token `outpost "
        "central metrics-token` printed");
  }
  return Status::Ok();
}

Result<v1::CentralSatellite> Central::RevokeSatellite(std::string_view satellite_id,
                                                      std::string_view reason) {
  OUTPOST_RETURN_IF_ERROR(ValidateDisplayName(reason, "--reason"));
  const int64_t now = ToUnixSeconds(impl_->clock->Now());
  v1::CentralSatellite out;
  OUTPOST_RETURN_IF_ERROR(impl_->writer->Run([&](sqlite::Connection& db) -> Status {
    OUTPOST_ASSIGN_OR_RETURN(out, ReadSatellite(db, satellite_id));
    if (out.revoked_at() != 0) {
      return FailedPrecondition("satellite " + out.satellite_id() + " (" +
                                sync::Printable(out.name()) + ") was revoked already at " +
                                FormatRfc3339Seconds(out.revoked_at()) + " (" +
                                sync::Printable(out.revoked_reason(), 200) + ")");
    }
    OUTPOST_RETURN_IF_ERROR(
        // The enrollment verifier stays, so that an unbound revoked satellite proves who it is
        // and is then told it was revoked, rather than a stranger's refusal.
        db.ExecPrepared("UPDATE satellites SET revoked_at = ?, revoked_reason = ? WHERE id = ?",
                        now, reason, out.satellite_id()));
    return db
        .ExecPrepared(
            "INSERT INTO satellite_events(satellite_id, at, event, detail, key_id) "
            "VALUES (?, ?, 'revoked', ?, ?)",
            out.satellite_id(), now, reason, out.key_id())
        .status();
  }));
  out.set_revoked_at(now);
  out.set_revoked_reason(std::string(reason));
  return out;
}

Result<SyncOutcome> Central::ProcessSyncRequest(std::string_view request_bytes) {
  // Shared, not on this stack: the writer thread may still be inside set_value() when get()
  // returns here and this frame unwinds (see sqlite::Writer::Run).
  auto promise = std::make_shared<std::promise<Result<SyncOutcome>>>();
  auto future = promise->get_future();
  ProcessSyncRequestAsync(std::string(request_bytes), [promise](Result<SyncOutcome> outcome) {
    promise->set_value(std::move(outcome));
  });
  return future.get();
}

void Central::ProcessSyncRequestAsync(std::string request_bytes,
                                      std::function<void(Result<SyncOutcome>)> done,
                                      const std::string& client) {
  auto decoded = DecodeRequest(request_bytes, impl_->options.max_request_bytes);
  request_bytes.clear();
  if (!decoded.ok()) {
    done(decoded.status());
    return;
  }
  auto state =
      std::make_shared<std::pair<sync::SignedBundle, std::string>>(std::move(decoded).value());
  Impl* impl = impl_.get();
  auto shared_done = std::make_shared<std::function<void(Result<SyncOutcome>)>>(std::move(done));
  // 1. Admission, on its own threads: nothing unverified reaches the writer.
  const bool queued = impl->admission->TryPost(client, [impl, state, shared_done] {
    std::optional<VerifiedRequest> verified;
    Status checked = CatchAtBoundary("checking a sync request", [&]() -> Status {
      OUTPOST_ASSIGN_OR_RETURN(auto lease, impl->readers->Acquire());
      AdmissionContext context;
      context.central_key = &impl->signing_key->public_key();
      if (impl->next_signing_key) context.next_central_key = &impl->next_signing_key->public_key();
      context.retired_keys = &impl->retired_keys;
      context.now = ToUnixSeconds(impl->clock->Now());
      OUTPOST_ASSIGN_OR_RETURN(VerifiedRequest v,
                               AdmitSyncRequest(*lease, state->first, state->second, context));
      verified = std::move(v);
      return Status::Ok();
    });
    if (!checked.ok()) return (*shared_done)(checked);
    // 2. One request per satellite at a time in the writer.
    const std::string satellite_id = verified->satellite_id;
    {
      std::lock_guard lock(impl->busy_mu);
      if (!impl->busy_satellites.insert(satellite_id).second) {
        return (*shared_done)(ResourceExhausted(
            "a sync request of satellite " + satellite_id +
            " is already being processed; send this one again once that one is answered"));
      }
    }
    auto request = std::make_shared<VerifiedRequest>(std::move(*verified));
    auto outcome = std::make_shared<std::optional<SyncOutcome>>();
    impl->writer->Submit(
        [impl, request, outcome](sqlite::Connection& db) -> Status {
          SyncContext context;
          context.signing_key = &*impl->signing_key;
          if (impl->next_signing_key) {
            context.next_signing_key = &*impl->next_signing_key;
            context.rotation = &*impl->rotation;
          }
          context.now = ToUnixSeconds(impl->clock->Now());
          context.response_validity_s = impl->response_validity_s;
          context.policy = impl->policy;
          OUTPOST_ASSIGN_OR_RETURN(SyncOutcome o, ApplySyncRequest(db, *request, context));
          *outcome = std::move(o);
          return Status::Ok();
        },
        [impl, satellite_id, outcome, shared_done](const Status& status) {
          {
            std::lock_guard lock(impl->busy_mu);
            impl->busy_satellites.erase(satellite_id);
          }
          if (!status.ok()) {
            (*shared_done)(status);
          } else {
            (*shared_done)(std::move(**outcome));
          }
        });
  });
  if (!queued) {
    (*shared_done)(Unavailable("central is busy checking other sync requests (" +
                               std::to_string(impl->admission->queued()) +
                               " waiting); send the request again in a few seconds"));
  }
}

Result<v1::KeyRotation> Central::RotateSigningKey() {
  if (impl_->rotation) {
    return FailedPrecondition("central already announced its new key " +
                              impl_->rotation->new_key_id() +
                              "; satellites move to it as they sync. Another rotation can follow "
                              "once that one is complete");
  }
  OUTPOST_ASSIGN_OR_RETURN(auto next, crypto::PrivateKey::Generate(crypto::KeyAlgorithm::kEd25519));
  OUTPOST_ASSIGN_OR_RETURN(
      v1::KeyRotation rotation,
      sync::MakeKeyRotation(impl_->signing_key->public_key(), next, impl_->clock->Now()));
  OUTPOST_RETURN_IF_ERROR(next.SaveFile(impl_->dir.next_signing_key()));
  Status s = impl_->writer->Run([&rotation](sqlite::Connection& db) {
    return kCentralMeta.Insert(db, kMetaKeyRotation,
                               crypto::HexEncode(rotation.SerializeAsString()));
  });
  if (!s.ok()) {
    std::error_code ec;
    std::filesystem::remove(impl_->dir.next_signing_key(), ec);
    return s;
  }
  // Requests are processed on the writer thread: switch there, between two units.
  OUTPOST_RETURN_IF_ERROR(impl_->writer->Run([this, &next, &rotation](sqlite::Connection&) {
    impl_->next_signing_key.emplace(std::move(next));
    impl_->rotation = rotation;
    return Status::Ok();
  }));
  return rotation;
}

const crypto::PublicKey& Central::signing_public_key() const {
  return impl_->signing_key->public_key();
}
const CentralDataDir& Central::data_dir() const { return impl_->dir; }
const std::string& Central::listen() const { return impl_->listen; }
sqlite::WriterStats Central::writer_stats() const { return impl_->writer->Stats(); }

}  // namespace outpost::central
