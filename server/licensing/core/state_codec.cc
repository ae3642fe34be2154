#include "server/licensing/core/state_codec.h"

namespace outpost::server::licensing {
namespace {

constexpr uint64_t kMultiplier = 0x9E3779B97F4A7C15ull;

uint64_t Mix(uint64_t h) {
  h ^= h >> 32;
  h *= 0xD6E8FEB86659FD93ull;
  h ^= h >> 32;
  return h;
}

}  // namespace

uint64_t StateChecksum(std::string_view bytes) {
  // Four independent lanes of multiply-rotate over 8-byte words, so that the multiplications
  // overlap; the tail and the length are folded in at the end.
  uint64_t lanes[4] = {1, 2, 3, 4};
  const char* p = bytes.data();
  size_t n = bytes.size();
  while (n >= 32) {
    for (uint64_t& lane : lanes) {
      uint64_t word;
      std::memcpy(&word, p, sizeof word);
      lane = (lane ^ word) * kMultiplier;
      lane = lane << 29 | lane >> 35;
      p += sizeof word;
    }
    n -= 32;
  }
  uint64_t h = bytes.size();
  for (uint64_t lane : lanes) h = Mix(h ^ lane) * kMultiplier;
  while (n > 0) {
    h = Mix(h ^ static_cast<unsigned char>(*p++)) * kMultiplier;
    --n;
  }
  return Mix(h);
}

void PutTable(StateWriter& w, const StringTable& table) {
  w.Put(static_cast<uint32_t>(table.size()));
  for (uint32_t id = 0; id < table.size(); ++id) w.PutString(table.Get(id));
}

bool GetTable(StateReader& r, StringTable& table) {
  uint32_t size = 0;
  if (!r.Get(size) || table.size() != 0) return false;
  for (uint32_t id = 0; id < size; ++id) {
    std::string_view text;
    if (!r.GetString(text) || table.Intern(text) != id) return false;
  }
  return true;
}

}  // namespace outpost::server::licensing
