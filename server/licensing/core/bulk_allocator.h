#pragma once

// BulkAllocator: an allocator for the per-device arrays of licensing (registry slots, the book's
// device table, their hash indexes). Blocks of at least kMinBytes are mapped directly, aligned to
// 2 MiB and advised as transparent huge pages (MADV_HUGEPAGE); smaller ones come from
// std::allocator. A million devices take ~250 MB in such arrays, first touched while the state
// loads: with 4 KiB pages that is ~60,000 page faults, which cost ~11 µs each in the benchmark's VM
// (0.55 s for 200 MB, docs/benchmarks.md "Start-up"); with 2 MiB pages, 500 times fewer. Where the
// kernel has huge pages off, the advice is ignored and the arrays get ordinary pages.
//
// Under AddressSanitizer every block comes from std::allocator, so that its checks still cover
// these arrays.
//
// Thread-safety: stateless; as safe as mmap.

#include <cstddef>
#include <memory>
#include <new>

namespace outpost::server::licensing {

namespace bulk_allocator_internal {
// A zeroed block of `bytes` (>= kMinBytes) in its own mapping; std::bad_alloc when none is left.
void* Map(size_t bytes);
void Unmap(void* p, size_t bytes);
#if defined(__SANITIZE_ADDRESS__)
inline constexpr size_t kMinBytes = SIZE_MAX;
#else
inline constexpr size_t kMinBytes = size_t{2} << 20;
#endif
}  // namespace bulk_allocator_internal

template <typename T>
class BulkAllocator {
 public:
  using value_type = T;

  BulkAllocator() = default;
  template <typename U>
  BulkAllocator(const BulkAllocator<U>&) noexcept {}  // NOLINT: rebinding converts implicitly

  T* allocate(size_t n) {
    if (n > SIZE_MAX / sizeof(T)) throw std::bad_array_new_length();
    const size_t bytes = n * sizeof(T);
    if (bytes < bulk_allocator_internal::kMinBytes) return std::allocator<T>().allocate(n);
    return static_cast<T*>(bulk_allocator_internal::Map(bytes));
  }
  void deallocate(T* p, size_t n) noexcept {
    const size_t bytes = n * sizeof(T);
    if (bytes < bulk_allocator_internal::kMinBytes) return std::allocator<T>().deallocate(p, n);
    bulk_allocator_internal::Unmap(p, bytes);
  }

  template <typename U>
  friend bool operator==(const BulkAllocator&, const BulkAllocator<U>&) noexcept {
    return true;
  }
};

}  // namespace outpost::server::licensing
