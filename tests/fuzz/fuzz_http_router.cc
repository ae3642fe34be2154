// An HTTP request after Beast parsed it: the router finds the route (path patterns, query
// parsing, percent-decoding) and the handler decodes the body as JSON or protobuf by
// Content-Type into the message that route takes (net::DecodeBody), then answers in the
// negotiated format, as the real handlers do. The request is built by hand, without sockets.
//
// Input layout (FuzzedDataProvider): method, target, Content-Type and Accept choices, then the
// body. Properties: a decoded body encodes and decodes again to the same message; every error
// answer is a well-formed ErrorResponse in its format.
#include <fuzzer/FuzzedDataProvider.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/net/codec.h"
#include "common/net/router.h"
#include "common/proto_json.h"
#include "outpost/v1/admin_auth.pb.h"
#include "outpost/v1/common.pb.h"
#include "outpost/v1/devices.pb.h"
#include "outpost/v1/licensing.pb.h"
#include "outpost/v1/satellite_sync.pb.h"
#include "outpost/v1/sync.pb.h"
#include "outpost/v1/tokens.pb.h"
#include "tests/fuzz/fuzz_util.h"

namespace {

using namespace outpost;
using google::protobuf::Message;

void CheckErrorBody(const net::Response& response) {
  v1::ErrorResponse error;
  if (response.content_type.starts_with(net::kProtobufType)) {
    fuzz::Check(error.ParseFromString(response.body), "protobuf error answer does not parse");
  } else {
    fuzz::Check(FromJson(response.body, &error).ok(), "JSON error answer does not parse");
  }
}

// A handler that decodes its body as `Body`, like every admin and device route.
template <typename Body>
net::Handler Decoding() {
  return [](net::Request& req, net::Reply reply) {
    Body body;
    if (Status s = net::DecodeBody(req, &body); !s.ok()) {
      net::Response response = net::ErrorResponse(req, s);
      CheckErrorBody(response);
      return reply(std::move(response));
    }
    // What was accepted survives the other format and back.
    net::Response json = net::Encode(net::WireFormat::kJson, body);
    Body from_json;
    fuzz::Check(FromJson(json.body, &from_json).ok(), "an accepted body's JSON does not parse");
    net::Response proto = net::Encode(net::WireFormat::kProtobuf, body);
    Body from_proto;
    fuzz::Check(from_proto.ParseFromString(proto.body), "an accepted body's protobuf fails");
    fuzz::Check(from_proto.SerializeAsString() == proto.body, "protobuf round trip changed it");
    reply(net::Encode(req, body));
  };
}

net::Handler NoBody() {
  return [](net::Request& req, net::Reply reply) { reply(net::Encode(req, v1::Empty())); };
}

const net::Router& TheRouter() {
  static const net::Router* router = [] {
    auto* r = new net::Router();
    // The device API (server/api/device_routes.cc) and system routes.
    r->Add("POST", "/v1/devices/register", Decoding<v1::RegisterRequest>());
    r->Add("POST", "/v1/devices/authorize", Decoding<v1::AuthorizeRequest>());
    r->Add("POST", "/v1/devices/release", NoBody());
    r->Add("GET", "/v1/devices/self", NoBody());
    r->Add("GET", "/healthz", NoBody());
    r->Add("GET", "/readyz", NoBody());
    r->Add("GET", "/metrics", NoBody());
    // The admin API (server/api/admin_routes.cc, AdminRouteTable) with the bodies it decodes.
    r->Add("POST", "/v1/admin/login", Decoding<v1::LoginRequest>());
    r->Add("POST", "/v1/admin/logout", NoBody());
    r->Add("GET", "/v1/admin/whoami", NoBody());
    r->Add("GET", "/v1/admin/users", NoBody());
    r->Add("POST", "/v1/admin/users", Decoding<v1::CreateUserRequest>());
    r->Add("POST", "/v1/admin/password", Decoding<v1::ChangePasswordRequest>());
    r->Add("POST", "/v1/admin/users/{name}/password", Decoding<v1::SetPasswordRequest>());
    r->Add("POST", "/v1/admin/users/{name}/disable", NoBody());
    r->Add("POST", "/v1/admin/users/{name}/enable", NoBody());
    r->Add("GET", "/v1/admin/apikeys", NoBody());
    r->Add("POST", "/v1/admin/apikeys", Decoding<v1::CreateApiKeyRequest>());
    r->Add("DELETE", "/v1/admin/apikeys/{id}", NoBody());
    r->Add("GET", "/v1/admin/tokens", NoBody());
    r->Add("POST", "/v1/admin/tokens", Decoding<v1::CreateTokenRequest>());
    r->Add("DELETE", "/v1/admin/tokens/{id}", NoBody());
    r->Add("GET", "/v1/admin/licenses", NoBody());
    r->Add("GET", "/v1/admin/devices", NoBody());
    r->Add("POST", "/v1/admin/devices/{id}/release", NoBody());
    r->Add("POST", "/v1/admin/devices/{id}/rehost", Decoding<v1::RehostDeviceRequest>());
    r->Add("POST", "/v1/admin/licenses/move", Decoding<v1::MoveLicensesRequest>());
    r->Add("GET", "/v1/admin/licenses/moves", NoBody());
    r->Add("GET", "/v1/admin/virtual-accounts", NoBody());
    r->Add("GET", "/v1/admin/reservations", NoBody());
    r->Add("POST", "/v1/admin/reservations", Decoding<v1::ReservationRequest>());
    r->Add("POST", "/v1/admin/reservations/remove", Decoding<v1::ReservationRequest>());
    r->Add("POST", "/v1/admin/sync/export", NoBody());
    r->Add("POST", "/v1/admin/sync/import", NoBody());
    r->Add("POST", "/v1/admin/sync/now", NoBody());
    r->Add("GET", "/v1/admin/sync/status", NoBody());
    r->Add("POST", "/v1/admin/conversions", Decoding<v1::ConvertRequest>());
    r->Add("GET", "/v1/admin/conversions", NoBody());
    r->Add("GET", "/v1/admin/audit/records", NoBody());
    r->Add("GET", "/v1/admin/audit/head", NoBody());
    r->Add("POST", "/v1/admin/audit/verify", NoBody());
    r->Add("POST", "/v1/admin/audit/checkpoint", NoBody());
    r->Add("GET", "/v1/admin/audit/checkpoints", NoBody());
    r->Add("POST", "/v1/admin/audit/compare-heads", Decoding<v1::CentralAuditHeadList>());
    return r;
  }();
  return *router;
}

const char* const kMethods[] = {"GET", "POST", "DELETE", "PUT", "HEAD", "PATCH", ""};
const char* const kContentTypes[] = {
    "",
    "application/json",
    "application/x-protobuf",
    "application/json; charset=utf-8",
    "Application/X-Protobuf ; q=1",
    "text/plain",
    "application/json;",
};
const char* const kAccepts[] = {"", "application/x-protobuf", "application/json", "*/*",
                                "application/json, application/x-protobuf;q=0.5"};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider in(data, size);
  net::Request req;
  req.method = in.PickValueInArray(kMethods);
  req.target = in.ConsumeRandomLengthString(256);
  const size_t q = req.target.find('?');
  req.path = req.target.substr(0, q);
  if (q != std::string::npos)
    req.query = net::ParseQuery(std::string_view(req.target).substr(q + 1));
  (void)net::PercentDecode(req.path);
  if (std::string ct = in.PickValueInArray(kContentTypes); !ct.empty()) {
    req.headers["content-type"] = in.ConsumeBool() ? ct : in.ConsumeRandomLengthString(64);
  }
  if (std::string accept = in.PickValueInArray(kAccepts); !accept.empty()) {
    req.headers["accept"] = accept;
  }
  req.body = in.ConsumeRemainingBytesAsString();
  req.remote_address = "192.0.2.1";

  (void)net::RequestFormat(req);
  (void)net::ResponseFormat(req);
  net::Router::Match match = TheRouter().Find(req);
  if (match.handler == nullptr) {
    fuzz::Check(match.route_index == -1, "no handler but a route index");
    return 0;
  }
  fuzz::Check(
      match.route_index >= 0 && match.route_index < static_cast<int>(TheRouter().routes().size()),
      "route index out of range");
  bool answered = false;
  (*match.handler)(req, [&answered](net::Response) { answered = true; });
  fuzz::Check(answered, "handler did not answer");
  return 0;
}
