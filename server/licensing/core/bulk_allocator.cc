#include "server/licensing/core/bulk_allocator.h"

#include <sys/mman.h>

#include <cstdint>

namespace outpost::server::licensing::bulk_allocator_internal {
namespace {

constexpr size_t kHugePage = size_t{2} << 20;

size_t RoundUp(size_t bytes) { return (bytes + kHugePage - 1) & ~(kHugePage - 1); }

}  // namespace

void* Map(size_t bytes) {
  // A mapping is huge-page backed only where it covers whole aligned 2 MiB ranges: map one huge
  // page more than needed and give back the unaligned head and the tail.
  const size_t size = RoundUp(bytes);
  void* mapped =
      mmap(nullptr, size + kHugePage, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (mapped == MAP_FAILED) throw std::bad_alloc();
  const auto start = reinterpret_cast<uintptr_t>(mapped);
  const uintptr_t aligned = (start + kHugePage - 1) & ~(uintptr_t{kHugePage} - 1);
  if (aligned > start) munmap(mapped, aligned - start);
  const uintptr_t end = start + size + kHugePage;
  if (end > aligned + size) munmap(reinterpret_cast<void*>(aligned + size), end - aligned - size);
  // Advice only: without it (or with huge pages off) the block still works with 4 KiB pages.
  (void)madvise(reinterpret_cast<void*>(aligned), size, MADV_HUGEPAGE);
  return reinterpret_cast<void*>(aligned);
}

void Unmap(void* p, size_t bytes) { munmap(p, RoundUp(bytes)); }

}  // namespace outpost::server::licensing::bulk_allocator_internal
