#pragma once

// What central accepts in a sync request whose signature has verified: the shape and range of
// every field, and how many items one request may carry (issue 17: a customer controls its
// satellite, so a well-signed request can still carry nonsense). Each refusal names the item
// and says why. A satellite never sends more than these limits in one request (it exports the
// oldest items first and the rest with the next request).
//
// Thread-safety: pure functions. Errors: kInvalidArgument.

#include <cstdint>

#include "common/crypto/keys.h"
#include "common/status.h"
#include "outpost/v1/sync.pb.h"

namespace outpost::central {

inline constexpr int kMaxUsageReportsPerRequest = 10'000;
inline constexpr int kMaxSamplesPerReport = 24 * 400;  // an hour each: 400 days
inline constexpr int kMaxMovesPerRequest = 1'000;
inline constexpr int kMaxConversionsPerRequest = 1'000;
inline constexpr int kMaxInventoryVas = 1'000;
inline constexpr int kMaxInventoryEntries = 100'000;  // tags in use, over every VA
inline constexpr size_t kMaxItemIdBytes = 128;        // report, move and conversion ids
inline constexpr size_t kMaxSoftwareVersionBytes = 64;
// Usage before this cannot be true (2000-01-01), nor more than a day after central's clock.
inline constexpr int64_t kEarliestUsageTime = 946'684'800;
inline constexpr int64_t kUsageClockSkew = 24 * 3600;

// Quotas per satellite over the last 24 hours, checked in the writer (sync_processor.cc). A
// satellite syncing every hour uses 24 requests; 1,000 (va, tag) pairs reported hourly make
// 24,000 reports.
inline constexpr int64_t kMaxRequestsPerDay = 1'000;
inline constexpr int64_t kMaxUsageReportsPerDay = 100'000;
inline constexpr int64_t kMaxUsageBytesPerDay = int64_t{64} << 20;
// Moves and conversions together (each is stored, applied or rejected): an operator's actions,
// so ten thousand a day is far above use and far below what 1,000 requests could carry.
inline constexpr int64_t kMaxItemsPerDay = 10'000;

// Everything in `request` that can be judged without the database, given central's clock
// (`now`, unix seconds) and the key the request was verified with (the audit head must be
// signed by it). Stops at the first problem.
Status CheckRequestContents(const v1::SyncRequest& request, int64_t now,
                            const crypto::PublicKey& satellite_key);

}  // namespace outpost::central
