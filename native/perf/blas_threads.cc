// Keeps OpenBLAS's own threads from competing with LibTorch's OpenMP threads.
//
// Debian's libopenblas0-pthread runs every BLAS call on its own pool of one thread per core, apart
// from the OpenMP pool LibTorch's kernels use; both spin-wait between calls. While LibTorch's BLAS work
// was only the classifier that did not matter, but the convolution-as-matmul lever sends ResNet's last
// stage through sgemm: with 2 LibTorch threads on 2 cores, four spinning threads made a W1 step ~25%
// slower (BENCHMARKS.md). With the pthread build (and no OPENBLAS_NUM_THREADS from the user) BLAS calls
// therefore run on the calling thread. The OpenMP build (libopenblas0-openmp) shares LibTorch's pool
// and follows its thread count, so it is left alone; so are other BLAS libraries.
#include <ATen/Version.h>
#include <dlfcn.h>
#include <limits.h>

#include <cstdlib>
#include <string>

#include "perf/levers.h"

namespace sgdr {

namespace {

using GetParallel = int (*)();
using SetThreads = void (*)(int);
using GetThreads = int (*)();
using GetConfig = char* (*)();

template <typename F>
F Symbol(const char* name) {
  return reinterpret_cast<F>(dlsym(RTLD_DEFAULT, name));
}

}  // namespace

static BlasInfo g_blas;

// The file that provides sgemm_, the symbol LibTorch's BLAS calls (at::native::cpublas) resolve to.
std::string SgemmProvider() {
  void* sgemm = dlsym(RTLD_DEFAULT, "sgemm_");
  Dl_info info{};
  if (!sgemm || !dladdr(sgemm, &info) || !info.dli_fname) return "";
  // Debian reaches its BLAS through the alternatives link libblas.so.3: name the file behind it.
  char resolved[PATH_MAX];
  return realpath(info.dli_fname, resolved) ? resolved : info.dli_fname;
}

// PyTorch's pip wheels link MKL statically into libtorch_cpu, so sgemm_ resolves to LibTorch itself;
// ATen's build configuration names the BLAS then ("BLAS_INFO=mkl"). Empty where it does not apply.
std::string BlasInsideLibTorch(const std::string& sgemm_file) {
  if (sgemm_file.find("libtorch_cpu") == std::string::npos) return "";
  const std::string config = at::show_config();
  const auto at = config.find("BLAS_INFO=");
  if (at == std::string::npos) return "";
  const auto end = config.find_first_of(", \n", at);
  return config.substr(at + 10, end == std::string::npos ? std::string::npos : end - at - 10);
}

bool IsOptimisedBlas(const std::string& file) {
  for (const char* name : {"openblas", "mkl", "blis", "armpl", "accelerate", "Accelerate"})
    if (file.find(name) != std::string::npos) return true;
  return false;
}

void ConfigureBlasThreads() {
  static bool done = false;
  if (done) return;
  done = true;
  g_blas.sgemm = SgemmProvider();
  // Reference BLAS (Debian's libblas3 through the alternatives link) multiplies at ~6 GFLOP/s against
  // OpenBLAS's ~190: there the convolution-as-matmul lever would be a loss (0.43x PyTorch on W1), so
  // it stays off unless $SGDR_LEVERS turns it on.
  const std::string inside = BlasInsideLibTorch(g_blas.sgemm);
  g_blas.optimised = IsOptimisedBlas(g_blas.sgemm) || IsOptimisedBlas(inside);
  if (!g_blas.optimised && !std::getenv("SGDR_LEVERS")) Levers().conv_as_matmul = false;
  const auto get_parallel = Symbol<GetParallel>("openblas_get_parallel");
  const auto set_threads = Symbol<SetThreads>("openblas_set_num_threads");
  const auto get_threads = Symbol<GetThreads>("openblas_get_num_threads");
  const auto get_config = Symbol<GetConfig>("openblas_get_config");
  if (!get_parallel || !get_config) {
    g_blas.library = inside.empty() ? "unknown (not OpenBLAS)" : inside + " (linked into libtorch_cpu)";
    g_blas.parallel = "unknown";
    return;
  }
  g_blas.library = get_config();
  const int p = get_parallel();
  g_blas.parallel = p == 1 ? "pthread" : p == 2 ? "openmp" : "sequential";
  if (p == 1 && set_threads && !std::getenv("OPENBLAS_NUM_THREADS") && !std::getenv("GOTO_NUM_THREADS") &&
      !std::getenv("SGDR_KEEP_BLAS_THREADS")) {
    set_threads(1);
    g_blas.limited = true;
  }
  if (get_threads) g_blas.threads = get_threads();
}

const BlasInfo& GetBlasInfo() { return g_blas; }

int SetOpenBlasThreads(int n) {
  const auto set_threads = Symbol<SetThreads>("openblas_set_num_threads");
  const auto get_threads = Symbol<GetThreads>("openblas_get_num_threads");
  if (!set_threads || !get_threads) return 0;
  const int before = get_threads();
  set_threads(n);
  return before;
}

}  // namespace sgdr
