#include "server/satellite.h"

#include <sys/statvfs.h>

#include <condition_variable>
#include <fstream>
#include <sstream>
#include <thread>

#include "common/config/config_file.h"
#include "common/crypto/ca.h"
#include "common/crypto/hash.h"
#include "common/crypto/keys.h"
#include "common/file_lock.h"
#include "common/net/server.h"
#include "common/net/system_routes.h"
#include "common/sqlite/reader_pool.h"
#include "common/sqlite/writer.h"
#include "common/text.h"
#include "common/thread_boundary.h"
#include "server/api/admin_routes.h"
#include "server/api/blocking_pool.h"
#include "server/api/device_routes.h"
#include "server/audit/audit_log.h"
#include "server/audit/chain_guard.h"
#include "server/audit/checkpoint.h"
#include "server/audit/head_cache.h"
#include "server/audit/retention.h"
#include "server/audit/syslog_forwarder.h"
#include "server/auth/http_auth.h"
#include "server/auth/store.h"
#include "server/console/console_routes.h"
#include "server/data_dir.h"
#include "server/license_metrics.h"
#include "server/licensing/service.h"
#include "server/licensing/tokens.h"
#include "server/reloader.h"
#include "server/store/meta.h"
#include "server/store/schema.h"
#include "server/sync/satellite_sync.h"
#include "spdlog/spdlog.h"
#include "sync/bundle/armor.h"
#include "sync/bundle/codec.h"

namespace outpost::server {
namespace fs = std::filesystem;
namespace {

// The readiness of storage: "" while database writes succeed; otherwise how long and why they
// fail, and the space left where the database lives (readiness is about writes, not a threshold
// of free space: a satellite with little room left still serves, docs/decisions.md).
std::string StorageProblem(const sqlite::Writer& writer) {
  const std::optional<sqlite::StorageFault> fault = writer.storage_fault();
  if (!fault) return "";
  const auto failing = std::chrono::duration_cast<std::chrono::seconds>(
      std::chrono::steady_clock::now() - fault->since);
  const fs::path dir = writer.path().parent_path();
  std::string free_space = "unknown";
  struct statvfs st {};
  if (statvfs(dir.c_str(), &st) == 0) {
    free_space = std::to_string(static_cast<uint64_t>(st.f_bavail) * st.f_frsize / 1024) + " KiB";
  }
  return "database writes have failed for " + DurationText(failing.count()) + " (" +
         Plural(static_cast<int64_t>(fault->failed_transactions), "transaction") + "); free on " +
         dir.string() + ": " + free_space + "; last error: " + fault->error.message();
}

Result<std::string> ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return NotFound("cannot read " + path.string() +
                    "; is this an initialised data directory (`outpost init`)?");
  }
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

// The forwarder of `c`'s [audit] section (not started yet), or null when audit.syslog_url is
// empty. Checks the URL and the CA file.
Result<std::unique_ptr<audit::SyslogForwarder>> MakeSyslogForwarder(const config::Config& c,
                                                                    const DataDir& dir,
                                                                    const std::string& satellite_id,
                                                                    sqlite::ReaderPool& readers) {
  if (c.audit.syslog_url.empty()) return std::unique_ptr<audit::SyslogForwarder>();
  audit::SyslogOptions syslog;
  syslog.url = c.audit.syslog_url;
  if (!c.audit.syslog_ca.empty()) {
    const fs::path ca = config::ResolvePath(c, c.audit.syslog_ca);
    auto pem = ReadFile(ca);
    if (!pem.ok()) {
      return InvalidArgument("audit.syslog_ca: cannot read " + ca.string() +
                             "; give the PEM file of the CA that issued the collector's "
                             "certificate");
    }
    syslog.ca_pem = std::move(*pem);
  }
  syslog.hostname = c.audit.syslog_hostname;
  syslog.satellite_id = satellite_id;
  syslog.position_file = dir.syslog_position();
  return audit::SyslogForwarder::Create(std::move(syslog), readers);
}

net::ServerOptions ServerOptionsFrom(const config::Config& c) {
  net::ServerOptions o;
  o.listen = c.listen.ToString();
  o.io_threads = c.server.io_threads > 0
                     ? c.server.io_threads
                     : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  o.max_connections = static_cast<size_t>(c.server.max_connections);
  o.max_connections_per_address = static_cast<size_t>(c.server.max_connections_per_address);
  o.max_body_bytes = c.server.max_body_bytes;
  // Sync responses are files of up to 64 MiB (armored: a third more); everything else keeps
  // server.max_body_bytes.
  o.body_limit_by_path["/v1/admin/sync/import"] = std::max<uint64_t>(
      c.server.max_body_bytes, outpost::sync::ArmoredSizeLimit(outpost::sync::kMaxBundleBytes));
  o.max_header_bytes = static_cast<uint32_t>(c.server.max_header_bytes);
  o.max_pipelined_requests = static_cast<size_t>(c.server.max_pipelined_requests);
  auto ms = [](Duration d) { return std::chrono::duration_cast<std::chrono::milliseconds>(d); };
  o.handshake_timeout = ms(c.server.handshake_timeout);
  o.read_timeout = ms(c.server.read_timeout);
  o.write_timeout = ms(c.server.write_timeout);
  o.idle_timeout = ms(c.server.idle_timeout);
  return o;
}

}  // namespace

// How often the head of the audit chain is signed while the satellite runs (and once more at
// shutdown). Sync exports sign one as well.
constexpr auto kAuditCheckpointInterval = std::chrono::minutes(10);
// How often expired authorizations and floating leases are released (a lease not renewed in time
// returns to its pool within this), usage hours are closed and the clock is checked.
constexpr auto kSweepInterval = std::chrono::seconds(5);
// How often the TLS server certificate is checked for renewal (and at every start).
constexpr auto kCertificateCheckInterval = std::chrono::hours(1);

class Satellite::Impl {
 public:
  // Declared first of all so it is released last, after the database is closed.
  std::optional<FileLock> data_dir_lock;
  // Declared first so it is destroyed last: outstanding replies refer to its I/O context.
  std::unique_ptr<net::HttpServer> server;
  const Clock* clock = nullptr;
  config::Config config;
  DataDir dir{""};
  std::string satellite_id;
  std::unique_ptr<sqlite::Writer> writer;
  std::unique_ptr<sqlite::ReaderPool> readers;
  std::shared_ptr<audit::ChainGuard> chain_guard;
  std::optional<crypto::PrivateKey> signing_key;
  std::unique_ptr<auth::AuthStore> auth;
  std::unique_ptr<licensing::TokenStore> tokens;
  std::unique_ptr<licensing::LicensingService> licensing;
  std::unique_ptr<sync::SatelliteSync> sync;
  // Audit records to a syslog collector (audit.syslog_url), or null. Guarded by syslog_mu: a
  // reload replaces it.
  std::mutex syslog_mu;
  std::unique_ptr<audit::SyslogForwarder> syslog;
  // Archives audit records older than audit.retention (housekeeping), or null.
  std::unique_ptr<audit::Retention> retention;
  // Admin handlers block (password hashing, waiting for commits): they run here, not on the
  // I/O threads.
  std::unique_ptr<api::BlockingPool> admin_pool;
  // Password hashing (logins, new passwords): one thread and a short queue of its own.
  std::unique_ptr<api::BlockingPool> password_pool;
  std::unique_ptr<RateLimiter> login_limiter;
  std::shared_ptr<net::Metrics> metrics = std::make_shared<net::Metrics>();
  // Reloads (SIGHUP, POST /v1/admin/reload) and TLS certificate renewal; `load_config` is where
  // a reload reads the configuration.
  std::unique_ptr<Reloader> reloader;
  std::function<Result<config::Config>()> load_config;
  bool shut_down = false;

  // A reloaded [audit] section: the old forwarder drains and stops first, so that the new one
  // resumes from the position the old one saved.
  void ReplaceSyslog(const config::Config& c) {
    std::unique_ptr<audit::SyslogForwarder> old;
    {
      std::lock_guard lock(syslog_mu);
      old = std::move(syslog);
    }
    if (old) old->Stop();
    auto next = MakeSyslogForwarder(c, dir, satellite_id, *readers);
    if (!next.ok()) {
      spdlog::error("audit forwarding to syslog is off: {}; fix [audit] and reload",
                    next.status().ToString());
      return;
    }
    if (*next) (*next)->Start();
    std::lock_guard lock(syslog_mu);
    syslog = std::move(*next);
  }
  bool server_started = false;

  // The housekeeping thread: sweeps every kSweepInterval and signs an audit checkpoint every
  // kAuditCheckpointInterval.
  std::thread housekeeping_thread;
  std::mutex housekeeping_mu;
  std::condition_variable housekeeping_cv;
  bool stopping = false;

  void SignAuditCheckpoint() {
    Status s = writer->Run([this](sqlite::Connection& db) {
      return audit::SignCheckpoint(db, *signing_key, clock->Now());
    });
    if (!s.ok()) spdlog::warn("signing an audit checkpoint failed: {}", s.ToString());
  }

  // Records the start, and a configuration change when the effective configuration differs
  // from the one the previous start recorded.
  Status AuditStart() {
    const std::string digest = crypto::Sha256Hex(config::RenderConfig(config));
    return writer->Run([&](sqlite::Connection& db) -> Status {
      OUTPOST_ASSIGN_OR_RETURN(auto stored, store::kSatelliteMeta.Get(db, "config_sha256"));
      const std::string previous = stored.value_or("");
      const TimePoint now = clock->Now();
      if (previous != digest) {
        OUTPOST_RETURN_IF_ERROR(audit::Append(
            db,
            {audit::Actor::System(), "config.change", "outpost.toml",
             "{\"previous_sha256\":\"" + previous + "\",\"sha256\":\"" + digest + "\"}"},
            now));
        OUTPOST_RETURN_IF_ERROR(store::kSatelliteMeta.Set(db, "config_sha256", digest));
      }
      return audit::Append(
          db,
          {audit::Actor::System(), "satellite.start", "satellite:" + satellite_id,
           "{\"version\":\"" OUTPOST_VERSION "\",\"config_sha256\":\"" + digest + "\"}"},
          now);
    });
  }
};

Satellite::Satellite(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Satellite::~Satellite() { Shutdown(); }

Result<std::unique_ptr<Satellite>> Satellite::Open(const fs::path& data_dir, config::Config config,
                                                   const Clock& clock) {
  auto impl = std::make_unique<Impl>();
  impl->clock = &clock;
  impl->dir = DataDir(data_dir);
  impl->config = std::move(config);
  const DataDir& dir = impl->dir;
  if (!fs::exists(dir.database())) {
    return NotFound("no database at " + dir.database().string() +
                    "; initialise the data directory first with `outpost init --data-dir " +
                    dir.root.string() + "`");
  }
  // Two processes serving one database would each allocate from their own in-memory pools.
  OUTPOST_ASSIGN_OR_RETURN(auto lock,
                           FileLock::Acquire(dir.lock(), "data directory " + dir.root.string()));
  impl->data_dir_lock.emplace(std::move(lock));
  // Databases written by versions before 0600 was enforced: narrow them (SQLite gives -wal and
  // -shm the database's mode).
  {
    std::error_code ec;
    const fs::perms perms = fs::status(dir.database(), ec).permissions();
    if (!ec && (perms & (fs::perms::group_all | fs::perms::others_all)) != fs::perms::none) {
      fs::permissions(dir.database(), fs::perms::owner_read | fs::perms::owner_write, ec);
      if (ec) {
        return FailedPrecondition("cannot make " + dir.database().string() +
                                  " private (mode 0600): " + ec.message() +
                                  "; run `chmod 600` on it as its owner");
      }
      spdlog::warn("{} was readable by group or others; it is now mode 0600",
                   dir.database().string());
    }
  }

  OUTPOST_ASSIGN_OR_RETURN(auto signing_key, crypto::PrivateKey::LoadFile(dir.signing_key()));
  impl->signing_key.emplace(std::move(signing_key));

  if (impl->config.data_dir.empty()) impl->config.data_dir = data_dir;
  OUTPOST_ASSIGN_OR_RETURN(net::TlsOptions tls, ReadTlsFiles(impl->config));
  impl->load_config = [data_dir, file = dir.config()] {
    return config::LoadLayeredConfig(file, data_dir, config::ProcessEnvironment(), {});
  };

  sqlite::WriterOptions writer_options;
  writer_options.synchronous = impl->config.database.synchronous == config::Durability::kNormal
                                   ? sqlite::Synchronous::kNormal
                                   : sqlite::Synchronous::kFull;
  OUTPOST_ASSIGN_OR_RETURN(impl->writer, sqlite::Writer::Create(dir.database(), writer_options,
                                                                store::SatelliteMigrations()));
  OUTPOST_ASSIGN_OR_RETURN(impl->readers, sqlite::ReaderPool::Create(dir.database()));
  {
    OUTPOST_ASSIGN_OR_RETURN(auto lease, impl->readers->Acquire());
    OUTPOST_ASSIGN_OR_RETURN(auto id, store::kSatelliteMeta.Get(*lease, store::kMetaSatelliteId));
    if (!id) {
      return DataLoss("database " + dir.database().string() +
                      " has no satellite id; it was not created by `outpost init`");
    }
    impl->satellite_id = std::move(*id);
  }
  {
    // From here on, every write transaction first checks that the audit chain still extends
    // the highest head this process has seen (server/audit/chain_guard.h).
    OUTPOST_ASSIGN_OR_RETURN(auto lease, impl->readers->Acquire());
    OUTPOST_ASSIGN_OR_RETURN(audit::Head head, audit::CurrentHead(*lease));
    impl->chain_guard = std::make_shared<audit::ChainGuard>(std::move(head));
    impl->writer->SetTransactionGuard(
        [guard = impl->chain_guard](sqlite::Connection& db) { return guard->Observe(db); });
    // The chain's head in memory between the writer's savepoints: one query per transaction,
    // not one per audit record.
    impl->writer->SetTransactionObserver(std::make_shared<audit::HeadCache>());
  }

  Impl* raw = impl.get();
  raw->metrics->AddCallback(
      "outpost_db_writer_queue_depth", "Units of work waiting for the database writer.", "gauge",
      [raw] { return static_cast<double>(raw->writer->Stats().queue_depth); });
  raw->metrics->AddCallback(
      "outpost_db_writer_last_batch_size",
      "Units of work in the writer's last committed transaction.", "gauge",
      [raw] { return static_cast<double>(raw->writer->Stats().last_batch_size); });
  raw->metrics->AddCallback("outpost_db_writer_batches_total",
                            "Transactions committed by the database writer.", "counter",
                            [raw] { return static_cast<double>(raw->writer->Stats().batches); });
  raw->metrics->AddCallback("outpost_db_writer_units_total",
                            "Units of work committed by the database writer.", "counter",
                            [raw] { return static_cast<double>(raw->writer->Stats().units); });

  net::Router router;
  net::ReadinessChecks checks;
  checks["database"] = [raw]() -> std::string {
    auto lease = raw->readers->Acquire();
    if (!lease.ok()) return lease.status().message();
    auto id = store::kSatelliteMeta.Get(**lease, store::kMetaSatelliteId);
    return id.ok() ? "" : id.status().message();
  };
  checks["audit_chain"] = [raw] { return raw->chain_guard->Problem(); };
  checks["storage"] = [raw] { return StorageProblem(*raw->writer); };
  raw->metrics->AddCallback(
      "outpost_alarm_storage",
      "1 while database writes fail for want of disk space or on I/O errors (answered 503).",
      "gauge", [raw] { return raw->writer->storage_fault().has_value() ? 1.0 : 0.0; });
  raw->metrics->AddCallback(
      "outpost_db_writer_storage_errors_total",
      "Write transactions failed by a full disk or an I/O error.", "counter",
      [raw] { return static_cast<double>(raw->writer->Stats().storage_errors); });
  raw->metrics->AddCallback(
      "outpost_alarm_audit_chain_cut",
      "1 when the audit chain in the database no longer extends the head this process committed "
      "(records removed or rewritten behind its back): every write is refused.",
      "gauge", [raw] { return raw->chain_guard->Problem().empty() ? 0.0 : 1.0; });
  checks["keys"] = [raw]() -> std::string {
    return raw->signing_key.has_value() ? "" : "signing key not loaded";
  };
  raw->admin_pool = std::make_unique<api::BlockingPool>(2);
  const auto run_blocking = [raw](std::function<void()> work) {
    raw->admin_pool->Post(std::move(work));
  };
  net::SystemRoutesOptions system;
  system.metrics = raw->metrics;
  system.version = OUTPOST_VERSION;
  system.readiness = std::move(checks);
  system.run_blocking = run_blocking;
  if (raw->config.server.metrics_require_auth) {
    // raw->auth is created below, before the server starts serving.
    system.authorize_metrics = [raw](const net::Request& req) -> Status {
      auto who = auth::Authenticate(*raw->auth, req);
      return who.ok() ? auth::Require(*who, auth::Permission::kReadMetrics) : who.status();
    };
  }
  net::AddSystemRoutes(router, std::move(system));

  raw->auth = std::make_unique<auth::AuthStore>(*raw->writer, *raw->readers, clock);
  raw->tokens = std::make_unique<licensing::TokenStore>(
      *raw->writer, *raw->readers, clock,
      licensing::TokenPolicy{raw->config.policy.token_default_expiry_days,
                             raw->config.policy.token_max_expiry_days});
  {
    OUTPOST_ASSIGN_OR_RETURN(auto ca_pem, ReadFile(dir.ca_certificate()));
    OUTPOST_ASSIGN_OR_RETURN(auto ca_cert, crypto::Certificate::FromPem(ca_pem));
    OUTPOST_ASSIGN_OR_RETURN(auto ca_key, crypto::PrivateKey::LoadFile(dir.ca_key()));
    OUTPOST_ASSIGN_OR_RETURN(
        auto ca, crypto::CertificateAuthority::Load(std::move(ca_cert), std::move(ca_key)));
    const config::PolicyConfig& p = raw->config.policy;
    licensing::LicensingOptions options;
    options.policy.validity = p.authorization_validity;
    options.policy.renewal = p.authorization_renewal;
    options.policy.floating_lease = p.floating_lease;
    options.certificate_validity = p.certificate_validity;
    options.certificate_renewal = p.certificate_renewal;
    options.clock_rollback_tolerance = p.clock_rollback_tolerance;
    options.registration_rate_per_minute = p.registration_rate_per_minute;
    options.state_file = dir.licensing_state();
    OUTPOST_ASSIGN_OR_RETURN(
        raw->licensing, licensing::LicensingService::Create(
                            *raw->writer, *raw->readers, clock, std::move(ca), *raw->signing_key,
                            raw->satellite_id, *raw->tokens, options));
  }
  raw->metrics->AddCallback("outpost_devices_registered", "Registered product instances.", "gauge",
                            [raw] { return static_cast<double>(raw->licensing->device_count()); });
  raw->metrics->AddCallback(
      "outpost_alarm_clock_rollback",
      "1 while the system clock is behind the highest time the satellite has seen.", "gauge",
      [raw] { return raw->licensing->InClockRollback() ? 1.0 : 0.0; });
  raw->metrics->AddCallback(
      "outpost_licensing_reloads_total",
      "Times the licensing state was reloaded from the database after a failed write.", "counter",
      [raw] { return static_cast<double>(raw->licensing->reloads()); });
  AddLicenseMetrics(*raw->metrics, raw->licensing->operators());
  api::AddDeviceRoutes(router, &raw->licensing->devices(), run_blocking);
  OUTPOST_ASSIGN_OR_RETURN(
      raw->sync, sync::SatelliteSync::Create(raw->dir, *raw->writer, *raw->readers,
                                             raw->licensing->operators(), *raw->signing_key,
                                             raw->satellite_id, raw->config.sync, OUTPOST_VERSION));
  raw->metrics->AddCallback(
      "outpost_alarm_sync_overdue",
      "1 while the last sync response's valid_until has passed (SYNC_OVERDUE).", "gauge",
      [raw] { return raw->sync->overdue() ? 1.0 : 0.0; });
  raw->metrics->AddCallback(
      "outpost_alarm_audit_witness",
      "1 while central holds an audit head the local chain no longer contains (the end of the "
      "audit trail was cut off or rewritten).",
      "gauge", [raw] { return raw->sync->audit_alarm() ? 1.0 : 0.0; });
  raw->metrics->AddCallback(
      "outpost_sync_online_failures_total", "Online sync attempts that failed.", "counter",
      [raw] { return static_cast<double>(raw->sync->online_failures_total()); });
  OUTPOST_ASSIGN_OR_RETURN(
      raw->syslog, MakeSyslogForwarder(raw->config, raw->dir, raw->satellite_id, *raw->readers));
  // Families, not callbacks: a reload may start, replace or stop the forwarder.
  raw->metrics->AddFamilies([raw] {
    std::vector<net::Metrics::Family> out;
    std::lock_guard lock(raw->syslog_mu);
    if (!raw->syslog) return out;
    auto one = [&](const char* name, const char* help, const char* type, double value) {
      out.push_back({name, help, type, {{{}, value}}});
    };
    one("outpost_audit_syslog_forwarded_total",
        "Audit records the syslog collector accepted since start (or the last reload of "
        "[audit]).",
        "counter", static_cast<double>(raw->syslog->forwarded_total()));
    one("outpost_audit_syslog_failures_total",
        "Failed attempts to forward audit records (each is retried).", "counter",
        static_cast<double>(raw->syslog->failures_total()));
    one("outpost_audit_syslog_lag_records",
        "Audit records committed but not yet accepted by the syslog collector.", "gauge",
        static_cast<double>(raw->syslog->lag()));
    return out;
  });
  if (raw->config.audit.retention > Duration::zero()) {
    raw->retention = std::make_unique<audit::Retention>(
        *raw->writer, *raw->readers, *raw->signing_key, raw->satellite_id, clock,
        audit::RetentionOptions{raw->config.audit.retention,
                                config::ResolvePath(raw->config, raw->config.audit.archive_dir)});
    // While forwarding to syslog, a record leaves the database only once the collector has it.
    raw->retention->SetHold([raw]() -> std::optional<int64_t> {
      std::lock_guard lock(raw->syslog_mu);
      if (!raw->syslog) return std::nullopt;
      return raw->syslog->position();
    });
  }
  api::AdminContext admin;
  admin.auth = raw->auth.get();
  admin.tokens = raw->tokens.get();
  admin.licensing = &raw->licensing->operators();
  admin.sync = raw->sync.get();
  admin.writer = raw->writer.get();
  admin.readers = raw->readers.get();
  admin.signing_key = &*raw->signing_key;
  admin.clock = &clock;
  admin.run_blocking = run_blocking;
  raw->password_pool =
      std::make_unique<api::BlockingPool>(1, raw->config.server.max_queued_password_checks);
  admin.run_password_work = [raw](std::function<void()> work) {
    return raw->password_pool->TryPost(std::move(work));
  };
  raw->login_limiter =
      std::make_unique<RateLimiter>(clock, raw->config.server.login_rate_per_minute);
  admin.login_limiter = raw->login_limiter.get();
  // raw->reloader is created below, with the server, before anything is served.
  admin.reload = [raw](const audit::Actor& by) { return raw->reloader->Reload(by); };
  admin.tls_certificate_file = config::ResolvePath(raw->config, raw->config.tls.certificate);
  admin.ca_certificate_file = dir.ca_certificate();
  api::AddAdminRoutes(router, std::move(admin));
  console::AddConsoleRoutes(router);

  net::ServerOptions server_options = ServerOptionsFrom(raw->config);
  // The sync import route takes whole bundles; only a caller who may sync gets to send one. The
  // credentials are checked on the blocking pool (SQL), before any of the body is read.
  server_options.admit_large_body = [raw](std::shared_ptr<const net::Request> header,
                                          std::function<void(Status)> done) {
    raw->admin_pool->Post([raw, header = std::move(header), done = std::move(done)] {
      auto principal = auth::Authenticate(*raw->auth, *header);
      done(principal.ok() ? auth::Require(*principal, auth::Permission::kSync)
                          : principal.status());
    });
  };
  OUTPOST_ASSIGN_OR_RETURN(raw->server, net::HttpServer::Create(std::move(server_options), tls,
                                                                std::move(router), raw->metrics));
  Reloader::Parts parts;
  parts.clock = &clock;
  parts.dir = raw->dir;
  parts.server = raw->server.get();
  parts.sync = raw->sync.get();
  parts.licensing = &raw->licensing->operators();
  parts.writer = raw->writer.get();
  parts.check_audit = [raw](const config::Config& c) {
    return MakeSyslogForwarder(c, raw->dir, raw->satellite_id, *raw->readers).status();
  };
  parts.apply_audit = [raw](const config::Config& c) { raw->ReplaceSyslog(c); };
  raw->reloader = std::make_unique<Reloader>(std::move(parts), raw->config, std::move(tls),
                                             [raw] { return raw->load_config(); });
  raw->reloader->AddMetrics(*raw->metrics);
  return std::unique_ptr<Satellite>(new Satellite(std::move(impl)));
}

Status Satellite::Start() {
  // Bind first: a start that cannot listen must not be recorded as a start.
  OUTPOST_RETURN_IF_ERROR(impl_->server->Listen());
  OUTPOST_RETURN_IF_ERROR(impl_->AuditStart());
  // Renewed before the first connection, if due (the outcome is logged and audited).
  (void)impl_->reloader->CheckCertificate();
  OUTPOST_RETURN_IF_ERROR(impl_->server->Start());
  impl_->server_started = true;
  impl_->sync->StartOnline();
  {
    std::lock_guard lock(impl_->syslog_mu);
    if (impl_->syslog) impl_->syslog->Start();
  }
  Impl* impl = impl_.get();
  impl->housekeeping_thread = std::thread([impl] {
    auto last_audit_checkpoint = std::chrono::steady_clock::now();
    auto last_certificate_check = std::chrono::steady_clock::now();
    auto last_retention = std::chrono::steady_clock::time_point();  // the first round archives
    std::unique_lock lock(impl->housekeeping_mu);
    while (
        !impl->housekeeping_cv.wait_for(lock, kSweepInterval, [impl] { return impl->stopping; })) {
      lock.unlock();
      // A thread boundary: an exception costs this round, and the next one runs as usual.
      Status round = CatchAtBoundary("the background sweep", [&] {
        // In a storage fault the writer has logged why, once; the sweep retries each round.
        if (Status s = impl->licensing->Sweep(); !s.ok() && !impl->writer->storage_fault()) {
          spdlog::warn("licensing sweep failed: {}", s.ToString());
        }
        impl->sync->CheckOverdue();
        if (std::chrono::steady_clock::now() - last_audit_checkpoint >= kAuditCheckpointInterval) {
          impl->SignAuditCheckpoint();
          last_audit_checkpoint = std::chrono::steady_clock::now();
        }
        if (std::chrono::steady_clock::now() - last_certificate_check >=
            kCertificateCheckInterval) {
          (void)impl->reloader->CheckCertificate();
          last_certificate_check = std::chrono::steady_clock::now();
        }
        if (impl->retention &&
            std::chrono::steady_clock::now() - last_retention >= std::chrono::minutes(1)) {
          last_retention = std::chrono::steady_clock::now();
          if (auto archived = impl->retention->RunOnce(); !archived.ok()) {
            spdlog::warn("archiving audit records (audit.retention) failed: {}",
                         archived.status().ToString());
          }
        }
      });
      if (!round.ok()) spdlog::error("{}", round.message());
      lock.lock();
    }
  });
  spdlog::info("satellite {} serving on https://{}:{}", impl_->satellite_id,
               impl_->config.listen.host, impl_->server->port());
  return Status::Ok();
}

uint16_t Satellite::port() const { return impl_->server->port(); }

void Satellite::SetConfigLoader(std::function<Result<config::Config>()> load) {
  impl_->load_config = std::move(load);
}
Result<v1::ReloadReport> Satellite::Reload(const audit::Actor& by) {
  return impl_->reloader->Reload(by);
}
Status Satellite::CheckTlsCertificate() { return impl_->reloader->CheckCertificate(); }
const std::string& Satellite::satellite_id() const { return impl_->satellite_id; }

void Satellite::Shutdown() {
  if (impl_->shut_down) return;
  impl_->shut_down = true;
  impl_->server->Shutdown(
      std::chrono::duration_cast<std::chrono::milliseconds>(impl_->config.server.shutdown_grace));
  {
    std::lock_guard lock(impl_->housekeeping_mu);
    impl_->stopping = true;
  }
  impl_->housekeeping_cv.notify_all();
  if (impl_->housekeeping_thread.joinable()) impl_->housekeeping_thread.join();
  impl_->sync->Stop();
  // Admin work in flight finishes (its replies go nowhere once the server stopped).
  impl_->admin_pool->Join();
  impl_->password_pool->Join();
  // Sign the final head, then close: after the server, in-flight requests may still be
  // waiting for their commit.
  if (impl_->server_started) {
    if (Status s = impl_->licensing->Sweep(/*final=*/true); !s.ok()) {
      spdlog::warn("final licensing sweep failed: {}", s.ToString());
    }
    Status s = impl_->writer->Run([this](sqlite::Connection& db) -> Status {
      OUTPOST_RETURN_IF_ERROR(audit::Append(
          db, {audit::Actor::System(), "satellite.stop", "satellite:" + impl_->satellite_id, "{}"},
          impl_->clock->Now()));
      return audit::SignCheckpoint(db, *impl_->signing_key, impl_->clock->Now());
    });
    if (!s.ok()) spdlog::warn("recording the stop failed: {}", s.ToString());
    // Last: no device or consumption row changes after it, or the saved state is void at once.
    if (Status saved = impl_->licensing->SaveState(); !saved.ok()) {
      spdlog::warn("saving the licensing state failed ({}); the next start reads the database",
                   saved.ToString());
    }
  }
  // The stop's records go to the collector too, if it takes them within a moment.
  {
    std::lock_guard lock(impl_->syslog_mu);
    if (impl_->syslog) impl_->syslog->Stop();
  }
  // Readers first, so the writer's connection is the last one: SQLite then checkpoints the WAL
  // and removes the -wal and -shm files.
  impl_->readers.reset();
  impl_->writer->Stop();
  spdlog::info("satellite {} stopped; database closed", impl_->satellite_id);
}

}  // namespace outpost::server
