// Process-wide switches for the performance levers, so a benchmark can measure each one against the
// plain LibTorch path in the same process (sgdr bench --lever NAME=off). Defaults are the measured
// winners (see BENCHMARKS.md); every lever computes the same function as the plain path, to rounding.
// At start-up $SGDR_LEVERS="fusedSgd=off,convAsMatmul=off,..." sets any of them, and $SGDR_EXACT=1
// turns off the ones that round differently from PyTorch (convAsMatmul, channelsLastInput), for
// bit-for-bit parity.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>

namespace sgdr {

struct PerfLevers {
  // SGD (any momentum/dampening/nesterov/weight decay) on dense float32 CPU parameters in one fused,
  // vectorised pass over all parameters instead of LibTorch's ~5 tensor ops per parameter. Bitwise
  // identical to torch::optim::SGD::step on CPUs where ATen runs its AVX2/AVX-512 kernels.
  std::atomic<bool> fused_sgd{true};
  // A CPU convolution whose output is 1x1 (ResNet's last stage on 32 px images) as one matrix product
  // over the kernel taps that overlap the input: the others only ever multiply zero padding, and
  // oneDNN's backward for such a convolution is several times slower than its forward. The product
  // goes to BLAS: with a reference BLAS (not OpenBLAS/MKL/BLIS) the lever starts off (blas_threads.cc).
  std::atomic<bool> conv_as_matmul{true};
  // LibTorch's CPU tensors from a caching allocator (cpu_allocator.cc) that reuses freed blocks of
  // >= 64 KiB instead of returning them to the system, so a training loop stops page-faulting on
  // fresh memory every step.
  std::atomic<bool> caching_allocator{true};
  // CPU input batches in channels_last (NHWC) before the forward: oneDNN then runs its NHWC kernels and
  // skips reordering every activation (PyTorch, 2 threads: eval 1.24x, training 1.05x). The weights
  // stay NCHW (converting them too measured slower for training). Rounds differently: off under
  // SGDR_EXACT.
  std::atomic<bool> channels_last_input{true};
  // The loader reuses its prefetch+2 batch buffers instead of allocating each batch anew. With the
  // caching allocator on, a fresh batch comes from its cache anyway; without it, each fresh batch is
  // new pages the loader threads fault in.
  std::atomic<bool> loader_buffer_pool{true};
};

PerfLevers& Levers();

// How many times each lever took its own path, not merely was on: the proof, in the tests and in
// `sgdr bench`, that a comparison of a lever on against off compared two different paths.
struct LeverUses {
  std::atomic<int64_t> fused_sgd{0};            // optimizer steps done by the fused pass
  std::atomic<int64_t> conv_as_matmul{0};       // convolutions run as one matrix product
  std::atomic<int64_t> caching_allocator{0};    // allocations served from the cache of freed blocks
  std::atomic<int64_t> channels_last_input{0};  // batches converted to channels_last
  std::atomic<int64_t> loader_buffer_pool{0};   // batch buffers reused from the loader's pool
};

LeverUses& LeverUseCounts();

inline void CountLeverUse(std::atomic<int64_t> LeverUses::*lever) {
  (LeverUseCounts().*lever).fetch_add(1, std::memory_order_relaxed);
}

// The levers by the names the JS API, $SGDR_LEVERS and `sgdr bench --lever` use.
struct LeverName {
  const char* name;
  std::atomic<bool> PerfLevers::*field;
  std::atomic<int64_t> LeverUses::*uses;
};
inline constexpr LeverName kLeverNames[] = {
    {"fusedSgd", &PerfLevers::fused_sgd, &LeverUses::fused_sgd},
    {"convAsMatmul", &PerfLevers::conv_as_matmul, &LeverUses::conv_as_matmul},
    {"cachingAllocator", &PerfLevers::caching_allocator, &LeverUses::caching_allocator},
    {"channelsLastInput", &PerfLevers::channels_last_input, &LeverUses::channels_last_input},
    {"loaderBufferPool", &PerfLevers::loader_buffer_pool, &LeverUses::loader_buffer_pool},
};

// Nanoseconds spent inside TrainOneStep (zero_grad, forward, loss, backward, optimizer step), summed
// over the process's life: what the benchmark subtracts from an epoch's wall time to show how much of it
// lies outside LibTorch's calls (loader hand-over, the epoch's sums, N-API, JS).
std::atomic<int64_t>& StepNanoseconds();

// Installs the caching allocator as LibTorch's CPU allocator (once; the addon does it at load). While
// the lever is off it forwards to LibTorch's default allocator.
void InstallCachingCpuAllocator();

struct CpuCacheStats {
  size_t cached_bytes = 0;      // free blocks kept for reuse
  size_t live_bytes = 0;        // blocks of >= 64 KiB in use
  size_t hits = 0, misses = 0;  // allocations of >= 64 KiB served from the cache / from the system
  size_t max_cached_bytes = 0;  // the bound on cached_bytes ($SGDR_CPU_CACHE_MB)
};
CpuCacheStats GetCpuCacheStats();
// Returns the cached free blocks to the system.
void EmptyCpuCache();

// With Debian's pthread OpenBLAS (its own thread pool beside LibTorch's OpenMP pool), BLAS calls run on
// the calling thread unless OPENBLAS_NUM_THREADS is set (blas_threads.cc). Once, at load.
void ConfigureBlasThreads();
struct BlasInfo {
  std::string sgemm;       // the file sgemm_ resolves to (what LibTorch's BLAS calls reach)
  bool optimised = false;  // OpenBLAS/MKL/BLIS/...; else the convolution-as-matmul lever starts off
  std::string library;     // openblas_get_config(), or "unknown (not OpenBLAS)"
  std::string parallel;    // "pthread" | "openmp" | "sequential" | "unknown"
  int threads = 0;         // OpenBLAS's thread count (0 = unknown)
  bool limited = false;    // whether ConfigureBlasThreads() set it to 1
};
const BlasInfo& GetBlasInfo();
// Sets OpenBLAS's own thread count (no-op without OpenBLAS); returns the previous count (0 = none).
int SetOpenBlasThreads(int n);

}  // namespace sgdr
