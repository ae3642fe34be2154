#include "server/licensing/core/compact.h"

#include <algorithm>
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

std::string_view InstanceKeyView(const InstanceKey& key, const StringTable& others,
                                 std::array<char, kInstanceKeyTextSize>& buffer) {
  static_assert(kInstanceKeyTextSize == kUuidLength);
  if (key.other != 0) return others.Get(key.other - 1);
  size_t out = 0;
  for (size_t i = 0; i < key.uuid.size(); ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) buffer[out++] = '-';
    buffer[out++] = kHex[key.uuid[i] >> 4];
    buffer[out++] = kHex[key.uuid[i] & 0x0f];
  }
  return {buffer.data(), out};
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

namespace {

struct OtherUdi {
  uint32_t index;     // of pid + serial in the table
  uint32_t pid_size;  // where the serial starts
};

OtherUdi OtherUdiOf(const PackedUdi& packed) {
  OtherUdi other;
  std::memcpy(&other, packed.text.data(), sizeof other);
  return other;
}

// The inline packing, or nullopt when the two do not fit.
std::optional<PackedUdi> InlineUdi(std::string_view pid, std::string_view serial) {
  if (pid.size() + serial.size() > PackedUdi::kInline) return std::nullopt;
  PackedUdi packed;
  std::memcpy(packed.text.data(), pid.data(), pid.size());
  std::memcpy(packed.text.data() + pid.size(), serial.data(), serial.size());
  packed.pid_size = static_cast<uint8_t>(pid.size());
  packed.serial_size = static_cast<uint8_t>(serial.size());
  return packed;
}

PackedUdi OtherPackedUdi(uint32_t index, size_t pid_size) {
  PackedUdi packed;
  const OtherUdi other{index, static_cast<uint32_t>(pid_size)};
  std::memcpy(packed.text.data(), &other, sizeof other);
  packed.pid_size = PackedUdi::kOther;
  return packed;
}

}  // namespace

PackedUdi PackUdi(std::string_view pid, std::string_view serial, StringTable& others) {
  if (std::optional<PackedUdi> packed = InlineUdi(pid, serial)) return *packed;
  std::string both;
  both.reserve(pid.size() + serial.size());
  both.append(pid).append(serial);
  return OtherPackedUdi(others.Intern(both), pid.size());
}

std::optional<PackedUdi> FindPackedUdi(std::string_view pid, std::string_view serial,
                                       const StringTable& others) {
  if (std::optional<PackedUdi> packed = InlineUdi(pid, serial)) return packed;
  std::string both;
  both.reserve(pid.size() + serial.size());
  both.append(pid).append(serial);
  // The concatenation alone is ambiguous ("ab" + "c" and "a" + "bc"): the split must match too.
  const std::optional<uint32_t> index = others.Find(both);
  if (!index) return std::nullopt;
  return OtherPackedUdi(*index, pid.size());
}

std::string_view UdiPid(const PackedUdi& packed, const StringTable& others) {
  if (packed.pid_size != PackedUdi::kOther) return {packed.text.data(), packed.pid_size};
  const OtherUdi other = OtherUdiOf(packed);
  return std::string_view(others.Get(other.index)).substr(0, other.pid_size);
}

std::string_view UdiSerial(const PackedUdi& packed, const StringTable& others) {
  if (packed.pid_size != PackedUdi::kOther) {
    return {packed.text.data() + packed.pid_size, packed.serial_size};
  }
  const OtherUdi other = OtherUdiOf(packed);
  return std::string_view(others.Get(other.index)).substr(other.pid_size);
}

bool IsWellFormed(const InstanceKey& key, const StringTable& others) {
  return key.other <= others.size() &&
         (key.other == 0 ||
          std::all_of(key.uuid.begin(), key.uuid.end(), [](uint8_t b) { return b == 0; }));
}

bool IsWellFormed(const PackedHex& packed, const StringTable& others) {
  if (packed.digits == PackedHex::kOther) return OtherIndex(packed) < others.size();
  return packed.digits <= 2 * packed.bytes.size();
}

bool IsWellFormed(const PackedUdi& packed, const StringTable& others) {
  if (packed.pid_size == PackedUdi::kOther) {
    const OtherUdi other = OtherUdiOf(packed);
    return packed.serial_size == 0 && other.index < others.size() &&
           other.pid_size <= others.Get(other.index).size();
  }
  // Inline: the text ends where the sizes say, zeros after (as PackUdi leaves it, so that equal
  // UDIs are equal bytes).
  const size_t used = size_t{packed.pid_size} + packed.serial_size;
  return used <= PackedUdi::kInline &&
         std::all_of(packed.text.begin() + static_cast<ptrdiff_t>(used), packed.text.end(),
                     [](char c) { return c == 0; });
}

size_t HashPackedUdi(const PackedUdi& packed) {
  uint64_t words[4];
  static_assert(sizeof words == sizeof packed);
  std::memcpy(words, &packed, sizeof words);
  size_t seed = 0;
  for (uint64_t w : words) boost::hash_combine(seed, w);
  return seed;
}

}  // namespace outpost::server::licensing
