#pragma once

// What the licensing service is configured with, and who a device call comes from.

#include <chrono>
#include <filesystem>
#include <string>

#include "common/clock.h"
#include "server/licensing/core/authorization.h"
#include "server/licensing/core/clock.h"

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
  // Where SaveState writes the state (at a clean stop, and from Sweep as below), for the next
  // Create to read instead of the tables, with the rows of the devices changed since the save
  // (state_file.h). Empty: every Create reads the tables.
  std::filesystem::path state_file;
  // Sweep checks at most this often whether to save the state file: when none is usable (after a
  // start that read the tables), or when at least state_file_max_changed devices changed since
  // the save — the rows a start reads after the file (~5 us each). A save holds the writer for
  // as long as it writes the file (~0.3 s at a million devices).
  Duration state_check_interval = std::chrono::seconds(60);
  size_t state_file_max_changed = 20000;
};

// A device call's caller, established from its mTLS certificate (DeviceService::Identify).
struct DeviceIdentity {
  std::string instance_id;
  std::string cert_serial;
};

}  // namespace outpost::server::licensing
