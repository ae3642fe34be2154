#pragma once

// LicensingService: the satellite's licensing (DESIGN.md section 2, "Registration" to "Clock").
// It owns the in-memory truth — the pool book (core/pools.h) and the registry of devices
// (core/registry.h) — and persists every change through the group-commit writer, in the same
// unit as its audit record, before anyone is told about it. Callers reach it through two
// facades over the one shared state:
//
//   devices()    DeviceService (device_service.h): asynchronous, for the device routes;
//   operators()  OperatorService (operator_service.h): blocking, for the admin routes and sync;
//
// and this class keeps what the satellite itself runs: the periodic sweep, the state file at a
// clean stop and the figures for the metrics.
//
// Consistency. Every change runs as one writer unit on the writer thread: decide in memory,
// write the rows, append the audit record. A unit that fails after changing memory (or whose
// batch fails to commit) marks the state stale; the next unit first reloads the book and the
// registry from the database inside its own transaction, so memory always converges on what was
// committed. Failures before memory changed (bad input, refused token) change nothing. Readers
// (device identification, listings, compliance) may see a change a few milliseconds before its
// commit, never one that is lost without a reload.
//
// Time. Decisions use a HighWaterClock (core/clock.h) over the injected clock, truncated to
// whole seconds, so a clock set back cannot extend a license and what is stored equals what was
// decided.
//
// Thread-safety: thread-safe. Not copyable.

#include <cstdint>
#include <memory>
#include <string>

#include "common/clock.h"
#include "common/crypto/ca.h"
#include "common/crypto/keys.h"
#include "common/sqlite/reader_pool.h"
#include "common/sqlite/writer.h"
#include "common/status.h"
#include "server/licensing/core/pools.h"
#include "server/licensing/device_service.h"
#include "server/licensing/operator_service.h"
#include "server/licensing/options.h"
#include "server/licensing/tokens.h"

namespace outpost::server::licensing {

class LicensingService {
 public:
  // Loads devices and the book (from the state file last saved and the rows of the devices
  // changed since, state_file.h; without a usable file from the tables: the writer's connection
  // reads the devices while a reader connection reads the consumption, docs/architecture.md
  // "Start-up")
  // and seeds the high-water clock from satellite_meta. Fails, leaving nothing behind, on an
  // invalid policy or rows the book refuses (kDataLoss). Everything passed must outlive the
  // service.
  static Result<std::unique_ptr<LicensingService>> Create(
      sqlite::Writer& writer, sqlite::ReaderPool& readers, const Clock& clock,
      crypto::CertificateAuthority ca, const crypto::PrivateKey& signing_key,
      std::string satellite_id, TokenStore& tokens, LicensingOptions options);
  ~LicensingService();
  LicensingService(const LicensingService&) = delete;
  LicensingService& operator=(const LicensingService&) = delete;

  DeviceService& devices() { return *devices_; }
  OperatorService& operators() { return *operators_; }

  // --- What the satellite runs (blocking; audited as the system)
  // ---------------------------------- Releases what expired, closes usage hours, persists the
  // clock's high-water mark and raises CLOCK_ROLLBACK once per episode. The satellite calls it
  // every few seconds. Writes the last-seen times noted since the previous write, once per
  // options.last_seen_flush_interval, or now when `final` (the satellite's last sweep). Saves the
  // state file when it is due (options.state_check_interval, state_file_max_changed).
  Status Sweep(bool final = false);
  // Saves the registry and the book to options.state_file and records its token and digest, and
  // an empty list of changes, in the same unit, so that the next Create reads them from there
  // (also after a crash: the rows changed since are listed). The satellite calls it at a clean
  // stop after the last write; Sweep when due. Nothing to do when the file saved last still holds
  // and no device or consumption row changed since. Ok without a state file configured.
  Status SaveState();
  // Whether Create read the state file (true) or the tables, and how many instances it then
  // re-read from the tables because their rows had changed since the file was saved.
  bool opened_from_state_file() const;
  size_t changed_since_state_file() const;

  // --- Figures ----------------------------------------------------------------------------------
  size_t device_count() const;
  bool InClockRollback() const;
  // Reloads after a failed write since Create.
  uint64_t reloads() const;
  // The book's rows (tests compare it across restarts).
  BookState Snapshot() const;

 private:
  explicit LicensingService(std::unique_ptr<LicensingImpl> impl);

  std::unique_ptr<LicensingImpl> impl_;
  std::unique_ptr<DeviceService> devices_;
  std::unique_ptr<OperatorService> operators_;
};

}  // namespace outpost::server::licensing
