// The licensing state file (state_file.h): a restart after a clean stop reads it and has exactly
// the state a load of the tables gives; whenever the file and the tables may disagree — a change
// after the save (a crash), a crash between writing the file and committing its token, a hand
// edit, a damaged file, a database without a token — the tables are read instead.

#include "server/licensing/state_file.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
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

TEST_F(StateFileTest, AnyChangeAfterTheSaveMakesTheNextStartReadTheTables) {
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
    EXPECT_EQ(Tokens(), 0) << "the change voided the saved state";
    // Last-seen times wait in memory for the sweep (a kill -9 loses them, file or not): written
    // here so that the comparison below is about licensing state only.
    ASSERT_OK(service_->Sweep(/*final=*/true));
    const std::string expected = Look();
    OpenService();
    EXPECT_FALSE(service_->opened_from_state_file());
    EXPECT_EQ(Look(), expected);
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
}

TEST_F(StateFileTest, AHandEditVoidsTheSavedStateAndAnImpossibleRowIsStillRefused) {
  Populate();
  ASSERT_OK(service_->SaveState());
  HandEdit("UPDATE consumption SET count = 2000000 WHERE tag = 'dna'");
  EXPECT_EQ(Tokens(), 0);
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

}  // namespace
}  // namespace outpost::server::licensing
