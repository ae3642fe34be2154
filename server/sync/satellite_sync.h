#pragma once

// The satellite's side of sync (DESIGN.md section 2 "Sync", section 3): building signed
// requests, importing signed responses, online exchanges with central, conversions and the
// SYNC_OVERDUE alarm. Offline (files) and online (POST /v1/sync) use the same bytes and the
// same Export/Import code.
//
// What the satellite persists (satellite_meta): account id and name, central's pinned key and
// URL (from the enrollment bundle), the last request sequence exported, the last response
// number imported and the SHA-256 of its bundle, its valid_until, and whether central has bound
// the satellite key yet (until then every request carries the enrollment proof). The
// enrollment secret lives in keys/enrollment.secret (0600), central's TLS CA in central-ca.pem.
//
// Thread-safety: thread-safe; exports and imports are serialized (one at a time).

#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

#include "common/clock.h"
#include "common/config/config.h"
#include "common/crypto/keys.h"
#include "common/sqlite/reader_pool.h"
#include "common/sqlite/writer.h"
#include "common/status.h"
#include "outpost/v1/bundle.pb.h"
#include "outpost/v1/satellite_sync.pb.h"
#include "server/auth/principal.h"
#include "server/data_dir.h"
#include "server/licensing/operator_service.h"

namespace outpost::server::sync {

// A request as exported.
struct ExportedRequest {
  v1::SignedBundle bundle;
  int64_t sequence = 0;
  int64_t usage_reports = 0;
  int64_t moves = 0;
  int64_t conversions = 0;
};

class SatelliteSync {
 public:
  // Applies what the last imported response left in satellite_meta to `licensing` (central's
  // policy and list of virtual accounts) and reads the audit-chain alarm; fails with kDataLoss
  // when the stored policy cannot be read. Everything passed must outlive the object.
  static Result<std::unique_ptr<SatelliteSync>> Create(
      DataDir dir, sqlite::Writer& writer, sqlite::ReaderPool& readers,
      licensing::OperatorService& licensing, const crypto::PrivateKey& signing_key,
      std::string satellite_id, config::SyncConfig config, std::string version);
  ~SatelliteSync();
  SatelliteSync(const SatelliteSync&) = delete;
  SatelliteSync& operator=(const SatelliteSync&) = delete;

  // A signed request with everything central has not acknowledged: usage reports (closing the
  // hours sampled since the last export), moves, conversions, the inventory and a freshly
  // signed audit checkpoint. The sequence is persisted in the same transaction, audited as
  // "sync.export". kFailedPrecondition when the satellite is not enrolled.
  Result<ExportedRequest> Export(const audit::Actor& actor);

  // Verifies and applies a response (binary or armored) in one transaction: entitlements,
  // acknowledgements, move and conversion results, policy, key rotation. The same response
  // again is a no-op that says so. Anything else wrong — foreign, older, expired, tampered,
  // truncated, oversized, not a response — is refused with a message naming the problem,
  // audited as "sync.import.refused", and changes nothing else.
  Result<v1::SyncImportResult> Import(std::string_view bundle_bytes, const audit::Actor& actor);

  // One online exchange: Export, POST it to central_url/v1/sync with central's CA pinned,
  // Import the answer. Failures are recorded for Status(), the metrics and the audit trail.
  Result<v1::SyncImportResult> SyncNow(const audit::Actor& actor);

  v1::SyncStatus GetStatus() const;

  // Queues a traditional-license conversion for the next sync ("conversion.queue").
  Result<v1::Conversion> QueueConversion(std::string_view key, std::string_view va,
                                         const auth::Principal& by);
  Result<v1::ListConversionsResponse> Conversions() const;

  // Raises SYNC_OVERDUE (log and audit, once per episode) when the last response expired.
  void CheckOverdue();
  bool overdue() const { return overdue_.load(); }
  // The audit-chain alarm (SyncStatus.audit_alarm is set): central holds a head the local chain
  // no longer contains.
  bool audit_alarm() const { return audit_alarm_.load(); }
  // Clears the audit-chain alarm once an admin has investigated it, recording "audit.witness.
  // acknowledge" with `reason` and the alarm. The same central head does not raise it again;
  // another mismatch does. kFailedPrecondition when no alarm is raised; kInvalidArgument for an
  // empty or over-long reason.
  Result<v1::SyncStatus> AcknowledgeAuditAlarm(std::string_view reason, const audit::Actor& actor);
  uint64_t online_failures_total() const { return online_failures_total_.load(); }

  // Online mode: a thread that syncs every interval (with jitter), backing off exponentially
  // (up to max_backoff) after failures. No-op in offline mode.
  void StartOnline();
  void Stop();

  // A reloaded [sync] section (outpost.toml): mode, central_url, proxy, interval, jitter and
  // max_backoff apply from now on. Online after StartOnline starts the thread, offline stops it
  // (an exchange in progress finishes first); a new interval counts from the last exchange.
  void Reconfigure(config::SyncConfig config);
  config::SyncConfig config() const;

  // Lays central's policy from the last imported response (satellite_meta) over the configured
  // one and puts the result in force (after Create, when the configured policy was reloaded).
  // kDataLoss when the stored policy cannot be read; nothing changes then.
  Status ApplyStoredPolicy();

 private:
  SatelliteSync(DataDir dir, sqlite::Writer& writer, sqlite::ReaderPool& readers,
                licensing::OperatorService& licensing, const crypto::PrivateKey& signing_key,
                std::string satellite_id, config::SyncConfig config, std::string version);
  struct State;
  Result<State> LoadState() const;
  Status RecordRefusal(const audit::Actor& actor, const Status& why, std::string_view sha256);
  void RunOnline();

  const DataDir dir_;
  sqlite::Writer& writer_;
  sqlite::ReaderPool& readers_;
  licensing::OperatorService& licensing_;
  const crypto::PrivateKey& signing_key_;
  const std::string satellite_id_;
  config::SyncConfig config_;  // guarded by online_mu_
  const std::string version_;

  std::mutex exchange_mu_;  // one export or import at a time
  std::mutex thread_mu_;    // StartOnline, Reconfigure and Stop, one at a time

  mutable std::mutex online_mu_;
  std::condition_variable online_cv_;
  bool stopping_ = false;             // guarded by online_mu_
  bool started_ = false;              // StartOnline ran; guarded by online_mu_
  uint64_t config_generation_ = 0;    // bumped by Reconfigure; guarded by online_mu_
  TimePoint last_attempt_at_;         // guarded by online_mu_
  bool last_attempt_ok_ = false;      // guarded by online_mu_
  std::string last_error_;            // guarded by online_mu_
  int64_t consecutive_failures_ = 0;  // guarded by online_mu_
  TimePoint next_attempt_at_;         // guarded by online_mu_
  std::thread online_thread_;
  std::atomic<bool> overdue_{false};
  std::atomic<bool> audit_alarm_{false};
  std::atomic<uint64_t> online_failures_total_{0};
};

}  // namespace outpost::server::sync
