#include "server/audit/head_cache.h"

#include <algorithm>

namespace outpost::server::audit {
namespace {

// The cache of the transaction open on this thread, if a HeadCache watches it: the writer
// thread's, between TransactionBegun and TransactionEnded.
thread_local HeadCache* t_open_cache = nullptr;

}  // namespace

void HeadCache::TransactionBegun(sqlite::Connection& db) {
  db_ = &db;
  head_ = {};
  unit_start_ = {};
  t_open_cache = this;
}

void HeadCache::UnitBegun() { unit_start_ = head_; }

void HeadCache::UnitEnded(bool kept) {
  if (!kept) head_ = unit_start_;
}

void HeadCache::TransactionEnded(bool) {
  db_ = nullptr;
  head_ = {};
  unit_start_ = {};
  if (t_open_cache == this) t_open_cache = nullptr;
}

HeadCache* HeadCache::For(const sqlite::Connection& db) {
  return t_open_cache != nullptr && t_open_cache->db_ == &db ? t_open_cache : nullptr;
}

bool HeadCache::Get(int64_t& seq, std::string& hash) const {
  if (!head_.read) return false;
  seq = head_.seq;
  hash.assign(head_.hash.data(), head_.hash.size());
  return true;
}

void HeadCache::Advance(int64_t seq, const std::string& hash) {
  if (hash.size() != head_.hash.size()) {  // never for a record Append wrote; read it again
    head_ = {};
    return;
  }
  head_.read = true;
  head_.seq = seq;
  std::copy(hash.begin(), hash.end(), head_.hash.begin());
}

}  // namespace outpost::server::audit
