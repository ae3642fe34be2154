#pragma once

// The byte form of the in-memory licensing state (registry and the book's devices), which the
// service writes to its state file at a clean stop and reads back at the next start instead of
// decoding every row of the database (docs/architecture.md, "Start-up"). StateWriter appends
// fixed-width values and strings in host byte order; StateReader reads them back and fails (never
// reads past the end) on anything shorter than promised. Both stream through a 1 MiB buffer, so
// that saving or loading a million devices needs no memory for the whole file. The file is a
// cache of the database, so a reader that fails means only: load from the database.
//
// Thread-safety: none; one owner each.

#include <cstdint>
#include <cstring>
#include <functional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include "server/licensing/core/compact.h"

namespace outpost::server::licensing {

// A 64-bit checksum (not cryptographic: it catches a torn or damaged file, ~10 GB/s), over bytes
// given in pieces of any size.
class StateChecksum {
 public:
  void Update(std::string_view bytes);
  uint64_t Finish() const;
  static uint64_t Of(std::string_view bytes) {
    StateChecksum sum;
    sum.Update(bytes);
    return sum.Finish();
  }

 private:
  void Block(const char* p);
  uint64_t lanes_[4] = {1, 2, 3, 4};
  uint64_t total_ = 0;
  char pending_[32] = {};
  size_t pending_size_ = 0;
};

// Appends values to a buffer that goes to `sink` whenever it holds kChunk bytes (and at Flush),
// or, without a sink, keeps everything (bytes()). Counts and checksums what it writes.
class StateWriter {
 public:
  static constexpr size_t kChunk = size_t{1} << 20;
  // False when the bytes could not be written (the writer then drops everything after).
  using Sink = std::function<bool(std::string_view)>;

  StateWriter() = default;
  explicit StateWriter(Sink sink) : sink_(std::move(sink)) { buffer_.reserve(kChunk); }

  template <typename T>
  void Put(const T& value) {
    static_assert(std::is_trivially_copyable_v<T>);
    Append({reinterpret_cast<const char*>(&value), sizeof(T)});
  }
  void PutString(std::string_view text) {
    Put(static_cast<uint32_t>(text.size()));
    Append(text);
  }
  // Hands what is buffered to the sink; false if the sink ever failed.
  bool Flush();
  // Without a sink: everything written.
  std::string_view bytes() const { return buffer_; }
  uint64_t size() const { return size_; }
  uint64_t checksum() const { return checksum_.Finish(); }

 private:
  void Append(std::string_view bytes) {
    buffer_.append(bytes);
    size_ += bytes.size();
    checksum_.Update(bytes);
    if (sink_ && buffer_.size() >= kChunk) Flush();
  }
  Sink sink_;
  std::string buffer_;
  uint64_t size_ = 0;
  StateChecksum checksum_;
  bool failed_ = false;
};

// Reads values back, from bytes in memory or through `source` into a buffer it refills (so that a
// file of any size is read in kChunk pieces, without memory for all of it). Never reads past the
// `total` bytes it was given; a read that would fails, and so does every read after it.
class StateReader {
 public:
  static constexpr size_t kChunk = StateWriter::kChunk;
  // Fills up to `max` bytes at `out`; returns how many (0 at the end or on an error).
  using Source = std::function<size_t(char* out, size_t max)>;

  explicit StateReader(std::string_view bytes);
  StateReader(Source source, uint64_t total);

  // False (and `value` unchanged) when fewer than sizeof(T) bytes are left.
  template <typename T>
  bool Get(T& value) {
    static_assert(std::is_trivially_copyable_v<T>);
    if (rest_.size() < sizeof(T) && !Refill(sizeof(T))) return Fail();
    std::memcpy(&value, rest_.data(), sizeof(T));
    rest_.remove_prefix(sizeof(T));
    return true;
  }
  // A view into the reader's buffer, valid until the next read.
  bool GetString(std::string_view& text);
  // Bytes not read yet (of `total`).
  uint64_t left() const { return unread_ + rest_.size(); }
  // The checksum of every byte taken from the source or memory so far (all of them once left()
  // is 0).
  uint64_t checksum() const { return checksum_.Finish(); }

 private:
  bool Refill(size_t need);
  bool Fail() {
    unread_ = 0;
    rest_ = {};
    return false;
  }
  Source source_;
  std::string buffer_;
  std::string_view rest_;
  uint64_t unread_ = 0;  // still in the source
  StateChecksum checksum_;
};

// A StringTable, ids kept: GetTable fills an empty table and fails on a repeated name.
void PutTable(StateWriter& w, const StringTable& table);
bool GetTable(StateReader& r, StringTable& table);

}  // namespace outpost::server::licensing
