#pragma once

// The byte form of the in-memory licensing state (registry and the book's devices), which the
// service writes to its state file at a clean stop and reads back at the next start instead of
// decoding every row of the database (docs/architecture.md, "Start-up"). StateWriter appends
// fixed-width values and strings in host byte order; StateReader reads them back and fails (never
// reads past the end) on anything shorter than promised. The file is a cache of the database, so
// a reader that fails means only: load from the database.
//
// Thread-safety: none; one owner each.

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "server/licensing/core/bulk_allocator.h"
#include "server/licensing/core/compact.h"

namespace outpost::server::licensing {

// A 64-bit checksum of `bytes` (not cryptographic: it catches a torn or damaged file, ~10 GB/s).
uint64_t StateChecksum(std::string_view bytes);

class StateWriter {
 public:
  template <typename T>
  void Put(const T& value) {
    static_assert(std::is_trivially_copyable_v<T>);
    const size_t at = bytes_.size();
    bytes_.resize(at + sizeof(T));
    std::memcpy(bytes_.data() + at, &value, sizeof(T));
  }
  void PutString(std::string_view text) {
    Put(static_cast<uint32_t>(text.size()));
    bytes_.insert(bytes_.end(), text.begin(), text.end());
  }
  void Reserve(size_t bytes) { bytes_.reserve(bytes); }
  std::string_view bytes() const { return {bytes_.data(), bytes_.size()}; }

 private:
  std::vector<char, BulkAllocator<char>> bytes_;
};

class StateReader {
 public:
  explicit StateReader(std::string_view bytes) : rest_(bytes) {}

  // False (and `value` unchanged) when fewer than sizeof(T) bytes are left.
  template <typename T>
  bool Get(T& value) {
    static_assert(std::is_trivially_copyable_v<T>);
    if (rest_.size() < sizeof(T)) return Fail();
    std::memcpy(&value, rest_.data(), sizeof(T));
    rest_.remove_prefix(sizeof(T));
    return true;
  }
  // A view into the reader's bytes.
  bool GetString(std::string_view& text) {
    uint32_t size = 0;
    if (!Get(size) || rest_.size() < size) return Fail();
    text = rest_.substr(0, size);
    rest_.remove_prefix(size);
    return true;
  }
  // Takes `n` bytes as a view (for another reader).
  bool GetBytes(size_t n, std::string_view& bytes) {
    if (rest_.size() < n) return Fail();
    bytes = rest_.substr(0, n);
    rest_.remove_prefix(n);
    return true;
  }
  size_t left() const { return rest_.size(); }
  // Whether any read has failed.
  bool failed() const { return failed_; }

 private:
  bool Fail() {
    failed_ = true;
    return false;
  }
  std::string_view rest_;
  bool failed_ = false;
};

// A StringTable, ids kept: GetTable fills an empty table and fails on a repeated name.
void PutTable(StateWriter& w, const StringTable& table);
bool GetTable(StateReader& r, StringTable& table);

}  // namespace outpost::server::licensing
