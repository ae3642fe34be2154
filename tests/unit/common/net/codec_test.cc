#include "common/net/codec.h"

#include <gtest/gtest.h>

#include "common/proto_json.h"
#include "outpost/v1/common.pb.h"

namespace outpost::net {
namespace {

Request WithBody(std::string content_type, std::string body, std::string accept = "") {
  Request r;
  r.method = "POST";
  if (!content_type.empty()) r.headers["content-type"] = std::move(content_type);
  if (!accept.empty()) r.headers["accept"] = std::move(accept);
  r.body = std::move(body);
  return r;
}

TEST(CodecTest, DecodesJsonWithCharsetParameter) {
  v1::HealthResponse msg;
  ASSERT_TRUE(
      DecodeBody(WithBody("Application/JSON; charset=utf-8", R"({"status":"ok","version":"1"})"),
                 &msg)
          .ok());
  EXPECT_EQ(msg.status(), "ok");
  EXPECT_EQ(msg.version(), "1");
}

TEST(CodecTest, DecodesProtobuf) {
  v1::HealthResponse in;
  in.set_status("x");
  v1::HealthResponse out;
  ASSERT_TRUE(DecodeBody(WithBody("application/x-protobuf", in.SerializeAsString()), &out).ok());
  EXPECT_EQ(out.status(), "x");
}

TEST(CodecTest, GarbageJsonIsInvalidArgumentNamingTheMessage) {
  v1::HealthResponse msg;
  Status s = DecodeBody(WithBody("application/json", "{not json"), &msg);
  EXPECT_EQ(s.code(), Errc::kInvalidArgument);
  EXPECT_NE(s.message().find("HealthResponse"), std::string::npos) << s.message();
}

TEST(CodecTest, UnknownJsonFieldIsRejected) {
  v1::HealthResponse msg;
  Status s = DecodeBody(WithBody("application/json", R"({"statuss":"ok"})"), &msg);
  EXPECT_EQ(s.code(), Errc::kInvalidArgument);
  EXPECT_NE(s.message().find("statuss"), std::string::npos) << s.message();
}

TEST(CodecTest, GarbageProtobufIsInvalidArgument) {
  v1::HealthResponse msg;
  Status s =
      DecodeBody(WithBody("application/x-protobuf", std::string("\xff\xff\xff\xff", 4)), &msg);
  EXPECT_EQ(s.code(), Errc::kInvalidArgument);
}

TEST(CodecTest, OtherContentTypesAreUnsupported) {
  v1::HealthResponse msg;
  for (const char* type : {"text/plain", "application/x-www-form-urlencoded", ""}) {
    Status s = DecodeBody(WithBody(type, "a=b"), &msg);
    EXPECT_EQ(s.code(), Errc::kUnsupportedMediaType) << type;
    EXPECT_NE(s.message().find("application/json"), std::string::npos);
  }
}

TEST(CodecTest, EmptyBodyNeedsNoContentType) {
  v1::HealthResponse msg;
  EXPECT_TRUE(DecodeBody(WithBody("", ""), &msg).ok());
}

TEST(CodecTest, ResponseFormatFollowsAcceptThenRequest) {
  EXPECT_EQ(ResponseFormat(WithBody("", "", "application/x-protobuf")), WireFormat::kProtobuf);
  EXPECT_EQ(ResponseFormat(WithBody("application/x-protobuf", "x", "application/json")),
            WireFormat::kJson);
  EXPECT_EQ(ResponseFormat(WithBody("application/x-protobuf", "x")), WireFormat::kProtobuf);
  EXPECT_EQ(ResponseFormat(WithBody("", "")), WireFormat::kJson);
}

TEST(CodecTest, ErrorBodyCarriesReasonAndMessage) {
  Response r = ErrorResponse(WireFormat::kJson, Status(Errc::kPayloadTooLarge, "too big"));
  EXPECT_EQ(r.status, 413);
  EXPECT_EQ(r.content_type, "application/json");
  v1::ErrorResponse parsed;
  ASSERT_TRUE(FromJson(r.body, &parsed).ok()) << r.body;
  EXPECT_EQ(parsed.error().reason(), "payload_too_large");
  EXPECT_EQ(parsed.error().message(), "too big");

  Response p = ErrorResponse(WireFormat::kProtobuf, NotFound("nope"));
  EXPECT_EQ(p.status, 404);
  ASSERT_TRUE(parsed.ParseFromString(p.body));
  EXPECT_EQ(parsed.error().reason(), "not_found");
}

TEST(CodecTest, UnavailableAnswersSayWhenToComeBackOthersDoNot) {
  Response busy = ErrorResponse(WireFormat::kJson, Unavailable("the database disk is full"));
  EXPECT_EQ(busy.status, 503);
  ASSERT_EQ(busy.headers.size(), 1u);
  EXPECT_EQ(busy.headers[0].first, "Retry-After");
  EXPECT_EQ(busy.headers[0].second, std::to_string(kUnavailableRetryAfterSeconds));
  EXPECT_TRUE(ErrorResponse(WireFormat::kJson, Internal("bug")).headers.empty());
  EXPECT_TRUE(ErrorResponse(WireFormat::kJson, ResourceExhausted("slow down")).headers.empty());
}

// Found by fuzz_http_router (tests/fuzz/regressions/fuzz_http_router/invalid-utf8-in-json-error):
// protobuf's JSON parser quotes the body in its error, so a JSON body that is not UTF-8 gave an
// error answer whose protobuf form the client could not parse.
TEST(CodecTest, ErrorAnswersAreUtf8WhenTheBodyWasNot) {
  v1::HealthResponse msg;
  Request req =
      WithBody("application/json", "{\"status\":\"adm\x91\x9a\":", "application/x-protobuf");
  Status s = DecodeBody(req, &msg);
  ASSERT_FALSE(s.ok());
  Response r = ErrorResponse(req, s);
  EXPECT_EQ(r.content_type, "application/x-protobuf");
  v1::ErrorResponse parsed;
  ASSERT_TRUE(parsed.ParseFromString(r.body));
  EXPECT_EQ(parsed.error().reason(), "invalid_argument");

  // Ill-formed bytes become U+FFFD; well-formed multi-byte characters are kept.
  Response p = ErrorResponse(WireFormat::kProtobuf,
                             InvalidArgument("caf\xc3\xa9 \xff\xc3 \xed\xa0\x80 \xf0\x9f\x98\x80"));
  ASSERT_TRUE(parsed.ParseFromString(p.body));
  EXPECT_EQ(parsed.error().message(),
            "caf\xc3\xa9 \xef\xbf\xbd\xef\xbf\xbd \xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd "
            "\xf0\x9f\x98\x80");
  Response j = ErrorResponse(WireFormat::kJson, InvalidArgument("bad \xff byte"));
  ASSERT_TRUE(FromJson(j.body, &parsed).ok()) << j.body;
  EXPECT_EQ(parsed.error().message(), "bad \xef\xbf\xbd byte");
}

TEST(CodecTest, JsonPrintsDefaultsWithProtoFieldNames) {
  v1::HealthResponse msg;
  msg.set_version("1.0");
  const std::string json = ToJson(msg);
  EXPECT_NE(json.find("\"status\":\"\""), std::string::npos) << json;
  EXPECT_NE(json.find("\"version\":\"1.0\""), std::string::npos) << json;
}

}  // namespace
}  // namespace outpost::net
