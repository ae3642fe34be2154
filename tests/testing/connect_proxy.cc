#include "tests/testing/connect_proxy.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cstdlib>

namespace outpost::testing {
namespace {

// Polls in slices so that every loop notices `stopping` within 100 ms.
constexpr int kPollMs = 100;

bool SendAll(int fd, const char* data, size_t size) {
  while (size > 0) {
    const ssize_t n = ::send(fd, data, size, MSG_NOSIGNAL);
    if (n <= 0) return false;
    data += n;
    size -= static_cast<size_t>(n);
  }
  return true;
}

std::string HeaderValue(const std::string& head, const std::string& name) {
  // Case-insensitive search for "\r\nname:".
  std::string lower = head;
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  const size_t at = lower.find("\r\n" + name + ":");
  if (at == std::string::npos) return "";
  size_t begin = at + 2 + name.size() + 1;
  while (begin < head.size() && head[begin] == ' ') ++begin;
  const size_t end = head.find("\r\n", begin);
  return head.substr(begin, end - begin);
}

}  // namespace

ConnectProxy::ConnectProxy(Options options) : options_(std::move(options)) {
  listener_ = ::socket(AF_INET, SOCK_STREAM, 0);
  if (listener_ < 0) std::abort();
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(listener_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      ::listen(listener_, 16) != 0) {
    std::abort();
  }
  socklen_t len = sizeof(addr);
  ::getsockname(listener_, reinterpret_cast<sockaddr*>(&addr), &len);
  port_ = ntohs(addr.sin_port);
  acceptor_ = std::thread([this] { Accept(); });
}

ConnectProxy::~ConnectProxy() {
  stopping_ = true;
  acceptor_.join();
  for (auto& t : threads_) t.join();
  ::close(listener_);
}

std::vector<std::string> ConnectProxy::requests() const {
  std::lock_guard lock(mu_);
  return requests_;
}

void ConnectProxy::Accept() {
  while (!stopping_) {
    pollfd p{listener_, POLLIN, 0};
    if (::poll(&p, 1, kPollMs) <= 0) continue;
    const int client = ::accept(listener_, nullptr, nullptr);
    if (client < 0) continue;
    std::lock_guard lock(mu_);
    threads_.emplace_back([this, client] { Serve(client); });
  }
}

void ConnectProxy::Serve(int client) {
  // The request head, up to its blank line (bounded).
  std::string head;
  std::array<char, 4096> buf{};
  while (head.find("\r\n\r\n") == std::string::npos && head.size() < 16384 && !stopping_) {
    pollfd p{client, POLLIN, 0};
    if (::poll(&p, 1, kPollMs) <= 0) continue;
    const ssize_t n = ::recv(client, buf.data(), buf.size(), 0);
    if (n <= 0) break;
    head.append(buf.data(), static_cast<size_t>(n));
  }
  const size_t line_end = head.find("\r\n");
  const std::string line = head.substr(0, line_end);
  {
    std::lock_guard lock(mu_);
    requests_.push_back(line);
  }
  auto answer = [&](int status, const std::string& reason, const std::string& extra = "") {
    const std::string text = "HTTP/1.1 " + std::to_string(status) + " " + reason + "\r\n" + extra +
                             "Content-Length: 0\r\n\r\n";
    SendAll(client, text.data(), text.size());
  };
  // "CONNECT 127.0.0.1:PORT HTTP/1.1": loopback targets only.
  constexpr std::string_view kPrefix = "CONNECT 127.0.0.1:";
  if (line.rfind(kPrefix, 0) != 0) {
    answer(403, "Forbidden");
    ::close(client);
    return;
  }
  if (!options_.required_authorization.empty() &&
      HeaderValue(head, "proxy-authorization") != options_.required_authorization) {
    answer(407, "Proxy Authentication Required", "Proxy-Authenticate: Basic realm=\"test\"\r\n");
    ::close(client);
    return;
  }
  if (options_.status != 200) {
    answer(options_.status, "Refused");
    ::close(client);
    return;
  }
  const int port = std::atoi(line.c_str() + kPrefix.size());
  const int upstream = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (::connect(upstream, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    answer(502, "Bad Gateway");
    ::close(upstream);
    ::close(client);
    return;
  }
  const std::string ok = "HTTP/1.1 200 Connection established\r\n\r\n";
  SendAll(client, ok.data(), ok.size());
  ++tunnels_;
  // Relay both ways until either side closes or the proxy stops.
  pollfd fds[2] = {{client, POLLIN, 0}, {upstream, POLLIN, 0}};
  bool open = true;
  while (open && !stopping_) {
    if (::poll(fds, 2, kPollMs) <= 0) continue;
    for (int i = 0; i < 2 && open; ++i) {
      if ((fds[i].revents & (POLLIN | POLLHUP | POLLERR)) == 0) continue;
      const ssize_t n = ::recv(fds[i].fd, buf.data(), buf.size(), 0);
      open = n > 0 && SendAll(fds[1 - i].fd, buf.data(), static_cast<size_t>(n));
    }
  }
  ::close(upstream);
  ::close(client);
}

}  // namespace outpost::testing
