#pragma once

#include <google/protobuf/message.h>

#include "common/net/request.h"
#include "common/status.h"

namespace outpost::net {

inline constexpr std::string_view kJsonType = "application/json";
inline constexpr std::string_view kProtobufType = "application/x-protobuf";

enum class WireFormat { kJson, kProtobuf };

// The format of the request body, from Content-Type (parameters such as charset ignored).
// A request without a body needs no Content-Type. Anything else is kUnsupportedMediaType.
Result<WireFormat> RequestFormat(const Request& request);

// The format to answer in: protobuf when Accept asks for it (or, without Accept, when the
// request itself was protobuf), JSON otherwise.
WireFormat ResponseFormat(const Request& request);

// Decodes the body into `message`. A missing body decodes as an empty message. Errors say
// what was wrong with the body (kInvalidArgument) or its type (kUnsupportedMediaType).
Status DecodeBody(const Request& request, google::protobuf::Message* message);

// Encodes `message` in the negotiated format.
Response Encode(const Request& request, const google::protobuf::Message& message, int status = 200);
// The same in a format negotiated earlier (for answers sent after the request is gone).
Response Encode(WireFormat format, const google::protobuf::Message& message, int status = 200);

// What a 503 answer (kUnavailable: busy, disk full, writer stopping) tells clients to wait.
inline constexpr int kUnavailableRetryAfterSeconds = 5;

// The error body {"error": {"reason", "message"}} with the status from HttpStatusFor; a 503 also
// carries Retry-After: kUnavailableRetryAfterSeconds.
Response ErrorResponse(WireFormat format, const Status& status);
Response ErrorResponse(const Request& request, const Status& status);

}  // namespace outpost::net
