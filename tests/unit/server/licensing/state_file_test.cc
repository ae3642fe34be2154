// The licensing state file (state_file.h): a restart after a clean stop or after a crash reads it,
// then the rows of the devices changed since it was saved, and has exactly the state a load of
// the tables gives; whenever the file cannot be trusted — another token or digest (a crash
// between writing the file and committing its token, a file of another save, an edited file), a
// damaged file, a database without a token — the tables are read instead.

#include "server/licensing/state_file.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "server/licensing/store.h"
#include "tests/unit/server/licensing/service_test_fixture.h"

namespace outpost::server::licensing {
namespace {

using namespace service_testing;  // NOLINT: the shared fixture

class StateFileTest : public LicensingServiceTest {
 protected:
  void SetUp() override {
    options_.state_file = state_file();
    LicensingServiceTest::SetUp();
  }

  std::filesystem::path state_file() const { return dir_ / "licensing.state"; }

  // Devices in two VAs holding licenses, a reservation, a released and a rehosted device.
  void Populate() {
    Seed(Standard());
    const std::string east = NewToken("east");
    const std::string west = NewToken("west");
    for (int i = 0; i < 6; ++i) {
      devices_.push_back(MakeDevice("SN" + std::to_string(i)));
      RegisterOrDie(devices_.back(), i % 2 == 0 ? east : west);
      ASSERT_OK(Authorize(devices_.back().Identity(), {{"fw", 1}}));
    }
    ASSERT_OK(Authorize(devices_[0].Identity(), {{"fw", 1}, {"dna", 1}, {"lease", 1}}));
    v1::ReservationRequest reserve;
    reserve.set_va("west");
    reserve.set_tag("fw");
    reserve.set_count(1);
    reserve.set_udi("C9300-24T:VIP");
    ASSERT_OK(operators().Reserve(reserve, Oscar().actor()));
    ASSERT_OK(operators().ReleaseDevice(devices_[5].registration.instance_id(), Oscar().actor()));
    ASSERT_OK(operators().RehostDevice(devices_[4].registration.instance_id(), "C9300-24T:NEW4",
                                       Oscar().actor()));
    ASSERT_OK(service_->Sweep(/*final=*/true));
  }

  // Everything a restart must give back, as the API shows it.
  std::string Look() {
    std::string out;
    const BookState book = service_->Snapshot();
    for (const ConsumptionRow& r : book.consumption) {
      out += r.instance_id + " " + r.va + " " + r.udi.ToString() + " " + r.tag + " " +
             std::to_string(r.count) + " " + std::to_string(ToUnixSeconds(r.valid_until)) + "\n";
    }
    out += operators().Licenses(std::nullopt).SerializeAsString();
    out += operators().Devices(std::nullopt, 100).SerializeAsString();
    auto reservations = operators().Reservations();
    EXPECT_OK(reservations);
    if (reservations.ok()) out += reservations->SerializeAsString();
    out += operators().Inventory().SerializeAsString();
    out += std::to_string(service_->device_count());
    return out;
  }

  // Every device that is still registered identifies itself; the released one does not.
  void ExpectCertificatesAsBefore() {
    for (size_t i = 0; i < 4; ++i) EXPECT_OK(devices().Identify(devices_[i].Certificate()));
    EXPECT_FALSE(devices().Identify(devices_[4].Certificate()).ok());  // rehosted
    EXPECT_FALSE(devices().Identify(devices_[5].Certificate()).ok());  // released
  }

  int64_t Tokens() { return QueryInt("SELECT count(*) FROM licensing_state"); }
  int64_t Changed() { return QueryInt("SELECT count(*) FROM licensing_changed"); }

  // What a start that reads only the tables gives; the service is then opened again as before.
  std::string LookFromTables() {
    const auto saved = options_.state_file;
    options_.state_file.clear();
    OpenService();
    EXPECT_FALSE(service_->opened_from_state_file());
    std::string out = Look();
    options_.state_file = saved;
    return out;
  }

  // Changes the database behind the service's back, as a hand edit would.
  void HandEdit(const std::string& sql) {
    Flush();
    auto db = sqlite::Connection::Open(db_path());
    ASSERT_OK(db);
    ASSERT_OK(db->Exec(sql));
  }

  std::vector<TestDevice> devices_;
};

TEST_F(StateFileTest, ACleanStopIsReadBackAsTheTablesWouldBe) {
  EXPECT_FALSE(service_->opened_from_state_file()) << "a new database has no saved state";
  Populate();
  ASSERT_OK(service_->SaveState());
  EXPECT_EQ(Tokens(), 1);
  const std::string before = Look();

  OpenService();
  EXPECT_TRUE(service_->opened_from_state_file());
  EXPECT_EQ(Look(), before);
  ExpectCertificatesAsBefore();

  // The same as reading the tables.
  options_.state_file.clear();
  OpenService();
  EXPECT_FALSE(service_->opened_from_state_file());
  EXPECT_EQ(Look(), before);

  // Decisions go on from the file's state: a renewal there, saved and read back, is what the
  // tables hold.
  options_.state_file = state_file();
  OpenService();
  ASSERT_TRUE(service_->opened_from_state_file());
  ASSERT_OK(Authorize(devices_[1].Identity(), {{"fw", 3}}));
  ASSERT_OK(service_->SaveState());
  const std::string renewed = Look();
  EXPECT_NE(renewed, before);
  OpenService();
  EXPECT_TRUE(service_->opened_from_state_file());
  EXPECT_EQ(Look(), renewed);
  options_.state_file.clear();
  OpenService();
  EXPECT_EQ(Look(), renewed);
}

TEST_F(StateFileTest, AChangeAfterTheSaveIsReadFromTheTablesAfterTheFile) {
  Populate();
  // Each change is followed by a restart without a clean stop (kill -9): no new save.
  const std::vector<std::pair<std::string, std::function<void()>>> changes = {
      {"renewal",
       [&] {
         clock_.Advance(std::chrono::seconds(30));  // a renewal at the same second is no change
         ASSERT_OK(Authorize(devices_[0].Identity(), {{"fw", 1}, {"dna", 1}, {"lease", 1}}));
       }},
      {"new grant",
       [&] {
         ASSERT_OK(Authorize(devices_[2].Identity(), {{"fw", 1}, {"dna", 1}}));
       }},
      {"registration",
       [&] {
         devices_.push_back(MakeDevice("SN-new"));
         RegisterOrDie(devices_.back(), NewToken("east"));
       }},
      {"release",
       [&] {
         ASSERT_OK(
             operators().ReleaseDevice(devices_[3].registration.instance_id(), Oscar().actor()));
       }},
      {"rehost",
       [&] {
         ASSERT_OK(operators().RehostDevice(devices_[1].registration.instance_id(),
                                            "C9300-24T:MOVED", Oscar().actor()));
       }},
      {"expiry",
       [&] {
         clock_.Advance(std::chrono::hours(2));  // the floating lease ends
         ASSERT_OK(service_->Sweep());
       }},
  };
  for (const auto& [name, change] : changes) {
    SCOPED_TRACE(name);
    ASSERT_OK(service_->SaveState());
    ASSERT_EQ(Tokens(), 1);
    change();
    EXPECT_EQ(Tokens(), 1) << "a change keeps the saved state";
    EXPECT_GT(Changed(), 0) << "and lists the instance it changed";
    // Last-seen times wait in memory for the sweep (a kill -9 loses them, file or not): written
    // here so that the comparison below is about licensing state only.
    ASSERT_OK(service_->Sweep(/*final=*/true));
    const std::string expected = Look();
    OpenService();
    EXPECT_TRUE(service_->opened_from_state_file());
    EXPECT_EQ(service_->changed_since_state_file(), static_cast<size_t>(Changed()));
    EXPECT_GT(service_->changed_since_state_file(), 0u);
    EXPECT_EQ(Look(), expected);
    EXPECT_EQ(LookFromTables(), expected);
    OpenService();
  }
}

TEST_F(StateFileTest, LastSeenTimesDoNotVoidTheSavedState) {
  Populate();
  ASSERT_OK(service_->SaveState());
  clock_.Advance(std::chrono::seconds(5));
  HandEdit("UPDATE devices SET last_seen_at = 12345, hostname = 'renamed'");
  EXPECT_EQ(Tokens(), 1);
  OpenService();
  EXPECT_TRUE(service_->opened_from_state_file());
}

TEST_F(StateFileTest, AFileAndATokenThatDisagreeAreNotRead) {
  Populate();
  ASSERT_OK(service_->SaveState());
  const std::filesystem::path older = dir_ / "older.state";
  std::filesystem::copy_file(state_file(), older);
  ASSERT_OK(Authorize(devices_[0].Identity(), {{"fw", 2}}));
  ASSERT_OK(service_->SaveState());
  const std::string expected = Look();

  // The file of an earlier stop where the database holds the later token: as after a crash
  // between writing the file and committing its token.
  std::filesystem::copy_file(older, state_file(),
                             std::filesystem::copy_options::overwrite_existing);
  OpenService();
  EXPECT_FALSE(service_->opened_from_state_file());
  EXPECT_EQ(Look(), expected);

  // A file with no token in the database at all (a crash before the first token committed, or
  // a database restored from before it).
  ASSERT_OK(service_->SaveState());
  OpenService();
  ASSERT_TRUE(service_->opened_from_state_file());
  HandEdit("DELETE FROM licensing_state");
  OpenService();
  EXPECT_FALSE(service_->opened_from_state_file());
  EXPECT_EQ(Look(), expected);

  // A token without its file.
  ASSERT_OK(service_->SaveState());
  std::filesystem::remove(state_file());
  OpenService();
  EXPECT_FALSE(service_->opened_from_state_file());
  EXPECT_EQ(Look(), expected);
  EXPECT_EQ(Tokens(), 0) << "voided, so that the next sweep saves anew";
}

TEST_F(StateFileTest, AHandEditIsReadFromTheTablesAndAnImpossibleRowIsStillRefused) {
  Populate();
  ASSERT_OK(service_->SaveState());
  HandEdit("UPDATE consumption SET count = 1 WHERE tag = 'fw'");
  EXPECT_GT(Changed(), 0);
  const std::string edited = LookFromTables();
  OpenService();
  EXPECT_TRUE(service_->opened_from_state_file());
  EXPECT_EQ(Look(), edited);

  HandEdit("UPDATE consumption SET count = 2000000 WHERE tag = 'dna'");
  const Status s = TryOpenService();
  EXPECT_EQ(s.code(), Errc::kDataLoss) << s.ToString();
  EXPECT_NE(s.message().find("between 1 and"), std::string::npos) << s.message();
}

TEST_F(StateFileTest, ADamagedOrCutFileIsNotRead) {
  Populate();
  const std::string expected = Look();
  const auto damage = [&](auto change) {
    // A file that could not be read voided its token: the next stop saves anew.
    ASSERT_OK(service_->SaveState());
    ASSERT_EQ(Tokens(), 1);
    std::string bytes = outpost::testing::ReadFileOrDie(state_file());
    change(bytes);
    outpost::testing::WriteFileOrDie(state_file(), bytes);
    OpenService();
    EXPECT_FALSE(service_->opened_from_state_file());
    EXPECT_EQ(Look(), expected);
    EXPECT_EQ(Tokens(), 0);
  };
  damage([](std::string& b) { b[b.size() / 2] ^= 0x40; });     // a flipped bit
  damage([](std::string& b) { b.resize(b.size() - 7); });      // cut short
  damage([](std::string& b) { b[b.size() - 1] ^= 0x01; });     // the book's last byte
  damage([](std::string& b) { b[200] ^= 0x01; });              // the registry
  damage([](std::string& b) { b.replace(0, 7, "NOTOURS"); });  // not a state file
}

TEST_F(StateFileTest, AnIdleRestartKeepsTheSavedFile) {
  Populate();
  ASSERT_OK(service_->SaveState());
  const auto token = StateFileToken(state_file());
  ASSERT_TRUE(token.has_value());
  const std::string before = Look();
  for (int i = 0; i < 2; ++i) {
    OpenService();
    EXPECT_TRUE(service_->opened_from_state_file());
    ASSERT_OK(service_->Sweep(/*final=*/true));
    ASSERT_OK(service_->SaveState());
    EXPECT_EQ(StateFileToken(state_file()), token) << "nothing changed: nothing rewritten";
  }
  EXPECT_EQ(Look(), before);
}

TEST_F(StateFileTest, WithoutAStateFileNothingIsSaved) {
  options_.state_file.clear();
  OpenService();
  Populate();
  ASSERT_OK(service_->SaveState());
  EXPECT_EQ(Tokens(), 0);
  EXPECT_FALSE(std::filesystem::exists(state_file()));
}

TEST_F(StateFileTest, AFileWithTheRightTokenButOtherContentIsNotRead) {
  Populate();
  ASSERT_OK(service_->SaveState());
  const std::string older = outpost::testing::ReadFileOrDie(state_file());
  ASSERT_OK(Authorize(devices_[0].Identity(), {{"fw", 2}}));
  ASSERT_OK(service_->SaveState());
  const std::string expected = Look();
  const std::string current = outpost::testing::ReadFileOrDie(state_file());

  // A whole, self-consistent file of another save given the current token: its own length and
  // checksums hold, but the database's digest of the file does not.
  const auto token = StateFileToken(state_file());
  ASSERT_TRUE(token.has_value());
  const size_t at = current.find(*token);
  ASSERT_NE(at, std::string::npos);
  std::string forged = older;
  forged.replace(at, token->size(), *token);
  outpost::testing::WriteFileOrDie(state_file(), forged);
  ASSERT_EQ(StateFileToken(state_file()), token);
  OpenService();
  EXPECT_FALSE(service_->opened_from_state_file()) << "an edited file must not be read";
  EXPECT_EQ(Look(), expected);
  EXPECT_EQ(Tokens(), 0) << "voided: the next sweep saves anew";

  // The digest in the database edited: the file is not read either.
  ASSERT_OK(service_->SaveState());
  HandEdit("UPDATE licensing_state SET digest = '" + std::string(64, '0') + "'");
  OpenService();
  EXPECT_FALSE(service_->opened_from_state_file());
  EXPECT_EQ(Look(), expected);
}

TEST_F(StateFileTest, SweepSavesAfterAStartFromTheTablesAndWhenManyDevicesChanged) {
  options_.state_check_interval = std::chrono::seconds(0);
  options_.state_file_max_changed = 3;
  OpenService();
  Populate();  // its final sweep saved: there was no file
  EXPECT_EQ(Tokens(), 1);
  EXPECT_EQ(Changed(), 0);
  const auto first = StateFileToken(state_file());

  const std::string token = NewToken("east");
  for (const char* serial : {"N1", "N2"}) {
    devices_.push_back(MakeDevice(serial));
    RegisterOrDie(devices_.back(), token);
  }
  ASSERT_OK(service_->Sweep());
  EXPECT_EQ(Changed(), 2) << "two devices changed: below the bound, no save";
  EXPECT_EQ(StateFileToken(state_file()), first);

  devices_.push_back(MakeDevice("N3"));
  RegisterOrDie(devices_.back(), token);
  ASSERT_OK(service_->Sweep());
  EXPECT_EQ(Changed(), 0) << "three: saved, and the list starts again";
  EXPECT_NE(StateFileToken(state_file()), first);
  const std::string expected = Look();
  OpenService();
  EXPECT_TRUE(service_->opened_from_state_file());
  EXPECT_EQ(service_->changed_since_state_file(), 0u);
  EXPECT_EQ(Look(), expected);

  // A start that could not use the file saves at its first sweep.
  std::filesystem::remove(state_file());
  OpenService();
  EXPECT_FALSE(service_->opened_from_state_file());
  EXPECT_EQ(Tokens(), 0);
  ASSERT_OK(service_->Sweep());
  EXPECT_EQ(Tokens(), 1);
  EXPECT_TRUE(std::filesystem::exists(state_file()));
}

TEST_F(StateFileTest, NothingIsListedWithoutASavedFile) {
  options_.state_file.clear();
  OpenService();
  Populate();
  EXPECT_EQ(Tokens(), 0);
  EXPECT_EQ(Changed(), 0) << "changes are listed only while a file is saved";
}

// Random registrations, renewals, releases, rehosts, reservations, moves and expiries, with a
// restart after each step: a crash (no save), a clean stop (SaveState) or a save from the sweep,
// in random order. After every restart memory equals what a start from the tables gives.
TEST_F(StateFileTest, RandomChangesAndCrashesAlwaysGiveTheTablesState) {
  options_.state_check_interval = std::chrono::seconds(0);
  options_.state_file_max_changed = 4;
  OpenService();
  Seed(Standard());
  std::mt19937 rng(20261205);
  const auto pick = [&](size_t n) { return static_cast<size_t>(rng() % n); };
  const std::vector<std::string> vas = {"east", "west"};
  const std::vector<std::string> tags = {"fw", "dna", "lease"};
  std::vector<TestDevice> live;
  int next_serial = 0;
  size_t from_file = 0;
  size_t with_changes = 0;
  for (int step = 0; step < 60; ++step) {
    SCOPED_TRACE("step " + std::to_string(step));
    const size_t action = live.empty() ? 0 : pick(8);
    if (action <= 1) {
      live.push_back(MakeDevice("R" + std::to_string(next_serial++)));
      RegisterOrDie(live.back(), NewToken(vas[pick(vas.size())]));
    } else if (action <= 3) {
      std::vector<std::pair<std::string, int64_t>> use;
      for (const std::string& tag : tags) {
        if (pick(2) == 0) use.push_back({tag, static_cast<int64_t>(1 + pick(2))});
      }
      // Denied or out of compliance is as good an outcome as granted.
      (void)Authorize(live[pick(live.size())].Identity(), use);
    } else if (action == 4) {
      const size_t i = pick(live.size());
      ASSERT_OK(operators().ReleaseDevice(live[i].registration.instance_id(), Oscar().actor()));
      live.erase(live.begin() + static_cast<std::ptrdiff_t>(i));
    } else if (action == 5) {
      const size_t i = pick(live.size());
      ASSERT_OK(operators().RehostDevice(live[i].registration.instance_id(),
                                         "C9300-24T:H" + std::to_string(next_serial++),
                                         Oscar().actor()));
      live.erase(live.begin() + static_cast<std::ptrdiff_t>(i));  // its certificate is void
    } else if (action == 6) {
      v1::ReservationRequest reserve;
      reserve.set_va("west");
      reserve.set_tag("fw");
      reserve.set_count(static_cast<int64_t>(pick(3)));
      reserve.set_udi("C9300-24T:RSV");
      (void)operators().Reserve(reserve, Oscar().actor());
    } else {
      clock_.Advance(std::chrono::minutes(40));  // floating leases run out
      ASSERT_OK(service_->Sweep());
    }
    clock_.Advance(std::chrono::seconds(1 + pick(3)));
    // A clean stop one time in four, else a crash right after the last commit. The sweep saves
    // when due; it also writes the last-seen times, which wait in memory for it (a kill -9 loses
    // them, file or not), so that the comparison is about licensing state only.
    ASSERT_OK(service_->Sweep(/*final=*/true));
    if (pick(4) == 0) ASSERT_OK(service_->SaveState());
    const std::string expected = LookFromTables();
    OpenService();
    if (service_->opened_from_state_file()) ++from_file;
    if (service_->changed_since_state_file() > 0) ++with_changes;
    ASSERT_EQ(Look(), expected);
  }
  // The run went through both ways of loading.
  EXPECT_GT(from_file, 30u);
  EXPECT_GT(with_changes, 10u);
}

}  // namespace
}  // namespace outpost::server::licensing
