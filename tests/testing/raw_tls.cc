#include "tests/testing/raw_tls.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <csignal>
#include <cstring>

namespace outpost::testing {
namespace {

std::string OpenSslErrors() {
  std::string out;
  while (unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof(buf));
    if (!out.empty()) out += "; ";
    out += buf;
  }
  return out.empty() ? "no OpenSSL error queued" : out;
}

Status LoadPem(SSL_CTX* ctx, const std::string& cert, const std::string& key) {
  BIO* cb = BIO_new_mem_buf(cert.data(), static_cast<int>(cert.size()));
  X509* x = PEM_read_bio_X509(cb, nullptr, nullptr, nullptr);
  BIO_free(cb);
  BIO* kb = BIO_new_mem_buf(key.data(), static_cast<int>(key.size()));
  EVP_PKEY* k = PEM_read_bio_PrivateKey(kb, nullptr, nullptr, nullptr);
  BIO_free(kb);
  const bool ok =
      x && k && SSL_CTX_use_certificate(ctx, x) == 1 && SSL_CTX_use_PrivateKey(ctx, k) == 1;
  X509_free(x);
  EVP_PKEY_free(k);
  return ok ? Status::Ok() : Internal("client certificate: " + OpenSslErrors());
}

}  // namespace

Result<std::unique_ptr<RawTlsConnection>> RawTlsConnection::Connect(uint16_t port,
                                                                    RawTlsOptions options) {
  // OpenSSL writes with write(2): a server that hangs up would kill the test with SIGPIPE.
  signal(SIGPIPE, SIG_IGN);
  std::unique_ptr<RawTlsConnection> c(new RawTlsConnection());
  c->fd_ = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  timeval tv{};
  tv.tv_sec = options.receive_timeout.count() / 1000;
  tv.tv_usec = (options.receive_timeout.count() % 1000) * 1000;
  setsockopt(c->fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  setsockopt(c->fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  if (connect(c->fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    return Unavailable(std::string("connect: ") + std::strerror(errno));
  }
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  c->ctx_ = ctx;
  if (options.allow_legacy) SSL_CTX_set_security_level(ctx, 0);
  if (options.min_version) SSL_CTX_set_min_proto_version(ctx, options.min_version);
  if (options.max_version) SSL_CTX_set_max_proto_version(ctx, options.max_version);
  if (!options.ca_pem.empty()) {
    BIO* b = BIO_new_mem_buf(options.ca_pem.data(), static_cast<int>(options.ca_pem.size()));
    X509* ca = PEM_read_bio_X509(b, nullptr, nullptr, nullptr);
    BIO_free(b);
    X509_STORE_add_cert(SSL_CTX_get_cert_store(ctx), ca);
    X509_free(ca);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
  }
  if (!options.certificate_pem.empty()) {
    OUTPOST_RETURN_IF_ERROR(LoadPem(ctx, options.certificate_pem, options.key_pem));
  }
  SSL* ssl = SSL_new(ctx);
  c->ssl_ = ssl;
  SSL_set_fd(ssl, c->fd_);
  if (SSL_connect(ssl) != 1) return Unavailable("TLS handshake failed: " + OpenSslErrors());
  // Note: with TLS 1.3 the server's verdict on a client certificate arrives after
  // SSL_connect returns, so a refused certificate shows up on the first read.
  return c;
}

RawTlsConnection::~RawTlsConnection() {
  if (ssl_) SSL_free(static_cast<SSL*>(ssl_));
  if (ctx_) SSL_CTX_free(static_cast<SSL_CTX*>(ctx_));
  if (fd_ >= 0) close(fd_);
  ERR_clear_error();
}

Status RawTlsConnection::Write(std::string_view bytes) {
  while (!bytes.empty()) {
    const int n = SSL_write(static_cast<SSL*>(ssl_), bytes.data(), static_cast<int>(bytes.size()));
    if (n <= 0) return Unavailable("write failed: " + OpenSslErrors());
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  return Status::Ok();
}

Result<char> RawTlsConnection::ReadByte() {
  if (pos_ == buffer_.size()) {
    char buf[16384];
    const int n = SSL_read(static_cast<SSL*>(ssl_), buf, sizeof(buf));
    if (n <= 0) return Unavailable("connection closed or read timed out");
    buffer_.assign(buf, static_cast<size_t>(n));
    pos_ = 0;
  }
  return buffer_[pos_++];
}

Result<RawHttpResponse> RawTlsConnection::ReadResponse() {
  std::string head;
  while (head.size() < 4 || head.compare(head.size() - 4, 4, "\r\n\r\n") != 0) {
    OUTPOST_ASSIGN_OR_RETURN(char ch, ReadByte());
    head.push_back(ch);
    if (head.size() > 65536) return InvalidArgument("response header too long");
  }
  RawHttpResponse r;
  const size_t sp = head.find(' ');
  if (sp == std::string::npos) return InvalidArgument("bad status line: " + head);
  r.status = std::atoi(head.c_str() + sp + 1);
  size_t line = head.find("\r\n") + 2;
  while (line < head.size() - 2) {
    const size_t end = head.find("\r\n", line);
    const std::string field = head.substr(line, end - line);
    const size_t colon = field.find(':');
    std::string name = field.substr(0, colon);
    for (char& ch : name) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    std::string value = field.substr(colon + 1);
    while (!value.empty() && value[0] == ' ') value.erase(0, 1);
    r.headers[name] = value;
    line = end + 2;
  }
  const size_t length = std::strtoul(r.headers["content-length"].c_str(), nullptr, 10);
  while (r.body.size() < length) {
    OUTPOST_ASSIGN_OR_RETURN(char ch, ReadByte());
    r.body.push_back(ch);
  }
  return r;
}

bool RawTlsConnection::WaitForClose(std::chrono::milliseconds within) {
  const auto deadline = std::chrono::steady_clock::now() + within;
  char buf[4096];
  while (std::chrono::steady_clock::now() < deadline) {
    const int n = SSL_read(static_cast<SSL*>(ssl_), buf, sizeof(buf));
    if (n > 0) continue;
    const int err = SSL_get_error(static_cast<SSL*>(ssl_), n);
    ERR_clear_error();
    if (err == SSL_ERROR_ZERO_RETURN) return true;
    if (err == SSL_ERROR_WANT_READ ||
        (err == SSL_ERROR_SYSCALL && (errno == EAGAIN || errno == EWOULDBLOCK))) {
      continue;
    }
    return true;  // reset or protocol error: closed as far as we are concerned
  }
  return false;
}

std::string RawTlsConnection::protocol_version() const {
  return SSL_get_version(static_cast<SSL*>(ssl_));
}

std::string RawTlsConnection::peer_certificate_pem() const {
  X509* peer = SSL_get1_peer_certificate(static_cast<SSL*>(ssl_));
  if (peer == nullptr) return "";
  std::string out;
  if (BIO* bio = BIO_new(BIO_s_mem())) {
    if (PEM_write_bio_X509(bio, peer) == 1) {
      char* data = nullptr;
      const long n = BIO_get_mem_data(bio, &data);
      out.assign(data, static_cast<size_t>(n));
    }
    BIO_free(bio);
  }
  X509_free(peer);
  return out;
}

}  // namespace outpost::testing
