#pragma once

#include <google/protobuf/message.h>

#include <string>
#include <string_view>

#include "common/status.h"

namespace outpost {

// The project's one JSON mapping of protobuf messages, used by the HTTP API and `--json`:
// field names as written in the .proto files (snake_case), every field printed even when it
// has its default value, int64 as strings (protobuf's rule), enums by name.
std::string ToJson(const google::protobuf::Message& message, bool pretty = false);

// Parses JSON into `message`. Unknown fields are an error (a typo must not be silently
// ignored); the message names the problem as protobuf reports it.
Status FromJson(std::string_view json, google::protobuf::Message* message);

}  // namespace outpost
