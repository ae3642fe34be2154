#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "common/crypto/x509.h"

namespace outpost::net {

// One HTTP request as the handlers see it: already parsed, size-checked and decoupled from the
// socket. Header names are lower-case.
struct Request {
  std::string method;  // "GET", "POST", ...
  std::string target;  // path and query as sent, e.g. "/v1/admin/tokens?va=lab"
  std::string path;    // target without the query
  std::map<std::string, std::string> query;
  std::map<std::string, std::string> headers;
  std::map<std::string, std::string> path_params;  // filled by the router from "{name}"
  std::string body;
  std::string remote_address;  // peer IP, without port
  // Set when the client presented a certificate that chains to the satellite CA (mTLS).
  std::optional<crypto::Certificate> client_certificate;

  // Returns the header value or "" when absent. `name` must be lower-case.
  const std::string& Header(const std::string& name) const;
};

struct Response {
  int status = 200;
  std::string content_type;
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  // Close the connection after this response (e.g. after a framing error).
  bool close = false;
};

// Completes a request, exactly once, from any thread: with a Response, or with a function that
// builds it (Later), which the server runs on the connection's own I/O thread — so a handler
// answering from another thread (the database writer) hands over its result and the encoding
// happens where the answer is written, with one hand-over per answer.
class Reply {
 public:
  // Where a reply goes. The server's sink hands the response to the connection's strand.
  class Sink {
   public:
    virtual ~Sink() = default;
    virtual void Send(Response response) = 0;
    // Runs `build` where the answer is written and sends what it returns. By default, here.
    virtual void SendBuilt(std::function<Response()> build) { Send(build()); }
  };

  Reply() = default;
  Reply(std::nullptr_t) {}  // NOLINT: an empty reply, as an empty std::function was
  explicit Reply(std::shared_ptr<Sink> sink) : sink_(std::move(sink)) {}
  // A reply that sends through `send` on the calling thread (tests, hand-built requests).
  template <typename F>
  requires std::is_invocable_v<F&, Response> &&(!std::is_same_v<std::decay_t<F>, Reply>)
      Reply(F send)  // NOLINT: implicit by design, like the std::function it replaces
      : sink_(std::make_shared<FunctionSink<F>>(std::move(send))) {}

  void operator()(Response response) const { sink_->Send(std::move(response)); }
  void Later(std::function<Response()> build) const { sink_->SendBuilt(std::move(build)); }
  explicit operator bool() const { return sink_ != nullptr; }

 private:
  template <typename F>
  class FunctionSink final : public Sink {
   public:
    explicit FunctionSink(F send) : send_(std::move(send)) {}
    void Send(Response response) override { send_(std::move(response)); }

   private:
    F send_;
  };
  std::shared_ptr<Sink> sink_;
};

// Handles one request. May reply synchronously or later (e.g. after a database commit).
using Handler = std::function<void(Request&, Reply)>;

}  // namespace outpost::net
