#include "server/api/device_routes.h"

#include "common/net/codec.h"
#include "outpost/v1/devices.pb.h"
#include "server/licensing/device_service.h"

namespace outpost::server::api {
namespace {

// Answers a device call once the service is done with it, from whatever thread that is (the
// writer's, for registrations, renewals and releases): the result is handed to the connection's
// I/O thread and encoded there. The request is gone by then, so the format is decided up front.
template <typename Message>
std::function<void(Result<Message>)> Answer(const net::Request& req, net::Reply reply) {
  return [format = net::ResponseFormat(req), reply = std::move(reply)](Result<Message> result) {
    reply.Later([format, result = std::move(result)] {
      if (!result.ok()) return net::ErrorResponse(format, result.status());
      return net::Encode(format, *result);
    });
  };
}

}  // namespace

void AddDeviceRoutes(net::Router& router, licensing::DeviceService* service,
                     std::function<void(std::function<void()>)> run_blocking) {
  router.Add("POST", "/v1/devices/register", [service](net::Request& req, net::Reply reply) {
    v1::RegisterRequest body;
    if (Status s = net::DecodeBody(req, &body); !s.ok()) {
      return reply(net::ErrorResponse(req, s));
    }
    // A device registering again presents an ID certificate of its instance: that proves it owns
    // the registration it replaces — also one a renewal superseded, whose answer the device may
    // never have received. Without one (a new device) the route works as before.
    std::optional<std::string> proven = service->CertifiedInstance(req.client_certificate);
    service->Register(body, req.remote_address, std::move(proven),
                      Answer<v1::RegisterResponse>(req, std::move(reply)));
  });
  router.Add("POST", "/v1/devices/authorize", [service](net::Request& req, net::Reply reply) {
    auto device = service->Identify(req.client_certificate);
    if (!device.ok()) return reply(net::ErrorResponse(req, device.status()));
    v1::AuthorizeRequest body;
    if (Status s = net::DecodeBody(req, &body); !s.ok()) {
      return reply(net::ErrorResponse(req, s));
    }
    // Signed with its writer batch, then encoded and sent on this connection's I/O thread.
    service->Authorize(*device, body, Answer<v1::SignedAuthorization>(req, std::move(reply)));
  });
  router.Add("POST", "/v1/devices/renew", [service](net::Request& req, net::Reply reply) {
    auto device = service->Identify(req.client_certificate);
    if (!device.ok()) return reply(net::ErrorResponse(req, device.status()));
    v1::RenewRequest body;
    if (Status s = net::DecodeBody(req, &body); !s.ok()) {
      return reply(net::ErrorResponse(req, s));
    }
    service->Renew(*device, *req.client_certificate, body,
                   Answer<v1::RegisterResponse>(req, std::move(reply)));
  });
  router.Add("POST", "/v1/devices/release", [service](net::Request& req, net::Reply reply) {
    auto device = service->Identify(req.client_certificate);
    if (!device.ok()) return reply(net::ErrorResponse(req, device.status()));
    service->ReleaseSelf(*device, Answer<v1::ReleaseResponse>(req, std::move(reply)));
  });
  router.Add(
      "GET", "/v1/devices/self",
      [service, run_blocking = std::move(run_blocking)](net::Request& req, net::Reply reply) {
        auto device = service->Identify(req.client_certificate);
        if (!device.ok()) return reply(net::ErrorResponse(req, device.status()));
        // Self reads the device's row: SQL, so off the I/O thread.
        run_blocking(
            [service, device = *device, answer = Answer<v1::Device>(req, std::move(reply))] {
              answer(service->Self(device));
            });
      });
}

}  // namespace outpost::server::api
