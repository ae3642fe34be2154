// The admin routes the console reads (docs/console-api.md), against a real satellite enrolled to
// the reference central, with devices registered and authorized through the device library: the
// overview and its alarms, usage with its forecast, device search and paging, a device's and a
// tag's detail, sync history, the armored export and import, newest-first audit pages and the
// broken record `verify` names; wrong roles, no credentials, bad parameters, unknown ids and
// garbage cursors.

#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <set>

#include "client/device_client.h"
#include "common/crypto/encoding.h"
#include "common/proto_json.h"
#include "outpost/v1/admin_auth.pb.h"
#include "outpost/v1/audit.pb.h"
#include "outpost/v1/common.pb.h"
#include "outpost/v1/licensing.pb.h"
#include "outpost/v1/tokens.pb.h"
#include "server/audit/export.h"
#include "sync/bundle/armor.h"
#include "tests/integration/sync_world.h"

namespace outpost::sync_testing {
namespace {

class ConsoleApiTest : public SyncE2eTest {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(StartCentral({}));
    a_ = StartSatellite("a");
    ASSERT_TRUE(a_);
    RoundTrip(*a_);
    // An auditor to read with.
    v1::CreateUserRequest user;
    user.set_name("audrey");
    user.set_role("auditor");
    v1::User created;
    ASSERT_OK(a_->client->Call("POST", "/v1/admin/users", user, &created, a_->Auth()));
    v1::CreateApiKeyRequest key_request;
    key_request.set_user("audrey");
    v1::CreateApiKeyResponse key;
    ASSERT_OK(a_->client->Call("POST", "/v1/admin/apikeys", key_request, &key, a_->Auth()));
    auditor_key_ = key.key();
  }

  std::string Token(const std::string& va) {
    v1::CreateTokenRequest request;
    request.set_va(va);
    v1::CreateTokenResponse token;
    EXPECT_OK(a_->client->Call("POST", "/v1/admin/tokens", request, &token, a_->Auth()));
    return token.token();
  }

  // Registers a device with the device library and has it authorize `tags`; its instance id.
  std::string Device(const std::string& token, const std::string& pid, const std::string& serial,
                     const std::string& hostname, std::vector<v1::TagUse> tags) {
    client::RegisterOptions o;
    o.server_url = "https://127.0.0.1:" + std::to_string(a_->satellite->port());
    o.ca_pem = testing::ReadFileOrDie(DataDir(a_->dir).ca_certificate());
    o.token = token;
    o.pid = pid;
    o.serial = serial;
    o.hostname = hostname;
    o.state_dir = tmp_.path() / ("device-" + pid + "-" + serial);
    client::DeviceClientOptions co;
    co.clock = std::shared_ptr<const Clock>(std::shared_ptr<void>(), &clock_);
    auto device = client::DeviceClient::Register(o, co);
    EXPECT_OK(device);
    if (!device.ok()) return "";
    if (!tags.empty()) {
      auto authorized = device->Authorize(tags);
      EXPECT_OK(authorized);
    }
    return device->registration().instance_id();
  }

  static v1::TagUse Use(const std::string& tag, int64_t count) {
    v1::TagUse use;
    use.set_tag(tag);
    use.set_count(count);
    return use;
  }

  // Three devices in "default" (two hold fw.base) and a reservation and a move of fw.base.
  void Populate() {
    const std::string token = Token("default");
    core_ = Device(token, "ROUTER", "SN1", "Core-1.example.net", {Use("fw.base", 2)});
    edge_ = Device(token, "ROUTER", "SN2", "edge-2.example.net", {Use("fw.base", 1)});
    lab_ = Device(token, "SWITCH", "X9", "<img src=x onerror=alert(1)>", {});
    v1::ReservationRequest reserve;
    reserve.set_va("default");
    reserve.set_tag("fw.base");
    reserve.set_udi("SWITCH:X9");
    reserve.set_count(1);
    v1::Reservation reserved;
    ASSERT_OK(a_->client->Call("POST", "/v1/admin/reservations", reserve, &reserved, a_->Auth()));
    v1::MoveLicensesRequest move;
    move.set_from_va("default");
    move.set_to_va("lab");
    move.set_tag("fw.base");
    move.set_count(1);
    v1::MoveLicensesResponse moved;
    ASSERT_OK(a_->client->Call("POST", "/v1/admin/licenses/move", move, &moved, a_->Auth()));
  }

  net::ClientResponse As(const std::string& key, const std::string& method,
                         const std::string& target, const std::string& body = "",
                         const std::string& type = "") {
    std::map<std::string, std::string> headers;
    if (!key.empty()) headers["authorization"] = "Bearer " + key;
    auto r = a_->client->Send(method, target, body, type, headers);
    EXPECT_OK(r);
    return r.ok() ? *r : net::ClientResponse();
  }

  template <typename M>
  M Json(const net::ClientResponse& r) {
    M out;
    EXPECT_EQ(r.status, 200) << r.body;
    EXPECT_OK(FromJson(r.body, &out));
    return out;
  }

  // The error reason of a JSON error answer.
  static std::string Reason(const net::ClientResponse& r) {
    v1::ErrorResponse e;
    if (!FromJson(r.body, &e).ok()) return "(not an error body: " + r.body + ")";
    return e.error().reason();
  }

  std::vector<std::string> SearchIds(const std::string& query) {
    auto page = Json<v1::ListDevicesResponse>(
        As(a_->report.admin_api_key, "GET", "/v1/admin/devices?" + query));
    std::vector<std::string> ids;
    for (const auto& d : page.devices()) ids.push_back(d.instance_id());
    return ids;
  }

  std::string auditor_key_;
  std::string core_, edge_, lab_;
};

TEST_F(ConsoleApiTest, OverviewShowsIdentityDevicesSyncAndCompliance) {
  ASSERT_NO_FATAL_FAILURE(Populate());
  // last_seen_at reaches the table at the sweep's minute or at a stop: restart to have it.
  RestartSatellite(*a_);
  const auto r = As(auditor_key_, "GET", "/v1/admin/overview");
  // Field names as the contract spells them.
  for (const char* key : {"\"satellite\"", "\"key_fingerprint\"", "\"tls_certificate_not_after\"",
                          "\"satellite_certificate_not_after\"", "\"active_24h\"",
                          "\"last_sync_at\"", "\"next_due_at\"", "\"tags_in_compliance\""}) {
    EXPECT_NE(r.body.find(key), std::string::npos) << key << " in " << r.body;
  }
  const auto o = Json<v1::ConsoleOverview>(r);
  EXPECT_EQ(o.satellite().name(), a_->report.satellite_id);
  EXPECT_EQ(o.satellite().account(), "Acme Corp");
  EXPECT_NE(o.satellite().key_fingerprint(), "");
  EXPECT_TRUE(ParseRfc3339(o.satellite().tls_certificate_not_after()).ok());
  EXPECT_TRUE(ParseRfc3339(o.satellite().satellite_certificate_not_after()).ok());
  EXPECT_EQ(o.devices().registered(), 3);
  EXPECT_EQ(o.devices().active_24h(), 2);  // the third never authorized
  EXPECT_EQ(o.sync().mode(), "offline");
  EXPECT_EQ(o.sync().last_sync_at(), a_->Status().last_import_at_text());
  EXPECT_EQ(o.sync().next_due_at(), a_->Status().valid_until_text());
  EXPECT_FALSE(o.sync().overdue());
  EXPECT_EQ(o.alarms_size(), 0);
  std::map<std::string, v1::ConsoleOverview::Compliance> per_va;
  for (const auto& c : o.compliance()) per_va[c.va()] = c;
  ASSERT_EQ(per_va.count("default"), 1u);
  ASSERT_EQ(per_va.count("lab"), 1u);
  int64_t tags = 0;
  for (const auto& [key, pool] : a_->Licenses()) tags += pool.va() == "default";
  EXPECT_EQ(per_va["default"].tags_in_compliance() + per_va["default"].tags_out_of_compliance(),
            tags);
}

TEST_F(ConsoleApiTest, OverdueSyncRaisesAnAlarmThatSaysWhatToDo) {
  const std::string valid_until = a_->Status().valid_until_text();
  clock_.Advance(central::kDefaultResponseValidity + std::chrono::hours(1));
  const auto o = Json<v1::ConsoleOverview>(As(auditor_key_, "GET", "/v1/admin/overview"));
  EXPECT_TRUE(o.sync().overdue());
  ASSERT_EQ(o.alarms_size(), 1);
  EXPECT_EQ(o.alarms(0).code(), "SYNC_OVERDUE");
  EXPECT_EQ(o.alarms(0).since(), valid_until);
  EXPECT_NE(o.alarms(0).message().find("expired"), std::string::npos) << o.alarms(0).message();
  EXPECT_NE(o.alarms(0).action().find("Sync page"), std::string::npos) << o.alarms(0).action();
  EXPECT_NE(o.alarms(0).action().find("outpost sync export"), std::string::npos);
}

TEST_F(ConsoleApiTest, UsageChartsSamplesWithHighWaterAndForecast) {
  ASSERT_NO_FATAL_FAILURE(Populate());
  // SeedUsage wrote 3 and 5 in the two hours before this one; 3 are in use now.
  const auto u = Json<v1::UsageResponse>(
      As(auditor_key_, "GET", "/v1/admin/usage?va=default&tag=fw.base&range=24h"));
  EXPECT_EQ(u.va(), "default");
  EXPECT_EQ(u.tag(), "fw.base");
  EXPECT_EQ(u.range(), "24h");
  ASSERT_EQ(u.points_size(), 3);
  EXPECT_EQ(u.points(0).in_use(), 3);
  EXPECT_EQ(u.points(1).in_use(), 5);
  EXPECT_EQ(u.points(2).in_use(), 3);
  const int64_t purchased = a_->Purchased("default/fw.base");
  for (const auto& p : u.points()) EXPECT_EQ(p.purchased(), purchased);
  EXPECT_EQ(u.high_water().in_use(), 5);
  EXPECT_EQ(u.high_water().at(), u.points(1).at());
  // 3, 5, 3 an hour apart: the least-squares slope is 0 — flat, not heading for exhaustion.
  EXPECT_NEAR(u.forecast().trend_per_day(), 0.0, 1e-6);
  EXPECT_EQ(u.forecast().days_until_exhausted(), -1);
  EXPECT_NE(u.forecast().message().find("not heading for exhaustion"), std::string::npos);

  // Rising: 1 then 2 licenses in the two hours before, 3 now: +1 an hour, 24 a day.
  {
    auto db = sqlite::Connection::Open(DataDir(a_->dir).database());
    ASSERT_OK(db);
    ASSERT_OK(
        db->Exec("UPDATE usage_samples SET max_in_use = max_in_use - 2 "
                 "WHERE va = 'default' AND tag = 'fw.base'"));
  }
  const auto rising = Json<v1::UsageResponse>(
      As(auditor_key_, "GET", "/v1/admin/usage?va=default&tag=fw.base&range=7d"));
  EXPECT_NEAR(rising.forecast().trend_per_day(), 24.0, 1e-6);
  const auto pool = a_->Licenses()["default/fw.base"];
  const int64_t days = (pool.available() + 23) / 24;
  EXPECT_EQ(rising.forecast().days_until_exhausted(), days);
  EXPECT_NE(rising.forecast().message().find("runs out"), std::string::npos)
      << rising.forecast().message();
  // 30 days and a year are daily: one point for today.
  const auto daily = Json<v1::UsageResponse>(
      As(auditor_key_, "GET", "/v1/admin/usage?va=default&tag=fw.base&range=1y"));
  EXPECT_LE(daily.points_size(), 2);
  EXPECT_GE(daily.points_size(), 1);

  for (const auto& [query, status] :
       std::vector<std::pair<std::string, int>>{{"va=default&tag=fw.base&range=2w", 400},
                                                {"va=default&range=24h", 400},
                                                {"va=nowhere&tag=fw.base", 404},
                                                {"va=default&tag=no.such.tag", 404}}) {
    const auto r = As(auditor_key_, "GET", "/v1/admin/usage?" + query);
    EXPECT_EQ(r.status, status) << query << ": " << r.body;
  }
}

TEST_F(ConsoleApiTest, DeviceSearchFindsByUdiHostnameAndTagAndPages) {
  ASSERT_NO_FATAL_FAILURE(Populate());
  EXPECT_EQ(SearchIds("udi=router:"), (std::vector<std::string>{core_, edge_}));
  EXPECT_EQ(SearchIds("hostname=CORE"), (std::vector<std::string>{core_}));
  EXPECT_EQ(SearchIds("q=edge"), (std::vector<std::string>{edge_}));
  EXPECT_EQ(SearchIds("q=switch"), (std::vector<std::string>{lab_}));
  std::vector<std::string> holders = {core_, edge_};
  std::sort(holders.begin(), holders.end());  // the tag's holders come by instance id
  EXPECT_EQ(SearchIds("tag=fw.base"), holders);
  EXPECT_EQ(SearchIds("q=r&tag=fw.base&va=default").size(), 2u);
  // The hostname stays text, as registered.
  const auto page =
      Json<v1::ListDevicesResponse>(As(auditor_key_, "GET", "/v1/admin/devices?q=switch"));
  ASSERT_EQ(page.devices_size(), 1);
  EXPECT_EQ(page.devices(0).hostname(), "<img src=x onerror=alert(1)>");
  EXPECT_EQ(page.next_after(), "");

  // One device a page, following next_after, gives every device once.
  std::vector<std::string> paged;
  std::string after;
  for (int i = 0; i < 10; ++i) {
    const auto p = Json<v1::ListDevicesResponse>(
        As(auditor_key_, "GET", "/v1/admin/devices?limit=1&after=" + after));
    for (const auto& d : p.devices()) paged.push_back(d.instance_id());
    EXPECT_EQ(p.truncated(), !p.next_after().empty());
    if (p.next_after().empty()) break;
    after = p.next_after();
  }
  EXPECT_EQ(std::set<std::string>(paged.begin(), paged.end()),
            (std::set<std::string>{core_, edge_, lab_}));
  EXPECT_EQ(paged.size(), 3u);
  // The CLI's page size still works; bad ones do not.
  EXPECT_EQ(As(auditor_key_, "GET", "/v1/admin/devices?limit=10000").status, 200);
  for (const std::string& query :
       {std::string("limit=0"), std::string("limit=10001"), std::string("limit=ten"),
        std::string("after=garbage!"), std::string("after=AAAA"),
        std::string("q=") + std::string(300, 'a')}) {
    const auto r = As(auditor_key_, "GET", "/v1/admin/devices?" + query);
    EXPECT_EQ(r.status, 400) << query << ": " << r.body;
    EXPECT_EQ(Reason(r), "invalid_argument") << r.body;
  }
  // A cursor is bound to its search, and tampering shows.
  const auto first =
      Json<v1::ListDevicesResponse>(As(auditor_key_, "GET", "/v1/admin/devices?q=router&limit=1"));
  ASSERT_NE(first.next_after(), "");
  auto other =
      As(auditor_key_, "GET", "/v1/admin/devices?q=edge&limit=1&after=" + first.next_after());
  EXPECT_EQ(other.status, 400) << other.body;
  EXPECT_NE(other.body.find("other filters"), std::string::npos) << other.body;
  std::string tampered = first.next_after();
  tampered[tampered.size() / 2] = tampered[tampered.size() / 2] == 'A' ? 'B' : 'A';
  EXPECT_EQ(As(auditor_key_, "GET", "/v1/admin/devices?q=router&limit=1&after=" + tampered).status,
            400);
  // An unknown VA is a typo, as before.
  EXPECT_EQ(As(auditor_key_, "GET", "/v1/admin/devices?va=nowhere").status, 404);
}

TEST_F(ConsoleApiTest, DeviceDetailHasCertificateAndNewestEvents) {
  ASSERT_NO_FATAL_FAILURE(Populate());
  const auto d = Json<v1::DeviceDetail>(As(auditor_key_, "GET", "/v1/admin/devices/" + core_));
  EXPECT_EQ(d.device().instance_id(), core_);
  EXPECT_EQ(d.device().udi(), "ROUTER:SN1");
  EXPECT_EQ(d.device().hostname(), "Core-1.example.net");
  ASSERT_EQ(d.device().holdings_size(), 1);
  EXPECT_EQ(d.device().holdings(0).count(), 2);
  EXPECT_NE(d.certificate().serial(), "");
  EXPECT_TRUE(ParseRfc3339(d.certificate().not_before()).ok()) << d.certificate().not_before();
  EXPECT_EQ(d.certificate().not_after(), d.device().certificate_not_after_text());
  EXPECT_EQ(d.certificate().fingerprint().size(), 32u * 3 - 1);  // AB:CD:...
  ASSERT_EQ(d.events_size(), 2);
  EXPECT_EQ(d.events(0).action(), "device.authorize");  // newest first
  EXPECT_EQ(d.events(1).action(), "device.register");
  EXPECT_GT(d.events(0).seq(), d.events(1).seq());
  EXPECT_EQ(d.events(0).object(), "device:" + core_);

  const auto unknown = As(auditor_key_, "GET", "/v1/admin/devices/no-such-device");
  EXPECT_EQ(unknown.status, 404) << unknown.body;
  EXPECT_NE(unknown.body.find("no-such-device"), std::string::npos) << unknown.body;
}

TEST_F(ConsoleApiTest, LicenseDetailHasHoldersReservationsAndEvents) {
  ASSERT_NO_FATAL_FAILURE(Populate());
  const auto l =
      Json<v1::LicenseDetail>(As(auditor_key_, "GET", "/v1/admin/licenses/default/fw.base"));
  EXPECT_EQ(l.license().va(), "default");
  EXPECT_EQ(l.license().tag(), "fw.base");
  EXPECT_EQ(l.license().in_use(), 3);
  EXPECT_EQ(l.license().purchased(), a_->Purchased("default/fw.base"));
  std::map<std::string, int64_t> holders;
  for (const auto& h : l.devices()) holders[h.id()] = h.count();
  EXPECT_EQ(holders, (std::map<std::string, int64_t>{{core_, 2}, {edge_, 1}}));
  EXPECT_FALSE(l.more_devices());
  ASSERT_EQ(l.reservations_size(), 1);
  EXPECT_EQ(l.reservations(0).udi(), "SWITCH:X9");
  ASSERT_EQ(l.events_size(), 2);
  EXPECT_EQ(l.events(0).action(), "license.move");  // newest first
  EXPECT_EQ(l.events(1).action(), "license.reserve");
  // The move is about the lab's pool too.
  const auto lab =
      Json<v1::LicenseDetail>(As(auditor_key_, "GET", "/v1/admin/licenses/lab/fw.base"));
  ASSERT_EQ(lab.events_size(), 1);
  EXPECT_EQ(lab.events(0).action(), "license.move");
  EXPECT_EQ(lab.devices_size(), 0);

  EXPECT_EQ(As(auditor_key_, "GET", "/v1/admin/licenses/default/no.such.tag").status, 404);
  EXPECT_EQ(As(auditor_key_, "GET", "/v1/admin/licenses/nowhere/fw.base").status, 404);
}

TEST_F(ConsoleApiTest, LicensesPageOnRequest) {
  const auto all = Json<v1::ListLicensesResponse>(As(auditor_key_, "GET", "/v1/admin/licenses"));
  ASSERT_GE(all.pools_size(), 3);
  EXPECT_EQ(all.next_after(), "");
  std::vector<std::string> paged;
  std::string after;
  for (int i = 0; i < 20; ++i) {
    const auto page = Json<v1::ListLicensesResponse>(
        As(auditor_key_, "GET", "/v1/admin/licenses?limit=2&after=" + after));
    EXPECT_LE(page.pools_size(), 2);
    for (const auto& p : page.pools()) paged.push_back(p.va() + "/" + p.tag());
    if (page.next_after().empty()) break;
    after = page.next_after();
  }
  std::vector<std::string> expected;
  for (const auto& p : all.pools()) expected.push_back(p.va() + "/" + p.tag());
  EXPECT_EQ(paged, expected);
  for (const std::string& query : {std::string("limit=0"), std::string("after=garbage!"),
                                   std::string("after=") + crypto::Base64UrlEncode("no nul")}) {
    EXPECT_EQ(As(auditor_key_, "GET", "/v1/admin/licenses?" + query).status, 400) << query;
  }
}

// The pools of GET /v1/admin/licenses?<query>, following next_after (at most 20 pages), as
// "va/tag"; each page's size in `sizes`.
std::vector<std::string> LicensePages(
    const std::function<v1::ListLicensesResponse(std::string)>& get, std::vector<int>* sizes) {
  std::vector<std::string> out;
  std::string after;
  for (int i = 0; i < 20; ++i) {
    const v1::ListLicensesResponse page = get(after);
    sizes->push_back(page.pools_size());
    for (const auto& p : page.pools()) out.push_back(p.va() + "/" + p.tag());
    if (page.next_after().empty()) return out;
    after = page.next_after();
  }
  ADD_FAILURE() << "the pages never ended";
  return out;
}

TEST_F(ConsoleApiTest, LicensesSearchOnTheServerPagesAndEndsExactly) {
  // The pools: default/fw.base, default/fw.float, default/fw.future, lab/fw.crypto.
  auto pages = [&](const std::string& query, std::vector<int>* sizes) {
    return LicensePages(
        [&](const std::string& after) {
          return Json<v1::ListLicensesResponse>(
              As(auditor_key_, "GET", "/v1/admin/licenses?" + query + "&after=" + after));
        },
        sizes);
  };
  std::vector<int> sizes;
  // Part of a tag, any case, over every VA; a page of 1 at a time and no empty last page.
  EXPECT_EQ(pages("q=FW.F&limit=1", &sizes),
            (std::vector<std::string>{"default/fw.float", "default/fw.future"}));
  EXPECT_EQ(sizes, (std::vector<int>{1, 1}));
  // Part of a VA name.
  sizes.clear();
  EXPECT_EQ(pages("q=la&limit=100", &sizes), (std::vector<std::string>{"lab/fw.crypto"}));
  // With ?va=, only that VA.
  sizes.clear();
  EXPECT_EQ(pages("va=default&q=fw&limit=2", &sizes),
            (std::vector<std::string>{"default/fw.base", "default/fw.float", "default/fw.future"}));
  EXPECT_EQ(sizes, (std::vector<int>{2, 1}));
  sizes.clear();
  EXPECT_TRUE(pages("va=default&q=crypto&limit=5", &sizes).empty());
  // Exactly a page's worth: one page, no next_after.
  const auto four =
      Json<v1::ListLicensesResponse>(As(auditor_key_, "GET", "/v1/admin/licenses?limit=4"));
  EXPECT_EQ(four.pools_size(), 4);
  EXPECT_EQ(four.next_after(), "");
  const auto three =
      Json<v1::ListLicensesResponse>(As(auditor_key_, "GET", "/v1/admin/licenses?limit=3"));
  EXPECT_EQ(three.pools_size(), 3);
  ASSERT_NE(three.next_after(), "");
  // The cursor is a position in (va, tag) order: a search continues from it.
  const auto rest = Json<v1::ListLicensesResponse>(
      As(auditor_key_, "GET", "/v1/admin/licenses?q=fw&limit=10&after=" + three.next_after()));
  ASSERT_EQ(rest.pools_size(), 1);
  EXPECT_EQ(rest.pools(0).tag(), "fw.crypto");
  EXPECT_EQ(rest.next_after(), "");
  // Without limit or after, the search answers every match at once (as the CLI reads).
  const auto unpaged =
      Json<v1::ListLicensesResponse>(As(auditor_key_, "GET", "/v1/admin/licenses?q=base"));
  ASSERT_EQ(unpaged.pools_size(), 1);
  EXPECT_EQ(unpaged.pools(0).tag(), "fw.base");
  EXPECT_EQ(unpaged.pools(0).purchased(), a_->Purchased("default/fw.base"));
}

TEST_F(ConsoleApiTest, LicensesRefusesBadSearchLimitAndCursorNamingTheParameter) {
  const std::string too_long(129, 'a');
  for (const auto& [query, names] : std::vector<std::pair<std::string, std::string>>{
           {"q=fw%20base", "'q'"},
           {"q=%3Cimg%3E&limit=10", "'q'"},
           {"q=" + too_long, "'q'"},
           {"q=fw%00", "'q'"},
           {"limit=0", "limit"},
           {"limit=10001", "limit"},
           {"limit=ten", "limit"},
           {"q=fw&after=garbage!", "'after'"},
           {"after=" + crypto::Base64UrlEncode("no nul"), "'after'"},
           {"after=" + crypto::Base64UrlEncode(std::string("bad va!\0fw.base", 15)), "'after'"},
           {"after=" + crypto::Base64UrlEncode(std::string("default\0", 8)), "'after'"},
       }) {
    const auto r = As(auditor_key_, "GET", "/v1/admin/licenses?" + query);
    EXPECT_EQ(r.status, 400) << query << ": " << r.body;
    EXPECT_EQ(Reason(r), "invalid_argument") << query;
    EXPECT_NE(r.body.find(names), std::string::npos) << query << ": " << r.body;
  }
  // 128 characters is a search (nothing matches), not an error; an unknown VA is 404.
  const auto longest =
      As(auditor_key_, "GET", "/v1/admin/licenses?limit=5&q=" + too_long.substr(1));
  EXPECT_EQ(longest.status, 200) << longest.body;
  EXPECT_EQ(Json<v1::ListLicensesResponse>(longest).pools_size(), 0);
  EXPECT_EQ(As(auditor_key_, "GET", "/v1/admin/licenses?va=nowhere&q=fw&limit=5").status, 404);
  // No credentials: 401 before any parameter is looked at.
  EXPECT_EQ(As("", "GET", "/v1/admin/licenses?q=%3Cimg%3E").status, 401);
}

TEST_F(ConsoleApiTest, SyncHistoryListsExchangesNewestFirst) {
  // A refused import, then a second round trip.
  EXPECT_EQ(a_->Import("not a bundle").status, 400);
  RoundTrip(*a_);
  const auto h = Json<v1::SyncHistory>(As(auditor_key_, "GET", "/v1/admin/sync/history"));
  ASSERT_EQ(h.exchanges_size(), 5);
  EXPECT_EQ(h.exchanges(0).kind(), "import");
  EXPECT_EQ(h.exchanges(0).result(), "ok");
  EXPECT_EQ(h.exchanges(0).sequence(), 2);
  EXPECT_NE(h.exchanges(0).summary().find("imported"), std::string::npos);
  EXPECT_EQ(h.exchanges(1).kind(), "export");
  EXPECT_EQ(h.exchanges(1).sequence(), 2);
  EXPECT_EQ(h.exchanges(2).kind(), "import");
  EXPECT_NE(h.exchanges(2).result(), "ok");
  EXPECT_NE(h.exchanges(2).result(), "");
  EXPECT_EQ(h.exchanges(3).kind(), "import");
  EXPECT_EQ(h.exchanges(3).sequence(), 1);
  EXPECT_EQ(h.exchanges(4).kind(), "export");
  EXPECT_EQ(h.exchanges(4).usage_reports(), h.exchanges(3).usage_reports());
  for (int i = 1; i < h.exchanges_size(); ++i) {
    EXPECT_GT(h.exchanges(i - 1).audit_seq(), h.exchanges(i).audit_seq());
    EXPECT_TRUE(ParseRfc3339(h.exchanges(i).at()).ok());
  }
  const auto limited =
      Json<v1::SyncHistory>(As(auditor_key_, "GET", "/v1/admin/sync/history?limit=2"));
  EXPECT_EQ(limited.exchanges_size(), 2);
  EXPECT_EQ(As(auditor_key_, "GET", "/v1/admin/sync/history?limit=0").status, 400);
  EXPECT_EQ(As(auditor_key_, "GET", "/v1/admin/sync/history?limit=1001").status, 400);
}

TEST_F(ConsoleApiTest, ArmoredExportAndArmoredImport) {
  const auto r = a_->Send("POST", "/v1/admin/sync/export?armor=true");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.content_type.rfind("text/plain", 0), 0u) << r.content_type;
  EXPECT_EQ(r.body.rfind("-----BEGIN OUTPOST SYNC REQUEST-----", 0), 0u) << r.body;
  EXPECT_EQ(r.headers.at("x-outpost-sequence"), "2");
  EXPECT_NE(r.headers.count("x-outpost-usage-reports"), 0u);
  // Central reads the armored request; its answer, armored, imports.
  auto request = sync::Dearmor(r.body);
  ASSERT_OK(request);
  const std::string response_bytes = Process(sync::SerializeBundle(*request));
  auto response = sync::ParseBundleBytes(response_bytes);
  ASSERT_OK(response);
  const std::string armored = sync::Armor(*response, v1::BUNDLE_KIND_SYNC_RESPONSE);
  const auto imported = a_->Send("POST", "/v1/admin/sync/import", armored, "text/plain");
  ASSERT_EQ(imported.status, 200) << imported.body;
  EXPECT_NE(imported.body.find("\"answers_request_sequence\":\"2\""), std::string::npos)
      << imported.body;
  // A bad flag exports nothing.
  const auto bad = a_->Send("POST", "/v1/admin/sync/export?armor=yes");
  EXPECT_EQ(bad.status, 400) << bad.body;
  EXPECT_EQ(a_->Status().last_request_sequence(), 2);
}

TEST_F(ConsoleApiTest, AuditPagesNewestFirstWithFilters) {
  ASSERT_NO_FATAL_FAILURE(Populate());
  // The records of one page (JSON lines), and the header that leads to the next.
  struct Page {
    std::vector<v1::AuditRecord> records;
    std::string next_before;
    std::string more;
  };
  auto page = [&](const std::string& query) {
    Page out;
    const auto r = As(auditor_key_, "GET", "/v1/admin/audit/records?" + query);
    EXPECT_EQ(r.status, 200) << query << ": " << r.body;
    out.next_before =
        r.headers.count("x-outpost-next-before") ? r.headers.at("x-outpost-next-before") : "";
    out.more = r.headers.count("x-outpost-more") ? r.headers.at("x-outpost-more") : "";
    size_t start = 0;
    while (start < r.body.size()) {
      const size_t end = r.body.find('\n', start);
      auto record = server::audit::ParseJsonLine(r.body.substr(start, end - start));
      EXPECT_OK(record);
      if (record.ok()) out.records.push_back(*record);
      start = end + 1;
    }
    return out;
  };
  auto seqs = [](const Page& p) {
    std::vector<int64_t> out;
    for (const auto& r : p.records) out.push_back(r.seq());
    return out;
  };
  // Oldest first, everything; newest first in pages of 4 gives the same records reversed.
  std::vector<int64_t> all = seqs(page("limit=10000"));
  ASSERT_GE(all.size(), 10u);
  std::reverse(all.begin(), all.end());
  std::vector<int64_t> paged;
  std::string before = "0";
  for (int i = 0; i < 100; ++i) {
    const Page p = page("order=desc&limit=4&before=" + before);
    for (int64_t seq : seqs(p)) paged.push_back(seq);
    if (p.more != "true") break;
    EXPECT_EQ(p.next_before, std::to_string(seqs(p).back()));
    before = p.next_before;
  }
  EXPECT_EQ(paged, all);

  // By device: its own records, newest first.
  const Page device = page("order=desc&device=" + core_);
  ASSERT_EQ(device.records.size(), 2u);
  EXPECT_EQ(device.records[0].action(), "device.authorize");
  EXPECT_EQ(device.records[1].action(), "device.register");
  // By actor and action.
  const Page registers = page("order=desc&actor=device:&action=device.register");
  EXPECT_EQ(registers.records.size(), 3u);
  const Page reserve = page("order=desc&action=license.");
  ASSERT_EQ(reserve.records.size(), 2u);
  EXPECT_EQ(reserve.records[0].action(), "license.move");
  // By time: since is inclusive, until exclusive.
  const std::string at = reserve.records[1].time();
  const Page since = page("order=desc&since=" + at);
  ASSERT_FALSE(since.records.empty());
  for (const auto& r : since.records) EXPECT_GE(r.time_ms(), reserve.records[1].time_ms());
  const Page until = page("order=desc&limit=10000&until=" + at);
  for (const auto& r : until.records) EXPECT_LT(r.time_ms(), reserve.records[1].time_ms());
  EXPECT_EQ(since.records.size() + until.records.size(), all.size());
  // CSV newest first: the header on the first page only.
  const auto csv = As(auditor_key_, "GET", "/v1/admin/audit/records?order=desc&format=csv&limit=2");
  EXPECT_EQ(csv.body.rfind("seq,time,", 0), 0u) << csv.body;
  const auto csv2 = As(auditor_key_, "GET",
                       "/v1/admin/audit/records?order=desc&format=csv&limit=2&before=" +
                           csv.headers.at("x-outpost-next-before"));
  EXPECT_EQ(csv2.body.find("seq,time,"), std::string::npos) << csv2.body;

  for (const std::string& query :
       {std::string("order=sideways"), std::string("order=desc&after=3"), std::string("before=3"),
        std::string("order=desc&before=-1"), std::string("order=desc&since=yesterday"),
        std::string("order=desc&limit=0")}) {
    const auto r = As(auditor_key_, "GET", "/v1/admin/audit/records?" + query);
    EXPECT_EQ(r.status, 400) << query << ": " << r.body;
  }
}

TEST_F(ConsoleApiTest, VerifyNamesTheFirstBrokenRecord) {
  ASSERT_NO_FATAL_FAILURE(Populate());
  const auto ok = Json<v1::AuditVerifyResponse>(
      As(auditor_key_, "POST", "/v1/admin/audit/verify", "{}", "application/json"));
  EXPECT_TRUE(ok.ok()) << ok.problem();
  ASSERT_GT(ok.last_seq(), 6);
  {
    auto db = sqlite::Connection::Open(DataDir(a_->dir).database());
    ASSERT_OK(db);
    ASSERT_OK(db->Exec("UPDATE audit_log SET details = '{\"edited\":true}' WHERE seq = 5"));
  }
  const auto broken = Json<v1::AuditVerifyResponse>(
      As(auditor_key_, "POST", "/v1/admin/audit/verify", "{}", "application/json"));
  EXPECT_FALSE(broken.ok());
  EXPECT_EQ(broken.first_bad_seq(), 5);
  EXPECT_EQ(broken.problem_kind(), "changed");
  EXPECT_NE(broken.problem().find("5"), std::string::npos) << broken.problem();
}

TEST_F(ConsoleApiTest, AuditorReadsOperatorWritesNobodyAnonymous) {
  ASSERT_NO_FATAL_FAILURE(Populate());
  const std::vector<std::string> reads = {"/v1/admin/overview",
                                          "/v1/admin/usage?va=default&tag=fw.base",
                                          "/v1/admin/devices?q=router",
                                          "/v1/admin/devices/" + core_,
                                          "/v1/admin/licenses/default/fw.base",
                                          "/v1/admin/sync/history",
                                          "/v1/admin/audit/records?order=desc"};
  for (const std::string& target : reads) {
    EXPECT_EQ(As(auditor_key_, "GET", target).status, 200) << target;
    const auto anonymous = As("", "GET", target);
    EXPECT_EQ(anonymous.status, 401) << target << ": " << anonymous.body;
    EXPECT_EQ(As("opk_not_a_key", "GET", target).status, 401) << target;
  }
  // The auditor may not export (it advances the sequence) nor release.
  const auto export_as_auditor = As(auditor_key_, "POST", "/v1/admin/sync/export?armor=true");
  EXPECT_EQ(export_as_auditor.status, 403) << export_as_auditor.body;
  EXPECT_EQ(Reason(export_as_auditor), "permission_denied");
  EXPECT_EQ(
      As(auditor_key_, "POST", "/v1/admin/devices/" + core_ + "/release", "{}", "application/json")
          .status,
      403);
  EXPECT_EQ(a_->Status().last_request_sequence(), 1);
  EXPECT_EQ(Json<v1::DeviceDetail>(As(auditor_key_, "GET", "/v1/admin/devices/" + core_))
                .device()
                .instance_id(),
            core_);
}

}  // namespace
}  // namespace outpost::sync_testing
