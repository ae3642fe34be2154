// outpost-loadgen: simulated devices against a satellite (or, for the baseline, any HTTPS server
// such as nginx answering `return 200`). See docs/benchmarks.md.
//
// Modes:
//   register   POST /v1/devices/register (token + CSR) over keep-alive connections, no client
//              certificate; --save-identities keeps each device's certificate and key.
//   authorize  POST /v1/devices/authorize over keep-alive mTLS connections; connection i presents
//              identity i mod n (the satellite binds a connection to one device).
//   heartbeat  the same call for a floating tag (a lease renewal); usually run at a fixed rate.
//   handshake  a new TCP + TLS connection (with a client certificate, no session resumption)
//              for every GET /healthz, closed after the answer.
// Load: --connections C in a closed loop, or --rate R requests/s spread over the connections
// (open loop: latency counts from when a request was due, so a slow server cannot hide its
// queueing — no coordinated omission). The run stops itself after --duration (or --requests).

#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <chrono>
#include <csignal>
#include <fstream>
#include <iostream>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

#include "outpost/v1/devices.pb.h"
#include "tests/bench/loadgen/identities.h"
#include "tests/bench/loadgen/stats.h"

namespace outpost::bench {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;
using SteadyClock = std::chrono::steady_clock;
constexpr auto kNoThrow = net::as_tuple(net::use_awaitable);

struct Options {
  std::string target = "127.0.0.1:8443";
  std::string ca_file;
  std::string mode = "authorize";
  std::string label;
  int connections = 16;
  int threads = 1;
  double duration_s = 10;
  double warmup_s = 1;
  double rate = 0;
  size_t requests = 0;
  int timeout_ms = 5000;
  std::string identities_file;
  std::string save_identities;
  std::string token;
  std::string serial_prefix = "bench";
  std::string key_algorithm = "ecdsa-p256-sha256";
  std::vector<std::string> tags = {"bench.tag.0000"};
  bool check = false;
  std::string json_out;
};

enum class Mode { kRegister, kAuthorize, kHandshake };

// Everything the connections share. Read-only once the run started, except the atomics and the
// saved identities (under saved_mu).
struct Run {
  Options options;
  Mode mode = Mode::kAuthorize;
  std::string host;
  tcp::endpoint endpoint;
  std::unique_ptr<ssl::context> tls;
  std::vector<DeviceIdentity> identities;
  std::vector<PendingDevice> pending;
  std::string authorize_body;
  SteadyClock::time_point start, measure_from, end;
  std::atomic<size_t> next_registration{0};
  std::mutex saved_mu;
  std::vector<std::pair<std::string, std::string>> saved;  // guarded by saved_mu
};

struct Worker {
  net::io_context io{1};
  Stats stats;
  SteadyClock::time_point last_completion{};
};

using Stream = beast::ssl_stream<beast::tcp_stream>;

std::string ErrorKind(const std::string& stage, const beast::error_code& ec) {
  if (ec == beast::error::timeout) return stage + "_timeout";
  return stage;
}

// Opens a TLS connection presenting `identity` (when set). Returns the failure kind or "".
net::awaitable<std::string> Connect(Run& run, std::optional<Stream>& stream,
                                    const DeviceIdentity* identity) {
  auto executor = co_await net::this_coro::executor;
  stream.emplace(executor, *run.tls);
  SSL* native = stream->native_handle();
  // The server certificate must name the address we dialled (as a device would check).
  X509_VERIFY_PARAM* param = SSL_get0_param(native);
  if (X509_VERIFY_PARAM_set1_ip_asc(param, run.host.c_str()) != 1) {
    SSL_set1_host(native, run.host.c_str());
  }
  if (identity != nullptr) {
    SSL_use_certificate(native, identity->certificate.get());
    SSL_use_PrivateKey(native, identity->key.get());
  }
  auto& tcp_stream = beast::get_lowest_layer(*stream);
  tcp_stream.expires_after(std::chrono::milliseconds(run.options.timeout_ms));
  auto [connect_ec] = co_await tcp_stream.async_connect(run.endpoint, kNoThrow);
  if (connect_ec) co_return ErrorKind("connect", connect_ec);
  tcp_stream.socket().set_option(tcp::no_delay(true));
  auto [handshake_ec] = co_await stream->async_handshake(ssl::stream_base::client, kNoThrow);
  if (handshake_ec) co_return ErrorKind("handshake", handshake_ec);
  co_return "";
}

http::request<http::string_body> MakeRequest(Run& run, size_t registration) {
  http::request<http::string_body> req;
  req.version(11);
  req.set(http::field::host, run.host);
  switch (run.mode) {
    case Mode::kRegister: {
      v1::RegisterRequest body;
      body.set_token(run.options.token);
      body.set_pid("BENCH");
      body.set_serial(run.options.serial_prefix + "-" + std::to_string(registration));
      body.set_hostname("bench-" + std::to_string(registration));
      body.set_csr_pem(run.pending[registration].csr_pem);
      req.method(http::verb::post);
      req.target("/v1/devices/register");
      req.body() = body.SerializeAsString();
      break;
    }
    case Mode::kAuthorize:
      req.method(http::verb::post);
      req.target("/v1/devices/authorize");
      req.body() = run.authorize_body;
      break;
    case Mode::kHandshake:
      req.method(http::verb::get);
      req.target("/healthz");
      break;
  }
  if (!req.body().empty()) req.set(http::field::content_type, "application/x-protobuf");
  req.set(http::field::accept, "application/x-protobuf");
  req.keep_alive(run.mode != Mode::kHandshake);
  req.prepare_payload();
  return req;
}

// Checks a 200 answer; returns the failure kind or "".
std::string CheckAnswer(Run& run, const std::string& body, size_t registration) {
  if (run.mode == Mode::kRegister) {
    v1::RegisterResponse answer;
    if (!answer.ParseFromString(body) || answer.certificate_pem().empty()) return "bad_answer";
    if (!run.options.save_identities.empty()) {
      std::lock_guard lock(run.saved_mu);
      run.saved.emplace_back(answer.certificate_pem(), run.pending[registration].key_pem);
    }
    return "";
  }
  if (run.mode == Mode::kAuthorize && run.options.check) {
    v1::SignedAuthorization answer;
    if (!answer.ParseFromString(body)) return "bad_answer";
    for (const v1::TagAuthorization& t : answer.authorization().tags()) {
      if (t.status() != "AUTHORIZED") return "tag_" + t.status();
    }
  }
  return "";
}

net::awaitable<void> RunConnection(Run& run, Worker& worker, int index) {
  auto executor = co_await net::this_coro::executor;
  net::steady_timer timer(executor);
  std::optional<Stream> stream;
  beast::flat_buffer buffer;
  const DeviceIdentity* identity =
      run.identities.empty() ? nullptr
                             : &run.identities[static_cast<size_t>(index) % run.identities.size()];
  const bool open_loop = run.options.rate > 0;
  // Each connection carries rate/C requests per second, staggered so they do not fire together.
  const auto interval = std::chrono::duration_cast<SteadyClock::duration>(
      std::chrono::duration<double>(open_loop ? run.options.connections / run.options.rate : 0));
  SteadyClock::time_point next_due =
      run.start + std::chrono::duration_cast<SteadyClock::duration>(
                      std::chrono::duration<double>(open_loop ? index / run.options.rate : 0));
  if (!open_loop) {
    timer.expires_at(run.start);
    co_await timer.async_wait(kNoThrow);
  }
  while (true) {
    SteadyClock::time_point due;
    if (open_loop) {
      due = next_due;
      next_due += interval;
      if (due >= run.end) break;
      if (due > SteadyClock::now()) {
        timer.expires_at(due);
        co_await timer.async_wait(kNoThrow);
      }
    }
    if (SteadyClock::now() >= run.end) break;
    size_t registration = 0;
    if (run.mode == Mode::kRegister) {
      registration = run.next_registration.fetch_add(1);
      if (registration >= run.pending.size()) break;
    }
    if (!open_loop) due = SteadyClock::now();

    if (!stream) {
      std::string failure = co_await Connect(run, stream, identity);
      if (!failure.empty()) {
        worker.stats.RecordError(failure);
        stream.reset();
        // Do not spin on a refused port; the loop still ends at run.end.
        timer.expires_after(std::chrono::milliseconds(10));
        co_await timer.async_wait(kNoThrow);
        continue;
      }
    }
    auto& tcp_stream = beast::get_lowest_layer(*stream);
    http::request<http::string_body> req = MakeRequest(run, registration);
    tcp_stream.expires_after(std::chrono::milliseconds(run.options.timeout_ms));
    auto [write_ec, written] = co_await http::async_write(*stream, req, kNoThrow);
    (void)written;
    if (write_ec) {
      worker.stats.RecordError(ErrorKind("write", write_ec));
      stream.reset();
      continue;
    }
    http::response_parser<http::string_body> parser;
    parser.body_limit(1 << 20);
    auto [read_ec, read] = co_await http::async_read(*stream, buffer, parser, kNoThrow);
    (void)read;
    if (read_ec) {
      worker.stats.RecordError(ErrorKind("read", read_ec));
      stream.reset();
      buffer.clear();
      continue;
    }
    const auto done = SteadyClock::now();
    http::response<http::string_body>& res = parser.get();
    std::string failure;
    if (res.result_int() != 200) {
      failure = "http_" + std::to_string(res.result_int());
    } else {
      failure = CheckAnswer(run, res.body(), registration);
    }
    if (done >= run.measure_from && done <= run.end) {
      if (failure.empty()) {
        const auto us = std::chrono::duration_cast<std::chrono::microseconds>(done - due).count();
        worker.stats.RecordOk(static_cast<uint32_t>(std::min<int64_t>(us, UINT32_MAX)));
        worker.last_completion = std::max(worker.last_completion, done);
      } else {
        worker.stats.RecordError(failure);
      }
    }
    if (run.mode == Mode::kHandshake || !res.keep_alive()) {
      // No close_notify exchange: a device dropping the connection is the common case, and
      // waiting for the peer's close_notify would measure teardown, not handshakes.
      beast::error_code ignored;
      tcp_stream.socket().close(ignored);
      stream.reset();
      buffer.clear();
    }
  }
  if (stream) {
    beast::error_code ignored;
    beast::get_lowest_layer(*stream).socket().close(ignored);
  }
}

Status Prepare(Run& run) {
  Options& o = run.options;
  if (o.mode == "register") {
    run.mode = Mode::kRegister;
  } else if (o.mode == "authorize" || o.mode == "heartbeat") {
    run.mode = Mode::kAuthorize;
  } else if (o.mode == "handshake") {
    run.mode = Mode::kHandshake;
  } else {
    return InvalidArgument("--mode must be register, authorize, heartbeat or handshake");
  }
  if (o.label.empty()) o.label = o.target;
  const size_t colon = o.target.rfind(':');
  if (colon == std::string::npos) return InvalidArgument("--target must be HOST:PORT");
  run.host = o.target.substr(0, colon);
  beast::error_code ec;
  const auto address = net::ip::make_address(run.host, ec);
  if (ec) return InvalidArgument("--target host must be an IP address (no name lookups)");
  if (!address.is_loopback()) {
    // The benchmark never sends traffic off this machine.
    return InvalidArgument("--target must be a loopback address, not " + run.host);
  }
  run.endpoint =
      tcp::endpoint(address, static_cast<uint16_t>(std::stoi(o.target.substr(colon + 1))));

  run.tls = std::make_unique<ssl::context>(ssl::context::tls_client);
  SSL_CTX_set_min_proto_version(run.tls->native_handle(), TLS1_2_VERSION);
  run.tls->load_verify_file(o.ca_file, ec);
  if (ec) return InvalidArgument("cannot load --ca " + o.ca_file + ": " + ec.message());
  run.tls->set_verify_mode(ssl::verify_peer);

  if (run.mode == Mode::kRegister) {
    if (o.token.empty() || o.requests == 0) {
      return InvalidArgument("register mode needs --token and --requests N");
    }
    OUTPOST_ASSIGN_OR_RETURN(run.pending,
                             MakePendingDevices(o.requests, o.key_algorithm, o.threads + 1));
    o.warmup_s = 0;  // every registration counts: the count is bounded, not the time
  } else {
    if (o.identities_file.empty()) {
      return InvalidArgument(o.mode + " mode needs --identities FILE (from register mode)");
    }
    OUTPOST_ASSIGN_OR_RETURN(run.identities, LoadIdentities(o.identities_file));
  }
  v1::AuthorizeRequest authorize;
  for (const std::string& tag : o.tags) {
    v1::TagUse* use = authorize.add_tags();
    use->set_tag(tag);
    use->set_count(1);
  }
  run.authorize_body = authorize.SerializeAsString();
  return Status::Ok();
}

int Main(int argc, char** argv) {
  Run run;
  Options& o = run.options;
  CLI::App app{"Simulated devices against an Outpost satellite (or an HTTPS baseline)",
               "outpost-loadgen"};
  app.add_option("--target", o.target, "HOST:PORT on loopback")->required();
  app.add_option("--ca", o.ca_file, "CA file the server certificate chains to")->required();
  app.add_option("--mode", o.mode, "register | authorize | heartbeat | handshake");
  app.add_option("--label", o.label, "Name of this run in the report");
  app.add_option("--connections", o.connections, "Concurrent connections")
      ->check(CLI::PositiveNumber);
  app.add_option("--threads", o.threads, "I/O threads")->check(CLI::Range(1, 64));
  app.add_option("--duration", o.duration_s, "Measured seconds (after the warm-up)");
  app.add_option("--warmup", o.warmup_s, "Seconds run before measuring");
  app.add_option("--rate", o.rate, "Requests/s in total (0: closed loop at --connections)");
  app.add_option("--requests", o.requests, "register: number of devices to register");
  app.add_option("--timeout-ms", o.timeout_ms, "Per connect, handshake, write and read");
  app.add_option("--identities", o.identities_file, "Certificates and keys (register writes them)");
  app.add_option("--save-identities", o.save_identities, "register: append identities here");
  app.add_option("--token", o.token, "register: registration token");
  app.add_option("--serial-prefix", o.serial_prefix, "register: serial numbers are PREFIX-N");
  app.add_option("--key-algorithm", o.key_algorithm, "register: ecdsa-p256-sha256 or ed25519");
  app.add_option("--tag", o.tags, "authorize/heartbeat: tag to use (repeatable)");
  app.add_flag("--check", o.check, "authorize: parse answers and count non-AUTHORIZED tags");
  app.add_option("--json", o.json_out, "Write the report as JSON to this file ('-': stdout)");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  if (Status s = Prepare(run); !s.ok()) {
    std::cerr << "outpost-loadgen: " << s.ToString() << "\n";
    return 2;
  }

  std::vector<std::unique_ptr<Worker>> workers;
  for (int t = 0; t < o.threads; ++t) workers.push_back(std::make_unique<Worker>());
  // Start together a moment from now, after every connection was spawned.
  run.start = SteadyClock::now() + std::chrono::milliseconds(50);
  run.measure_from = run.start + std::chrono::duration_cast<SteadyClock::duration>(
                                     std::chrono::duration<double>(o.warmup_s));
  run.end = run.measure_from + std::chrono::duration_cast<SteadyClock::duration>(
                                   std::chrono::duration<double>(o.duration_s));
  for (int c = 0; c < o.connections; ++c) {
    Worker& w = *workers[static_cast<size_t>(c % o.threads)];
    net::co_spawn(w.io, RunConnection(run, w, c), net::detached);
  }
  std::vector<std::thread> threads;
  for (auto& w : workers) threads.emplace_back([&w] { w->io.run(); });
  for (std::thread& t : threads) t.join();

  Stats total;
  SteadyClock::time_point last = run.measure_from;
  for (auto& w : workers) {
    total.Merge(std::move(w->stats));
    last = std::max(last, w->last_completion);
  }
  Report report;
  report.label = o.label;
  report.mode = o.mode;
  report.target = "https://" + o.target;
  report.connections = o.connections;
  report.threads = o.threads;
  report.rate_requested = o.rate;
  // A bounded run (register) ends with its last answer, not at the deadline.
  const auto window_end = run.mode == Mode::kRegister ? std::min(last, run.end) : run.end;
  report.window_s = std::chrono::duration<double>(window_end - run.measure_from).count();
  std::cout << FormatText(report, total) << std::endl;
  if (!o.json_out.empty()) {
    const std::string json = FormatJson(report, total);
    if (o.json_out == "-") {
      std::cout << json << std::endl;
    } else {
      std::ofstream(o.json_out) << json << "\n";
    }
  }
  if (!o.save_identities.empty() && !run.saved.empty()) {
    if (Status s = SaveIdentities(o.save_identities, run.saved); !s.ok()) {
      std::cerr << "outpost-loadgen: " << s.ToString() << "\n";
      return 1;
    }
  }
  return total.ok() > 0 ? 0 : 1;
}

}  // namespace
}  // namespace outpost::bench

int main(int argc, char** argv) {
  std::signal(SIGPIPE, SIG_IGN);
  try {
    return outpost::bench::Main(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << "outpost-loadgen: internal error: " << e.what() << "\n";
    return 1;
  }
}
