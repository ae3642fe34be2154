// Upgrades: the current binary opens a database of every earlier schema version
// (tests/fixtures/schema, written by make_fixtures.py), migrates it, and the satellite then holds
// the same licensing state with an audit chain that verifies; a database newer than the binary
// is refused with a message saying what to do. The same for central's database.

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <fstream>
#include <set>

#include "common/sqlite/connection.h"
#include "server/data_dir.h"
#include "server/store/schema.h"
#include "sync/central/schema.h"
#include "tests/testing/cli_runner.h"
#include "tests/testing/test_util.h"

namespace outpost {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;
using testing::Contains;
using testing::RunResult;

const fs::path kFixtures = fs::path(OUTPOST_SOURCE_DIR) / "tests" / "fixtures" / "schema";

RunResult Outpost(std::vector<std::string> args) {
  return testing::RunBinary(OUTPOST_BINARY, std::move(args), {}, "", std::chrono::seconds(120));
}

json::value ParseJson(const std::string& text) {
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  EXPECT_FALSE(ec) << text;
  return v;
}

const json::value& Expected() {
  static const json::value v = ParseJson(testing::ReadFileOrDie(kFixtures / "expected.json"));
  return v;
}

// A data directory made of the fixture's files and the database of `version`; git keeps no
// file modes beyond 0644/0755, so the keys get theirs back here.
void MakeDir(const fs::path& dir, const std::string& kind, int version) {
  fs::copy(kFixtures / (kind + "-dir"), dir, fs::copy_options::recursive);
  fs::permissions(dir / "keys", fs::perms::owner_all);
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    const std::string rel = e.path().lexically_relative(dir).generic_string();
    if (e.is_regular_file() && (rel.starts_with("keys/") || rel == "admin.apikey")) {
      fs::permissions(e.path(), fs::perms::owner_read | fs::perms::owner_write);
    }
  }
  const fs::path db = dir / (kind == "satellite" ? "outpost.db" : "central.db");
  fs::copy_file(kFixtures / (kind + "-v" + std::to_string(version) + ".db"), db);
  fs::permissions(db, fs::perms::owner_read | fs::perms::owner_write);
}

int64_t UserVersion(const fs::path& db) {
  auto c = sqlite::Connection::Open(db);
  EXPECT_OK(c.status());
  auto v = c->QueryInt64("PRAGMA user_version");
  EXPECT_OK(v.status());
  return v.ok() ? *v : -1;
}

std::set<std::string> Field(const json::value& list, const char* array, const char* field) {
  std::set<std::string> out;
  if (!list.is_object() || !list.as_object().contains(array)) return out;
  for (const auto& item : list.at(array).as_array()) {
    out.insert(json::value_to<std::string>(item.at(field)));
  }
  return out;
}

std::map<std::string, std::string> Pools(const json::value& list) {
  std::map<std::string, std::string> out;
  if (!list.is_object() || !list.as_object().contains("pools")) return out;
  for (const auto& p : list.at("pools").as_array()) {
    const auto text = [&](const char* k) {
      return p.as_object().contains(k) ? json::serialize(p.at(k)) : std::string("0");
    };
    out[json::value_to<std::string>(p.at("va")) + "/" + json::value_to<std::string>(p.at("tag"))] =
        "purchased " + text("purchased") + ", in use " + text("in_use") + ", reserved " +
        text("reserved");
  }
  return out;
}

TEST(SchemaUpgradeTest, EveryEarlierSchemaVersionHasAFixture) {
  const int newest = static_cast<int>(server::store::SatelliteMigrations().size());
  ASSERT_EQ(Expected().at("satellite_schema_version").as_int64(), newest)
      << "a migration was added: run tests/fixtures/schema/make_fixtures.py and commit its output";
  for (int v = 1; v <= newest; ++v) {
    EXPECT_TRUE(fs::exists(kFixtures / ("satellite-v" + std::to_string(v) + ".db"))) << v;
  }
  const int central_newest = static_cast<int>(central::CentralMigrations().size());
  ASSERT_EQ(Expected().at("central_schema_version").as_int64(), central_newest)
      << "a central migration was added: run make_fixtures.py and commit its output";
  for (int v = 1; v <= central_newest; ++v) {
    EXPECT_TRUE(fs::exists(kFixtures / ("central-v" + std::to_string(v) + ".db"))) << v;
  }
}

class SatelliteUpgradeTest : public ::testing::TestWithParam<int> {};

TEST_P(SatelliteUpgradeTest, OpensMigratesAndKeepsTheLicensingStateAndTheChain) {
  const int version = GetParam();
  const int newest = static_cast<int>(server::store::SatelliteMigrations().size());
  testing::TempDir tmp;
  const fs::path dir = tmp.path() / "sat";
  MakeDir(dir, "satellite", version);
  const server::DataDir d(dir);
  const std::vector<std::string> verify = {"audit",      "verify",    "--db", d.database().string(),
                                           "--data-dir", dir.string()};
  if (version >= 3) {  // the audit trail is migration 3
    RunResult before = Outpost(verify);
    EXPECT_EQ(before.exit_code, 0) << before.out << before.err;
  }

  testing::ServingProcess serve;
  const std::string log = (tmp.path() / "serve.log").string();
  ASSERT_TRUE(serve.Start(OUTPOST_BINARY, {"serve", "--data-dir", dir.string()}, log))
      << testing::ReadFileOrDie(log);
  const auto admin = [&](std::vector<std::string> args) {
    args.insert(args.begin(), "--json");
    args.insert(args.end(), {"--server", serve.url(), "--data-dir", dir.string()});
    RunResult r = Outpost(args);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return ParseJson(r.out.empty() ? "{}" : r.out);
  };
  if (version >= 2) {  // users and API keys are migration 2
    const json::value& expected = Expected();
    const json::value tokens = admin({"token", "list"});
    if (version >= 4) {
      EXPECT_EQ(Field(tokens, "tokens", "description"),
                Field(expected.at("tokens"), "tokens", "description"));
    }
    if (version >= 5) {
      EXPECT_EQ(Field(admin({"devices"}), "devices", "serial"),
                Field(expected.at("devices"), "devices", "serial"));
      EXPECT_EQ(Pools(admin({"licenses"})), Pools(expected.at("licenses")));
    }
  }
  ASSERT_EQ(serve.Stop(), std::optional<int>(0)) << testing::ReadFileOrDie(log);
  EXPECT_EQ(UserVersion(d.database()), newest);
  RunResult after = Outpost(verify);
  EXPECT_EQ(after.exit_code, 0) << after.out << after.err;
}

INSTANTIATE_TEST_SUITE_P(
    EveryVersion, SatelliteUpgradeTest,
    ::testing::Range(1, static_cast<int>(server::store::SatelliteMigrations().size()) + 1));

TEST(SchemaUpgradeTest, ADatabaseNewerThanTheBinaryIsRefusedAndLeftAsItWas) {
  const int newest = static_cast<int>(server::store::SatelliteMigrations().size());
  testing::TempDir tmp;
  const fs::path dir = tmp.path() / "sat";
  MakeDir(dir, "satellite", newest);
  const server::DataDir d(dir);
  {
    auto db = sqlite::Connection::Open(d.database());
    ASSERT_OK(db);
    ASSERT_OK(db->Exec("PRAGMA user_version = " + std::to_string(newest + 1)));
  }
  RunResult r = Outpost({"serve", "--data-dir", dir.string()});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(Contains(r.err, "has schema version " + std::to_string(newest + 1) +
                                  " but this outpost binary knows only up to " +
                                  std::to_string(newest) + "; upgrade outpost or restore a backup"))
      << r.err;
  EXPECT_EQ(UserVersion(d.database()), newest + 1);
}

class CentralUpgradeTest : public ::testing::TestWithParam<int> {};

TEST_P(CentralUpgradeTest, OpensMigratesAndKeepsItsSatellites) {
  testing::TempDir tmp;
  const fs::path dir = tmp.path() / "central";
  MakeDir(dir, "central", GetParam());
  RunResult r = Outpost({"central", "satellite", "list", "--data-dir", dir.string()});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(Contains(r.out, "fixture")) << r.out;
  EXPECT_EQ(UserVersion(dir / "central.db"),
            static_cast<int64_t>(central::CentralMigrations().size()));
}

INSTANTIATE_TEST_SUITE_P(EveryVersion, CentralUpgradeTest,
                         ::testing::Range(1, static_cast<int>(central::CentralMigrations().size()) +
                                                 1));

TEST(SchemaUpgradeTest, ACentralDatabaseNewerThanTheBinaryIsRefused) {
  const int newest = static_cast<int>(central::CentralMigrations().size());
  testing::TempDir tmp;
  const fs::path dir = tmp.path() / "central";
  MakeDir(dir, "central", newest);
  {
    auto db = sqlite::Connection::Open(dir / "central.db");
    ASSERT_OK(db);
    ASSERT_OK(db->Exec("PRAGMA user_version = " + std::to_string(newest + 1)));
  }
  RunResult r = Outpost({"central", "satellite", "list", "--data-dir", dir.string()});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(Contains(r.err, "knows only up to " + std::to_string(newest))) << r.err;
}

}  // namespace
}  // namespace outpost
