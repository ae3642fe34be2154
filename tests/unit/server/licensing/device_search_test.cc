// Device search over the devices and consumption tables (device_search.h): each way of searching
// finds what it should in its order, pages end to end without losing or repeating a device, the
// scan budget ends a page early but never skips anything, and bad queries and cursors are refused.

#include "server/licensing/device_search.h"

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

#include "common/crypto/encoding.h"
#include "common/crypto/hash.h"
#include "common/sqlite/reader_pool.h"
#include "common/sqlite/writer.h"
#include "outpost/v1/licensing.pb.h"
#include "server/licensing/store.h"
#include "server/store/schema.h"
#include "tests/testing/test_util.h"

namespace outpost::server::licensing {
namespace {

// A query with one field set (designated initializers would have to name them all).
DeviceQuery Query(std::string DeviceQuery::*field, std::string value) {
  DeviceQuery q;
  q.*field = std::move(value);
  return q;
}

DeviceQuery Limit(int64_t limit) {
  DeviceQuery q;
  q.limit = limit;
  return q;
}

class DeviceSearchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    sqlite::WriterOptions options;
    options.synchronous = sqlite::Synchronous::kNormal;
    auto writer =
        sqlite::Writer::Create(dir_ / "outpost.db", options, store::SatelliteMigrations());
    ASSERT_OK(writer);
    writer_ = std::move(writer).value();
    auto readers = sqlite::ReaderPool::Create(dir_ / "outpost.db");
    ASSERT_OK(readers);
    readers_ = std::move(readers).value();
  }

  void Add(const std::string& id, const std::string& va, const std::string& pid,
           const std::string& serial, const std::string& hostname,
           const std::vector<std::string>& tags = {}) {
    ASSERT_OK(writer_->Run([&](sqlite::Connection& db) -> Status {
      DeviceRecord d;
      d.instance_id = id;
      d.va = va;
      d.udi = {pid, serial};
      d.hostname = hostname;
      d.token_id = "tok";
      d.cert_serial = "ab";
      OUTPOST_RETURN_IF_ERROR(InsertDevice(db, d));
      ConsumptionDelta delta;
      delta.instance_id = id;
      delta.va = va;
      delta.udi = d.udi;
      for (const std::string& tag : tags) delta.changes.push_back({tag, 0, 1, TimePoint()});
      return PersistDelta(db, delta);
    }));
  }

  Result<DeviceSearchPage> Search(const DeviceQuery& query, int64_t budget = kDefaultMaxScanned) {
    OUTPOST_ASSIGN_OR_RETURN(auto lease, readers_->Acquire());
    return SearchDevices(*lease, query, key_, budget);
  }

  static std::vector<std::string> Ids(const DeviceSearchPage& page) {
    std::vector<std::string> out;
    for (const auto& r : page.rows) out.push_back(r.instance_id);
    return out;
  }

  // Every device the query finds, following the cursor page by page.
  std::vector<std::string> All(DeviceQuery query, int64_t budget = kDefaultMaxScanned) {
    std::vector<std::string> out;
    for (int pages = 0; pages < 1000; ++pages) {
      auto page = Search(query, budget);
      EXPECT_OK(page);
      if (!page.ok()) return out;
      for (auto& id : Ids(*page)) out.push_back(id);
      if (page->next_after.empty()) return out;
      query.after = page->next_after;
    }
    ADD_FAILURE() << "the cursor never ended";
    return out;
  }

  // A small installation: UDIs and hostnames that share prefixes in both cases.
  void AddSample() {
    Add("d1", "east", "ROUTER", "SN1", "core-1.example.net", {"fw"});
    Add("d2", "east", "ROUTER", "SN2", "Edge-2.example.net", {"fw", "dna"});
    Add("d3", "west", "router", "SN3", "core-3.example.net", {"dna"});
    Add("d4", "west", "SWITCH", "A1", "router-lab.example.net");
    Add("d5", "east", "SWITCH", "A2", "edge-5.example.net", {"fw"});
  }

  std::string key_ = "cursor key of this test";
  testing::TempDir dir_;
  std::unique_ptr<sqlite::Writer> writer_;
  std::unique_ptr<sqlite::ReaderPool> readers_;
};

TEST_F(DeviceSearchTest, NoFilterListsEveryDeviceByInstanceId) {
  AddSample();
  auto page = Search({});
  ASSERT_OK(page);
  EXPECT_EQ(Ids(*page), (std::vector<std::string>{"d1", "d2", "d3", "d4", "d5"}));
  EXPECT_EQ(page->next_after, "");
  EXPECT_EQ(page->rows[0].hostname, "core-1.example.net");
  EXPECT_EQ(page->rows[0].token_id, "tok");
}

TEST_F(DeviceSearchTest, UdiPrefixIsCaseInsensitiveInUdiOrder) {
  AddSample();
  DeviceQuery q;
  q.udi = "router:sn";
  EXPECT_EQ(All(q), (std::vector<std::string>{"d1", "d2", "d3"}));
  q.udi = "SWITCH:A2";  // an exact UDI is its own prefix
  EXPECT_EQ(All(q), (std::vector<std::string>{"d5"}));
  q.udi = "nothing";
  EXPECT_EQ(All(q), (std::vector<std::string>{}));
}

TEST_F(DeviceSearchTest, HostnamePrefixIsCaseInsensitiveInHostnameOrder) {
  AddSample();
  DeviceQuery q;
  q.hostname = "EDGE-";
  EXPECT_EQ(All(q), (std::vector<std::string>{"d2", "d5"}));
  q.hostname = "core";
  EXPECT_EQ(All(q), (std::vector<std::string>{"d1", "d3"}));
}

TEST_F(DeviceSearchTest, QMatchesUdiThenHostnameOnce) {
  AddSample();
  DeviceQuery q;
  q.q = "rout";  // d1-d3 by UDI, d4 by hostname only
  EXPECT_EQ(All(q), (std::vector<std::string>{"d1", "d2", "d3", "d4"}));
  // Page size 1: the same devices, none twice, across the change from UDI to hostname.
  q.limit = 1;
  EXPECT_EQ(All(q), (std::vector<std::string>{"d1", "d2", "d3", "d4"}));
}

TEST_F(DeviceSearchTest, TagListsItsHoldersAndCombinesWithVaAndText) {
  AddSample();
  DeviceQuery q;
  q.tag = "fw";
  EXPECT_EQ(All(q), (std::vector<std::string>{"d1", "d2", "d5"}));
  q.va = "east";
  q.tag = "dna";
  EXPECT_EQ(All(q), (std::vector<std::string>{"d2"}));
  q = {};
  q.q = "edge";
  q.tag = "fw";
  EXPECT_EQ(All(q), (std::vector<std::string>{"d2", "d5"}));
  q.va = "west";
  EXPECT_EQ(All(q), (std::vector<std::string>{}));
}

TEST_F(DeviceSearchTest, PagesCoverEverythingOnceAtEveryPageSize) {
  for (int i = 0; i < 57; ++i) {
    char id[16];
    std::snprintf(id, sizeof id, "dev-%03d", i);
    Add(id, i % 2 ? "east" : "west", "PID" + std::to_string(i % 3), "S" + std::to_string(i),
        "host-" + std::to_string(i % 5) + "-" + std::to_string(i),
        i % 4 ? std::vector<std::string>{"fw"} : std::vector<std::string>{});
  }
  for (int64_t limit : {1, 2, 7, 56, 57, 100}) {
    for (DeviceQuery q :
         {DeviceQuery{}, Query(&DeviceQuery::q, "pid1"), Query(&DeviceQuery::q, "host-2"),
          Query(&DeviceQuery::hostname, "host-"), Query(&DeviceQuery::tag, "fw")}) {
      const std::vector<std::string> all = All(q);
      q.limit = limit;
      const std::vector<std::string> paged = All(q);
      EXPECT_EQ(paged, all) << "limit " << limit;
      EXPECT_EQ(std::set<std::string>(paged.begin(), paged.end()).size(), paged.size());
    }
  }
  EXPECT_EQ(All(Query(&DeviceQuery::tag, "fw")).size(), 42u);
}

TEST_F(DeviceSearchTest, ScanBudgetEndsPagesEarlyWithoutSkipping) {
  AddSample();
  DeviceQuery q;
  q.va = "west";  // d3 and d4, behind east devices in the walk
  auto first = Search(q, /*budget=*/2);
  ASSERT_OK(first);
  EXPECT_EQ(Ids(*first), (std::vector<std::string>{}));  // d1, d2 judged: none matched
  EXPECT_NE(first->next_after, "");
  EXPECT_EQ(All(q, 2), (std::vector<std::string>{"d3", "d4"}));
  EXPECT_EQ(All(q, 1), (std::vector<std::string>{"d3", "d4"}));
}

TEST_F(DeviceSearchTest, ACursorBelongsToItsSearch) {
  AddSample();
  DeviceQuery q;
  q.q = "r";
  q.limit = 1;
  auto page = Search(q);
  ASSERT_OK(page);
  ASSERT_NE(page->next_after, "");
  DeviceQuery other = q;
  other.q = "e";
  other.after = page->next_after;
  auto refused = Search(other);
  EXPECT_EQ(refused.status().code(), Errc::kInvalidArgument);
  EXPECT_NE(refused.status().message().find("other filters"), std::string::npos)
      << refused.status().message();
  // Its case does not matter: the search is case-insensitive.
  other.q = "R";
  EXPECT_OK(Search(other));
}

TEST_F(DeviceSearchTest, GarbageAndTamperedCursorsAreRefused) {
  AddSample();
  DeviceQuery q;
  q.udi = "router";
  q.limit = 1;
  auto page = Search(q);
  ASSERT_OK(page);
  // A cursor moved outside the search's prefix, and one with a phase the search has not.
  v1::DeviceSearchCursor cursor;
  auto bytes = crypto::Base64UrlDecode(page->next_after);
  ASSERT_OK(bytes);
  ASSERT_TRUE(cursor.ParseFromString(bytes->substr(0, bytes->size() - 16)));
  v1::DeviceSearchCursor outside = cursor;
  outside.set_key("switch:a1");
  v1::DeviceSearchCursor phase = cursor;
  phase.set_phase("hostname");
  v1::DeviceSearchCursor empty = cursor;
  empty.clear_instance_id();
  // Each also re-signed with the right key, so the checks behind the MAC are tested too.
  const auto sign = [&](const v1::DeviceSearchCursor& c) {
    const std::string body = c.SerializeAsString();
    return crypto::Base64UrlEncode(body + crypto::HmacSha256(key_, body).substr(0, 16));
  };
  std::string flipped = page->next_after;
  flipped[flipped.size() / 3] = flipped[flipped.size() / 3] == 'A' ? 'B' : 'A';
  const std::string other_key = [&] {
    const std::string body = cursor.SerializeAsString();
    return crypto::Base64UrlEncode(body + crypto::HmacSha256("another key", body).substr(0, 16));
  }();
  ASSERT_EQ(sign(cursor), page->next_after);
  for (const std::string& after :
       {std::string("not a cursor!"), std::string("AAAA"), std::string(5000, 'A'), sign(outside),
        sign(phase), sign(empty), page->next_after + "x", flipped, other_key,
        crypto::Base64UrlEncode(cursor.SerializeAsString())}) {
    q.after = after;
    auto refused = Search(q);
    EXPECT_EQ(refused.status().code(), Errc::kInvalidArgument) << after;
    EXPECT_NE(refused.status().message().find("'after'"), std::string::npos)
        << refused.status().message();
  }
}

TEST_F(DeviceSearchTest, BadQueriesAreRefusedNamingTheParameter) {
  for (auto [query, name] : std::vector<std::pair<DeviceQuery, std::string>>{
           {Limit(0), "limit"},
           {Limit(kMaxDevicePage + 1), "limit"},
           {Query(&DeviceQuery::q, std::string(300, 'a')), "q"},
           {Query(&DeviceQuery::hostname, "a\nb"), "hostname"},
           {Query(&DeviceQuery::udi, "a\x7f"), "udi"},
           {Query(&DeviceQuery::tag, "t\x01"), "tag"}}) {
    Status s = CheckDeviceQuery(query, "k");
    EXPECT_EQ(s.code(), Errc::kInvalidArgument) << name;
    EXPECT_NE(s.message().find("'" + name + "'"), std::string::npos) << s.message();
  }
}

}  // namespace
}  // namespace outpost::server::licensing
