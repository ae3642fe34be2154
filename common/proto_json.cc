#include "common/proto_json.h"

#include <google/protobuf/util/json_util.h>

namespace outpost {

std::string ToJson(const google::protobuf::Message& message, bool pretty) {
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  options.always_print_primitive_fields = true;
  options.add_whitespace = pretty;
  std::string out;
  // Printing a well-formed message cannot fail except for invalid UTF-8 in string fields,
  // which our own code never produces; an empty object is the safe fallback.
  if (!google::protobuf::util::MessageToJsonString(message, &out, options).ok()) out = "{}";
  return out;
}

Status FromJson(std::string_view json, google::protobuf::Message* message) {
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = false;
  auto status = google::protobuf::util::JsonStringToMessage(
      google::protobuf::StringPiece(json.data(), json.size()), message, options);
  if (!status.ok()) {
    return InvalidArgument("body is not a valid JSON " + message->GetDescriptor()->name() + ": " +
                           std::string(status.message()));
  }
  return Status::Ok();
}

}  // namespace outpost
