#include "common/net/https_client.h"

#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <optional>

#include "common/crypto/encoding.h"
#include "common/proto_json.h"
#include "common/proxy_url.h"
#include "outpost/v1/common.pb.h"

namespace outpost::net {

namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;
using tcp = boost::asio::ip::tcp;
using Deadline = std::chrono::steady_clock::time_point;

namespace {

// What the read buffer may hold that the parser has not consumed: the header (the parser's
// header_limit, 8 KiB), a chunk-size line, a trailer. Body bytes move into the body as they
// arrive, so they never pile up here; but the parser waits for the end of a chunk extension or
// a trailer without a limit of its own, so without this bound a server that never ends one grows
// the buffer at network speed until the deadline (issue 17: 1 GB in 14 s).
constexpr size_t kMaxUnparsedBytes = 64 << 10;

struct Url {
  std::string host;  // without brackets
  std::string port;
  bool is_ip = false;
};

Result<Url> ParseBaseUrl(const std::string& url) {
  constexpr std::string_view kScheme = "https://";
  if (url.rfind(kScheme, 0) != 0) {
    return InvalidArgument("server URL '" + url + "' must start with https://");
  }
  std::string rest = url.substr(kScheme.size());
  if (const size_t slash = rest.find('/'); slash != std::string::npos) rest.resize(slash);
  Url out;
  if (!rest.empty() && rest[0] == '[') {
    const size_t close = rest.find(']');
    if (close == std::string::npos) return InvalidArgument("server URL '" + url + "' is malformed");
    out.host = rest.substr(1, close - 1);
    out.port = close + 2 <= rest.size() ? rest.substr(close + 2) : "";
  } else {
    const size_t colon = rest.rfind(':');
    out.host = rest.substr(0, colon);
    out.port = colon == std::string::npos ? "" : rest.substr(colon + 1);
  }
  if (out.host.empty()) return InvalidArgument("server URL '" + url + "' has no host");
  if (out.port.empty()) out.port = "443";
  beast::error_code ec;
  asio::ip::make_address(out.host, ec);
  out.is_ip = !ec;
  return out;
}

}  // namespace

class HttpsClient::Impl {
 public:
  Impl(ClientOptions options, Url url, std::optional<ProxyUrl> proxy)
      : options_(std::move(options)),
        url_(std::move(url)),
        proxy_(std::move(proxy)),
        ctx_(ssl::context::tls_client) {}

  Status Init() {
    SSL_CTX_set_min_proto_version(ctx_.native_handle(), TLS1_2_VERSION);
    // A server that renegotiates again and again would cost CPU until the request's deadline
    // (tests/flood/client_flood.py, "renegotiation"); nothing here needs renegotiation.
    SSL_CTX_set_options(ctx_.native_handle(), SSL_OP_NO_RENEGOTIATION);
    ctx_.set_verify_mode(ssl::verify_peer);
    beast::error_code ec;
    ctx_.add_certificate_authority(asio::buffer(options_.ca_pem), ec);
    if (ec) return InvalidArgument("CA certificate to trust is not usable: " + ec.message());
    if (!options_.client_certificate_pem.empty()) {
      ctx_.use_certificate_chain(asio::buffer(options_.client_certificate_pem), ec);
      if (!ec) ctx_.use_private_key(asio::buffer(options_.client_key_pem), ssl::context::pem, ec);
      if (ec) return InvalidArgument("client certificate or key is not usable: " + ec.message());
    }
    return Status::Ok();
  }

  // Connects and completes the TLS handshake by `deadline`, the request's (see Send).
  Status Connect(Deadline deadline) {
    stream_.emplace(ioc_, ctx_);
    SSL* ssl = stream_->native_handle();
    if (url_.is_ip) {
      X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), url_.host.c_str());
    } else {
      SSL_set_tlsext_host_name(ssl, url_.host.c_str());
      SSL_set1_host(ssl, url_.host.c_str());
    }
    beast::error_code ec;
    auto& lowest = beast::get_lowest_layer(*stream_);
    lowest.expires_at(deadline);
    tcp::resolver resolver(ioc_);
    // Through a proxy, the TCP connection goes to the proxy, which then opens the tunnel.
    const std::string& host = proxy_ ? proxy_->host : url_.host;
    const std::string& port = proxy_ ? proxy_->port : url_.port;
    const std::string& peer = proxy_ ? "proxy " + proxy_->display : options_.base_url;
    auto endpoints = resolver.resolve(host, port, ec);
    if (ec) return Unavailable("cannot resolve " + peer + ": " + ec.message());
    lowest.async_connect(endpoints, [&](beast::error_code e, const tcp::endpoint&) { ec = e; });
    RunOps();
    if (ec) {
      stream_.reset();
      return Unavailable("cannot connect to " + peer + ": " + ec.message() +
                         (proxy_ ? "; check sync.proxy" : "; is the server running?"));
    }
    if (proxy_) {
      if (Status tunnel = OpenTunnel(); !tunnel.ok()) {
        stream_.reset();
        return tunnel;
      }
    }
    stream_->async_handshake(ssl::stream_base::client, [&](beast::error_code e) { ec = e; });
    RunOps();
    if (ec == beast::error::timeout) {
      stream_.reset();
      return TimedOut("no TLS handshake with ");
    }
    if (ec) {
      std::string detail = ec.message();
      stream_.reset();
      return Unavailable("TLS handshake with " + options_.base_url + " failed: " + detail +
                         "; check that --ca names the CA that issued the server certificate");
    }
    return Status::Ok();
  }

  Result<ClientResponse> SendOnce(bhttp::request<bhttp::string_body>& req, Deadline deadline,
                                  bool* retryable) {
    *retryable = false;
    beast::error_code ec;
    auto& lowest = beast::get_lowest_layer(*stream_);
    lowest.expires_at(deadline);
    bhttp::async_write(*stream_, req, [&](beast::error_code e, size_t) { ec = e; });
    RunOps();
    bhttp::response_parser<bhttp::string_body> parser;
    parser.body_limit(options_.max_response_bytes);
    if (!ec) {
      bhttp::async_read(*stream_, buffer_, parser, [&](beast::error_code e, size_t) { ec = e; });
      RunOps();
    }
    if (ec) {
      // A kept-alive connection the server already closed fails on first use: reconnect once.
      *retryable =
          reused_ && (ec == bhttp::error::end_of_stream || ec == asio::error::eof ||
                      ec == asio::error::connection_reset || ec == ssl::error::stream_truncated ||
                      ec == asio::error::broken_pipe);
      stream_.reset();
      if (ec == beast::error::timeout) return TimedOut("no answer from ");
      if (ec == bhttp::error::buffer_overflow) {
        return Unavailable("the answer from " + options_.base_url +
                           " has a header, chunk or trailer line longer than " +
                           std::to_string(kMaxUnparsedBytes) + " bytes");
      }
      return Unavailable("request to " + options_.base_url + " failed: " + ec.message());
    }
    auto res = parser.release();
    ClientResponse out;
    out.status = static_cast<int>(res.result_int());
    for (const auto& field : res) {
      std::string name(field.name_string());
      for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      out.headers[name] = std::string(field.value());
    }
    out.content_type = out.headers["content-type"];
    out.body = std::move(res.body());
    if (!res.keep_alive()) stream_.reset();
    reused_ = stream_.has_value();
    return out;
  }

  Result<ClientResponse> Send(const std::string& method, const std::string& target,
                              const std::string& body, const std::string& content_type,
                              const std::map<std::string, std::string>& headers) {
    bhttp::request<bhttp::string_body> req;
    req.method_string(method);
    req.target(target);
    req.version(11);
    req.set(bhttp::field::host, url_.host);
    req.set(bhttp::field::user_agent, "outpost");
    if (!content_type.empty()) req.set(bhttp::field::content_type, content_type);
    for (const auto& [name, value] : headers) req.set(name, value);
    req.body() = body;
    req.prepare_payload();
    // One deadline for the whole request (connecting, the handshake, writing, reading, and the
    // one reconnection), so that options_.timeout bounds it: a server that completes the
    // handshake just in time must not get another timeout's worth to answer.
    const Deadline deadline = std::chrono::steady_clock::now() + options_.timeout;
    for (int attempt = 0; attempt < 2; ++attempt) {
      if (!stream_) {
        reused_ = false;
        OUTPOST_RETURN_IF_ERROR(Connect(deadline));
      }
      bool retryable = false;
      auto result = SendOnce(req, deadline, &retryable);
      if (result.ok() || !retryable) return result;
    }
    return Unavailable("request to " + options_.base_url + " failed twice; try again");
  }

  void Disconnect() {
    if (!stream_) return;
    beast::error_code ignored;
    beast::get_lowest_layer(*stream_).socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream_.reset();
  }

 private:
  // CONNECT HOST:PORT through the proxy on the connected stream's TCP layer (the deadline is
  // already set); OK once it answers 2xx, after which the stream carries TLS to the server.
  Status OpenTunnel() {
    auto& tcp_stream = beast::get_lowest_layer(*stream_);
    const std::string authority =
        (url_.host.find(':') != std::string::npos ? "[" + url_.host + "]" : url_.host) + ":" +
        url_.port;
    bhttp::request<bhttp::empty_body> req{bhttp::verb::connect, authority, 11};
    req.set(bhttp::field::host, authority);
    req.set(bhttp::field::user_agent, "outpost");
    if (!proxy_->credentials.empty()) {
      req.set(bhttp::field::proxy_authorization,
              "Basic " + crypto::Base64Encode(proxy_->credentials));
    }
    beast::error_code ec;
    bhttp::async_write(tcp_stream, req, [&](beast::error_code e, size_t) { ec = e; });
    RunOps();
    // The answer to CONNECT has a header only; what follows it is the tunnel.
    bhttp::response_parser<bhttp::empty_body> parser;
    parser.skip(true);
    beast::flat_buffer buffer{kMaxUnparsedBytes};
    if (!ec) {
      bhttp::async_read_header(tcp_stream, buffer, parser,
                               [&](beast::error_code e, size_t) { ec = e; });
      RunOps();
    }
    const std::string where = "proxy " + proxy_->display;
    if (ec == beast::error::timeout) return TimedOut("no tunnel through " + where + " to ");
    if (ec)
      return Unavailable(where + " did not open a tunnel to " + authority + ": " + ec.message());
    const unsigned status = parser.get().result_int();
    if (status == 407) {
      return Unavailable(where + " wants credentials (HTTP 407) for a tunnel to " + authority +
                         "; put them in sync.proxy as http://USER:PASSWORD@HOST:PORT");
    }
    if (status / 100 != 2) {
      return Unavailable(where + " refused a tunnel to " + authority + ": HTTP " +
                         std::to_string(status) + " " + std::string(parser.get().reason()) +
                         "; check that it allows CONNECT to that host and port");
    }
    if (buffer.size() != 0) {
      return Unavailable(where + " sent data before the TLS handshake through its tunnel to " +
                         authority);
    }
    return Status::Ok();
  }

  Status TimedOut(const std::string& what) const {
    return Status(Errc::kDeadlineExceeded, what + options_.base_url + " within " +
                                               std::to_string(options_.timeout.count()) + " ms");
  }

  void RunOps() {
    ioc_.restart();
    ioc_.run();
  }

  ClientOptions options_;
  Url url_;
  std::optional<ProxyUrl> proxy_;
  asio::io_context ioc_;
  ssl::context ctx_;
  std::optional<beast::ssl_stream<beast::tcp_stream>> stream_;
  beast::flat_buffer buffer_{kMaxUnparsedBytes};
  bool reused_ = false;
};

HttpsClient::HttpsClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
HttpsClient::~HttpsClient() = default;

Result<std::unique_ptr<HttpsClient>> HttpsClient::Create(ClientOptions options) {
  OUTPOST_ASSIGN_OR_RETURN(Url url, ParseBaseUrl(options.base_url));
  std::optional<ProxyUrl> proxy;
  if (!options.proxy_url.empty()) {
    OUTPOST_ASSIGN_OR_RETURN(proxy, ParseProxyUrl(options.proxy_url));
  }
  auto impl = std::make_unique<Impl>(std::move(options), std::move(url), std::move(proxy));
  OUTPOST_RETURN_IF_ERROR(impl->Init());
  return std::unique_ptr<HttpsClient>(new HttpsClient(std::move(impl)));
}

Result<ClientResponse> HttpsClient::Send(const std::string& method, const std::string& target,
                                         const std::string& body, const std::string& content_type,
                                         const std::map<std::string, std::string>& headers) {
  return impl_->Send(method, target, body, content_type, headers);
}

Status HttpsClient::Call(const std::string& method, const std::string& target,
                         const google::protobuf::Message& request,
                         google::protobuf::Message* response,
                         const std::map<std::string, std::string>& headers) {
  auto h = headers;
  h["accept"] = "application/x-protobuf";
  OUTPOST_ASSIGN_OR_RETURN(ClientResponse res, Send(method, target, request.SerializeAsString(),
                                                    "application/x-protobuf", h));
  if (res.status < 200 || res.status >= 300) return StatusFromResponse(res);
  if (!response->ParseFromString(res.body)) {
    return DataLoss("the server's answer to " + method + " " + target + " is not a valid " +
                    response->GetDescriptor()->name());
  }
  return Status::Ok();
}

void HttpsClient::Disconnect() { impl_->Disconnect(); }

Status StatusFromResponse(const ClientResponse& response) {
  v1::ErrorResponse error;
  bool parsed = false;
  if (response.content_type.find("application/x-protobuf") != std::string::npos) {
    parsed = error.ParseFromString(response.body) && error.has_error();
  } else if (response.content_type.find("application/json") != std::string::npos) {
    parsed = FromJson(response.body, &error).ok() && error.has_error();
  }
  if (parsed) return Status(ErrcFromReason(error.error().reason()), error.error().message());
  Errc code = Errc::kInternal;
  for (int i = 1; i <= static_cast<int>(Errc::kDeadlineExceeded); ++i) {
    if (HttpStatusFor(static_cast<Errc>(i)) == response.status) {
      code = static_cast<Errc>(i);
      break;
    }
  }
  return Status(code, "server answered HTTP " + std::to_string(response.status));
}

}  // namespace outpost::net
