// The service's compact registry of devices: lookups by instance id, UDI and (VA, serial), and
// the map-like "last one put wins" of the two UDI indexes that registration relies on.

#include "server/licensing/core/registry.h"

#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <string>
#include <vector>

namespace outpost::server::licensing {
namespace {

RegisteredDevice Device(std::string id, std::string va, std::string pid, std::string serial,
                        std::string cert = "0a1b2c") {
  return {std::move(id), std::move(va),   Udi{std::move(pid), std::move(serial)},
          true,          std::move(cert), TimePoint(std::chrono::seconds(1'900'000'000))};
}

TEST(DeviceRegistryTest, GivesBackWhatWasPut) {
  DeviceRegistry registry;
  const RegisteredDevice uuid = Device("0f1e2d3c-4b5a-4697-8877-66554433aabb", "default", "FW",
                                       "SN1", "1234567890abcdef1234567890abcdef12345678");
  const RegisteredDevice other = Device("dev-1", "lab", "FW", "SN2", "NOT-HEX");
  registry.Put(uuid);
  registry.Put(other);
  EXPECT_EQ(registry.size(), 2u);
  EXPECT_EQ(registry.Find(uuid.instance_id), uuid);
  EXPECT_EQ(registry.Find("dev-1"), other);
  EXPECT_FALSE(registry.Find("dev-2").has_value());
  EXPECT_TRUE(registry.Contains("dev-1"));
  EXPECT_EQ(registry.FindByUdi(Udi{"FW", "SN1"}), uuid.instance_id);
  EXPECT_EQ(registry.FindByVaSerial("lab", "SN2"), "dev-1");
  EXPECT_FALSE(registry.FindByVaSerial("default", "SN2").has_value());
  EXPECT_FALSE(registry.FindByUdi(Udi{"OTHER", "SN1"}).has_value());
}

TEST(DeviceRegistryTest, PutReplacesTheSameInstance) {
  DeviceRegistry registry;
  registry.Put(Device("dev-1", "default", "FW", "SN1"));
  RegisteredDevice moved = Device("dev-1", "default", "FW", "SN9", "");
  registry.Put(moved);
  EXPECT_EQ(registry.size(), 1u);
  EXPECT_EQ(registry.Find("dev-1"), moved);
  EXPECT_FALSE(registry.FindByUdi(Udi{"FW", "SN1"}).has_value());
  EXPECT_FALSE(registry.FindByVaSerial("default", "SN1").has_value());
  EXPECT_EQ(registry.FindByUdi(Udi{"FW", "SN9"}), "dev-1");
}

TEST(DeviceRegistryTest, LastDevicePutWithAUdiIsTheOneItNames) {
  DeviceRegistry registry;
  registry.Put(Device("dev-1", "default", "FW", "SN1"));
  registry.Put(Device("dev-2", "lab", "FW", "SN1"));
  EXPECT_EQ(registry.FindByUdi(Udi{"FW", "SN1"}), "dev-2");
  // Removing the older one leaves the newer one's entry.
  EXPECT_TRUE(registry.Remove("dev-1"));
  EXPECT_EQ(registry.FindByUdi(Udi{"FW", "SN1"}), "dev-2");
  EXPECT_EQ(registry.FindByVaSerial("lab", "SN1"), "dev-2");
  EXPECT_TRUE(registry.Remove("dev-2"));
  EXPECT_FALSE(registry.FindByUdi(Udi{"FW", "SN1"}).has_value());
  EXPECT_FALSE(registry.Remove("dev-2"));
  EXPECT_EQ(registry.size(), 0u);
}

TEST(DeviceRegistryTest, SortedIdsListsInOrderUpToTheLimit) {
  DeviceRegistry registry;
  for (const std::string id : {"dev-3", "dev-1", "dev-4", "dev-2"}) {
    registry.Put(Device(id, id == "dev-4" ? "lab" : "default", "FW", "SN" + id));
  }
  bool more = true;
  EXPECT_EQ(registry.SortedIds(std::nullopt, 10, &more),
            (std::vector<std::string>{"dev-1", "dev-2", "dev-3", "dev-4"}));
  EXPECT_FALSE(more);
  EXPECT_EQ(registry.SortedIds(std::nullopt, 2, &more),
            (std::vector<std::string>{"dev-1", "dev-2"}));
  EXPECT_TRUE(more);
  EXPECT_EQ(registry.SortedIds("lab", 10, &more), std::vector<std::string>{"dev-4"});
  EXPECT_FALSE(more);
  EXPECT_TRUE(registry.SortedIds("nowhere", 10, &more).empty());
  EXPECT_FALSE(more);
  EXPECT_EQ(registry.CountByVa(), (std::map<std::string, int64_t>{{"default", 3}, {"lab", 1}}));
}

TEST(DeviceRegistryTest, ReleasedSlotsAreReused) {
  DeviceRegistry registry;
  for (int round = 0; round < 3; ++round) {
    for (int i = 0; i < 100; ++i) {
      registry.Put(Device("dev-" + std::to_string(i), "default", "FW", "SN" + std::to_string(i)));
    }
    for (int i = 0; i < 100; ++i) EXPECT_TRUE(registry.Remove("dev-" + std::to_string(i)));
  }
  EXPECT_EQ(registry.size(), 0u);
  EXPECT_TRUE(registry.CountByVa().empty());
}

}  // namespace
}  // namespace outpost::server::licensing
