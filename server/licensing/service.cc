// LicensingService and what its facades share (service_internal.h): start-up, units of work,
// reloads, the state file, release, the sweep and the entitlements sync replaces.

#include "server/licensing/service.h"

#include <chrono>
#include <future>

#include "common/crypto/random.h"
#include "common/ids.h"
#include "common/text.h"
#include "common/time.h"
#include "server/licensing/service_internal.h"
#include "server/licensing/state_file.h"
#include "server/licensing/unit_internal.h"
#include "server/store/meta.h"
#include "spdlog/spdlog.h"

namespace outpost::server::licensing {
namespace {

using internal::Audit;
using internal::TagsJson;
using internal::Truncate;

constexpr size_t kMaxRateBuckets = 65536;
// The high-water mark is persisted when it moved at least this far (and at every stop).
constexpr Duration kHighWaterPersistStep = std::chrono::seconds(30);

}  // namespace

Result<std::unique_ptr<LicensingService>> LicensingService::Create(
    sqlite::Writer& writer, sqlite::ReaderPool& readers, const Clock& clock,
    crypto::CertificateAuthority ca, const crypto::PrivateKey& signing_key,
    std::string satellite_id, TokenStore& tokens, LicensingOptions options) {
  OUTPOST_RETURN_IF_ERROR(options.policy.Validate());
  TimePoint high_water;
  {
    OUTPOST_ASSIGN_OR_RETURN(auto lease, readers.Acquire());
    OUTPOST_ASSIGN_OR_RETURN(auto stored, store::kSatelliteMeta.Get(*lease, "clock_high_water"));
    if (stored) {
      OUTPOST_ASSIGN_OR_RETURN(int64_t seconds, ParseStoredInt("clock_high_water", *stored));
      high_water = FromUnixSeconds(seconds);
    }
  }
  auto impl = std::make_unique<LicensingImpl>(writer, readers, clock, std::move(ca), signing_key,
                                              std::move(satellite_id), tokens, std::move(options),
                                              high_water);
  OUTPOST_RETURN_IF_ERROR(impl->Load());
  return std::unique_ptr<LicensingService>(new LicensingService(std::move(impl)));
}

LicensingService::LicensingService(std::unique_ptr<LicensingImpl> impl)
    : impl_(std::move(impl)),
      devices_(std::make_unique<DeviceService>(*impl_)),
      operators_(std::make_unique<OperatorService>(*impl_)) {}

LicensingService::~LicensingService() = default;

Status LicensingService::Sweep(bool final) { return impl_->Sweep(final); }
Status LicensingService::SaveState() { return impl_->SaveState(); }
bool LicensingService::opened_from_state_file() const { return impl_->opened_from_state_file(); }
size_t LicensingService::changed_since_state_file() const {
  return impl_->changed_since_state_file();
}
size_t LicensingService::device_count() const { return impl_->device_count(); }
bool LicensingService::InClockRollback() const { return impl_->InClockRollback(); }
uint64_t LicensingService::reloads() const { return impl_->reloads(); }
BookState LicensingService::Snapshot() const { return impl_->Snapshot(); }

namespace {

// A random key for device-search cursors. OpenSSL's generator does not fail on a working system;
// if it did, cursors would only lose their protection against being altered (they authorize
// nothing).
std::string NewCursorKey() {
  auto key = crypto::RandomBytes(32);
  if (!key.ok()) {
    spdlog::error("no random key for device-search cursors: {}", key.status().ToString());
    return std::string(32, '\x5a');
  }
  return *key;
}

}  // namespace

LicensingImpl::LicensingImpl(sqlite::Writer& writer, sqlite::ReaderPool& readers,
                             const Clock& clock, crypto::CertificateAuthority ca,
                             const crypto::PrivateKey& signing_key, std::string satellite_id,
                             TokenStore& tokens, LicensingOptions options, TimePoint high_water)
    : writer_(writer),
      readers_(readers),
      clock_(clock, high_water, options.clock_rollback_tolerance),
      ca_(std::move(ca)),
      signing_key_(signing_key),
      signing_key_id_(signing_key.public_key().KeyId()),
      signing_key_pem_(signing_key.public_key().ToPem()),
      ca_pem_(ca_.certificate().ToPem()),
      satellite_id_(std::move(satellite_id)),
      tokens_(tokens),
      options_(options),
      policy_(options.policy),
      configured_policy_(options.policy),
      registry_(std::make_unique<DeviceRegistry>()),
      registrations_(clock, options.registration_rate_per_minute, kMaxRateBuckets),
      cursor_key_(NewCursorKey()) {
  persisted_high_water_ = high_water;
}

LicensingImpl::~LicensingImpl() = default;

Status LicensingImpl::Load() {
  // The state file last saved and the rows of the instances changed since (state_file.h); without
  // a usable file, the tables, the consumption through a reader connection on a second thread
  // while the writer's connection reads the devices. Nothing else writes yet (the service does
  // not exist for anyone else, and the server is not started), so both connections see the same
  // state.
  OUTPOST_ASSIGN_OR_RETURN(auto second, readers_.Acquire());
  OUTPOST_RETURN_IF_ERROR(writer_.Run([this, &second](sqlite::Connection& db) -> Status {
    std::unique_lock lock(mu_);
    if (!options_.state_file.empty()) {
      const Status s = LoadStateFileLocked(db);
      if (s.ok()) {
        opened_from_state_file_ = true;
        return s;
      }
      if (s.code() != Errc::kNotFound) {
        spdlog::warn("not using the licensing state file ({}); reading the tables instead",
                     s.message());
        // Its token names a file that cannot be used: void it (changes are no longer listed), so
        // that the first sweep saves anew.
        OUTPOST_RETURN_IF_ERROR(VoidStateFile(db));
      }
    }
    return ReloadLocked(db, &*second);
  }));
  reloads_ = 0;
  return Status::Ok();
}

TimePoint LicensingImpl::Now() const { return Truncate(clock_.Now()); }

size_t LicensingImpl::device_count() const {
  std::shared_lock lock(mu_);
  return registry_->size();
}

void LicensingImpl::SetPolicy(const AuthorizationPolicy& policy) {
  std::unique_lock lock(mu_);
  policy_ = policy;
}

void LicensingImpl::MarkStale() {
  std::unique_lock lock(mu_);
  stale_ = true;
}

Status LicensingImpl::RunUnit(Work work) {
  // Shared, not on this stack: the writer thread may still be inside set_value() when get()
  // returns here and this frame unwinds (see sqlite::Writer::Run).
  auto promise = std::make_shared<std::promise<Status>>();
  std::future<Status> outcome = promise->get_future();
  Submit(std::move(work), [promise](Status s) { promise->set_value(std::move(s)); });
  return outcome.get();
}

Status LicensingImpl::ReloadLocked(sqlite::Connection& db, sqlite::Connection* second) {
  // Streamed from the rows into the compact structures; the old state stays until both loaded.
  const auto started = std::chrono::steady_clock::now();
  auto registry = std::make_unique<DeviceRegistry>();
  PoolBook::Restorer restorer(book_);
  OUTPOST_ASSIGN_OR_RETURN(const LoadTimes times,
                           LoadLicensingState(db, second, *registry, restorer));
  const auto finish_started = std::chrono::steady_clock::now();
  OUTPOST_RETURN_IF_ERROR(restorer.Finish(Now()));
  {
    std::unique_lock identities(registry_mu_);
    registry_ = std::move(registry);
  }
  const auto seconds = [](auto d) { return std::chrono::duration<double>(d).count(); };
  // The first load is news; a reload after a failed write is a warning, except while the disk
  // refuses every write (the writer logged that once; one line per request would drown it).
  const auto level = !stale_                               ? spdlog::level::info
                     : writer_.storage_fault().has_value() ? spdlog::level::debug
                                                           : spdlog::level::warn;
  spdlog::log(level,
              "licensing state {}: {} devices in {:.3f} s (devices {:.3f} s{} book rows {:.3f} s, "
              "identities {:.3f} s, book {:.3f} s)",
              !stale_ ? "loaded" : "reloaded from the database after a failed write",
              registry_->size(), seconds(std::chrono::steady_clock::now() - started), times.devices,
              second != nullptr ? " while" : ",", times.book_rows, times.identities,
              seconds(std::chrono::steady_clock::now() - finish_started));
  stale_ = false;
  ++reloads_;
  return Status::Ok();
}

Status LicensingImpl::VoidStateFile(sqlite::Connection& db) {
  OUTPOST_RETURN_IF_ERROR(db.ExecPrepared("DELETE FROM licensing_state").status());
  return db.ExecPrepared("DELETE FROM licensing_changed").status();
}

Status LicensingImpl::LoadStateFileLocked(sqlite::Connection& db) {
  const auto started = std::chrono::steady_clock::now();
  const auto seconds = [](auto d) { return std::chrono::duration<double>(d).count(); };
  std::string token;
  std::string digest;
  {
    OUTPOST_ASSIGN_OR_RETURN(auto stmt, db.Query("SELECT token, digest FROM licensing_state"));
    OUTPOST_ASSIGN_OR_RETURN(bool row, stmt->Step());
    if (!row) return NotFound("no state file saved with this database");
    token = stmt->ColumnText(0);
    digest = stmt->ColumnText(1);
  }
  auto registry = std::make_unique<DeviceRegistry>();
  PoolBook::Restorer restorer(book_);
  OUTPOST_RETURN_IF_ERROR(LoadEntitlementsAndReservations(db, restorer));
  if (Status s = ReadStateFile(options_.state_file, token, digest, *registry, restorer); !s.ok()) {
    // kNotFound means "nothing saved" to Load; a saved file that is gone is worth a warning.
    return s.code() == Errc::kNotFound ? FailedPrecondition(s.message() + ", though one was saved")
                                       : s;
  }
  // The instances changed since the save (by this process before a crash or a kill, or by
  // anyone else): their rows as the tables hold them now.
  const auto changed_started = std::chrono::steady_clock::now();
  OUTPOST_ASSIGN_OR_RETURN(const std::vector<std::string> changed, LoadChangedInstances(db));
  OUTPOST_RETURN_IF_ERROR(ReloadInstances(db, changed, *registry, restorer));
  const double changed_seconds = seconds(std::chrono::steady_clock::now() - changed_started);
  OUTPOST_RETURN_IF_ERROR(restorer.Finish(Now()));
  {
    std::unique_lock identities(registry_mu_);
    registry_ = std::move(registry);
  }
  spdlog::info(
      "licensing state loaded from {}: {} devices in {:.3f} s ({} changed since it was saved, "
      "read from the database in {:.3f} s)",
      options_.state_file.string(), registry_->size(),
      seconds(std::chrono::steady_clock::now() - started), changed.size(), changed_seconds);
  changed_at_load_ = changed.size();
  stale_ = false;
  return Status::Ok();
}

Status LicensingImpl::SaveState() {
  if (options_.state_file.empty()) return Status::Ok();
  return RunUnit([this](sqlite::Connection& db, UnitState&) -> Status {
    // Memory equals the committed tables here: a unit that failed after changing memory made the
    // state stale, and Submit reloaded it before this ran.
    std::optional<std::string> current;
    {
      OUTPOST_ASSIGN_OR_RETURN(auto stmt, db.Query("SELECT token FROM licensing_state"));
      OUTPOST_ASSIGN_OR_RETURN(bool row, stmt->Step());
      if (row) current = stmt->ColumnText(0);
    }
    OUTPOST_ASSIGN_OR_RETURN(const int64_t changed,
                             db.QueryInt64("SELECT count(*) FROM licensing_changed"));
    if (current && changed == 0 && StateFileToken(options_.state_file) == current) {
      return Status::Ok();
    }
    const auto started = std::chrono::steady_clock::now();
    const std::string token = NewUuid();
    // The file first, then its token and digest and an empty list of changes in this unit's
    // commit: a crash before the commit leaves a file that the database does not name (the next
    // start reads the tables); a token committed names a whole file.
    OUTPOST_ASSIGN_OR_RETURN(const std::string digest,
                             WriteStateFile(options_.state_file, token, *registry_, book_));
    OUTPOST_RETURN_IF_ERROR(VoidStateFile(db));
    OUTPOST_RETURN_IF_ERROR(
        db.ExecPrepared("INSERT INTO licensing_state(token, digest) VALUES (?, ?)", token, digest)
            .status());
    spdlog::info(
        "licensing state saved to {} in {:.3f} s ({} devices had changed since the last "
        "save)",
        options_.state_file.string(),
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count(),
        current ? std::to_string(changed) : std::string("no usable file; all"));
    return Status::Ok();
  });
}

// --- Release (devices and operators) -------------------------------------------------------------

Status LicensingImpl::ReleaseLocked(sqlite::Connection& db, const std::string& instance_id,
                                    const audit::Actor& actor, std::vector<TagRequest>* released) {
  const std::optional<RegisteredDevice> d = registry_->Find(instance_id);
  if (!d) {
    return NotFound("instance " + Quote(instance_id) +
                    " is not registered; list devices with `outpost devices`");
  }
  const RegisteredDevice record = *d;
  const TimePoint now = Now();
  OUTPOST_ASSIGN_OR_RETURN(ConsumptionDelta delta, book_.Release(instance_id, now));
  {
    std::unique_lock identities(registry_mu_);
    registry_->Remove(instance_id);
  }
  OUTPOST_RETURN_IF_ERROR(PersistDelta(db, delta));
  OUTPOST_RETURN_IF_ERROR(DeleteDevice(db, instance_id));
  for (const TagChange& c : delta.changes) released->push_back({c.tag, c.old_count});
  return Audit(
      db, actor, "device.release", "device:" + instance_id,
      {{"va", record.va}, {"udi", record.udi.ToString()}, {"released", TagsJson(delta, true)}},
      AuditTime());
}

// --- Background and sync ----------------------------------------------------------------------

Status LicensingImpl::Sweep(bool final) {
  const std::optional<ClockRollback> rollback = clock_.TakeRollback();
  if (rollback) {
    spdlog::error(
        "CLOCK_ROLLBACK: the system clock says {} but the satellite has seen {}; expiry "
        "decisions keep using the later time",
        FormatRfc3339(rollback->real), FormatRfc3339(rollback->high_water));
  }
  std::vector<std::pair<std::string, TimePoint>> seen;
  OUTPOST_RETURN_IF_ERROR(RunUnit([&](sqlite::Connection& db, UnitState& unit) -> Status {
    const TimePoint now = Now();
    if (rollback) {
      OUTPOST_RETURN_IF_ERROR(
          Audit(db, audit::Actor::System(), "alarm.clock_rollback", "satellite:" + satellite_id_,
                {{"alarm", "CLOCK_ROLLBACK"},
                 {"system_time", FormatRfc3339(rollback->real)},
                 {"high_water", FormatRfc3339(rollback->high_water)},
                 {"behind_seconds",
                  std::chrono::duration_cast<std::chrono::seconds>(rollback->behind).count()}},
                AuditTime()));
    }
    unit.mutated = true;
    for (const ConsumptionDelta& delta : book_.Sweep(now)) {
      OUTPOST_RETURN_IF_ERROR(PersistDelta(db, delta));
      OUTPOST_RETURN_IF_ERROR(Audit(
          db, audit::Actor::System(), "license.sweep", "device:" + delta.instance_id,
          {{"va", delta.va}, {"udi", delta.udi.ToString()}, {"expired", TagsJson(delta, true)}},
          AuditTime()));
    }
    OUTPOST_RETURN_IF_ERROR(InsertUsageSamples(db, usage_.CloseHours(now)));
    if (final || now >= last_seen_flushed_ + options_.last_seen_flush_interval) {
      seen.assign(seen_.begin(), seen_.end());
      seen_.clear();
      last_seen_flushed_ = now;
    }
    const TimePoint high_water = Truncate(clock_.HighWater());
    if (high_water >= persisted_high_water_ + kHighWaterPersistStep) {
      OUTPOST_RETURN_IF_ERROR(store::kSatelliteMeta.Set(db, "clock_high_water",
                                                        std::to_string(ToUnixSeconds(high_water))));
      persisted_high_water_ = high_water;
    }
    return Status::Ok();
  }));
  // In short units of their own: renewals queued meanwhile commit between them. A device
  // released meanwhile has no row left to update.
  constexpr size_t kLastSeenPerUnit = 64;
  for (size_t first = 0; first < seen.size(); first += kLastSeenPerUnit) {
    const size_t end = std::min(seen.size(), first + kLastSeenPerUnit);
    OUTPOST_RETURN_IF_ERROR(writer_.Run([&](sqlite::Connection& db) -> Status {
      for (size_t i = first; i < end; ++i) {
        OUTPOST_RETURN_IF_ERROR(TouchDevice(db, seen[i].first, seen[i].second));
      }
      return Status::Ok();
    }));
  }
  return MaybeSaveState();
}

Status LicensingImpl::MaybeSaveState() {
  if (options_.state_file.empty()) return Status::Ok();
  const TimePoint now = Now();
  if (now < next_state_check_) return Status::Ok();
  next_state_check_ = now + options_.state_check_interval;
  int64_t saved = 0;
  int64_t changed = 0;
  {
    OUTPOST_ASSIGN_OR_RETURN(auto lease, readers_.Acquire());
    OUTPOST_ASSIGN_OR_RETURN(saved, lease->QueryInt64("SELECT count(*) FROM licensing_state"));
    OUTPOST_ASSIGN_OR_RETURN(changed, lease->QueryInt64("SELECT count(*) FROM licensing_changed"));
  }
  if (saved != 0 && changed < static_cast<int64_t>(options_.state_file_max_changed)) {
    return Status::Ok();
  }
  return SaveState();
}

Status LicensingImpl::ReplaceEntitlementsOn(sqlite::Connection& db,
                                            std::vector<Entitlement> entitlements,
                                            const std::vector<MoveRecord>& reapply) {
  std::unique_lock lock(mu_);
  if (stale_) OUTPOST_RETURN_IF_ERROR(ReloadLocked(db));
  OUTPOST_RETURN_IF_ERROR(book_.ReplaceEntitlements(std::move(entitlements)));
  // From here on memory changed: any failure leaves it to the next unit to reload.
  stale_ = true;
  const TimePoint now = Now();
  for (const MoveRecord& m : reapply) {
    // Accepted when it was made: devices that have used the units since do not undo it.
    auto changed =
        book_.ApplyMove(m.from_va, m.to_va, m.tag, m.count, now, PoolBook::MoveCheck::kValidUnits);
    if (!changed.ok()) {
      spdlog::warn(
          "local move {} no longer fits the entitlements central sent ({}); central "
          "will answer it at the next sync",
          m.id, changed.status().message());
    }
  }
  OUTPOST_RETURN_IF_ERROR(ReplaceEntitlementRows(db, book_.Entitlements()));
  stale_ = false;
  return Status::Ok();
}

AuthorizationPolicy LicensingImpl::policy() const {
  std::shared_lock lock(mu_);
  return policy_;
}

Status LicensingImpl::ReplaceEntitlements(std::vector<Entitlement> entitlements,
                                          const audit::Actor& actor) {
  for (const Entitlement& e : entitlements) {
    OUTPOST_RETURN_IF_ERROR(ValidateEntitlement(e));
  }
  const size_t count = entitlements.size();
  return RunUnit([&](sqlite::Connection& db, UnitState& unit) -> Status {
    unit.mutated = true;
    OUTPOST_RETURN_IF_ERROR(ReplaceEntitlementRows(db, entitlements));
    OUTPOST_RETURN_IF_ERROR(book_.ReplaceEntitlements(std::move(entitlements)));
    return Audit(db, actor, "entitlements.replace", "satellite:" + satellite_id_,
                 {{"count", count}}, AuditTime());
  });
}

}  // namespace outpost::server::licensing
