// PoolBook's compact device table: indexes by instance id and (va, UDI), and the expiry index
// that lets a sweep touch only what expired.

#include "server/licensing/core/book_devices.h"

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

namespace outpost::server::licensing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

const TimePoint kT0 = TimePoint(seconds(1'800'000'000));

class BookDevicesTest : public ::testing::Test {
 protected:
  uint32_t Add(const std::string& id, const std::string& serial, TimePoint until) {
    std::optional<uint32_t> slot = devices_.Add(id, "default", Udi{"PID", serial});
    EXPECT_TRUE(slot.has_value());
    devices_.at(*slot).grants.push_back(BookGrant{devices_.names.Intern("tag"), 1, until});
    devices_.NoteExpiry(*slot);
    return *slot;
  }
  void Renew(uint32_t slot, TimePoint until) {
    devices_.at(slot).grants.front().valid_until = until;
    devices_.NoteExpiry(slot);
  }

  BookDevices devices_;
};

TEST_F(BookDevicesTest, FindsByInstanceAndUdi) {
  const uint32_t a = Add("dev-a", "SN-a", kT0 + seconds(60));
  const uint32_t b = Add("0f1e2d3c-4b5a-4697-8877-66554433aabb", "SN-b", kT0 + seconds(60));
  EXPECT_EQ(devices_.Find("dev-a"), a);
  EXPECT_EQ(devices_.Find("0f1e2d3c-4b5a-4697-8877-66554433aabb"), b);
  EXPECT_FALSE(devices_.Find("dev-c").has_value());
  EXPECT_EQ(devices_.FindByUdi("default", Udi{"PID", "SN-b"}), b);
  EXPECT_FALSE(devices_.FindByUdi("lab", Udi{"PID", "SN-b"}).has_value());
  EXPECT_FALSE(devices_.FindByUdi("default", Udi{"OTHER", "SN-b"}).has_value());
  EXPECT_EQ(devices_.size(), 2u);
}

TEST_F(BookDevicesTest, RefusesATakenInstanceOrUdi) {
  Add("dev-a", "SN-a", kT0);
  EXPECT_FALSE(devices_.Add("dev-a", "default", Udi{"PID", "SN-x"}).has_value());
  EXPECT_FALSE(devices_.Add("dev-x", "default", Udi{"PID", "SN-a"}).has_value());
  EXPECT_EQ(devices_.size(), 1u);
  EXPECT_FALSE(devices_.Find("dev-x").has_value());
  EXPECT_TRUE(devices_.Add("dev-x", "default", Udi{"PID", "SN-x"}).has_value());
}

TEST_F(BookDevicesTest, RenameMovesBothIndexes) {
  const uint32_t a = Add("dev-a", "SN-a", kT0);
  devices_.Rename(a, "dev-b", Udi{"PID2", "SN-b"});
  EXPECT_FALSE(devices_.Find("dev-a").has_value());
  EXPECT_FALSE(devices_.FindByUdi("default", Udi{"PID", "SN-a"}).has_value());
  EXPECT_EQ(devices_.Find("dev-b"), a);
  EXPECT_EQ(devices_.FindByUdi("default", Udi{"PID2", "SN-b"}), a);
}

TEST_F(BookDevicesTest, SortedSlotsFollowInstanceIds) {
  Add("dev-b", "b", kT0);
  Add("dev-a", "a", kT0);
  Add("dev-c", "c", kT0);
  devices_.Remove(*devices_.Find("dev-b"));
  std::vector<std::string> ids;
  for (uint32_t slot : devices_.SortedSlots()) ids.push_back(devices_.IdText(devices_.at(slot)));
  EXPECT_EQ(ids, (std::vector<std::string>{"dev-a", "dev-c"}));
}

TEST_F(BookDevicesTest, ExpiryIndexReturnsOnlyWhatExpired) {
  const uint32_t a = Add("dev-a", "a", kT0 + seconds(10));
  const uint32_t b = Add("dev-b", "b", kT0 + seconds(20));
  EXPECT_EQ(devices_.NextExpiry(), kT0 + seconds(10));
  EXPECT_TRUE(devices_.TakeExpired(kT0 + seconds(9)).empty());
  EXPECT_EQ(devices_.TakeExpired(kT0 + seconds(10)), std::vector<uint32_t>{a});
  EXPECT_EQ(devices_.TakeExpired(kT0 + seconds(30)), std::vector<uint32_t>{b});
}

TEST_F(BookDevicesTest, RenewedDeviceIsNotReturnedAtItsOldExpiry) {
  const uint32_t a = Add("dev-a", "a", kT0 + seconds(10));
  Renew(a, kT0 + seconds(100));
  EXPECT_TRUE(devices_.TakeExpired(kT0 + seconds(50)).empty());
  EXPECT_EQ(devices_.TakeExpired(kT0 + seconds(100)), std::vector<uint32_t>{a});
}

TEST_F(BookDevicesTest, LaterInTheSameSecondIsReturnedWhenItPasses) {
  const uint32_t a = Add("dev-a", "a", kT0 + milliseconds(10'500));
  EXPECT_TRUE(devices_.TakeExpired(kT0 + milliseconds(10'200)).empty());
  EXPECT_EQ(devices_.TakeExpired(kT0 + milliseconds(10'500)), std::vector<uint32_t>{a});
}

TEST_F(BookDevicesTest, RemovedDeviceIsNotReturnedAndItsSlotIsReused) {
  const uint32_t a = Add("dev-a", "a", kT0 + seconds(10));
  devices_.Remove(a);
  EXPECT_EQ(devices_.size(), 0u);
  EXPECT_TRUE(devices_.TakeExpired(kT0 + seconds(60)).empty());
  const uint32_t b = Add("dev-b", "b", kT0 + seconds(100));
  EXPECT_EQ(b, a);
  EXPECT_TRUE(devices_.TakeExpired(kT0 + seconds(60)).empty());
  EXPECT_EQ(devices_.TakeExpired(kT0 + seconds(100)), std::vector<uint32_t>{b});
}

TEST_F(BookDevicesTest, ManyRenewalsKeepTheIndexBounded) {
  const uint32_t a = Add("dev-a", "a", kT0 + seconds(10));
  for (int i = 0; i < 10'000; ++i) Renew(a, kT0 + seconds(20 + i));
  EXPECT_TRUE(devices_.TakeExpired(kT0 + seconds(10'018)).empty());
  EXPECT_EQ(devices_.TakeExpired(kT0 + seconds(10'019)), std::vector<uint32_t>{a});
  EXPECT_TRUE(devices_.TakeExpired(kT0 + seconds(20'000)).empty());
}

}  // namespace
}  // namespace outpost::server::licensing
