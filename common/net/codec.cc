#include "common/net/codec.h"

#include <algorithm>
#include <cctype>

#include "common/proto_json.h"
#include "outpost/v1/common.pb.h"

namespace outpost::net {
namespace {

std::string MediaType(std::string_view header) {
  std::string_view type = header.substr(0, header.find(';'));
  while (!type.empty() && std::isspace(static_cast<unsigned char>(type.back()))) {
    type.remove_suffix(1);
  }
  while (!type.empty() && std::isspace(static_cast<unsigned char>(type.front()))) {
    type.remove_prefix(1);
  }
  std::string out(type);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

Response Serialize(WireFormat format, const google::protobuf::Message& message, int status) {
  Response response;
  response.status = status;
  if (format == WireFormat::kProtobuf) {
    response.content_type = std::string(kProtobufType);
    message.SerializeToString(&response.body);
  } else {
    response.content_type = std::string(kJsonType);
    response.body = ToJson(message);
    response.body.push_back('\n');
  }
  return response;
}

// The length of the well-formed UTF-8 sequence (RFC 3629) at the start of `s`, or 0.
size_t Utf8SequenceLength(std::string_view s) {
  const auto byte = [&s](size_t i) { return static_cast<unsigned char>(s[i]); };
  const auto cont = [&](size_t i, unsigned char lo = 0x80, unsigned char hi = 0xBF) {
    return i < s.size() && byte(i) >= lo && byte(i) <= hi;
  };
  const unsigned char b = byte(0);
  if (b < 0x80) return 1;
  if (b >= 0xC2 && b <= 0xDF) return cont(1) ? 2 : 0;
  if (b >= 0xE0 && b <= 0xEF) {
    const unsigned char lo = b == 0xE0 ? 0xA0 : 0x80, hi = b == 0xED ? 0x9F : 0xBF;
    return cont(1, lo, hi) && cont(2) ? 3 : 0;
  }
  if (b >= 0xF0 && b <= 0xF4) {
    const unsigned char lo = b == 0xF0 ? 0x90 : 0x80, hi = b == 0xF4 ? 0x8F : 0xBF;
    return cont(1, lo, hi) && cont(2) && cont(3) ? 4 : 0;
  }
  return 0;
}

// Error messages quote what the client sent (protobuf's JSON parser quotes the body), which need
// not be UTF-8; a protobuf string field must be, or the client cannot parse the answer. Each
// byte that is not part of a well-formed sequence becomes U+FFFD.
std::string ValidUtf8(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  while (!text.empty()) {
    const size_t n = Utf8SequenceLength(text);
    if (n == 0) {
      out += "\xEF\xBF\xBD";
      text.remove_prefix(1);
    } else {
      out.append(text.substr(0, n));
      text.remove_prefix(n);
    }
  }
  return out;
}

}  // namespace

Result<WireFormat> RequestFormat(const Request& request) {
  const std::string type = MediaType(request.Header("content-type"));
  if (type == kJsonType) return WireFormat::kJson;
  if (type == kProtobufType) return WireFormat::kProtobuf;
  if (type.empty() && request.body.empty()) return WireFormat::kJson;
  return Status(Errc::kUnsupportedMediaType,
                "Content-Type '" + (type.empty() ? std::string("(none)") : type) +
                    "' is not supported; send application/json or application/x-protobuf");
}

WireFormat ResponseFormat(const Request& request) {
  const std::string& accept = request.Header("accept");
  if (!accept.empty()) {
    return accept.find(kProtobufType) != std::string::npos ? WireFormat::kProtobuf
                                                           : WireFormat::kJson;
  }
  auto format = RequestFormat(request);
  return format.ok() ? *format : WireFormat::kJson;
}

Status DecodeBody(const Request& request, google::protobuf::Message* message) {
  OUTPOST_ASSIGN_OR_RETURN(WireFormat format, RequestFormat(request));
  if (request.body.empty()) return Status::Ok();
  if (format == WireFormat::kJson) return FromJson(request.body, message);
  if (!message->ParseFromString(request.body)) {
    return InvalidArgument("body is not a valid protobuf " + message->GetDescriptor()->name() +
                           " (" + std::to_string(request.body.size()) +
                           " bytes could not be parsed)");
  }
  return Status::Ok();
}

Response Encode(const Request& request, const google::protobuf::Message& message, int status) {
  return Serialize(ResponseFormat(request), message, status);
}

Response Encode(WireFormat format, const google::protobuf::Message& message, int status) {
  return Serialize(format, message, status);
}

Response ErrorResponse(WireFormat format, const Status& status) {
  v1::ErrorResponse body;
  body.mutable_error()->set_reason(std::string(status.reason()));
  body.mutable_error()->set_message(ValidUtf8(status.message()));
  Response response = Serialize(format, body, HttpStatusFor(status.code()));
  // Every 503 says when to come back (RFC 9110, 10.2.3). A handler that knows better sets its own
  // Retry-After after this one: the server writes the last value of a header.
  if (status.code() == Errc::kUnavailable) {
    response.headers.emplace_back("Retry-After", std::to_string(kUnavailableRetryAfterSeconds));
  }
  return response;
}

Response ErrorResponse(const Request& request, const Status& status) {
  return ErrorResponse(ResponseFormat(request), status);
}

}  // namespace outpost::net
