#include "server/audit/syslog_forwarder.h"

#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <unistd.h>

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <fstream>
#include <optional>

#include "common/crypto/encoding.h"
#include "common/syslog_url.h"
#include "common/thread_boundary.h"
#include "common/time.h"
#include "server/audit/record_row.h"
#include "spdlog/spdlog.h"

namespace outpost::server::audit {

namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;
using tcp = asio::ip::tcp;

namespace {

constexpr int kFacilityLogAudit = 13;
constexpr int kSeverityWarning = 4;
constexpr int kSeverityNotice = 5;
// RFC 5612's enterprise number for documentation: Outpost has no IANA number of its own.
constexpr char kSdId[] = "outpost@32473";

int Severity(const std::string& action) {
  for (const char* word : {"failure", "refused", "alarm", "chain"}) {
    if (action.find(word) != std::string::npos) return kSeverityWarning;
  }
  return kSeverityNotice;
}

// PRINTUSASCII (33..126), at most `max` characters; "-" when nothing is left.
std::string Token(const std::string& text, size_t max) {
  std::string out;
  for (unsigned char c : text) {
    if (out.size() == max) break;
    out.push_back(c >= 33 && c <= 126 ? static_cast<char>(c) : '_');
  }
  return out.empty() ? "-" : out;
}

// A PARAM-VALUE: '"', '\' and ']' escaped with a backslash.
std::string ParamValue(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (c == '"' || c == '\\' || c == ']') out.push_back('\\');
    out.push_back(c);
  }
  return out;
}

std::string HostName() {
  char name[256] = {};
  if (gethostname(name, sizeof(name) - 1) != 0 || name[0] == '\0') return "-";
  return Token(name, 255);
}

}  // namespace

std::string FormatSyslogMessage(const Record& record, const std::string& hostname,
                                const std::string& satellite_id, int pid) {
  std::string out = "<" + std::to_string(kFacilityLogAudit * 8 + Severity(record.action)) + ">1 ";
  out += FormatRfc3339Millis(record.time_ms);
  out += ' ' + Token(hostname, 255) + " outpost " + std::to_string(pid) + ' ' +
         Token(record.action, 32) + " [";
  out += kSdId;
  out += " seq=\"" + std::to_string(record.seq) + "\" actor=\"" + ParamValue(record.actor) +
         "\" object=\"" + ParamValue(record.object) + "\" hash=\"" +
         crypto::HexEncode(record.hash) + "\" satellite=\"" + ParamValue(satellite_id) + "\"] ";
  out += record.details.empty() ? "{}" : record.details;
  return out;
}

// One connection to the collector, plain or TLS, with a deadline on every operation.
class SyslogForwarder::Connection {
 public:
  Connection(SyslogUrl url, const std::string& ca_pem, std::chrono::milliseconds timeout)
      : url_(std::move(url)), ctx_(ssl::context::tls_client), timeout_(timeout) {
    SSL_CTX_set_min_proto_version(ctx_.native_handle(), TLS1_2_VERSION);
    ctx_.set_verify_mode(ssl::verify_peer);
    if (url_.tls) ctx_.add_certificate_authority(asio::buffer(ca_pem), ca_error_);
  }

  Status CheckCa() const {
    if (url_.tls && ca_error_) {
      return InvalidArgument("audit.syslog_ca is not a usable CA certificate: " +
                             ca_error_.message());
    }
    return Status::Ok();
  }

  bool connected() const { return stream_.has_value(); }

  // Whether the collector closed its side (a FIN arrived). TCP syslog has no acknowledgements,
  // and a write to a connection the peer closed still succeeds once (the bytes are lost), so
  // this is asked before each batch. Only POLLRDHUP counts: over TLS the collector may send
  // session tickets, which make the socket readable without closing it.
  bool PeerClosed() {
    if (!stream_) return true;
    pollfd p{stream_->next_layer().native_handle(), POLLRDHUP, 0};
    return ::poll(&p, 1, 0) > 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR)) != 0;
  }
  void Close() { stream_.reset(); }

  Status Connect() {
    stream_.emplace(ioc_, ctx_);
    boost::system::error_code ec;
    tcp::resolver resolver(ioc_);
    auto endpoints = resolver.resolve(url_.host, url_.port, ec);
    const std::string where = (url_.tls ? "tls://" : "tcp://") + url_.host + ":" + url_.port;
    if (ec) return Fail("cannot resolve " + where + ": " + ec.message());
    asio::async_connect(stream_->next_layer(), endpoints,
                        [&](boost::system::error_code e, const tcp::endpoint&) { ec = e; });
    if (!Run() || ec) {
      return Fail("cannot connect to the syslog collector at " + where + ": " +
                  (ec ? ec.message() : "timed out"));
    }
    if (!url_.tls) return Status::Ok();
    SSL* ssl = stream_->native_handle();
    boost::system::error_code not_ip;
    asio::ip::make_address(url_.host, not_ip);
    if (!not_ip) {
      X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), url_.host.c_str());
    } else {
      SSL_set_tlsext_host_name(ssl, url_.host.c_str());
      SSL_set1_host(ssl, url_.host.c_str());
    }
    stream_->async_handshake(ssl::stream_base::client,
                             [&](boost::system::error_code e) { ec = e; });
    if (!Run() || ec) {
      return Fail("TLS handshake with the syslog collector at " + where +
                  " failed: " + (ec ? ec.message() : "timed out") +
                  "; check that audit.syslog_ca names the CA of its certificate");
    }
    return Status::Ok();
  }

  Status Write(const std::string& bytes) {
    boost::system::error_code ec;
    auto done = [&](boost::system::error_code e, size_t) { ec = e; };
    if (url_.tls) {
      asio::async_write(*stream_, asio::buffer(bytes), done);
    } else {
      asio::async_write(stream_->next_layer(), asio::buffer(bytes), done);
    }
    if (!Run() || ec) {
      return Fail("sending to the syslog collector failed: " + (ec ? ec.message() : "timed out"));
    }
    return Status::Ok();
  }

 private:
  // Runs the queued operation until it completes or the timeout passes (then false, and the
  // socket is closed so that the operation ends).
  bool Run() {
    ioc_.restart();
    ioc_.run_for(timeout_);
    if (!ioc_.stopped()) {
      boost::system::error_code ignored;
      stream_->next_layer().close(ignored);
      ioc_.restart();
      ioc_.run();
      return false;
    }
    return true;
  }

  Status Fail(std::string message) {
    stream_.reset();
    return Unavailable(std::move(message));
  }

  SyslogUrl url_;
  asio::io_context ioc_;
  ssl::context ctx_;
  boost::system::error_code ca_error_;
  std::chrono::milliseconds timeout_;
  std::optional<ssl::stream<tcp::socket>> stream_;
};

SyslogForwarder::SyslogForwarder(SyslogOptions options, sqlite::ReaderPool& readers)
    : options_(std::move(options)), readers_(readers) {}

SyslogForwarder::~SyslogForwarder() { Stop(std::chrono::milliseconds(0)); }

Result<std::unique_ptr<SyslogForwarder>> SyslogForwarder::Create(SyslogOptions options,
                                                                 sqlite::ReaderPool& readers) {
  OUTPOST_ASSIGN_OR_RETURN(SyslogUrl url, ParseSyslogUrl(options.url));
  std::unique_ptr<SyslogForwarder> f(new SyslogForwarder(std::move(options), readers));
  f->connection_ = std::make_unique<Connection>(url, f->options_.ca_pem, f->options_.timeout);
  OUTPOST_RETURN_IF_ERROR(f->connection_->CheckCa());
  f->hostname_ = f->options_.hostname.empty() ? HostName() : f->options_.hostname;
  f->pid_ = static_cast<int>(getpid());

  OUTPOST_ASSIGN_OR_RETURN(auto reader, readers.Acquire());
  OUTPOST_ASSIGN_OR_RETURN(auto head, reader->Query("SELECT COALESCE(MAX(seq), 0) FROM audit_log"));
  OUTPOST_ASSIGN_OR_RETURN(bool row, head->Step());
  const int64_t last = row ? head->ColumnInt64(0) : 0;
  f->head_ = last;
  std::ifstream in(f->options_.position_file);
  if (!in) {
    // First start with forwarding on: from now on.
    f->position_ = last;
    OUTPOST_RETURN_IF_ERROR(f->SavePosition(last));
    spdlog::info(
        "audit forwarding to {} starts after record {} (earlier records: `outpost audit "
        "export`)",
        f->options_.url, last);
  } else {
    int64_t seq = -1;
    in >> seq;
    if (!in || seq < 0) {
      return DataLoss(f->options_.position_file.string() +
                      " does not hold a record number; remove it to forward from the current "
                      "last record on");
    }
    // A database restored from an older backup ends before the position: start at its end.
    f->position_ = std::min(seq, last);
  }
  return f;
}

Status SyslogForwarder::SavePosition(int64_t seq) {
  const std::filesystem::path tmp = options_.position_file.string() + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << seq << "\n";
    out.flush();
    if (!out) return Unavailable("cannot write " + tmp.string());
  }
  std::error_code ec;
  std::filesystem::rename(tmp, options_.position_file, ec);
  if (ec)
    return Unavailable("cannot replace " + options_.position_file.string() + ": " + ec.message());
  return Status::Ok();
}

void SyslogForwarder::Start() {
  thread_ = std::thread([this] { Loop(); });
}

void SyslogForwarder::Stop(std::chrono::milliseconds drain) {
  {
    std::lock_guard lock(mu_);
    if (stopping_) return;
    stopping_ = true;
    drain_until_ = std::chrono::steady_clock::now() + drain;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

Result<bool> SyslogForwarder::ForwardBatch() {
  std::string frames;
  int64_t last = position_.load();
  {
    OUTPOST_ASSIGN_OR_RETURN(auto reader, readers_.Acquire());
    OUTPOST_ASSIGN_OR_RETURN(auto head,
                             reader->Query("SELECT COALESCE(MAX(seq), 0) FROM audit_log"));
    OUTPOST_ASSIGN_OR_RETURN(bool has_head, head->Step());
    if (has_head) head_ = head->ColumnInt64(0);
    OUTPOST_ASSIGN_OR_RETURN(
        auto rows, reader->Query("SELECT seq, time_ms, actor, action, object, details, prev_hash, "
                                 "hash FROM audit_log WHERE seq > ? ORDER BY seq LIMIT ?",
                                 last, static_cast<int64_t>(options_.batch)));
    while (true) {
      OUTPOST_ASSIGN_OR_RETURN(bool row, rows->Step());
      if (!row) break;
      const Record record = ReadRecord(*rows);
      const std::string message =
          FormatSyslogMessage(record, hostname_, options_.satellite_id, pid_);
      frames += std::to_string(message.size()) + ' ' + message;  // RFC 6587 octet counting
      last = record.seq;
    }
  }
  if (last == position_.load()) return false;
  if (connection_->connected() && connection_->PeerClosed()) connection_->Close();
  if (!connection_->connected()) OUTPOST_RETURN_IF_ERROR(connection_->Connect());
  OUTPOST_RETURN_IF_ERROR(connection_->Write(frames));
  forwarded_ += static_cast<uint64_t>(last - position_.load());
  position_ = last;
  OUTPOST_RETURN_IF_ERROR(SavePosition(last));
  return true;
}

void SyslogForwarder::Loop() {
  std::chrono::milliseconds backoff{0};
  std::unique_lock lock(mu_);
  while (true) {
    const bool stopping = stopping_;
    if (stopping && std::chrono::steady_clock::now() >= drain_until_) break;
    lock.unlock();
    bool more = false;
    Status round = CatchAtBoundary("audit forwarding", [&] {
      auto sent = ForwardBatch();
      if (sent.ok()) {
        more = *sent;
        backoff = std::chrono::milliseconds(0);
        return;
      }
      ++failures_;
      if (failures_.load() == 1 || backoff >= options_.max_backoff / 2) {
        spdlog::warn("audit forwarding: {} (record {} onwards waits; retrying)",
                     sent.status().message(), position_.load() + 1);
      }
      connection_->Close();
      backoff =
          std::min(options_.max_backoff, std::max(std::chrono::milliseconds(500), backoff * 2));
    });
    if (!round.ok()) spdlog::error("{}", round.message());
    lock.lock();
    if (stopping) {
      // Draining: once caught up (or failing), stop.
      if (!more) break;
      continue;
    }
    if (more && backoff.count() == 0) continue;  // a full batch: go on at once
    cv_.wait_for(lock, backoff.count() > 0 ? backoff : options_.poll_interval,
                 [this] { return stopping_; });
  }
}

}  // namespace outpost::server::audit
