// The Beast side of the HTTP server. Everything about sockets, TLS and framing is here; what a
// request means is decided by the Router's handlers, which never see a socket.

#include "common/net/server.h"

#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <atomic>
#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "common/config/config.h"
#include "common/net/codec.h"
#include "spdlog/spdlog.h"

namespace outpost::net {

namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;
using tcp = boost::asio::ip::tcp;

// Concrete executor types for everything a connection owns: Asio's default, the type-erased
// any_io_executor, is copied and queried (`prefer`) on every operation, which showed among the
// top user-space symbols of a renewal (docs/benchmarks.md, "Where a renewal's CPU goes").
using Strand = asio::strand<asio::io_context::executor_type>;
using StrandSocket = asio::basic_stream_socket<tcp, Strand>;
using TcpStream = beast::basic_stream<tcp, Strand>;
using TlsStream = beast::ssl_stream<TcpStream>;
using StrandTimer =
    asio::basic_waitable_timer<std::chrono::steady_clock,
                               asio::wait_traits<std::chrono::steady_clock>, Strand>;

namespace {

// The one place that decides which connection errors are noise. Peers vanish, time out and
// close without a TLS close_notify all the time; none of that is worth more than debug.
bool IsConnectionNoise(const beast::error_code& ec) {
  return ec == asio::error::operation_aborted || ec == asio::error::eof ||
         ec == asio::error::connection_reset || ec == asio::error::broken_pipe ||
         ec == asio::error::not_connected || ec == beast::error::timeout ||
         ec == ssl::error::stream_truncated || ec == bhttp::error::end_of_stream;
}

Result<tcp::endpoint> ParseListen(const std::string& listen) {
  OUTPOST_ASSIGN_OR_RETURN(config::ListenAddress parsed, config::ParseListenAddress(listen));
  std::string host = parsed.host == "localhost" ? "127.0.0.1" : parsed.host;
  beast::error_code ec;
  auto address = asio::ip::make_address(host, ec);
  if (ec) {
    return InvalidArgument("listen address '" + listen + "': '" + host +
                           "' is not an IP address (use e.g. 127.0.0.1, 0.0.0.0 or [::1])");
  }
  return tcp::endpoint(address, parsed.port);
}

Result<std::shared_ptr<ssl::context>> MakeTlsContext(const TlsOptions& tls) {
  auto ctx = std::make_shared<ssl::context>(ssl::context::tls_server);
  SSL_CTX* native = ctx->native_handle();
  const int min_version = tls.min_version == "1.3" ? TLS1_3_VERSION : TLS1_2_VERSION;
  if (tls.min_version != "1.2" && tls.min_version != "1.3") {
    return InvalidArgument("tls.min_version must be \"1.2\" or \"1.3\", not \"" + tls.min_version +
                           "\"");
  }
  SSL_CTX_set_min_proto_version(native, min_version);
  ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                   ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 |
                   ssl::context::single_dh_use | SSL_OP_NO_RENEGOTIATION |
                   SSL_OP_CIPHER_SERVER_PREFERENCE);
  // TLS 1.2: forward-secret AEAD suites only. TLS 1.3 suites are all modern already.
  SSL_CTX_set_cipher_list(native,
                          "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
                          "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
                          "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305");
  beast::error_code ec;
  ctx->use_certificate_chain(asio::buffer(tls.certificate_chain_pem), ec);
  if (ec) return InvalidArgument("TLS certificate chain is not usable: " + ec.message());
  ctx->use_private_key(asio::buffer(tls.private_key_pem), ssl::context::pem, ec);
  if (ec) return InvalidArgument("TLS private key is not usable: " + ec.message());
  if (SSL_CTX_check_private_key(native) != 1) {
    return InvalidArgument("TLS private key does not match the server certificate");
  }
  if (!tls.client_ca_pem.empty()) {
    ctx->add_certificate_authority(asio::buffer(tls.client_ca_pem), ec);
    if (ec) return InvalidArgument("client CA certificate is not usable: " + ec.message());
    // Ask for a certificate but do not require one: registration runs without mTLS, device
    // routes check Request::client_certificate themselves.
    ctx->set_verify_mode(ssl::verify_peer, ec);
    static const unsigned char kSessionContext[] = "outpost";
    SSL_CTX_set_session_id_context(native, kSessionContext, sizeof(kSessionContext) - 1);
  }
  return ctx;
}

}  // namespace

class Session;

class HttpServer::Impl {
 public:
  Impl(ServerOptions options, std::shared_ptr<ssl::context> tls, Router router,
       std::shared_ptr<Metrics> metrics, tcp::endpoint endpoint)
      : options_(std::move(options)),
        tls_(std::move(tls)),
        router_(std::move(router)),
        metrics_(std::move(metrics)),
        endpoint_(endpoint),
        ioc_(std::max(1, options_.io_threads)),
        acceptor_(asio::make_strand(ioc_)) {}

  Status Listen();
  Status Start();
  void Shutdown(std::chrono::milliseconds grace);
  void DoAccept();
  void OnAccept(beast::error_code ec, StrandSocket socket);

  // Reserves `bytes` of the in-flight body budget (ServerOptions::max_body_bytes_in_flight);
  // false, reserving nothing, when they do not fit. ReleaseBody gives them back.
  bool ReserveBody(uint64_t bytes);
  void ReleaseBody(uint64_t bytes) { body_bytes_in_flight_.fetch_sub(bytes); }
  uint64_t body_bytes_in_flight() const { return body_bytes_in_flight_.load(); }

  // Admits a connection from `address` under the total and per-address limits (counting it);
  // false: over a limit, nothing counted. Every admitted address is released by Unregister.
  bool Admit(const std::string& address);
  // Session registry, used for graceful shutdown.
  void Register(Session* s);
  void Unregister(Session* s, const std::string& address);

  // The TLS context new connections get (ReloadTls swaps it; a session keeps its own).
  std::shared_ptr<ssl::context> tls() const {
    std::lock_guard lock(tls_mu_);
    return tls_;
  }
  void SetTls(std::shared_ptr<ssl::context> tls) {
    std::lock_guard lock(tls_mu_);
    tls_.swap(tls);
    // The old context is released outside the lock (by `tls` going out of scope) or by the
    // last session that still uses it.
  }

  const ServerOptions& options() const { return options_; }
  const Router& router() const { return router_; }
  Metrics& metrics() { return *metrics_; }
  bool draining() const { return draining_.load(); }

  // Declaration order matters for destruction: the io_context (which may still own sessions
  // through pending handlers) must go before the registry and TLS context those sessions use.
  ServerOptions options_;
  mutable std::mutex tls_mu_;
  std::shared_ptr<ssl::context> tls_;  // guarded by tls_mu_
  Router router_;
  std::shared_ptr<Metrics> metrics_;
  tcp::endpoint endpoint_;
  std::atomic<uint16_t> port_{0};
  std::atomic<bool> draining_{false};
  bool stopped_ = false;

  std::mutex sessions_mu_;
  std::condition_variable sessions_cv_;
  std::unordered_set<Session*> sessions_;
  size_t admitted_ = 0;                                  // guarded by sessions_mu_
  std::unordered_map<std::string, size_t> per_address_;  // guarded by sessions_mu_
  std::atomic<uint64_t> body_bytes_in_flight_{0};

  asio::io_context ioc_;
  tcp::acceptor acceptor_;
  std::vector<std::thread> threads_;
};

// One TLS connection. All its handlers run on its strand; handler replies are posted back to
// it. Lifetime: shared_ptr held by pending operations and by outstanding Reply callbacks.
class Session : public std::enable_shared_from_this<Session> {
 public:
  // `remote_address` was admitted by HttpServer::Impl::Admit.
  Session(HttpServer::Impl* server, StrandSocket&& socket, std::string remote_address)
      : server_(server),
        tls_(server->tls()),
        stream_(std::move(socket), *tls_),
        deadline_(stream_.get_executor()),
        remote_address_(std::move(remote_address)) {}

  ~Session() {
    ReleaseReservedBody();
    server_->Unregister(this, remote_address_);
  }

  void Run() {
    asio::dispatch(stream_.get_executor(),
                   beast::bind_front_handler(&Session::OnRun, shared_from_this()));
  }

  // Called (via post) at shutdown: finish what is in flight, then close.
  void Drain() {
    asio::post(stream_.get_executor(), [self = shared_from_this()] {
      self->draining_ = true;
      if (self->Outstanding() == 0 && !self->writing_) self->Close();
    });
  }

 private:
  struct Pending {
    bool ready = false;
    bhttp::response<bhttp::string_body> response;
    bool close_after = false;
  };

  size_t Outstanding() const { return next_seq_ - next_to_write_; }

  void OnRun() {
    beast::get_lowest_layer(stream_).expires_after(server_->options().handshake_timeout);
    stream_.async_handshake(ssl::stream_base::server,
                            beast::bind_front_handler(&Session::OnHandshake, shared_from_this()));
  }

  void OnHandshake(beast::error_code ec) {
    if (closed_) return;  // closed by shutdown while the handshake ran
    if (ec) {
      server_->metrics().HandshakeFailed();
      spdlog::debug("TLS handshake with {} failed: {}", remote_address_, ec.message());
      return;  // the socket closes when the last reference goes
    }
    handshake_done_ = true;
    // The handshake already verified the chain; keep the certificate for handlers.
    if (X509* peer = SSL_get1_peer_certificate(stream_.native_handle())) {
      if (SSL_get_verify_result(stream_.native_handle()) == X509_V_OK) {
        auto cert = crypto::Certificate::FromX509(peer);
        if (cert.ok()) client_certificate_ = std::move(*cert);
      }
      X509_free(peer);
    }
    DoRead();
  }

  void DoRead() {
    if (reading_ || closing_ || draining_) return;
    if (Outstanding() >= server_->options().max_pipelined_requests) return;  // resumes on write
    parser_.emplace();
    parser_->header_limit(server_->options().max_header_bytes);
    // Beast compares Content-Length with the limit as soon as the header is parsed, so the
    // largest limit of any path applies until OnHeader knows the path.
    body_limit_ = server_->options().max_body_bytes;
    uint64_t largest = body_limit_;
    for (const auto& [path, limit] : server_->options().body_limit_by_path) {
      largest = std::max(largest, limit);
    }
    parser_->body_limit(largest);
    // Reads are bounded by deadline_, not by the stream's own timer: Beast arms that timer
    // when a read starts, so it cannot be shortened for a read already waiting.
    beast::get_lowest_layer(stream_).expires_never();
    if (Outstanding() == 0) {
      ArmDeadline(requests_seen_ == 0 ? server_->options().read_timeout
                                      : server_->options().idle_timeout);
    }
    reading_ = true;
    bhttp::async_read_header(stream_, buffer_, *parser_,
                             beast::bind_front_handler(&Session::OnHeader, shared_from_this()));
  }

  uint64_t BodyLimitFor(std::string_view target) const {
    const auto& overrides = server_->options().body_limit_by_path;
    if (overrides.empty()) return server_->options().max_body_bytes;
    auto it = overrides.find(std::string(target.substr(0, target.find('?'))));
    return it == overrides.end() ? server_->options().max_body_bytes : it->second;
  }

  // The header is in: a path that takes files gets its larger body limit before the body is read.
  void OnHeader(beast::error_code ec, std::size_t) {
    // A Content-Length above the largest limit already failed here; the header is complete, so
    // the message can name the path's own limit.
    body_limit_ = BodyLimitFor(parser_->get().target());
    if (ec) return OnRead(ec, 0);
    if (parser_->content_length() && *parser_->content_length() > body_limit_) {
      return OnRead(bhttp::error::body_limit, 0);
    }
    parser_->body_limit(body_limit_);
    const uint64_t body_bytes = parser_->content_length() ? *parser_->content_length()
                                                          : (parser_->chunked() ? body_limit_ : 0);
    if (body_bytes > 0) {
      if (!server_->ReserveBody(body_bytes)) {
        reading_ = false;
        deadline_.cancel();
        return Fail(Unavailable("the server is receiving too many request bodies at once (" +
                                std::to_string(server_->body_bytes_in_flight() >> 20) +
                                " MiB in flight, at most " +
                                std::to_string(server_->options().max_body_bytes_in_flight >> 20) +
                                " MiB); retry in a few seconds"));
      }
      body_reserved_ = body_bytes;
    }
    const uint64_t ordinary = server_->options().max_body_bytes;
    const bool small = parser_->content_length() && *parser_->content_length() <= ordinary;
    if (parser_->is_done() || body_limit_ <= ordinary || small) return ReadBody();
    // A larger body only for a caller the server admits from the header (authenticated, with
    // the route's role): until then not a byte of the body is read. The read deadline keeps
    // running, so a check that never answers still ends the connection.
    const auto& admit = server_->options().admit_large_body;
    if (!admit) {
      return Admitted(
          PermissionDenied("this route takes large bodies only from authenticated "
                           "callers, and this server authenticates none"));
    }
    auto header = std::make_shared<Request>();
    FillHeader(*header, parser_->get());
    admit(std::move(header), [self = shared_from_this()](Status status) {
      asio::post(self->stream_.get_executor(),
                 [self, status = std::move(status)] { self->Admitted(status); });
    });
  }

  void Admitted(const Status& status) {
    if (status.ok()) return ReadBody();
    ReleaseReservedBody();
    reading_ = false;
    deadline_.cancel();
    Fail(status);
  }

  void ReadBody() {
    if (parser_->is_done()) return OnRead({}, 0);
    bhttp::async_read(stream_, buffer_, *parser_,
                      beast::bind_front_handler(&Session::OnRead, shared_from_this()));
  }

  // Method, target, path, query, lower-case headers and the peer's address (no body).
  void FillHeader(Request& request, const bhttp::request<bhttp::string_body>& raw) const {
    request.method = std::string(raw.method_string());
    request.target = std::string(raw.target());
    const size_t q = request.target.find('?');
    request.path = request.target.substr(0, q);
    if (q != std::string::npos) request.query = ParseQuery(request.target.substr(q + 1));
    for (const auto& field : raw) {
      std::string name(field.name_string());
      for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      request.headers[std::move(name)] = std::string(field.value());
    }
    request.remote_address = remote_address_;
  }

  void OnRead(beast::error_code ec, std::size_t) {
    reading_ = false;
    deadline_.cancel();
    if (ec) {
      ReleaseReservedBody();
      if (ec == bhttp::error::body_limit) {
        return Fail(Status(Errc::kPayloadTooLarge,
                           "request body exceeds the limit of " + std::to_string(body_limit_) +
                               " bytes; send less or raise server.max_body_bytes"));
      }
      if (ec == bhttp::error::header_limit) {
        return Fail(Status(Errc::kHeaderTooLarge,
                           "request header exceeds the limit of " +
                               std::to_string(server_->options().max_header_bytes) + " bytes"));
      }
      if (ec.category() == bhttp::make_error_code(bhttp::error::bad_method).category() &&
          ec != bhttp::error::end_of_stream && ec != bhttp::error::partial_message) {
        return Fail(InvalidArgument("malformed HTTP request: " + ec.message()));
      }
      if (!IsConnectionNoise(ec) && ec != bhttp::error::partial_message) {
        spdlog::debug("read from {} failed: {}", remote_address_, ec.message());
      }
      if (Outstanding() == 0 && !writing_)
        Close();
      else
        closing_ = true;  // write what is owed, then close
      return;
    }
    ++requests_seen_;
    Dispatch(parser_->release());
    DoRead();
  }

  // Answers a framing error (limits, malformed request) and closes the connection.
  void Fail(const Status& status) {
    closing_ = true;
    server_->metrics().RecordRequest(-1, HttpStatusFor(status.code()), {});
    const uint64_t seq = next_seq_++;
    Response r = ErrorResponse(WireFormat::kJson, status);
    r.close = true;
    Complete(seq, std::move(r), 11, false);
  }

  void Dispatch(bhttp::request<bhttp::string_body>&& raw) {
    const auto start = std::chrono::steady_clock::now();
    const uint64_t seq = next_seq_++;
    const unsigned version = raw.version();
    const bool keep_alive = raw.keep_alive();
    if (!keep_alive) closing_ = true;  // answer this one, read no more

    auto request = std::make_shared<Request>();
    FillHeader(*request, raw);
    request->body = std::move(raw.body());
    request->client_certificate = client_certificate_;

    Router::Match match = server_->router().Find(*request);
    const int route = match.route_index;
    Metrics* metrics = &server_->metrics();
    auto self = shared_from_this();
    // The reply may come from any thread; it hops back onto this connection's strand, once, and
    // a response built later (Reply::Later) is built there. If a handler drops it without
    // answering, the guard answers 500 so the client is not left hanging.
    struct ReplyState final : Reply::Sink {
      std::shared_ptr<Session> session;
      uint64_t seq;
      unsigned version;
      bool keep_alive;
      int route;
      std::chrono::steady_clock::time_point start;
      Metrics* metrics;
      HttpServer::Impl* server;
      uint64_t body_reserved;  // of the in-flight body budget, given back with the last Reply
      std::atomic<bool> done{false};
      void Send(Response r) override {
        if (done.exchange(true)) return;
        metrics->RecordRequest(route, r.status, std::chrono::steady_clock::now() - start);
        asio::post(session->stream_.get_executor(),
                   [s = session, seq = seq, r = std::move(r), v = version,
                    k = keep_alive]() mutable { s->Complete(seq, std::move(r), v, k); });
      }
      void SendBuilt(std::function<Response()> build) override {
        if (done.exchange(true)) return;
        asio::post(session->stream_.get_executor(),
                   [s = session, seq = seq, build = std::move(build), v = version, k = keep_alive,
                    metrics = metrics, route = route, start = start]() mutable {
                     Response r = build();
                     metrics->RecordRequest(route, r.status,
                                            std::chrono::steady_clock::now() - start);
                     s->Complete(seq, std::move(r), v, k);
                   });
      }
      ~ReplyState() override {
        if (!done) Send(ErrorResponse(WireFormat::kJson, Internal("handler did not answer")));
        if (body_reserved > 0) server->ReleaseBody(body_reserved);
      }
    };
    auto state = std::make_shared<ReplyState>();
    state->session = self;
    state->seq = seq;
    state->version = version;
    state->keep_alive = keep_alive && !server_->draining();
    state->route = route;
    state->start = start;
    state->metrics = metrics;
    state->server = server_;
    state->body_reserved = std::exchange(body_reserved_, 0);
    Reply reply(state);

    if (match.handler == nullptr) {
      if (!match.allowed_methods.empty()) {
        std::string allow;
        for (const auto& m : match.allowed_methods) allow += (allow.empty() ? "" : ", ") + m;
        Response r = ErrorResponse(
            *request, Status(Errc::kMethodNotAllowed, request->method + " is not allowed on " +
                                                          request->path + "; use " + allow));
        r.headers.emplace_back("Allow", allow);
        return reply(std::move(r));
      }
      return reply(ErrorResponse(
          *request, NotFound("no route for " + request->method + " " + request->path)));
    }
    // Exceptions stop here: a handler bug costs one request, not the process.
    try {
      (*match.handler)(*request, reply);
    } catch (const std::exception& e) {
      spdlog::error("handler for {} {} threw: {}", request->method, request->path, e.what());
      reply(ErrorResponse(*request, Internal("internal error; see the server log")));
    }
  }

  void Complete(uint64_t seq, Response r, unsigned version, bool keep_alive) {
    Pending& p = pending_[seq];
    p.ready = true;
    p.close_after = r.close || !keep_alive || draining_;  // tell clients we are going away
    auto& res = p.response;
    res.version(version);
    res.result(static_cast<bhttp::status>(r.status));
    res.set(bhttp::field::server, "outpost");
    if (!r.content_type.empty()) res.set(bhttp::field::content_type, r.content_type);
    for (auto& [name, value] : r.headers) res.set(name, value);
    res.body() = std::move(r.body);
    res.keep_alive(!p.close_after);
    res.prepare_payload();
    DoWrite();
  }

  void DoWrite() {
    if (writing_) return;
    auto it = pending_.find(next_to_write_);
    if (it == pending_.end() || !it->second.ready) return;
    writing_ = true;
    beast::get_lowest_layer(stream_).expires_after(server_->options().write_timeout);
    bhttp::async_write(stream_, it->second.response,
                       beast::bind_front_handler(&Session::OnWrite, shared_from_this()));
  }

  void OnWrite(beast::error_code ec, std::size_t) {
    writing_ = false;
    auto it = pending_.find(next_to_write_);
    const bool close_after = it->second.close_after;
    pending_.erase(it);
    ++next_to_write_;
    if (ec) {
      if (!IsConnectionNoise(ec)) spdlog::debug("write to {}: {}", remote_address_, ec.message());
      closing_ = true;
      return Close();
    }
    if (close_after) {
      closing_ = true;
      return Close();
    }
    if (Outstanding() == 0) {
      if (closing_ || draining_) return Close();
      // Back to waiting for the next request, which may already be being read.
      if (reading_) ArmDeadline(server_->options().idle_timeout);
    }
    DoWrite();
    DoRead();
  }

  // Closes the connection if the read in progress has not finished by then (slow or idle
  // client). There is no deadline while handlers are working on this connection's requests.
  void ArmDeadline(std::chrono::milliseconds timeout) {
    deadline_.expires_after(timeout);
    deadline_.async_wait([self = shared_from_this()](beast::error_code ec) {
      if (ec || !self->reading_ || self->Outstanding() != 0) return;
      spdlog::debug("closing connection from {}: no complete request in time",
                    self->remote_address_);
      self->Close();
    });
  }

  void ReleaseReservedBody() {
    if (body_reserved_ > 0) server_->ReleaseBody(std::exchange(body_reserved_, 0));
  }

  void Close() {
    if (closed_) return;
    closed_ = true;
    closing_ = true;
    deadline_.cancel();
    auto& socket = beast::get_lowest_layer(stream_);
    if (!handshake_done_ || reading_ || writing_) {
      // A TLS shutdown must not overlap a pending handshake, read or write: close hard and
      // let the pending operation abort.
      beast::error_code ignored;
      socket.socket().shutdown(tcp::socket::shutdown_both, ignored);
      socket.close();
      return;
    }
    // Bounded TLS close_notify, then close.
    socket.expires_after(std::chrono::seconds(2));
    stream_.async_shutdown([self = shared_from_this()](beast::error_code) {
      beast::error_code ignored;
      beast::get_lowest_layer(self->stream_).socket().shutdown(tcp::socket::shutdown_both, ignored);
      beast::get_lowest_layer(self->stream_).close();
    });
  }

  HttpServer::Impl* server_;
  // Kept for the connection's life: a reload gives later connections another context.
  std::shared_ptr<ssl::context> tls_;
  TlsStream stream_;
  beast::flat_buffer buffer_;
  StrandTimer deadline_;
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  uint64_t body_limit_ = 0;     // of the request being read
  uint64_t body_reserved_ = 0;  // of the in-flight body budget, for the request being read
  std::string remote_address_;
  std::optional<crypto::Certificate> client_certificate_;
  std::map<uint64_t, Pending> pending_;
  uint64_t next_seq_ = 0;
  uint64_t next_to_write_ = 0;
  uint64_t requests_seen_ = 0;
  bool handshake_done_ = false;
  bool reading_ = false;
  bool writing_ = false;
  bool closing_ = false;
  bool closed_ = false;
  bool draining_ = false;
};

bool HttpServer::Impl::ReserveBody(uint64_t bytes) {
  const uint64_t budget = options_.max_body_bytes_in_flight;
  if (budget == 0) {
    body_bytes_in_flight_.fetch_add(bytes);
    return true;
  }
  uint64_t current = body_bytes_in_flight_.load();
  do {
    if (bytes > budget - std::min(current, budget)) return false;
  } while (!body_bytes_in_flight_.compare_exchange_weak(current, current + bytes));
  return true;
}

bool HttpServer::Impl::Admit(const std::string& address) {
  std::lock_guard lock(sessions_mu_);
  if (admitted_ >= options_.max_connections) return false;
  size_t& from_address = per_address_[address];
  if (from_address >= options_.max_connections_per_address) return false;
  ++from_address;
  ++admitted_;
  return true;
}

void HttpServer::Impl::Register(Session* s) {
  std::lock_guard lock(sessions_mu_);
  sessions_.insert(s);
  metrics_->ConnectionOpened();
}

void HttpServer::Impl::Unregister(Session* s, const std::string& address) {
  std::lock_guard lock(sessions_mu_);
  if (sessions_.erase(s) > 0) metrics_->ConnectionClosed();
  --admitted_;
  auto it = per_address_.find(address);
  if (it != per_address_.end() && --it->second == 0) per_address_.erase(it);
  sessions_cv_.notify_all();
}

Status HttpServer::Impl::Listen() {
  if (acceptor_.is_open()) return Status::Ok();
  beast::error_code ec;
  acceptor_.open(endpoint_.protocol(), ec);
  if (!ec) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor_.bind(endpoint_, ec);
  if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    beast::error_code ignored;
    acceptor_.close(ignored);
    return Unavailable("cannot listen on " + options_.listen + ": " + ec.message() +
                       "; is another process using the port? change `listen` or free it");
  }
  port_ = acceptor_.local_endpoint().port();
  return Status::Ok();
}

Status HttpServer::Impl::Start() {
  OUTPOST_RETURN_IF_ERROR(Listen());
  DoAccept();
  for (int i = 0; i < std::max(1, options_.io_threads); ++i) {
    threads_.emplace_back([this] { ioc_.run(); });
  }
  return Status::Ok();
}

void HttpServer::Impl::DoAccept() {
  acceptor_.async_accept(asio::make_strand(ioc_), beast::bind_front_handler(&Impl::OnAccept, this));
}

void HttpServer::Impl::OnAccept(beast::error_code ec, StrandSocket socket) {
  if (ec == asio::error::operation_aborted || !acceptor_.is_open()) return;
  if (!ec) {
    // Checked before a session (and its TLS state) exists, so a flood of connections costs
    // little more than the sockets themselves.
    const auto remote = socket.remote_endpoint(ec);
    const std::string address = ec ? std::string() : remote.address().to_string();
    if (!ec && Admit(address)) {
      socket.set_option(tcp::no_delay(true), ec);
      auto session = std::make_shared<Session>(this, std::move(socket), address);
      Register(session.get());
      session->Run();
    } else {
      metrics_->ConnectionRejected();  // over a limit (or gone): the socket closes right away
    }
  } else {
    spdlog::warn("accept failed: {}", ec.message());
  }
  DoAccept();
}

void HttpServer::Impl::Shutdown(std::chrono::milliseconds grace) {
  if (stopped_) return;
  stopped_ = true;
  draining_ = true;
  asio::post(acceptor_.get_executor(), [this] {
    beast::error_code ignored;
    acceptor_.close(ignored);
  });
  {
    std::unique_lock lock(sessions_mu_);
    std::vector<std::shared_ptr<Session>> live;
    for (Session* s : sessions_) {
      // A session may be mid-destruction (refcount zero); weak_from_this tells.
      if (auto sp = s->weak_from_this().lock()) live.push_back(std::move(sp));
    }
    lock.unlock();
    for (auto& s : live) s->Drain();
    live.clear();
    lock.lock();
    sessions_cv_.wait_for(lock, grace, [this] { return sessions_.empty(); });
    if (!sessions_.empty()) {
      spdlog::warn("{} connection(s) still open after the {} ms grace period; closing them",
                   sessions_.size(), grace.count());
    }
  }
  ioc_.stop();
  for (auto& t : threads_) t.join();
  threads_.clear();
}

HttpServer::HttpServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
HttpServer::~HttpServer() { Shutdown(std::chrono::milliseconds(0)); }

Result<std::unique_ptr<HttpServer>> HttpServer::Create(ServerOptions options, TlsOptions tls,
                                                       Router router,
                                                       std::shared_ptr<Metrics> metrics) {
  OUTPOST_ASSIGN_OR_RETURN(tcp::endpoint endpoint, ParseListen(options.listen));
  OUTPOST_ASSIGN_OR_RETURN(auto ctx, MakeTlsContext(tls));
  if (!metrics) metrics = std::make_shared<Metrics>();
  std::vector<std::pair<std::string, std::string>> labels;
  for (const auto& r : router.routes()) labels.emplace_back(r.method, r.pattern);
  metrics->SetRoutes(labels);
  auto impl = std::make_unique<Impl>(std::move(options), std::move(ctx), std::move(router),
                                     std::move(metrics), endpoint);
  return std::unique_ptr<HttpServer>(new HttpServer(std::move(impl)));
}

Status HttpServer::ReloadTls(const TlsOptions& tls) {
  OUTPOST_ASSIGN_OR_RETURN(auto ctx, MakeTlsContext(tls));
  impl_->SetTls(std::move(ctx));
  return Status::Ok();
}

Status HttpServer::Listen() { return impl_->Listen(); }
Status HttpServer::Start() { return impl_->Start(); }
uint16_t HttpServer::port() const { return impl_->port_.load(); }
void HttpServer::Shutdown(std::chrono::milliseconds grace) { impl_->Shutdown(grace); }
Metrics& HttpServer::metrics() { return impl_->metrics(); }

}  // namespace outpost::net
