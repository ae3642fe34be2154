// The compact forms of names, instance ids and certificate serials convert back exactly.

#include "server/licensing/core/compact.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <string>
#include <utility>
#include <vector>

namespace outpost::server::licensing {
namespace {

TEST(StringTableTest, InternsEachNameOnce) {
  StringTable table;
  const uint32_t a = table.Intern("default");
  const uint32_t b = table.Intern("lab");
  EXPECT_NE(a, b);
  EXPECT_EQ(table.Intern("default"), a);
  EXPECT_EQ(table.size(), 2u);
  EXPECT_EQ(table.Get(a), "default");
  EXPECT_EQ(table.Find("lab"), b);
  EXPECT_FALSE(table.Find("nope").has_value());
}

TEST(StringTableTest, NamesStayValidAsTheTableGrows) {
  StringTable table;
  const uint32_t first = table.Intern("first");
  const std::string& text = table.Get(first);
  for (int i = 0; i < 10000; ++i) table.Intern("name-" + std::to_string(i));
  EXPECT_EQ(text, "first");
  EXPECT_EQ(table.Find("first"), first);
  EXPECT_EQ(table.Find("name-9999"), table.Intern("name-9999"));
}

TEST(InstanceKeyTest, UuidIsPackedAndConvertsBack) {
  StringTable others;
  const std::string id = "0f1e2d3c-4b5a-4697-8877-66554433aabb";
  const InstanceKey key = MakeInstanceKey(id, others);
  EXPECT_EQ(key.other, 0u);
  EXPECT_EQ(others.size(), 0u);
  EXPECT_EQ(InstanceKeyText(key, others), id);
  EXPECT_EQ(FindInstanceKey(id, others), key);
}

TEST(InstanceKeyTest, OtherIdsAreInternedAndConvertBack) {
  StringTable others;
  // Uppercase, a missing hyphen or a short id would not convert back from 16 bytes.
  for (const std::string id : {"dev-1", "0F1E2D3C-4B5A-4697-8877-66554433AABB",
                               "0f1e2d3c4b5a-4697-8877-66554433aabb-", "a"}) {
    SCOPED_TRACE(id);
    EXPECT_FALSE(FindInstanceKey(id, others).has_value());
    const InstanceKey key = MakeInstanceKey(id, others);
    EXPECT_NE(key.other, 0u);
    EXPECT_EQ(InstanceKeyText(key, others), id);
    EXPECT_EQ(FindInstanceKey(id, others), key);
    EXPECT_EQ(MakeInstanceKey(id, others), key);
  }
}

TEST(InstanceKeyTest, KeysOrderAsTheirTexts) {
  StringTable others;
  std::vector<std::string> ids = {"00000000-0000-0000-8000-000000000002",
                                  "00000000-0000-0000-8000-00000000000a",
                                  "ffffffff-0000-0000-0000-000000000000",
                                  "dev-1",
                                  "dev-10",
                                  "0",
                                  "zzz",
                                  "00000000-0000-0000-8000-000000000001"};
  std::vector<InstanceKey> keys;
  for (const std::string& id : ids) keys.push_back(MakeInstanceKey(id, others));
  std::sort(keys.begin(), keys.end(), [&](const InstanceKey& a, const InstanceKey& b) {
    return InstanceKeyLess(a, b, others);
  });
  std::sort(ids.begin(), ids.end());
  std::vector<std::string> texts;
  for (const InstanceKey& k : keys) texts.push_back(InstanceKeyText(k, others));
  EXPECT_EQ(texts, ids);
}

TEST(InstanceKeyTest, EqualKeysHashEqually) {
  StringTable others;
  const std::string id = "0f1e2d3c-4b5a-4697-8877-66554433aabb";
  EXPECT_EQ(HashInstanceKey(MakeInstanceKey(id, others)),
            HashInstanceKey(*FindInstanceKey(id, others)));
}

TEST(PackedHexTest, SerialsConvertBack) {
  StringTable others;
  // Serials lose their leading zeros (odd lengths), "" marks a registration without a valid
  // certificate, and 40 digits is the RFC 5280 maximum.
  for (const std::string& serial : std::vector<std::string>{
           "", "1", "abc", "0123456789abcdef0123456789abcdef", std::string(40, 'f')}) {
    SCOPED_TRACE(serial);
    const PackedHex packed = PackHex(serial, others);
    EXPECT_NE(packed.digits, PackedHex::kOther);
    EXPECT_EQ(UnpackHex(packed, others), serial);
    EXPECT_TRUE(PackedHexEquals(packed, serial, others));
  }
  EXPECT_EQ(others.size(), 0u);
}

TEST(PackedHexTest, OtherTextIsInternedAndConvertsBack) {
  StringTable others;
  for (const std::string& text : std::vector<std::string>{"ABC", "not hex", std::string(41, 'a')}) {
    SCOPED_TRACE(text);
    const PackedHex packed = PackHex(text, others);
    EXPECT_EQ(packed.digits, PackedHex::kOther);
    EXPECT_EQ(UnpackHex(packed, others), text);
    EXPECT_TRUE(PackedHexEquals(packed, text, others));
  }
}

TEST(PackedHexTest, DifferentSerialsDoNotMatch) {
  StringTable others;
  const PackedHex packed = PackHex("abc1", others);
  EXPECT_FALSE(PackedHexEquals(packed, "abc", others));
  EXPECT_FALSE(PackedHexEquals(packed, "abc2", others));
  EXPECT_FALSE(PackedHexEquals(packed, "0abc1", others));
  EXPECT_FALSE(PackedHexEquals(packed, "ABC1", others));
  EXPECT_NE(PackHex("abc", others), PackHex("abc0", others));
}

TEST(PackedUdiTest, UdisThatFitAreInlineAndConvertBack) {
  StringTable others;
  for (const auto& [pid, serial] :
       std::vector<std::pair<std::string, std::string>>{{"C9300-24T", "FOC2231X0AB"},
                                                        {"SEED-999999", "S999999"},
                                                        {"", ""},
                                                        {std::string(30, 'p'), ""},
                                                        {"p", std::string(29, 's')}}) {
    SCOPED_TRACE(pid + ":" + serial);
    const PackedUdi packed = PackUdi(pid, serial, others);
    EXPECT_NE(packed.pid_size, PackedUdi::kOther);
    EXPECT_EQ(UdiPid(packed, others), pid);
    EXPECT_EQ(UdiSerial(packed, others), serial);
    EXPECT_EQ(FindPackedUdi(pid, serial, others), packed);
  }
  EXPECT_EQ(others.size(), 0u);
}

TEST(PackedUdiTest, LongUdisAreInternedAndConvertBack) {
  StringTable others;
  const std::string pid(64, 'P');
  const std::string serial(64, 'S');
  EXPECT_FALSE(FindPackedUdi(pid, serial, others).has_value());
  const PackedUdi packed = PackUdi(pid, serial, others);
  EXPECT_EQ(packed.pid_size, PackedUdi::kOther);
  EXPECT_EQ(UdiPid(packed, others), pid);
  EXPECT_EQ(UdiSerial(packed, others), serial);
  EXPECT_EQ(FindPackedUdi(pid, serial, others), packed);
  EXPECT_EQ(PackUdi(pid, serial, others), packed);
  EXPECT_EQ(HashPackedUdi(PackUdi(pid, serial, others)), HashPackedUdi(packed));
  EXPECT_EQ(others.size(), 1u);
}

TEST(PackedUdiTest, TheSplitBetweenProductAndSerialCounts) {
  StringTable others;
  // The same characters split differently are other UDIs, inline and interned alike.
  EXPECT_NE(PackUdi("ab", "c", others), PackUdi("a", "bc", others));
  const std::string text(40, 'x');
  const PackedUdi a = PackUdi(text.substr(0, 20), text.substr(20), others);
  const PackedUdi b = PackUdi(text.substr(0, 21), text.substr(21), others);
  EXPECT_NE(a, b);
  EXPECT_EQ(UdiPid(b, others).size(), 21u);
  // A third split of the interned text packs to neither of them.
  const std::optional<PackedUdi> c = FindPackedUdi(text.substr(0, 22), text.substr(22), others);
  ASSERT_TRUE(c.has_value());
  EXPECT_NE(*c, a);
  EXPECT_NE(*c, b);
}

TEST(InstanceKeyTest, ViewWritesTheSameTextWithoutAllocating) {
  StringTable others;
  std::array<char, kInstanceKeyTextSize> buffer;
  for (const std::string id : {"0f1e2d3c-4b5a-4697-8877-66554433aabb", "dev-1"}) {
    const InstanceKey key = MakeInstanceKey(id, others);
    EXPECT_EQ(InstanceKeyView(key, others, buffer), id);
  }
}

}  // namespace
}  // namespace outpost::server::licensing
