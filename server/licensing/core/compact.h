#pragma once

// Compact forms of the strings licensing holds per device, so a million registered devices fit
// in a few hundred bytes each (docs/architecture.md, "In-memory layout"):
// - StringTable interns the small vocabularies (virtual accounts, tags, product ids): each name
//   is stored once and devices hold a 32-bit id.
// - InstanceKey holds an instance id in 16 bytes when it is a UUID as NewUuid() writes it
//   (lowercase, hyphenated); any other id (tests use "dev-1") is interned in a StringTable.
// - PackedHex holds a certificate serial (lowercase hex, at most 40 digits as RFC 5280 allows)
//   in 21 bytes; anything else is interned.
// - PackedUdi holds a UDI (product id and serial) in 32 bytes when the two fit together in 30
//   characters, as real ones do ("C9300-24T" and "FOC2231X0AB" take 20); longer ones are
//   interned. Product ids are not interned one by one: a satellite may see as many as devices.
// Every form converts back to exactly the text it was made from.
//
// Thread-safety: none; the owner's lock guards them.

#include <array>
#include <boost/unordered/unordered_flat_map.hpp>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>

namespace outpost::server::licensing {

// Names interned for the life of the table (they are few: VAs, tags, product ids).
class StringTable {
 public:
  StringTable() = default;
  StringTable(const StringTable&) = delete;
  StringTable& operator=(const StringTable&) = delete;

  // The id of `text`, adding it when new.
  uint32_t Intern(std::string_view text);
  // The id of `text` if it was interned.
  std::optional<uint32_t> Find(std::string_view text) const;
  // The text of an id Intern returned.
  const std::string& Get(uint32_t id) const { return strings_[id]; }
  size_t size() const { return strings_.size(); }

 private:
  std::deque<std::string> strings_;  // a deque: the views in ids_ stay valid as it grows
  boost::unordered_flat_map<std::string_view, uint32_t> ids_;
};

struct InstanceKey {
  std::array<uint8_t, 16> uuid{};  // the UUID's bytes when `other` is 0
  uint32_t other = 0;              // 0: a UUID; otherwise 1 + the id's index in a StringTable

  friend bool operator==(const InstanceKey&, const InstanceKey&) = default;
};

// Encodes `id`, interning it in `others` when it is not a lowercase hyphenated UUID.
InstanceKey MakeInstanceKey(std::string_view id, StringTable& others);
// The key of `id` if it can exist (a UUID, or a known other id); no interning.
std::optional<InstanceKey> FindInstanceKey(std::string_view id, const StringTable& others);
std::string InstanceKeyText(const InstanceKey& key, const StringTable& others);
// The same text without allocating: a UUID is written into `buffer`, valid while it and `others`
// are.
inline constexpr size_t kInstanceKeyTextSize = 36;
std::string_view InstanceKeyView(const InstanceKey& key, const StringTable& others,
                                 std::array<char, kInstanceKeyTextSize>& buffer);
// Orders keys as their texts order (byte-wise), without building them for two UUIDs.
bool InstanceKeyLess(const InstanceKey& a, const InstanceKey& b, const StringTable& others);
size_t HashInstanceKey(const InstanceKey& key);

// A lowercase hex string of up to 40 digits, packed two digits a byte.
struct PackedHex {
  std::array<uint8_t, 20> bytes{};
  uint8_t digits = 0;  // kOther: bytes[0..3] hold the index of the text in a StringTable

  static constexpr uint8_t kOther = 0xff;
  friend bool operator==(const PackedHex&, const PackedHex&) = default;
};
PackedHex PackHex(std::string_view text, StringTable& others);
std::string UnpackHex(const PackedHex& packed, const StringTable& others);
// Whether `packed` is the packing of `text` (no interning, no allocation).
bool PackedHexEquals(const PackedHex& packed, std::string_view text, const StringTable& others);

// A UDI's product id and serial, inline or (kOther) as an index into a StringTable holding both.
// Equal UDIs packed with the same table are equal bytes, so == and HashPackedUdi need no table.
struct PackedUdi {
  static constexpr size_t kInline = 30;
  static constexpr uint8_t kOther = 0xff;
  // Inline: the product id, then the serial, then zeros. kOther: the index of pid + serial in the
  // table (4 bytes), then the product id's length (4 bytes).
  std::array<char, kInline> text{};
  uint8_t pid_size = 0;  // kOther: interned
  uint8_t serial_size = 0;

  friend bool operator==(const PackedUdi&, const PackedUdi&) = default;
};
static_assert(sizeof(PackedUdi) == 32);
PackedUdi PackUdi(std::string_view pid, std::string_view serial, StringTable& others);
// The packing of (pid, serial) if it can exist in `others` (no interning).
std::optional<PackedUdi> FindPackedUdi(std::string_view pid, std::string_view serial,
                                       const StringTable& others);
// Views into `packed` (or `others`): valid while both are.
std::string_view UdiPid(const PackedUdi& packed, const StringTable& others);
std::string_view UdiSerial(const PackedUdi& packed, const StringTable& others);
size_t HashPackedUdi(const PackedUdi& packed);

// Whether a packed value read back from bytes (state_codec.h) is one the functions above can have
// made with `others`: sizes in range, indexes into `others` that exist.
bool IsWellFormed(const InstanceKey& key, const StringTable& others);
bool IsWellFormed(const PackedHex& packed, const StringTable& others);
bool IsWellFormed(const PackedUdi& packed, const StringTable& others);

}  // namespace outpost::server::licensing
