#include "sync/central/central_server.h"

#include <map>
#include <mutex>

#include "common/crypto/secure_file.h"
#include "common/crypto/x509.h"
#include "common/net/codec.h"
#include "common/net/server.h"
#include "common/net/system_routes.h"

namespace outpost::central {

class CentralServer::Impl {
 public:
  Central* central = nullptr;
  CentralServerOptions options;
  std::shared_ptr<net::Metrics> metrics = std::make_shared<net::Metrics>();
  std::unique_ptr<net::HttpServer> server;
  // Read by /metrics at scrape time; written from the writer thread.
  std::shared_ptr<std::atomic<uint64_t>> processed = std::make_shared<std::atomic<uint64_t>>(0);
  std::shared_ptr<std::atomic<uint64_t>> refused = std::make_shared<std::atomic<uint64_t>>(0);
  bool shut_down = false;

  // POST /v1/sync requests in flight per client address (max_sync_in_flight_per_address).
  std::mutex in_flight_mu;
  std::map<std::string, int> sync_in_flight;

  bool TryEnterSync(const std::string& address) {
    std::lock_guard lock(in_flight_mu);
    int& n = sync_in_flight[address];
    if (n >= options.max_sync_in_flight_per_address) {
      if (n == 0) sync_in_flight.erase(address);
      return false;
    }
    ++n;
    return true;
  }
  void LeaveSync(const std::string& address) {
    std::lock_guard lock(in_flight_mu);
    auto it = sync_in_flight.find(address);
    if (it != sync_in_flight.end() && --it->second <= 0) sync_in_flight.erase(it);
  }
};

CentralServer::CentralServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
CentralServer::~CentralServer() { Shutdown(); }

Result<std::unique_ptr<CentralServer>> CentralServer::Create(Central& central,
                                                             CentralServerOptions options) {
  auto impl = std::make_unique<Impl>();
  impl->central = &central;
  if (options.listen.empty()) options.listen = central.listen();
  impl->options = options;
  const CentralDataDir& dir = central.data_dir();

  net::TlsOptions tls;
  OUTPOST_ASSIGN_OR_RETURN(tls.certificate_chain_pem,
                           crypto::ReadSmallFile(dir.tls_certificate(), 1 << 20));
  OUTPOST_ASSIGN_OR_RETURN(auto tls_key, crypto::PrivateKey::LoadFile(dir.tls_key()));
  tls.private_key_pem = tls_key.ToPem();
  tls.min_version = "1.2";

  net::ServerOptions server_options;
  server_options.listen = options.listen;
  server_options.io_threads = options.io_threads;
  // The body limit is the request limit, so an oversized request is refused by the parser
  // before it is read into memory; Central checks it again for files.
  server_options.max_body_bytes = kDefaultMaxRequestBytes;
  server_options.max_body_bytes_in_flight = options.max_body_bytes_in_flight;

  Impl* raw = impl.get();
  raw->metrics->AddCallback("outpost_central_sync_requests_processed_total",
                            "Sync requests answered (including resent answers).", "counter",
                            [p = raw->processed] { return static_cast<double>(p->load()); });
  raw->metrics->AddCallback("outpost_central_sync_requests_refused_total",
                            "Sync requests refused (bad, replayed, unknown or too large).",
                            "counter",
                            [r = raw->refused] { return static_cast<double>(r->load()); });
  raw->metrics->AddCallback(
      "outpost_db_writer_queue_depth", "Units of work waiting for the database writer.", "gauge",
      [raw] { return static_cast<double>(raw->central->writer_stats().queue_depth); });

  net::Router router;
  net::SystemRoutesOptions system;
  system.metrics = raw->metrics;
  system.version = OUTPOST_VERSION;
  // A reader lease and one SHA-256 per scrape, on the I/O thread.
  system.authorize_metrics = [raw](const net::Request& req) {
    return raw->central->CheckMetricsToken(req.Header("authorization"));
  };
  // Refused scrapes are answered in JSON; 403 while no token is set.
  system.refuse_metrics = [](const net::Request&, const Status& why) {
    net::Response refused = net::ErrorResponse(net::WireFormat::kJson, why);
    if (why.code() == Errc::kFailedPrecondition) refused.status = 403;
    if (why.code() == Errc::kUnauthenticated) {
      refused.headers.emplace_back("WWW-Authenticate", "Bearer realm=\"outpost-central\"");
    }
    return refused;
  };
  net::AddSystemRoutes(router, std::move(system));
  router.Add("POST", "/v1/sync", [raw](net::Request& req, net::Reply reply) {
    const std::string type = req.Header("content-type");
    if (!type.empty() && !type.starts_with(net::kProtobufType) &&
        !type.starts_with("application/octet-stream")) {
      raw->refused->fetch_add(1);
      reply(net::ErrorResponse(
          net::WireFormat::kProtobuf,
          Status(Errc::kUnsupportedMediaType,
                 "POST /v1/sync takes a serialized sync request as application/x-protobuf, "
                 "not " +
                     type)));
      return;
    }
    // Errors are answered in protobuf unless the client asked for JSON: the satellite's
    // client sends and accepts protobuf only.
    const net::WireFormat error_format =
        req.Header("accept").find(net::kJsonType) != std::string::npos ? net::WireFormat::kJson
                                                                       : net::WireFormat::kProtobuf;
    if (!raw->TryEnterSync(req.remote_address)) {
      raw->refused->fetch_add(1);
      reply(net::ErrorResponse(
          error_format,
          Unavailable("too many sync requests from " + req.remote_address +
                      " are in flight (at most " +
                      std::to_string(raw->options.max_sync_in_flight_per_address) +
                      "); send it again once an earlier one is answered")));  // + Retry-After
      return;
    }
    const std::string address = req.remote_address;
    raw->central->ProcessSyncRequestAsync(
        std::move(req.body),
        [raw, reply, error_format, address](Result<SyncOutcome> outcome) {
          raw->LeaveSync(address);
          if (!outcome.ok()) {
            raw->refused->fetch_add(1);
            reply(net::ErrorResponse(error_format, outcome.status()));
            return;
          }
          raw->processed->fetch_add(1);
          net::Response response;
          response.content_type = std::string(net::kProtobufType);
          response.body = std::move(outcome->response_bytes);
          reply(std::move(response));
        },
        address);
  });
  OUTPOST_ASSIGN_OR_RETURN(raw->server, net::HttpServer::Create(server_options, std::move(tls),
                                                                std::move(router), raw->metrics));
  return std::unique_ptr<CentralServer>(new CentralServer(std::move(impl)));
}

Status CentralServer::Start() { return impl_->server->Start(); }
uint16_t CentralServer::port() const { return impl_->server->port(); }
const std::string& CentralServer::listen() const { return impl_->options.listen; }

void CentralServer::Shutdown() {
  if (impl_->shut_down) return;
  impl_->shut_down = true;
  impl_->server->Shutdown(impl_->options.shutdown_grace);
}

}  // namespace outpost::central
