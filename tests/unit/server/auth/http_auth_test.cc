#include "server/auth/http_auth.h"

#include <gtest/gtest.h>

#include <string>

#include "server/auth/convert.h"
#include "tests/unit/server/auth/auth_test_util.h"

namespace outpost::server::auth {
namespace {

using testing::kOperatorPassword;

class HttpAuthTest : public testing::AuthStoreTest {
 protected:
  void SetUp() override {
    AuthStoreTest::SetUp();
    CreateStandardUsers();
  }

  static net::Request MakeRequest(std::string method) {
    net::Request request;
    request.method = std::move(method);
    request.target = request.path = "/v1/admin/whoami";
    request.remote_address = "203.0.113.5";
    return request;
  }
};

TEST_F(HttpAuthTest, BearerApiKey) {
  auto key = store_->CreateApiKey("oscar", "", Oscar());
  ASSERT_OK(key);
  net::Request request = MakeRequest("POST");
  request.headers["authorization"] = "Bearer " + key->key;
  auto principal = Authenticate(*store_, request);
  ASSERT_OK(principal);
  EXPECT_EQ(principal->user_name, "oscar");
  EXPECT_EQ(principal->credential, "apikey:" + key->record.id);
  // The scheme is case-insensitive; no CSRF token is needed with a bearer key.
  request.headers["authorization"] = "bearer  " + key->key;
  EXPECT_OK(Authenticate(*store_, request));
}

TEST_F(HttpAuthTest, BadBearerKeyIsUnauthenticatedAndAuditedWithTheAddress) {
  net::Request request = MakeRequest("GET");
  request.headers["authorization"] = "Bearer opk_nonsense";
  auto principal = Authenticate(*store_, request);
  ASSERT_FALSE(principal.ok());
  EXPECT_EQ(principal.status().code(), Errc::kUnauthenticated);
  const auto failures = AuditRowsWithAction("auth.failure");
  ASSERT_EQ(failures.size(), 1u);
  EXPECT_NE(failures[0].details.find("203.0.113.5"), std::string::npos);
}

TEST_F(HttpAuthTest, OtherAuthorizationSchemesAreRefused) {
  net::Request request = MakeRequest("GET");
  for (std::string value : {"Basic b3NjYXI6cGFzc3dvcmQ=", "Bearer", "Token abc", ""}) {
    request.headers["authorization"] = value;
    auto principal = Authenticate(*store_, request);
    ASSERT_FALSE(principal.ok()) << value;
    EXPECT_EQ(principal.status().code(), Errc::kUnauthenticated);
  }
  request.headers["authorization"] = "Basic b3NjYXI6cGFzc3dvcmQ=";
  EXPECT_EQ(Authenticate(*store_, request).status().message(),
            "unsupported Authorization header; send \"Authorization: Bearer <API key>\"");
}

TEST_F(HttpAuthTest, NoCredentialsIsUnauthenticated) {
  auto principal = Authenticate(*store_, MakeRequest("GET"));
  ASSERT_FALSE(principal.ok());
  EXPECT_EQ(principal.status().code(), Errc::kUnauthenticated);
  EXPECT_TRUE(principal.status().message().starts_with("authentication required"));
  net::Request other_cookie = MakeRequest("GET");
  other_cookie.headers["cookie"] = "theme=dark";
  EXPECT_EQ(Authenticate(*store_, other_cookie).status().code(), Errc::kUnauthenticated);
}

TEST_F(HttpAuthTest, SessionCookieWithCsrfHeader) {
  auto session = store_->Login("oscar", kOperatorPassword, "203.0.113.5");
  ASSERT_OK(session);
  net::Request get = MakeRequest("GET");
  get.headers["cookie"] = "theme=dark; outpost_session=" + session->cookie + "; lang=en";
  auto principal = Authenticate(*store_, get);
  ASSERT_OK(principal);
  EXPECT_EQ(principal->user_name, "oscar");

  net::Request post = MakeRequest("POST");
  post.headers["cookie"] = "outpost_session=" + session->cookie;
  auto denied = Authenticate(*store_, post);
  ASSERT_FALSE(denied.ok());
  EXPECT_EQ(denied.status().code(), Errc::kPermissionDenied);
  post.headers["x-csrf-token"] = session->csrf_token;
  EXPECT_OK(Authenticate(*store_, post));
}

TEST_F(HttpAuthTest, BearerWinsOverACookie) {
  auto key = store_->CreateApiKey("alice", "", Alice());
  ASSERT_OK(key);
  auto session = store_->Login("oscar", kOperatorPassword, "");
  ASSERT_OK(session);
  net::Request request = MakeRequest("POST");
  request.headers["authorization"] = "Bearer " + key->key;
  request.headers["cookie"] = "outpost_session=" + session->cookie;
  auto principal = Authenticate(*store_, request);
  ASSERT_OK(principal);
  EXPECT_EQ(principal->user_name, "alice");
}

TEST(CookieTest, SetCookieHasTheSecureAttributes) {
  EXPECT_EQ(SessionSetCookie("abc", std::chrono::hours(12)),
            "outpost_session=abc; Path=/; HttpOnly; Secure; SameSite=Strict; Max-Age=43200");
  EXPECT_EQ(ClearSessionSetCookie(),
            "outpost_session=; Path=/; HttpOnly; Secure; SameSite=Strict; Max-Age=0");
}

TEST(CookieTest, CookieValueFindsTheNamedCookie) {
  EXPECT_EQ(CookieValue("a=1; outpost_session=xyz; b=2", "outpost_session"), "xyz");
  EXPECT_EQ(CookieValue("outpost_session=xyz", "outpost_session"), "xyz");
  EXPECT_EQ(CookieValue("a=1;outpost_session = xyz ", "outpost_session"), "xyz");
  EXPECT_EQ(CookieValue("xoutpost_session=1; a=2", "outpost_session"), "");
  EXPECT_EQ(CookieValue("", "outpost_session"), "");
  EXPECT_EQ(CookieValue("outpost_session", "outpost_session"), "");
}

TEST(ConvertTest, WhoAmIListsThePermissionsOfTheRole) {
  Principal auditor;
  auditor.user_name = "alice";
  auditor.role = Role::kAuditor;
  auditor.credential = "apikey:0123456789ab";
  const v1::WhoAmIResponse whoami = ToWhoAmI(auditor);
  EXPECT_EQ(whoami.user(), "alice");
  EXPECT_EQ(whoami.role(), "auditor");
  EXPECT_EQ(whoami.credential(), "apikey:0123456789ab");
  EXPECT_EQ(std::vector<std::string>(whoami.permissions().begin(), whoami.permissions().end()),
            (std::vector<std::string>{"read_licenses", "read_devices", "read_audit", "verify_audit",
                                      "read_reports", "read_users", "read_metrics"}));
  EXPECT_TRUE(whoami.csrf_token().empty());
}

TEST(ConvertTest, ApiKeyListingCarriesNoSecretAndFormatsTimes) {
  ApiKey key;
  key.id = "0123456789ab";
  key.user = "bob";
  key.created_at = FromUnixSeconds(1'780'000'000);
  key.revoked_at = FromUnixSeconds(1'780'000'060);
  const v1::ApiKey out = ToProto(key);
  EXPECT_EQ(out.created_at(), 1'780'000'000);
  EXPECT_EQ(out.created_at_text(), "2026-05-28T20:26:40Z");
  EXPECT_EQ(out.last_used_at(), 0);
  EXPECT_EQ(out.last_used_at_text(), "");
  EXPECT_EQ(out.revoked_at_text(), "2026-05-28T20:27:40Z");
}

}  // namespace
}  // namespace outpost::server::auth
