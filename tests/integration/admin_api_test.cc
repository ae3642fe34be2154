// The admin API of a real satellite: the role table (every route x every role), console
// sessions with CSRF, and secrets never coming back after creation.

#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>

#include <fstream>
#include <regex>
#include <sstream>

#include "common/config/config_file.h"
#include "common/log/logging.h"
#include "common/net/https_client.h"
#include "common/proto_json.h"
#include "outpost/v1/admin_auth.pb.h"
#include "outpost/v1/audit.pb.h"
#include "outpost/v1/common.pb.h"
#include "outpost/v1/tokens.pb.h"
#include "server/api/admin_routes.h"
#include "server/data_dir.h"
#include "server/init.h"
#include "server/satellite.h"
#include "tests/testing/raw_tls.h"
#include "tests/testing/test_util.h"

namespace outpost::server {
namespace {

using api::Access;
using auth::Role;

class AdminApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(log_);
    ASSERT_OK(log::InitLogging(log::LogFormat::kJson, "trace", sink));
    InitOptions options;
    options.data_dir = tmp_.path() / "sat";
    options.scrypt_log2_n = 10;
    ASSERT_OK(config::ApplyOverride(options.config, "listen", "127.0.0.1:0"));
    auto report = InitDataDir(options, clock_);
    ASSERT_OK(report);
    report_ = *report;
    testing::SeedKnownVirtualAccounts(DataDir(dir()).database(), {"default", "branch-east"});
    auto c = config::LoadLayeredConfig(
        DataDir(dir()).config(), dir(),
        [](const std::string&) { return std::optional<std::string>(); }, {});
    ASSERT_OK(c);
    auto sat = Satellite::Open(dir(), *c, clock_);
    ASSERT_OK(sat);
    satellite_ = std::move(*sat);
    ASSERT_OK(satellite_->Start());
  }

  // Serves the same data directory again with `key` = `value` over outpost.toml.
  void Restart(const std::string& key, const std::string& value) {
    satellite_->Shutdown();
    satellite_.reset();
    auto c = config::LoadLayeredConfig(
        DataDir(dir()).config(), dir(),
        [](const std::string&) { return std::optional<std::string>(); }, {});
    ASSERT_OK(c);
    ASSERT_OK(config::ApplyOverride(*c, key, value));
    auto sat = Satellite::Open(dir(), *c, clock_);
    ASSERT_OK(sat);
    satellite_ = std::move(*sat);
    ASSERT_OK(satellite_->Start());
  }

  void TearDown() override {
    if (satellite_) satellite_->Shutdown();
    ASSERT_OK(log::InitLogging(log::LogFormat::kText, "info"));
  }

  std::filesystem::path dir() const { return tmp_.path() / "sat"; }

  std::unique_ptr<net::HttpsClient> Client() {
    net::ClientOptions o;
    o.base_url = "https://127.0.0.1:" + std::to_string(satellite_->port());
    o.ca_pem = testing::ReadFileOrDie(DataDir(dir()).ca_certificate());
    auto c = net::HttpsClient::Create(o);
    EXPECT_TRUE(c.ok()) << c.status().ToString();
    return std::move(*c);
  }

  static std::map<std::string, std::string> Bearer(const std::string& key) {
    return {{"authorization", "Bearer " + key}};
  }

  // Creates a user with `role` and returns an API key for it (through the API, as admin).
  std::string KeyFor(const std::string& name, const std::string& role) {
    auto c = Client();
    v1::CreateUserRequest user;
    user.set_name(name);
    user.set_role(role);
    v1::User created;
    EXPECT_OK(c->Call("POST", "/v1/admin/users", user, &created, Bearer(report_.admin_api_key)));
    v1::CreateApiKeyRequest req;
    req.set_user(name);
    v1::CreateApiKeyResponse key;
    EXPECT_OK(c->Call("POST", "/v1/admin/apikeys", req, &key, Bearer(report_.admin_api_key)));
    return key.key();
  }

  static std::string Concrete(const std::string& pattern) {
    return std::regex_replace(std::regex_replace(pattern, std::regex("\\{name\\}"), "nobody"),
                              std::regex("\\{id\\}"), "000000000000");
  }

  testing::TempDir tmp_;
  std::ostringstream log_;
  SystemClock clock_;
  InitReport report_;
  std::unique_ptr<Satellite> satellite_;
};

TEST_F(AdminApiTest, EveryRouteEnforcesItsRoles) {
  const std::map<Role, std::string> keys = {{Role::kAdmin, report_.admin_api_key},
                                            {Role::kOperator, KeyFor("olga", "operator")},
                                            {Role::kAuditor, KeyFor("audrey", "auditor")}};
  auto c = Client();
  int checked = 0;
  for (const auto& route : api::AdminRouteTable()) {
    const std::string path = Concrete(route.pattern);
    const std::string body = route.method == "GET" || route.method == "DELETE" ? "" : "{}";
    const std::string type = body.empty() ? "" : "application/json";
    if (route.access == Access::kPublic) continue;  // login: see ConsoleSession... below
    auto anonymous = c->Send(route.method, path, body, type);
    ASSERT_OK(anonymous);
    EXPECT_EQ(anonymous->status, 401) << route.method << " " << path << ": " << anonymous->body;
    for (const auto& [role, key] : keys) {
      if (route.pattern == "/v1/admin/logout") continue;  // harmless, but ends nothing here
      auto r = c->Send(route.method, path, body, type, Bearer(key));
      ASSERT_OK(r);
      const bool allowed = route.access == Access::kAuthenticated ||
                           (route.permission && auth::Allows(role, *route.permission));
      SCOPED_TRACE(route.method + " " + path + " as " + std::string(auth::RoleName(role)) + ": " +
                   std::to_string(r->status) + " " + r->body);
      if (allowed) {
        EXPECT_NE(r->status, 401);
        EXPECT_NE(r->status, 403);
      } else {
        EXPECT_EQ(r->status, 403);
        EXPECT_NE(r->body.find("permission_denied"), std::string::npos);
        EXPECT_NE(r->body.find(std::string(auth::RoleName(role))), std::string::npos);
      }
      ++checked;
    }
  }
  EXPECT_GE(checked, 3 * 12);
}

// The sync import route takes bundles of up to 64 MiB, but only from a caller who may sync,
// decided from the header before any body is read (issue 14): an unauthenticated client that
// announces a large body and sends none is answered at once, an auditor is refused too.
TEST_F(AdminApiTest, LargeImportBodiesOnlyFromCallersWhoMaySync) {
  const std::string auditor = KeyFor("audrey", "auditor");
  for (const auto& [credentials, status] : std::vector<std::pair<std::string, int>>{
           {"", 401}, {"Authorization: Bearer " + auditor + "\r\n", 403}}) {
    testing::RawTlsOptions o;
    o.ca_pem = testing::ReadFileOrDie(DataDir(dir()).ca_certificate());
    o.receive_timeout = std::chrono::milliseconds(10'000);
    auto raw = testing::RawTlsConnection::Connect(satellite_->port(), o);
    ASSERT_OK(raw);
    ASSERT_OK((*raw)->Write("POST /v1/admin/sync/import HTTP/1.1\r\nHost: x\r\n" + credentials +
                            "Content-Type: application/octet-stream\r\n"
                            "Content-Length: 50000000\r\n\r\n"));
    auto answer = (*raw)->ReadResponse();
    ASSERT_OK(answer);
    EXPECT_EQ(answer->status, status) << answer->body;
  }
}

// Bogus logins cost a password hash each: they are limited per address, and API-key requests
// never wait behind them (issue 14).
TEST_F(AdminApiTest, LoginsAreLimitedPerAddressAndApiKeysAreNotDelayed) {
  ASSERT_NO_FATAL_FAILURE(Restart("server.login_rate_per_minute", "3"));
  auto c = Client();
  v1::LoginRequest login;
  login.set_user("admin");
  login.set_password("not the password");
  for (int i = 0; i < 3; ++i) {
    auto r = c->Send("POST", "/v1/admin/login", ToJson(login), "application/json");
    ASSERT_OK(r);
    EXPECT_EQ(r->status, 401) << r->body;
  }
  auto limited = c->Send("POST", "/v1/admin/login", ToJson(login), "application/json");
  ASSERT_OK(limited);
  EXPECT_EQ(limited->status, 429) << limited->body;
  EXPECT_NE(limited->headers["retry-after"], "");
  EXPECT_NE(limited->body.find("too many logins from 127.0.0.1"), std::string::npos)
      << limited->body;
  auto whoami = c->Send("GET", "/v1/admin/whoami", "", "", Bearer(report_.admin_api_key));
  ASSERT_OK(whoami);
  EXPECT_EQ(whoami->status, 200) << whoami->body;
}

TEST_F(AdminApiTest, SecurityDocListsEveryRouteWithItsRoles) {
  const std::string doc = testing::ReadFileOrDie(OUTPOST_SOURCE_DIR "/docs/security.md");
  for (const auto& route : api::AdminRouteTable()) {
    std::string roles;
    if (route.access == Access::kPublic) {
      roles = "anyone";
    } else if (route.access == Access::kAuthenticated) {
      roles = "admin, operator, auditor";
    } else {
      for (Role role : {Role::kAdmin, Role::kOperator, Role::kAuditor}) {
        if (!auth::Allows(role, *route.permission)) continue;
        roles += (roles.empty() ? "" : ", ") + std::string(auth::RoleName(role));
      }
    }
    const std::string row = "| `" + route.method + "` | `" + route.pattern + "` | " + roles + " |";
    EXPECT_NE(doc.find(row), std::string::npos) << "docs/security.md lacks the row:\n" << row;
  }
}

TEST_F(AdminApiTest, ConsoleSessionNeedsCsrfForChanges) {
  auto c = Client();
  v1::LoginRequest login;
  login.set_user("admin");
  login.set_password(report_.admin_password);
  auto r = c->Send("POST", "/v1/admin/login", ToJson(login), "application/json");
  ASSERT_OK(r);
  ASSERT_EQ(r->status, 200) << r->body;
  const std::string set_cookie = r->headers["set-cookie"];
  for (const char* attr : {"HttpOnly", "Secure", "SameSite=Strict", "Path=/"}) {
    EXPECT_NE(set_cookie.find(attr), std::string::npos) << set_cookie;
  }
  v1::LoginResponse session;
  ASSERT_OK(FromJson(r->body, &session));
  const std::string cookie = set_cookie.substr(0, set_cookie.find(';'));

  auto who = c->Send("GET", "/v1/admin/whoami", "", "", {{"cookie", cookie}});
  ASSERT_OK(who);
  EXPECT_EQ(who->status, 200);
  EXPECT_NE(who->body.find("\"role\":\"admin\""), std::string::npos) << who->body;

  v1::CreateUserRequest user;
  user.set_name("carol");
  user.set_role("auditor");
  auto no_csrf =
      c->Send("POST", "/v1/admin/users", ToJson(user), "application/json", {{"cookie", cookie}});
  ASSERT_OK(no_csrf);
  EXPECT_EQ(no_csrf->status, 403);
  EXPECT_NE(no_csrf->body.find("CSRF"), std::string::npos) << no_csrf->body;

  auto with_csrf = c->Send("POST", "/v1/admin/users", ToJson(user), "application/json",
                           {{"cookie", cookie}, {"x-csrf-token", session.csrf_token()}});
  ASSERT_OK(with_csrf);
  EXPECT_EQ(with_csrf->status, 201) << with_csrf->body;

  auto wrong = c->Send("POST", "/v1/admin/login", R"({"user":"admin","password":"nope-nope-nope"})",
                       "application/json");
  ASSERT_OK(wrong);
  EXPECT_EQ(wrong->status, 401);
}

TEST_F(AdminApiTest, SecretsNeverComeBackAfterCreation) {
  auto c = Client();
  const std::string key = KeyFor("sam", "operator");
  // "opk_<12 hex id>_<secret>"; the secret is base64url and may itself contain '_'.
  const std::string secret = key.substr(17);
  v1::LoginRequest login;
  login.set_user("admin");
  login.set_password(report_.admin_password);
  auto session = c->Send("POST", "/v1/admin/login", ToJson(login), "application/json");
  ASSERT_OK(session);
  const std::string set_cookie = session->headers["set-cookie"];
  const std::string cookie_value =
      set_cookie.substr(set_cookie.find('=') + 1, set_cookie.find(';') - set_cookie.find('=') - 1);

  v1::CreateTokenRequest token_request;
  token_request.set_va("branch-east");
  v1::CreateTokenResponse token;
  ASSERT_OK(c->Call("POST", "/v1/admin/tokens", token_request, &token, Bearer(key)));
  // "opt_<12 hex id>_<secret>", like an API key.
  const std::string token_secret = token.token().substr(17);

  auto keys = c->Send("GET", "/v1/admin/apikeys?all=true", "", "", Bearer(report_.admin_api_key));
  ASSERT_OK(keys);
  ASSERT_EQ(keys->status, 200);
  auto tokens = c->Send("GET", "/v1/admin/tokens", "", "", Bearer(key));
  ASSERT_OK(tokens);
  ASSERT_EQ(tokens->status, 200);
  EXPECT_NE(tokens->body.find(token.record().id()), std::string::npos) << tokens->body;
  EXPECT_EQ(tokens->body.find(token_secret), std::string::npos) << "token listing leaks a secret";
  auto audit =
      c->Send("GET", "/v1/admin/audit/records?limit=10000", "", "", Bearer(report_.admin_api_key));
  ASSERT_OK(audit);
  ASSERT_EQ(audit->status, 200);
  EXPECT_NE(audit->body.find("apikey.create"), std::string::npos);
  EXPECT_NE(audit->body.find("login.success"), std::string::npos);
  EXPECT_NE(audit->body.find("token.create"), std::string::npos);

  const std::string admin_secret = report_.admin_api_key.substr(17);
  for (const std::string& s :
       {secret, admin_secret, report_.admin_password, cookie_value, token_secret}) {
    ASSERT_GE(s.size(), 16u);
    EXPECT_EQ(keys->body.find(s), std::string::npos) << "key listing leaks a secret";
    EXPECT_EQ(audit->body.find(s), std::string::npos) << "audit trail leaks a secret";
    EXPECT_EQ(log_.str().find(s), std::string::npos) << "log leaks a secret";
  }
  // The database file holds none of them in clear either.
  satellite_->Shutdown();
  const std::string db = testing::ReadFileOrDie(DataDir(dir()).database());
  for (const std::string& s : {secret, admin_secret, report_.admin_password, token_secret}) {
    EXPECT_EQ(db.find(s), std::string::npos);
  }
}

TEST_F(AdminApiTest, AuditTrailVerifiesAfterActivityAndRecordsTheStart) {
  auto c = Client();
  KeyFor("vera", "auditor");
  v1::AuditVerifyResponse verify;
  ASSERT_OK(c->Call("POST", "/v1/admin/audit/verify", v1::Empty(), &verify,
                    Bearer(report_.admin_api_key)));
  EXPECT_TRUE(verify.ok()) << verify.problem();
  EXPECT_GE(verify.records_checked(), 5);
  auto records = c->Send("GET", "/v1/admin/audit/records?action=satellite.&format=csv", "", "",
                         Bearer(report_.admin_api_key));
  ASSERT_OK(records);
  EXPECT_NE(records->body.find("satellite.init"), std::string::npos) << records->body;
  EXPECT_NE(records->body.find("satellite.start"), std::string::npos);
  EXPECT_EQ(records->headers["content-type"].rfind("text/csv", 0), 0u);

  auto bad = c->Send("GET", "/v1/admin/audit/records?since=yesterday", "", "",
                     Bearer(report_.admin_api_key));
  ASSERT_OK(bad);
  EXPECT_EQ(bad->status, 400);
  EXPECT_NE(bad->body.find("since"), std::string::npos) << bad->body;
}

// Issue 14, finding 8: /metrics is open by default; with server.metrics_require_auth it needs
// an API key of any role (read_metrics), and says so.
TEST_F(AdminApiTest, MetricsAreOpenByDefaultAndNeedAKeyWhenConfigured) {
  auto open = Client()->Send("GET", "/metrics", "", "");
  ASSERT_OK(open);
  EXPECT_EQ(open->status, 200);
  const std::string auditor = KeyFor("audrey", "auditor");
  ASSERT_NO_FATAL_FAILURE(Restart("server.metrics_require_auth", "true"));
  auto c = Client();
  auto anonymous = c->Send("GET", "/metrics", "", "");
  ASSERT_OK(anonymous);
  EXPECT_EQ(anonymous->status, 401);
  EXPECT_NE(anonymous->body.find("authentication required"), std::string::npos) << anonymous->body;
  auto bad = c->Send("GET", "/metrics", "", "", Bearer("opk_000000000000_nope"));
  ASSERT_OK(bad);
  EXPECT_EQ(bad->status, 401);
  auto scraped = c->Send("GET", "/metrics", "", "", Bearer(auditor));
  ASSERT_OK(scraped);
  EXPECT_EQ(scraped->status, 200) << scraped->body;
  EXPECT_NE(scraped->body.find("outpost_db_writer_queue_depth"), std::string::npos);
  auto health = c->Send("GET", "/healthz", "", "");  // the probes stay open
  ASSERT_OK(health);
  EXPECT_EQ(health->status, 200);
}

// Issue 14, finding 8 (the Cisco On-Prem CVE-2024-20419 class): changing one's own password
// over the API needs the current one; a wrong one is 403 and counts as a failed login.
TEST_F(AdminApiTest, ChangingOnesOwnPasswordNeedsTheCurrentOne) {
  auto c = Client();
  v1::ChangePasswordRequest change;
  change.set_current_password("not the admin password");
  change.set_new_password("a fresh console passphrase");
  auto wrong = c->Send("POST", "/v1/admin/password", ToJson(change), "application/json",
                       Bearer(report_.admin_api_key));
  ASSERT_OK(wrong);
  EXPECT_EQ(wrong->status, 403);
  EXPECT_NE(wrong->body.find("the current password is wrong"), std::string::npos) << wrong->body;

  v1::SetPasswordRequest set;
  set.set_password("a fresh console passphrase");
  auto own = c->Send("POST", "/v1/admin/users/admin/password", ToJson(set), "application/json",
                     Bearer(report_.admin_api_key));
  ASSERT_OK(own);
  EXPECT_GE(own->status, 400);
  EXPECT_NE(own->body.find("give the current one too"), std::string::npos) << own->body;

  change.set_current_password(report_.admin_password);
  auto right = c->Send("POST", "/v1/admin/password", ToJson(change), "application/json",
                       Bearer(report_.admin_api_key));
  ASSERT_OK(right);
  EXPECT_EQ(right->status, 200) << right->body;
  v1::LoginRequest login;
  login.set_user("admin");
  login.set_password("a fresh console passphrase");
  auto session = c->Send("POST", "/v1/admin/login", ToJson(login), "application/json");
  ASSERT_OK(session);
  EXPECT_EQ(session->status, 200) << session->body;
}

}  // namespace
}  // namespace outpost::server
