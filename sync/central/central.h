#pragma once

// The reference central service (DESIGN.md section 2 "Sync" and "Traditional licenses"): the
// vendor's accounts, virtual accounts and entitlements, satellite enrollment, traditional
// license keys, and the processing of sync requests. Works on its own data directory
// (data_dir.h, created by InitCentral); `outpost central ...` and CentralServer use it.
//
// SYNC REQUESTS (ProcessSyncRequest): the bytes of a SignedBundle (binary or armored), checked
// in this order, each refusal changing nothing:
//   size (before anything is parsed), envelope, payload kind; the satellite id it claims is
//   enrolled here; the signature verifies with the satellite key bound to it, or, on first
//   contact, with the key the request introduces, whose enrollment proof must verify against
//   the stored enrollment verifier (trust.h); the account is the satellite's; the request
//   names this central's signing key; the sequence is newer than the last processed one
//   (freshness.h CheckRequest). An exact repeat of the last request (same bytes) is answered
//   with the stored response, byte for byte, applying nothing again; an older sequence, or the
//   last sequence with other content, is refused.
// Then, in ONE transaction: the key is bound (first contact), usage reports are stored once
// per (satellite, report id) and all of the request's ids acknowledged, moves and conversions
// are applied once per (satellite, id) (a resent id gets the stored result), the audit head
// and inventory are stored, and the response is built, signed with the central key and
// stored: the complete entitlement set and every VA of the account, response number =
// previous + 1, valid_until = issued_at + response validity.
//
// Thread-safety: all methods may be called concurrently; writes are serialized by one
// sqlite::Writer (group commit), reads use pooled read-only connections.
// Errors: kInvalidArgument (bad input, named), kNotFound (no such account, VA, satellite),
// kAlreadyExists (exists already), kPermissionDenied (wrong key, account or enrollment proof),
// kFailedPrecondition (replayed or older request), kPayloadTooLarge, and the database's.

#include <cstddef>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "common/clock.h"
#include "common/crypto/keys.h"
#include "common/crypto/x509.h"
#include "common/sqlite/reader_pool.h"
#include "common/sqlite/writer.h"
#include "common/status.h"
#include "outpost/v1/sync.pb.h"
#include "sync/central/data_dir.h"
#include "sync/central/validation.h"

namespace outpost::central {

inline constexpr auto kDefaultResponseValidity = std::chrono::days(30);
inline constexpr char kDefaultListen[] = "127.0.0.1:8444";
// Largest sync request accepted (file or POST body). A request carries at most some thousand
// usage reports of a few hundred bytes; 16 MiB leaves room without letting one peer pin memory.
inline constexpr size_t kDefaultMaxRequestBytes = size_t{16} << 20;

struct InitCentralOptions {
  std::filesystem::path data_dir;
  std::string listen = kDefaultListen;  // HOST:PORT that `central serve` listens on
  // Written into enrollment bundles as central_url; default "https://" + listen (0.0.0.0 and
  // :: become the loopback address).
  std::string url;
  // Extra host names or IP addresses for the TLS certificate (besides localhost, 127.0.0.1, ::1).
  std::vector<std::string> hostnames;
  Duration response_validity = kDefaultResponseValidity;
  v1::Policy policy;  // 0 fields: the satellite keeps its defaults
};

// Creates the data directory: central.db (migrated, with central's identity and settings), the
// Ed25519 signing key, the CA (ca.pem, keys/ca.key) and a TLS server certificate for
// localhost, 127.0.0.1, ::1 and `hostnames`. All or nothing: a failure removes what it made.
// kAlreadyExists if DIR already holds central.db.
Result<v1::CentralInitReport> InitCentral(const InitCentralOptions& options, const Clock& clock);

// What processing one sync request produced.
struct SyncOutcome {
  std::string response_bytes;  // serialized SignedBundle, kind sync response
  v1::CentralSyncOutcome summary;
};

class Central {
 public:
  struct Options {
    size_t max_request_bytes = kDefaultMaxRequestBytes;
    sqlite::Synchronous synchronous = sqlite::Synchronous::kFull;  // kNormal: tests only
    // Threads that check sync requests (signature, binding, contents) before the writer, and
    // how many may wait for them, in all and per client (served in turn: admission_pool.h);
    // beyond that a request is refused with kUnavailable. The request bodies waiting are
    // bounded by the HTTP server's body budget too (central_server.h).
    size_t admission_threads = 2;
    size_t max_admission_queue = 64;
    size_t max_admission_queue_per_client = 4;
  };

  // Opens an initialised data directory. kNotFound (with the `central init` command to run)
  // when it is not one; key file errors as crypto::PrivateKey::LoadFile.
  static Result<std::unique_ptr<Central>> Open(const std::filesystem::path& data_dir,
                                               const Clock& clock, Options options);
  static Result<std::unique_ptr<Central>> Open(const std::filesystem::path& data_dir,
                                               const Clock& clock) {
    return Open(data_dir, clock, Options());
  }
  ~Central();
  Central(const Central&) = delete;
  Central& operator=(const Central&) = delete;

  // --- The vendor's catalogue ------------------------------------------------------------------
  // A new account; `name` defaults to the id. Creates its VA "default" as well.
  Result<v1::CentralAccount> CreateAccount(std::string_view account_id, std::string_view name);
  Result<v1::CentralVirtualAccount> CreateVirtualAccount(std::string_view account_id,
                                                         std::string_view va);
  // An entitlement (order) for (account, VA, tag). Start defaults to now.
  Result<v1::Entitlement> AddLicense(std::string_view account_id, std::string_view va,
                                     std::string_view tag, const LicenseTerms& terms);
  // A traditional license key for (account, VA, tag); the key is in the answer only (central
  // stores its SHA-256). It converts once, in a sync request's ConversionRequest.
  Result<v1::CentralPak> CreatePak(std::string_view account_id, std::string_view va,
                                   std::string_view tag, const LicenseTerms& terms);

  // --- Satellites --------------------------------------------------------------------------
  // Enrols a new satellite of `account_id` and writes its enrollment bundle to `file` (mode
  // 0600, armored if `armor`; an existing file is refused before anything is recorded).
  // `url` overrides the configured central URL; "" with `offline` writes none.
  Result<v1::CentralEnrollment> EnrollSatellite(std::string_view account_id, std::string_view name,
                                                const std::filesystem::path& file, bool armor,
                                                std::optional<std::string> url);

  // Revokes a satellite for good (a stolen or replaced appliance, a re-enrolled customer): its
  // requests are refused from now on, after their signature verified, with a message naming
  // the time and `reason` and telling its operator to ask for a new enrollment. `reason` (1-128
  // bytes, no control characters) is required. kNotFound for an unknown id, kFailedPrecondition if
  // it is revoked already. There is no un-revoke: enrol the appliance again.
  Result<v1::CentralSatellite> RevokeSatellite(std::string_view satellite_id,
                                               std::string_view reason);

  // Enrols a revoked satellite again under the same id (a lost, stolen or replaced appliance)
  // and writes its new enrollment bundle to `file` (as EnrollSatellite). From then on the key it
  // had is refused and the next first contact binds the key of whoever holds the new one-time
  // secret — a new data directory (`outpost init --enroll FILE`), whose sequence starts at 1.
  // The satellite's usage reports, moves and conversions stay recorded under its id (a report
  // id already received is still counted once); its audit heads are kept aside, so the new
  // satellite's audit chain is not compared with the old one's; response numbers keep counting
  // up. Recorded in the satellite's history (GetSatellite). kNotFound for an unknown id,
  // kFailedPrecondition when it is not revoked (revoke first, so the old key stops at once),
  // kAlreadyExists for an existing `file`.
  Result<v1::CentralEnrollment> ReenrollSatellite(std::string_view satellite_id,
                                                  const std::filesystem::path& file, bool armor,
                                                  std::optional<std::string> url);

  // See the top of this file. The same function answers files and POST /v1/sync.
  Result<SyncOutcome> ProcessSyncRequest(std::string_view request_bytes);
  // The same, not blocking the caller: `done` runs on the database writer's thread after the
  // commit (or at once on a refusal found before the database is touched).
  // `client` names the sender for fair admission (the HTTP client's address; "" for files).
  void ProcessSyncRequestAsync(std::string request_bytes,
                               std::function<void(Result<SyncOutcome>)> done,
                               const std::string& client = "");

  // Rotates central's signing key (trust.h): a new Ed25519 key (keys/signing.next.key, 0600) is
  // announced in every response to a satellite that still names the old key, signed by that old
  // key and countersigned by the new one; a satellite pins the new key when it imports such a
  // response and names it from then on, and is answered with the new key. The old key keeps
  // answering satellites that have not synced since. kFailedPrecondition if a rotation is
  // already in progress.
  Result<v1::KeyRotation> RotateSigningKey();

  // Retires `key_id`, the previous signing key after a rotation: the new key becomes central's
  // only signing key (keys/signing.key), the rotation is no longer announced, new enrollment
  // bundles carry the new key, and a request that still trusts the retired key is refused
  // naming the retirement. The private key is overwritten and removed; the public key is kept
  // in retired-keys/KEY_ID.pem (for `outpost bundle inspect --key` on old bundles). Satellites
  // that have not moved (their last response was not signed by the new key, or they never
  // synced; revoked ones do not count) make it kFailedPrecondition naming them, unless `force`:
  // then they are listed in the answer and must be enrolled again. kFailedPrecondition also for
  // the only key (no rotation) and for the new key; kNotFound for a key central never had.
  // A running `central serve` keeps the keys it loaded until it is restarted. Unlike the other
  // methods, not to be called while this object processes sync requests: the key in use is
  // replaced in place (the CLI opens a Central of its own for it).
  Result<v1::CentralKeyRetirement> RetireSigningKey(std::string_view key_id, bool force);
  // The keys retired so far: key id -> unix seconds of the retirement.
  const std::map<std::string, int64_t>& retired_signing_keys() const;

  // --- /metrics --------------------------------------------------------------------------------
  // Central's /metrics shows every customer's sync activity, so it needs a bearer token (issue
  // 17, finding 5). NewMetricsToken makes one (256 random bits, "opm_" + base64url), stores only
  // its SHA-256 and returns it, once; a new token replaces the old. RemoveMetricsToken turns
  // /metrics off again (the default after `central init`).
  Result<std::string> NewMetricsToken();
  Status RemoveMetricsToken();
  // `authorization` is the request's Authorization header. kUnauthenticated, saying what to
  // send, unless it is "Bearer <the current token>"; kFailedPrecondition when no token is set.
  // Compared in constant time.
  Status CheckMetricsToken(std::string_view authorization);

  // --- Reads ---------------------------------------------------------------------------------
  Result<v1::CentralStatus> GetStatus();
  Result<v1::CentralAccountList> ListAccounts();
  Result<v1::CentralLicenseList> ListLicenses(std::string_view account_id);
  // Every satellite, or those of one account.
  Result<v1::CentralSatelliteList> ListSatellites(std::string_view account_id = "");
  // One satellite, with its use of the daily quotas; kNotFound for an unknown id.
  Result<v1::CentralSatellite> GetSatellite(std::string_view satellite_id);
  Result<v1::CentralPakList> ListPaks(std::string_view account_id);
  Result<v1::CentralUsageList> ListUsage(std::string_view account_id);
  Result<v1::CentralAuditHeadList> ListAuditHeads(std::string_view satellite_id);

  const crypto::PublicKey& signing_public_key() const;
  const CentralDataDir& data_dir() const;
  const std::string& listen() const;
  sqlite::WriterStats writer_stats() const;

  class Impl;

 private:
  explicit Central(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace outpost::central
