#include "server/licensing/core/compact.h"

#include <boost/container_hash/hash.hpp>
#include <cstring>

namespace outpost::server::licensing {
namespace {

// Lowercase hex digits to their values, anything else to -1 (uppercase is another text: it
// would not convert back). A table: this runs for every device at start-up.
constexpr std::array<int8_t, 256> kHexValues = [] {
  std::array<int8_t, 256> t{};
  for (int c = 0; c < 256; ++c) t[c] = -1;
  for (int c = '0'; c <= '9'; ++c) t[c] = static_cast<int8_t>(c - '0');
  for (int c = 'a'; c <= 'f'; ++c) t[c] = static_cast<int8_t>(c - 'a' + 10);
  return t;
}();

int HexValue(char c) { return kHexValues[static_cast<unsigned char>(c)]; }

constexpr char kHex[] = "0123456789abcdef";
constexpr size_t kUuidLength = 36;
// Where each byte's two digits start in "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx".
constexpr std::array<uint8_t, 16> kUuidDigits = {0,  2,  4,  6,  9,  11, 14, 16,
                                                 19, 21, 24, 26, 28, 30, 32, 34};

// The 16 bytes of a lowercase hyphenated UUID, or nullopt.
std::optional<std::array<uint8_t, 16>> ParseUuid(std::string_view id) {
  if (id.size() != kUuidLength || id[8] != '-' || id[13] != '-' || id[18] != '-' || id[23] != '-') {
    return std::nullopt;
  }
  std::array<uint8_t, 16> out{};
  int bad = 0;  // any -1 makes it negative
  for (size_t i = 0; i < out.size(); ++i) {
    const int hi = HexValue(id[kUuidDigits[i]]);
    const int lo = HexValue(id[kUuidDigits[i] + 1]);
    bad |= hi | lo;
    out[i] = static_cast<uint8_t>(hi << 4 | (lo & 0x0f));
  }
  if (bad < 0) return std::nullopt;
  return out;
}

uint32_t OtherIndex(const PackedHex& packed) {
  uint32_t index;
  std::memcpy(&index, packed.bytes.data(), sizeof index);
  return index;
}

}  // namespace

uint32_t StringTable::Intern(std::string_view text) {
  if (auto it = ids_.find(text); it != ids_.end()) return it->second;
  const auto id = static_cast<uint32_t>(strings_.size());
  strings_.emplace_back(text);
  ids_.emplace(strings_.back(), id);
  return id;
}

std::optional<uint32_t> StringTable::Find(std::string_view text) const {
  auto it = ids_.find(text);
  if (it == ids_.end()) return std::nullopt;
  return it->second;
}

InstanceKey MakeInstanceKey(std::string_view id, StringTable& others) {
  InstanceKey key;
  if (auto uuid = ParseUuid(id)) {
    key.uuid = *uuid;
  } else {
    key.other = others.Intern(id) + 1;
  }
  return key;
}

std::optional<InstanceKey> FindInstanceKey(std::string_view id, const StringTable& others) {
  InstanceKey key;
  if (auto uuid = ParseUuid(id)) {
    key.uuid = *uuid;
    return key;
  }
  auto index = others.Find(id);
  if (!index) return std::nullopt;
  key.other = *index + 1;
  return key;
}

std::string InstanceKeyText(const InstanceKey& key, const StringTable& others) {
  if (key.other != 0) return others.Get(key.other - 1);
  std::string out;
  out.reserve(kUuidLength);
  for (size_t i = 0; i < key.uuid.size(); ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out.push_back('-');
    out.push_back(kHex[key.uuid[i] >> 4]);
    out.push_back(kHex[key.uuid[i] & 0x0f]);
  }
  return out;
}

bool InstanceKeyLess(const InstanceKey& a, const InstanceKey& b, const StringTable& others) {
  // Lowercase hex digits sort like their values and the hyphens sit at the same places, so two
  // UUIDs order as their bytes do.
  if (a.other == 0 && b.other == 0) {
    return std::memcmp(a.uuid.data(), b.uuid.data(), a.uuid.size()) < 0;
  }
  return InstanceKeyText(a, others) < InstanceKeyText(b, others);
}

size_t HashInstanceKey(const InstanceKey& key) {
  size_t seed = key.other;
  uint64_t half[2];
  std::memcpy(half, key.uuid.data(), sizeof half);
  boost::hash_combine(seed, half[0]);
  boost::hash_combine(seed, half[1]);
  return seed;
}

PackedHex PackHex(std::string_view text, StringTable& others) {
  PackedHex packed;
  bool hex = text.size() <= 2 * packed.bytes.size();
  for (size_t i = 0; hex && i < text.size(); ++i) {
    const int v = HexValue(text[i]);
    if (v < 0) {
      hex = false;
      break;
    }
    packed.bytes[i / 2] = static_cast<uint8_t>(packed.bytes[i / 2] | (i % 2 == 0 ? v << 4 : v));
  }
  if (hex) {
    packed.digits = static_cast<uint8_t>(text.size());
    return packed;
  }
  packed = PackedHex{};
  packed.digits = PackedHex::kOther;
  const uint32_t index = others.Intern(text);
  std::memcpy(packed.bytes.data(), &index, sizeof index);
  return packed;
}

std::string UnpackHex(const PackedHex& packed, const StringTable& others) {
  if (packed.digits == PackedHex::kOther) return others.Get(OtherIndex(packed));
  std::string out(packed.digits, '0');
  for (size_t i = 0; i < out.size(); ++i) {
    const uint8_t byte = packed.bytes[i / 2];
    out[i] = kHex[i % 2 == 0 ? byte >> 4 : byte & 0x0f];
  }
  return out;
}

bool PackedHexEquals(const PackedHex& packed, std::string_view text, const StringTable& others) {
  if (packed.digits == PackedHex::kOther) return others.Get(OtherIndex(packed)) == text;
  if (text.size() != packed.digits) return false;
  for (size_t i = 0; i < text.size(); ++i) {
    const uint8_t byte = packed.bytes[i / 2];
    if (text[i] != kHex[i % 2 == 0 ? byte >> 4 : byte & 0x0f]) return false;
  }
  return true;
}

}  // namespace outpost::server::licensing
