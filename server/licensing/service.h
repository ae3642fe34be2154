#pragma once

// LicensingService: the satellite's licensing as the API sees it (DESIGN.md section 2,
// "Registration" to "Clock"). It owns the in-memory truth — the pool book (pools.h) and the
// registry of devices — and persists every change through the group-commit writer, in the same
// unit as its audit record, before anyone is told about it.
//
// Consistency. Every change runs as one writer unit on the writer thread under mu_: decide in
// memory, write the rows, append the audit record. A unit that fails after changing memory (or
// whose batch fails to commit) marks the state stale; the next unit first reloads the book and
// the registry from the database inside its own transaction, so memory always converges on what
// was committed. Failures before memory changed (bad input, refused token) change nothing.
// Readers (device identification, listings, compliance) take mu_ shared; they may see a change
// a few milliseconds before its commit, never one that is lost without a reload.
//
// Asynchrony. Device calls take a callback and never block the calling (I/O) thread: the
// callback runs on the writer thread after the commit. Admin calls block until the commit.
//
// Time. Decisions use a HighWaterClock (clock.h) over the injected clock, truncated to whole
// seconds, so a clock set back cannot extend a license and what is stored equals what was decided.

#include <atomic>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/authorization_format.h"
#include "common/clock.h"
#include "common/crypto/ca.h"
#include "common/crypto/keys.h"
#include "common/rate_limiter.h"
#include "common/sqlite/reader_pool.h"
#include "common/sqlite/writer.h"
#include "common/status.h"
#include "outpost/v1/devices.pb.h"
#include "outpost/v1/licensing.pb.h"
#include "outpost/v1/sync.pb.h"
#include "server/auth/principal.h"
#include "server/licensing/core/authorization.h"
#include "server/licensing/core/clock.h"
#include "server/licensing/core/pools.h"
#include "server/licensing/core/registry.h"
#include "server/licensing/core/usage.h"
#include "server/licensing/store.h"
#include "server/licensing/tokens.h"

namespace outpost::server::licensing {

struct LicensingOptions {
  AuthorizationPolicy policy;
  Duration certificate_validity = std::chrono::hours(24 * 365);
  Duration certificate_renewal = std::chrono::hours(24 * 180);
  Duration clock_rollback_tolerance = HighWaterClock::kDefaultTolerance;
  // Registrations accepted per source address per minute (a token bucket; bursts up to this).
  int registration_rate_per_minute = 600;
  // Registrations waiting for the writer beyond this are refused with 503 (a storm degrades,
  // it does not queue without bound).
  int max_pending_registrations = 4096;
  // How often Sweep writes the devices' last-seen times. Renewals only note them in memory
  // (listings read them from there); they are written in units of at most 64 rows, so that a
  // satellite with many busy devices never holds the writer for long.
  Duration last_seen_flush_interval = std::chrono::seconds(60);
  // Where SaveState writes the state at a clean stop, for the next Open to read instead of the
  // tables while they have not changed since (state_file.h). Empty: every Open reads the tables.
  std::filesystem::path state_file;
};

// A device call's caller, established from its mTLS certificate.
struct DeviceIdentity {
  std::string instance_id;
  std::string cert_serial;
};

class LicensingService {
 public:
  using Done = std::function<void(Status)>;
  template <typename T>
  using Callback = std::function<void(Result<T>)>;

  // Loads devices and the book from the database (the writer's connection reads the devices while
  // a reader connection reads the consumption, docs/architecture.md "Start-up") and seeds
  // the high-water clock from satellite_meta. Everything passed must outlive the service.
  static Result<std::unique_ptr<LicensingService>> Open(
      sqlite::Writer& writer, sqlite::ReaderPool& readers, const Clock& clock,
      crypto::CertificateAuthority ca, const crypto::PrivateKey& signing_key,
      std::string satellite_id, TokenStore& tokens, LicensingOptions options);
  ~LicensingService();

  // --- Devices (asynchronous; the callback runs after the commit) ------------------------------
  // POST /v1/devices/register. A UDI that is registered already is registered again (its
  // licenses carried over to the new instance) only when `proven_instance` — the instance the
  // request's client certificate identifies (Identify) — is that device, or when an operator
  // rehosted the instance to this UDI; and never into another VA. Errors: kInvalidArgument
  // (UDI, hostname, key/CSR, CSR signature), kUnauthenticated (token: unknown, expired, revoked,
  // used up), kAlreadyExists (the UDI is registered and not proven; the serial is registered in
  // the VA under another product — neither names the other device), kFailedPrecondition (a
  // proven device with a token of another VA), kResourceExhausted (rate limit for
  // `remote_address`), kUnavailable (storm: queue full).
  void Register(const v1::RegisterRequest& request, const std::string& remote_address,
                std::optional<std::string> proven_instance, Callback<v1::RegisterResponse> done);
  // Who is calling: the instance named by the certificate's CN, if it is registered and the
  // certificate is its current one. kUnauthenticated otherwise (a released or replaced
  // instance, or no certificate).
  Result<DeviceIdentity> Identify(const std::optional<crypto::Certificate>& certificate) const;
  // POST /v1/devices/authorize: the signed answer. kInvalidArgument (tags, counts, duplicates),
  // kUnauthenticated (the instance went away meanwhile).
  // Answers committed in the same writer batch are signed together, once, after the batch
  // ("ed25519-merkle", see devices.proto); `done` runs on the writer thread with the signed
  // answer (encode it elsewhere: net::Reply::Later).
  void Authorize(const DeviceIdentity& device, const v1::AuthorizeRequest& request,
                 Callback<v1::SignedAuthorization> done);
  // POST /v1/devices/release: everything back, deregistered.
  void ReleaseSelf(const DeviceIdentity& device, Callback<v1::ReleaseResponse> done);
  // GET /v1/devices/self.
  Result<v1::Device> Self(const DeviceIdentity& device) const;

  // --- Operators (blocking; audited with the principal) ----------------------------------------
  Result<v1::ReleaseDeviceResponse> ReleaseDevice(std::string_view instance_id,
                                                  const auth::Principal& by);
  // Moves a registration and its licenses to `new_udi`; the old certificate stops working and
  // the device with the new UDI registers (with a token) to take the licenses over.
  Result<v1::Device> RehostDevice(std::string_view instance_id, std::string_view new_udi,
                                  const auth::Principal& by);
  Result<v1::MoveLicensesResponse> MoveLicenses(const v1::MoveLicensesRequest& request,
                                                const auth::Principal& by);
  Result<v1::Reservation> Reserve(const v1::ReservationRequest& request, const auth::Principal& by);
  Status Unreserve(const v1::ReservationRequest& request, const auth::Principal& by);

  // --- Virtual accounts (virtual_accounts.cc) ----------------------------------------------------
  // Central's list of the account's VAs, from the last imported sync response.
  void SetCentralVirtualAccounts(std::vector<std::string> vas);
  // Ok iff `va` is known here: named by central's last response or holding local entitlements
  // (before any response, "default" too). kNotFound otherwise, naming the known VAs and what to
  // do. Tokens, moves, reservations and conversions are checked with it, so that no name the
  // account does not have reaches the database.
  Status CheckVirtualAccount(std::string_view va) const;
  v1::ListVirtualAccountsResponse VirtualAccounts() const;
  // Moves made here, newest first, with central's verdict once a response answered them.
  Result<v1::ListMovesResponse> Moves() const;

  // --- Reading ----------------------------------------------------------------------------------
  v1::ListLicensesResponse Licenses(std::optional<std::string_view> va) const;
  // Devices of `va` (all when nullopt) sorted by instance id, at most `limit`.
  v1::ListDevicesResponse Devices(std::optional<std::string_view> va, size_t limit) const;
  Result<v1::ListReservationsResponse> Reservations() const;
  // The book's rows (tests compare it across restarts).
  BookState Snapshot() const;

  // --- Background and sync ----------------------------------------------------------------------
  // Releases what expired, closes usage hours, persists the clock's high-water mark and raises
  // CLOCK_ROLLBACK once per episode — all audited. The satellite calls it every few seconds.
  // Writes the last-seen times noted since the previous write, once per
  // options.last_seen_flush_interval, or now when `final` (the satellite's last sweep).
  Status Sweep(bool final = false);
  // Replaces every entitlement (a sync response carries the complete set), in its own unit.
  // Moves not yet acknowledged by central are re-applied by the caller.
  Status ReplaceEntitlements(std::vector<Entitlement> entitlements, const audit::Actor& actor);
  // The same inside a unit of work the caller owns (sync import). If the caller's unit fails
  // after this returned Ok, it must call MarkStale() from its Done.
  // `reapply` are local moves central has not answered yet: they are applied again on top of
  // the new set (one that no longer fits is dropped with a warning; central will answer it).
  Status ReplaceEntitlementsOn(sqlite::Connection& db, std::vector<Entitlement> entitlements,
                               const std::vector<MoveRecord>& reapply = {});
  void MarkStale();
  // At a clean stop, after the last write: saves the registry and the book to
  // options.state_file and records its token in the same unit, so that the next Open reads them
  // from there. Nothing to do when the file saved at the previous stop still holds (no device or
  // consumption row changed since). Ok without a state file configured.
  Status SaveState();
  // Whether Open read the state file (true) or the tables.
  bool opened_from_state_file() const { return opened_from_state_file_; }
  // The policy used for new authorizations (central's policy replaces the configured one).
  void SetPolicy(const AuthorizationPolicy& policy);
  AuthorizationPolicy policy() const;
  // The policy from the configuration, before central's overrides.
  const AuthorizationPolicy& configured_policy() const { return options_.policy; }
  // Devices and use per VA, for sync requests.
  v1::InventorySummary Inventory() const;

  TimePoint Now() const;
  // Now() with full precision, for audit records: never before an earlier record's time.
  TimePoint AuditTime() const { return clock_.Now(); }
  bool InClockRollback() const { return clock_.InRollback(); }
  size_t device_count() const;
  uint64_t reloads() const { return reloads_.load(); }

 private:
  struct UnitState {
    bool mutated = false;
  };
  using Work = std::function<Status(sqlite::Connection&, UnitState&)>;
  class AnswerSigner;

  LicensingService(sqlite::Writer& writer, sqlite::ReaderPool& readers, const Clock& clock,
                   crypto::CertificateAuthority ca, const crypto::PrivateKey& signing_key,
                   std::string satellite_id, TokenStore& tokens, LicensingOptions options,
                   TimePoint high_water);

  // Runs `work` — Status or Result<T> of (sqlite::Connection&, UnitState&) — as a writer unit
  // under mu_ (reloading first when stale); after the commit `done` gets what it returned (a
  // Result<T> holds the value only if the batch committed), and the batch if it takes it.
  template <typename WorkFn, typename DoneFn>
  void Submit(WorkFn work, DoneFn done);
  Status RunUnit(Work work);
  // Replaces the registry and the book with what `db` holds; `second` (optional) reads the book's
  // rows in parallel (LoadLicensingState).
  Status ReloadLocked(sqlite::Connection& db, sqlite::Connection* second = nullptr);
  // Replaces them with the state file when the database's token names it; any other outcome
  // (kNotFound: nothing saved since the last change) leaves everything as it was.
  Status LoadStateFileLocked(sqlite::Connection& db);
  Status CheckRateLimit(const std::string& remote_address);
  // What memory knows of the device (mu_ held): identity, certificate, holdings, and the
  // last-seen time if it renewed since its last-seen time was last written.
  v1::Device ToDeviceLocked(const RegisteredDevice& device) const;
  // Adds what only its row holds (hostname, token, times) from `db`.
  static Status FillFromRow(sqlite::Connection& db, v1::Device& device);
  // Releases everything of `instance_id` and deletes it (device or operator), audited.
  Status ReleaseLocked(sqlite::Connection& db, const std::string& instance_id,
                       const audit::Actor& actor, std::vector<TagRequest>* released);
  // An answer committed and not yet signed; its batch's AnswerSigner signs it with the rest.
  struct UnsignedAnswer {
    RegisteredDevice device;
    AuthorizationDecision decision;
    Callback<v1::SignedAuthorization> done;
  };
  v1::Authorization ToAuthorization(const RegisteredDevice& device,
                                    const AuthorizationDecision& decision) const;
  // One signature over the Merkle root of one writer batch's answers, then every answer on its
  // way with its inclusion path (the batch's AnswerSigner calls it).
  void SignAnswers(std::vector<UnsignedAnswer>& answers) const;

  sqlite::Writer& writer_;
  sqlite::ReaderPool& readers_;
  HighWaterClock clock_;
  const crypto::CertificateAuthority ca_;
  const crypto::PrivateKey& signing_key_;
  const std::string signing_key_id_;
  const std::string signing_key_pem_;  // public key, sent with every registration
  const std::string ca_pem_;
  const std::string satellite_id_;
  TokenStore& tokens_;
  const LicensingOptions options_;

  mutable std::shared_mutex mu_;
  AuthorizationPolicy policy_;  // guarded by mu_
  // Sorted; empty until a sync response named them. Guarded by mu_.
  std::vector<std::string> central_vas_;
  UsageTracker usage_;      // fed by book_; guarded by mu_
  PoolBook book_{&usage_};  // guarded by mu_
  // The registered devices, by instance id, UDI and (va, serial) — a serial belongs to one
  // product in a VA. Behind a pointer because a reload builds a new one and swaps. Guarded by mu_.
  std::unique_ptr<DeviceRegistry> registry_;
  // Guards registry_ for Identify, which takes only this (shared), so a device call never waits
  // behind a unit holding mu_ across its SQL. Writers already hold mu_ exclusively and take this
  // exclusively only around each in-memory change of registry_ (lock order: mu_, then this).
  mutable std::shared_mutex registry_mu_;
  bool stale_ = false;  // guarded by mu_
  // Instances whose last_seen_at changed since Sweep last wrote them (once per
  // options.last_seen_flush_interval; a renewal then costs no UPDATE of the devices table).
  // Guarded by mu_.
  std::unordered_map<std::string, TimePoint> seen_;
  TimePoint last_seen_flushed_;     // guarded by mu_
  TimePoint persisted_high_water_;  // writer thread only
  std::atomic<uint64_t> reloads_{0};
  bool opened_from_state_file_ = false;  // set by Open

  RateLimiter registrations_;  // per source address
  std::atomic<int> pending_registrations_{0};
};

}  // namespace outpost::server::licensing
