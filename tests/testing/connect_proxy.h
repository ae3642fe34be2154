#pragma once

// An HTTP CONNECT proxy on 127.0.0.1 (port 0) for tests of the HTTPS client's `proxy_url`: it
// answers each CONNECT with `status` (200 opens the tunnel and relays bytes both ways until
// either side closes), optionally requiring a Proxy-Authorization value (407 without it), and
// records what it was asked. Tunnels to loopback addresses only. Stops on destruction.

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace outpost::testing {

class ConnectProxy {
 public:
  struct Options {
    int status = 200;                         // the answer to CONNECT (200 = tunnel)
    std::string required_authorization = "";  // e.g. "Basic dTpw"; "" = none needed
  };
  explicit ConnectProxy(Options options);
  ~ConnectProxy();
  ConnectProxy(const ConnectProxy&) = delete;
  ConnectProxy& operator=(const ConnectProxy&) = delete;

  uint16_t port() const { return port_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  // The request lines of every CONNECT received ("CONNECT 127.0.0.1:1234 HTTP/1.1").
  std::vector<std::string> requests() const;
  int tunnels() const { return tunnels_.load(); }

 private:
  void Accept();
  void Serve(int client);

  Options options_;
  int listener_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<int> tunnels_{0};
  mutable std::mutex mu_;
  std::vector<std::string> requests_;
  std::vector<std::thread> threads_;
  std::thread acceptor_;
};

}  // namespace outpost::testing
