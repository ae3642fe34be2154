#pragma once

// Private to server/licensing: the state the facades share (LicensingService, DeviceService,
// OperatorService) and the code that changes it. The contracts are in the facades' headers;
// this states only how the state is guarded.
//
// Locks. Every change runs as a writer unit on the writer thread under mu_ (Submit). Readers
// take mu_ shared. Identify takes only registry_mu_ (shared), so a device call never waits
// behind a unit holding mu_ across its SQL; writers already hold mu_ exclusively and take
// registry_mu_ exclusively only around each in-memory change of registry_ (lock order: mu_,
// then registry_mu_).

#include <atomic>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/crypto/ca.h"
#include "common/crypto/keys.h"
#include "common/rate_limiter.h"
#include "common/sqlite/reader_pool.h"
#include "common/sqlite/writer.h"
#include "server/audit/audit_log.h"
#include "server/licensing/core/clock.h"
#include "server/licensing/core/pools.h"
#include "server/licensing/core/registry.h"
#include "server/licensing/core/usage.h"
#include "server/licensing/device_service.h"
#include "server/licensing/operator_service.h"
#include "server/licensing/options.h"
#include "server/licensing/store.h"
#include "server/licensing/tokens.h"

namespace outpost::server::licensing {

class LicensingImpl {
 public:
  template <typename T>
  using Callback = std::function<void(Result<T>)>;
  struct UnitState {
    bool mutated = false;  // memory changed: a failure from here on makes the state stale
  };

  LicensingImpl(sqlite::Writer& writer, sqlite::ReaderPool& readers, const Clock& clock,
                crypto::CertificateAuthority ca, const crypto::PrivateKey& signing_key,
                std::string satellite_id, TokenStore& tokens, LicensingOptions options,
                TimePoint high_water);
  ~LicensingImpl();
  // The first load (LicensingService::Create): the state file, or the tables.
  Status Load();

  // Devices (device_service.cc).
  void Register(const v1::RegisterRequest& request, const std::string& remote_address,
                std::optional<std::string> proven_instance, Callback<v1::RegisterResponse> done);
  Result<DeviceIdentity> Identify(const std::optional<crypto::Certificate>& certificate) const;
  std::optional<std::string> CertifiedInstance(
      const std::optional<crypto::Certificate>& certificate) const;
  void Renew(const DeviceIdentity& device, const crypto::Certificate& current,
             const v1::RenewRequest& request, Callback<v1::RegisterResponse> done);
  void Authorize(const DeviceIdentity& device, const v1::AuthorizeRequest& request,
                 Callback<v1::SignedAuthorization> done);
  void ReleaseSelf(const DeviceIdentity& device, Callback<v1::ReleaseResponse> done);
  Result<v1::Device> Self(const DeviceIdentity& device) const;

  // Operators (operator_service.cc).
  Result<v1::ReleaseDeviceResponse> ReleaseDevice(std::string_view instance_id,
                                                  const audit::Actor& by);
  Result<v1::Device> RehostDevice(std::string_view instance_id, std::string_view new_udi,
                                  const audit::Actor& by);
  Result<v1::MoveLicensesResponse> MoveLicenses(const v1::MoveLicensesRequest& request,
                                                const audit::Actor& by);
  Result<v1::Reservation> Reserve(const v1::ReservationRequest& request, const audit::Actor& by);
  Status Unreserve(const v1::ReservationRequest& request, const audit::Actor& by);

  // Virtual accounts (virtual_accounts.cc) and reading (service_reading.cc).
  void SetCentralVirtualAccounts(std::vector<std::string> vas);
  Status CheckVirtualAccount(std::string_view va) const;
  v1::ListVirtualAccountsResponse VirtualAccounts() const;
  Result<v1::ListMovesResponse> Moves() const;
  v1::ListLicensesResponse Licenses(std::optional<std::string_view> va) const;
  Result<v1::ListLicensesResponse> ListLicenses(const LicenseQuery& query) const;
  v1::ListDevicesResponse Devices(std::optional<std::string_view> va, size_t limit) const;
  Result<v1::ListReservationsResponse> Reservations() const;
  Result<v1::ListDevicesResponse> SearchDevices(const DeviceQuery& query) const;
  Result<v1::DeviceDetail> DeviceDetail(std::string_view instance_id) const;
  Result<OperatorService::DeviceCounts> CountDevices(TimePoint since) const;
  BookState Snapshot() const;
  v1::InventorySummary Inventory() const;

  // Background and sync (service.cc).
  Status Sweep(bool final);
  Status ReplaceEntitlements(std::vector<Entitlement> entitlements, const audit::Actor& actor);
  Status ReplaceEntitlementsOn(sqlite::Connection& db, std::vector<Entitlement> entitlements,
                               const std::vector<MoveRecord>& reapply);
  void MarkStale();
  Status SaveState();
  void SetPolicy(const AuthorizationPolicy& policy);
  AuthorizationPolicy policy() const;
  AuthorizationPolicy configured_policy() const {
    std::shared_lock lock(mu_);
    return configured_policy_;
  }
  void SetConfiguredPolicy(const AuthorizationPolicy& policy) {
    std::unique_lock lock(mu_);
    configured_policy_ = policy;
  }

  TimePoint Now() const;
  TimePoint AuditTime() const { return clock_.Now(); }
  bool InClockRollback() const { return clock_.InRollback(); }
  size_t device_count() const;
  uint64_t reloads() const { return reloads_.load(); }
  bool opened_from_state_file() const { return opened_from_state_file_; }
  size_t changed_since_state_file() const { return changed_at_load_; }

 private:
  using Work = std::function<Status(sqlite::Connection&, UnitState&)>;
  class AnswerSigner;
  // An answer committed and not yet signed; its batch's AnswerSigner signs it with the rest.
  struct UnsignedAnswer {
    RegisteredDevice device;
    AuthorizationDecision decision;
    Callback<v1::SignedAuthorization> done;
  };

  // Runs `work` — Status or Result<T> of (sqlite::Connection&, UnitState&) — as a writer unit
  // under mu_ (reloading first when stale); after the commit `done` gets what it returned (a
  // Result<T> holds the value only if the batch committed), and the batch if it takes it.
  // Defined in submit_internal.h.
  template <typename WorkFn, typename DoneFn>
  void Submit(WorkFn work, DoneFn done);
  // Submit, waiting for the commit.
  Status RunUnit(Work work);
  // Replaces the registry and the book with what `db` holds; `second` (optional) reads the book's
  // rows in parallel (LoadLicensingState).
  Status ReloadLocked(sqlite::Connection& db, sqlite::Connection* second = nullptr);
  // Replaces them with the state file when the database's token names it; any other outcome
  // (kNotFound: nothing saved since the last change) leaves everything as it was.
  Status LoadStateFileLocked(sqlite::Connection& db);
  // Deletes the state file's token and the list of changes since it was saved: the file is not
  // read again, and changes are not listed until the next save.
  static Status VoidStateFile(sqlite::Connection& db);
  // From Sweep, at most once per options_.state_check_interval: SaveState when there is no usable
  // state file or options_.state_file_max_changed devices changed since it was saved.
  Status MaybeSaveState();
  Status CheckRateLimit(const std::string& remote_address);
  // What memory knows of the device (mu_ held): identity, certificate, holdings, and the
  // last-seen time if it renewed since its last-seen time was last written.
  v1::Device ToDeviceLocked(const RegisteredDevice& device) const;
  // Adds what only its row holds (hostname, token, times) from `db`.
  static Status FillFromRow(sqlite::Connection& db, v1::Device& device);
  // Releases everything of `instance_id` and deletes it (device or operator), audited.
  Status ReleaseLocked(sqlite::Connection& db, const std::string& instance_id,
                       const audit::Actor& actor, std::vector<TagRequest>* released);
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
  // The configuration's policy (options_.policy until a reload), before central's overrides.
  AuthorizationPolicy configured_policy_;  // guarded by mu_
  // Sorted; empty until a sync response named them. Guarded by mu_.
  std::vector<std::string> central_vas_;
  UsageTracker usage_;      // fed by book_; guarded by mu_
  PoolBook book_{&usage_};  // guarded by mu_
  // The registered devices, by instance id, UDI and (va, serial) — a serial belongs to one
  // product in a VA. Behind a pointer because a reload builds a new one and swaps. Guarded by
  // mu_ and registry_mu_ (see the top of this file).
  std::unique_ptr<DeviceRegistry> registry_;
  mutable std::shared_mutex registry_mu_;
  bool stale_ = false;  // guarded by mu_
  // Instances whose last_seen_at changed since Sweep last wrote them (once per
  // options.last_seen_flush_interval; a renewal then costs no UPDATE of the devices table).
  // Guarded by mu_.
  std::unordered_map<std::string, TimePoint> seen_;
  TimePoint last_seen_flushed_;     // guarded by mu_
  TimePoint persisted_high_water_;  // writer thread only
  std::atomic<uint64_t> reloads_{0};
  bool opened_from_state_file_ = false;  // set by Load
  size_t changed_at_load_ = 0;           // set by Load: instances re-read after the state file
  TimePoint next_state_check_;           // Sweep only (MaybeSaveState)

  RateLimiter registrations_;  // per source address
  // Authenticates device-search cursors (device_search.h); random per process.
  const std::string cursor_key_;
  // CountDevices' count of active devices (a scan of the devices table), reused for a minute:
  // the column it counts is itself written once a minute.
  mutable std::mutex active_mu_;
  mutable std::optional<std::pair<TimePoint, int64_t>> active_;  // (computed at, count)
  std::atomic<int> pending_registrations_{0};
};

}  // namespace outpost::server::licensing
