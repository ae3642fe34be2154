#include "server/licensing/core/state_codec.h"

#include <algorithm>

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

void StateChecksum::Block(const char* p) {
  // Four independent lanes of multiply-rotate over 8-byte words, so that the multiplications
  // overlap.
  for (uint64_t& lane : lanes_) {
    uint64_t word;
    std::memcpy(&word, p, sizeof word);
    lane = (lane ^ word) * kMultiplier;
    lane = lane << 29 | lane >> 35;
    p += sizeof word;
  }
}

void StateChecksum::Update(std::string_view bytes) {
  total_ += bytes.size();
  if (pending_size_ > 0) {
    const size_t take = std::min(bytes.size(), sizeof pending_ - pending_size_);
    std::memcpy(pending_ + pending_size_, bytes.data(), take);
    pending_size_ += take;
    bytes.remove_prefix(take);
    if (pending_size_ < sizeof pending_) return;
    Block(pending_);
    pending_size_ = 0;
  }
  while (bytes.size() >= sizeof pending_) {
    Block(bytes.data());
    bytes.remove_prefix(sizeof pending_);
  }
  std::memcpy(pending_, bytes.data(), bytes.size());
  pending_size_ = bytes.size();
}

uint64_t StateChecksum::Finish() const {
  uint64_t h = total_;
  for (uint64_t lane : lanes_) h = Mix(h ^ lane) * kMultiplier;
  for (size_t i = 0; i < pending_size_; ++i) {
    h = Mix(h ^ static_cast<unsigned char>(pending_[i])) * kMultiplier;
  }
  return Mix(h);
}

bool StateWriter::Flush() {
  if (sink_ && !failed_ && !buffer_.empty()) failed_ = !sink_(buffer_);
  if (sink_) buffer_.clear();
  return !failed_;
}

StateReader::StateReader(std::string_view bytes) : rest_(bytes) { checksum_.Update(bytes); }

StateReader::StateReader(Source source, uint64_t total)
    : source_(std::move(source)), unread_(total) {
  buffer_.reserve(kChunk);
}

bool StateReader::Refill(size_t need) {
  if (!source_ || left() < need) return false;
  // Keep what is left, then fill up to a chunk (or to what the source still has).
  std::string rest(rest_);
  buffer_.assign(rest);
  const size_t want = static_cast<size_t>(std::min<uint64_t>(unread_, kChunk));
  const size_t at = buffer_.size();
  buffer_.resize(at + want);
  size_t got = 0;
  while (got < want) {
    const size_t n = source_(buffer_.data() + at + got, want - got);
    if (n == 0) break;
    got += n;
  }
  buffer_.resize(at + got);
  checksum_.Update(std::string_view(buffer_).substr(at));
  unread_ -= got;
  rest_ = buffer_;
  return rest_.size() >= need;
}

bool StateReader::GetString(std::string_view& text) {
  uint32_t size = 0;
  if (!Get(size)) return false;
  if (rest_.size() < size && !Refill(size)) return Fail();
  text = rest_.substr(0, size);
  rest_.remove_prefix(size);
  return true;
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
