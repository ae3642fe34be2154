#pragma once

// Forwards every audit record, in seq order, to a syslog collector (a SIEM's), as RFC 5424
// messages over TCP (RFC 6587 octet counting) or TLS (RFC 5425). The database stays the record
// of truth: the forwarder reads committed records through a reader connection, so appending
// never waits for the network, and it remembers the last seq the collector accepted in a small
// file, so a restart or an outage resumes where it stopped (at least once: after a connection
// dies mid-batch some records may arrive twice; their seq, in the structured data, tells).
//
// Thread-safety: Start/Stop from one thread; the counters from any.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "common/sqlite/reader_pool.h"
#include "common/status.h"
#include "server/audit/chain.h"

namespace outpost::server::audit {

struct SyslogOptions {
  std::string url;       // tcp://HOST:PORT or tls://HOST:PORT (common/syslog_url.h)
  std::string ca_pem;    // tls: the CA the collector's certificate must chain to
  std::string hostname;  // HOSTNAME field; "" = gethostname()
  std::string satellite_id;
  // The last forwarded seq, as decimal text. Missing at the first start: forwarding begins
  // after the current last record (the history is in `outpost audit export`).
  std::filesystem::path position_file;
  std::chrono::milliseconds poll_interval{1000};
  std::chrono::milliseconds timeout{10'000};  // connect, handshake, each write
  std::chrono::milliseconds max_backoff{60'000};
  int batch = 500;
};

// One record as an RFC 5424 message (without framing): PRI from facility 13 (log audit) and a
// severity by action (warning for failures, refusals and alarms, else notice), the record's
// time, HOSTNAME, APP-NAME "outpost", PROCID, MSGID the action, structured data
// [outpost@32473 seq= actor= object= hash= satellite=] and the details JSON as MSG.
std::string FormatSyslogMessage(const Record& record, const std::string& hostname,
                                const std::string& satellite_id, int pid);

class SyslogForwarder {
 public:
  // Checks the URL and CA and reads (or starts) the position; does not connect yet.
  static Result<std::unique_ptr<SyslogForwarder>> Create(SyslogOptions options,
                                                         sqlite::ReaderPool& readers);
  ~SyslogForwarder();
  SyslogForwarder(const SyslogForwarder&) = delete;
  SyslogForwarder& operator=(const SyslogForwarder&) = delete;

  void Start();
  // Forwards what it can within `drain` (the records of a clean stop), then stops.
  void Stop(std::chrono::milliseconds drain = std::chrono::milliseconds(2000));

  uint64_t forwarded_total() const { return forwarded_.load(); }
  uint64_t failures_total() const { return failures_.load(); }
  int64_t position() const { return position_.load(); }
  // Records committed but not yet accepted by the collector (as of the last poll).
  int64_t lag() const { return std::max<int64_t>(0, head_.load() - position_.load()); }

  class Connection;

 private:
  SyslogForwarder(SyslogOptions options, sqlite::ReaderPool& readers);
  void Loop();
  // Sends the records after position_ (up to a batch); true if it sent any.
  Result<bool> ForwardBatch();
  Status SavePosition(int64_t seq);

  SyslogOptions options_;
  sqlite::ReaderPool& readers_;
  std::string hostname_;
  int pid_ = 0;
  std::unique_ptr<Connection> connection_;
  std::atomic<int64_t> position_{0};
  std::atomic<int64_t> head_{0};
  std::atomic<uint64_t> forwarded_{0};
  std::atomic<uint64_t> failures_{0};
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::chrono::steady_clock::time_point drain_until_{};
  std::thread thread_;
};

}  // namespace outpost::server::audit
