// A caching CPU allocator for LibTorch (PerfLevers::caching_allocator).
//
// Why: LibTorch's default CPU allocator is posix_memalign/free. A training step allocates and frees
// the same large buffers every step (activations, gradients with set_to_none, oneDNN scratchpads);
// glibc serves blocks above its mmap threshold with mmap and returns them with munmap, and trims the
// heaps of non-main arenas, so every step touches fresh pages and takes a page fault per 4 KiB. On
// the virtual machines this is measured on a fault costs ~10 us, about a third of a ResNet-18 step
// (BENCHMARKS.md). Like the CUDA caching allocator, this keeps freed blocks of >= 64 KiB in per-size
// free lists and hands them out again, so after the first steps a training loop allocates no new
// pages at all. Smaller blocks go straight to malloc (its bins already reuse them).
//
// Bounded: at most kMaxCachedBytes (or $SGDR_CPU_CACHE_MB) of free blocks are kept; beyond that a
// freed block goes back to the system. Blocks are 64-byte aligned like c10::alloc_cpu, and data ==
// context, so raw_allocate()/raw_deallocate() (which oneDNN's engine allocator uses) work.
//
// Under AddressSanitizer (scripts/sanitize.sh) a cached block is poisoned while it is free, and the
// slack between a tensor's bytes and the page-rounded block while it is in use, so a use after free
// or an overflow is reported as it would be without the cache. Elsewhere the macros do nothing.
#include <c10/core/Allocator.h>
#include <c10/core/CPUAllocator.h>
#include <c10/core/impl/alloc_cpu.h>

#include <unistd.h>

#if defined(__has_include)
#if __has_include(<sanitizer/asan_interface.h>)
#include <sanitizer/asan_interface.h>
#endif
#endif
#ifndef ASAN_POISON_MEMORY_REGION
#define ASAN_POISON_MEMORY_REGION(addr, size) ((void)(addr), (void)(size))
#define ASAN_UNPOISON_MEMORY_REGION(addr, size) ((void)(addr), (void)(size))
#endif

#include <atomic>
#include <cstdlib>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "core/compat.h"
#include "perf/levers.h"

namespace sgdr {

namespace {

constexpr size_t kMinCached = 64 * 1024;
constexpr size_t kPage = 4096;

size_t MaxCachedBytes() {
  if (const char* s = std::getenv("SGDR_CPU_CACHE_MB")) {
    const long long mb = std::atoll(s);
    if (mb >= 0) return static_cast<size_t>(mb) * 1024 * 1024;
  }
  // A quarter of physical memory, at most 4 GiB.
  const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
  const size_t quarter = pages > 0 && page > 0 ? static_cast<size_t>(pages) * static_cast<size_t>(page) / 4 : 0;
  const size_t cap = size_t{4} << 30;
  return quarter > 0 && quarter < cap ? quarter : cap;
}

class CachingCpuAllocator final : public compat::AllocatorBase {
 public:
  CachingCpuAllocator() : fallback_(c10::GetCPUAllocator()), max_cached_(MaxCachedBytes()) {}

  c10::DataPtr Allocate(size_t nbytes) const override {
    if (!Levers().caching_allocator.load(std::memory_order_relaxed)) return fallback_->allocate(nbytes);
    if (nbytes == 0) return {nullptr, nullptr, &Free, c10::Device(c10::DeviceType::CPU)};
    if (nbytes < kMinCached) {
      void* p = c10::alloc_cpu(nbytes);
      return {p, p, &Free, c10::Device(c10::DeviceType::CPU)};
    }
    const size_t size = (nbytes + kPage - 1) / kPage * kPage;
    void* p = nullptr;
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = free_.find(size);
      if (it != free_.end() && !it->second.empty()) {
        p = it->second.back();
        it->second.pop_back();
        cached_bytes_ -= size;
        ++hits_;
        CountLeverUse(&LeverUses::caching_allocator);
      } else {
        ++misses_;
      }
    }
    if (!p) p = c10::alloc_cpu(size);  // throws on out-of-memory, like the default allocator
    ASAN_UNPOISON_MEMORY_REGION(p, nbytes);
    ASAN_POISON_MEMORY_REGION(static_cast<char*>(p) + nbytes, size - nbytes);
    {
      std::lock_guard<std::mutex> lock(mu_);
      live_[p] = size;
    }
    return {p, p, &Free, c10::Device(c10::DeviceType::CPU)};
  }

  c10::DeleterFnPtr raw_deleter() const override { return &Free; }

  static CachingCpuAllocator& Instance();

  static void Free(void* p) {
    if (!p) return;
    Instance().Release(p);
  }

  struct Stats {
    size_t cached_bytes, live_bytes, hits, misses, max_cached_bytes;
  };
  Stats stats() const {
    std::lock_guard<std::mutex> lock(mu_);
    size_t live = 0;
    for (const auto& e : live_) live += e.second;
    return {cached_bytes_, live, hits_, misses_, max_cached_};
  }

  // Returns every cached free block to the system.
  void EmptyCache() {
    std::vector<void*> blocks;
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (auto& e : free_)
        for (void* p : e.second) blocks.push_back(p);
      free_.clear();
      cached_bytes_ = 0;
    }
    for (void* p : blocks) c10::free_cpu(p);  // (poisoned or not: free() does not look at the bytes)
  }

 private:
  void Release(void* p) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = live_.find(p);
      if (it != live_.end()) {
        const size_t size = it->second;
        live_.erase(it);
        if (cached_bytes_ + size <= max_cached_) {
          ASAN_POISON_MEMORY_REGION(p, size);
          free_[size].push_back(p);
          cached_bytes_ += size;
          return;
        }
      }
    }
    c10::free_cpu(p);  // small, or beyond the cache's bound
  }

  at::Allocator* fallback_;
  size_t max_cached_;
  mutable std::mutex mu_;
  mutable std::unordered_map<size_t, std::vector<void*>> free_;
  mutable std::unordered_map<void*, size_t> live_;
  mutable size_t cached_bytes_ = 0, hits_ = 0, misses_ = 0;
};

CachingCpuAllocator* g_allocator = nullptr;

CachingCpuAllocator& CachingCpuAllocator::Instance() { return *g_allocator; }

}  // namespace

void InstallCachingCpuAllocator() {
  static std::once_flag once;
  std::call_once(once, [] {
    // Never destroyed: tensors freed during process exit still call Free.
    g_allocator = new CachingCpuAllocator();
    c10::SetCPUAllocator(g_allocator, /*priority=*/1);
  });
}

CpuCacheStats GetCpuCacheStats() {
  if (!g_allocator) return {};
  const auto s = g_allocator->stats();
  return {s.cached_bytes, s.live_bytes, s.hits, s.misses, s.max_cached_bytes};
}

void EmptyCpuCache() {
  if (g_allocator) g_allocator->EmptyCache();
}

}  // namespace sgdr
