// Benchmark helpers exposed as `bench` on the addon: the matrix-multiply rate behind the compute
// floor, and the performance-lever switches (perf.h) so `sgdr bench` can measure each lever against
// the plain LibTorch path in one process. The timed training loop itself is the trainer's timeSteps().
#include <napi.h>
#include <torch/torch.h>

#include <sys/resource.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>

#include "binding/promise_worker.h"
#include "data/random.h"
#include "binding/args.h"
#include "binding/js_errors.h"
#include "data/image_decode.h"
#include "perf/levers.h"

namespace sgdr {

namespace {

// matmulGflops(n, reps) -> Promise<number>: GFLOP/s of an n x n float32 matrix product (torch::mm,
// i.e. the BLAS LibTorch was linked with) on the current thread count, best of `reps` after one
// warm-up: the machine's matmul rate behind the compute floor. Runs on a pool thread; a pthread
// OpenBLAS that we run on the calling thread (blas_threads.cc) gets the same thread count meanwhile.
Napi::Value MatmulGflops(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  SGDR_TRY
  const double n = NumberArg(info, 0, "n"), reps = NumberArg(info, 1, "reps");
  IntegerIn<int64_t>(env, n, 1, 16384, "n must be an integer in [1, 16384]");
  IntegerIn<int64_t>(env, reps, 1, 1000, "reps must be an integer in [1, 1000]");
  const int threads = torch::get_num_threads();
  auto best = std::make_shared<double>(0);
  return PromiseWorker::Start(
      env,
      [=]() {
        at::set_num_threads(threads);
        const int blas_before = GetBlasInfo().limited ? SetOpenBlasThreads(threads) : 0;
        const int64_t k = static_cast<int64_t>(n);
        torch::Tensor a = torch::randn({k, k}), b = torch::randn({k, k}), c = torch::empty({k, k});
        torch::mm_out(c, a, b);
        for (int r = 0; r < static_cast<int>(reps); ++r) {
          const auto t0 = std::chrono::steady_clock::now();
          torch::mm_out(c, a, b);
          const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
          *best = std::max(*best, 2.0 * k * k * k / s / 1e9);
        }
        if (blas_before > 0) SetOpenBlasThreads(blas_before);
      },
      [best](Napi::Env env) -> Napi::Value { return Napi::Number::New(env, *best); });
  SGDR_CATCH(env)
}

Napi::Object LeverObject(Napi::Env env) {
  auto o = Napi::Object::New(env);
  for (const LeverName& lever : kLeverNames) o.Set(lever.name, (Levers().*lever.field).load());
  return o;
}

// levers() -> { fusedSgd, convAsMatmul, cachingAllocator, channelsLastInput, loaderBufferPool }
Napi::Value GetLevers(const Napi::CallbackInfo& info) { return LeverObject(info.Env()); }

// leverUses() -> { fusedSgd, ... }: how many times each lever took its own path (perf/levers.h).
Napi::Value GetLeverUses(const Napi::CallbackInfo& info) {
  auto o = Napi::Object::New(info.Env());
  for (const LeverName& lever : kLeverNames)
    o.Set(lever.name, static_cast<double>((LeverUseCounts().*lever.uses).load(std::memory_order_relaxed)));
  return o;
}

// setLevers({ <lever>?: boolean, ... }) -> the levers now.
// Takes effect from the next step.
Napi::Value SetLevers(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  SGDR_TRY
  Napi::Object o = ObjectArg(info, 0, "levers");
  for (const auto& key : o.GetPropertyNames()) {
    const std::string name = Napi::Value(key.second).ToString().Utf8Value();
    bool known = false;
    std::string expected;
    for (const LeverName& lever : kLeverNames) {
      known = known || name == lever.name;
      expected += (expected.empty() ? "" : ", ") + std::string(lever.name);
    }
    if (!known) ThrowRange(env, "unknown lever '" + name + "' (expected " + expected + ")");
    if (!o.Get(name).IsBoolean()) ThrowType(env, "lever " + name + " must be a boolean");
  }
  for (const LeverName& lever : kLeverNames)
    (Levers().*lever.field) = BoolOption(o, lever.name, (Levers().*lever.field).load());
  return LeverObject(env);
  SGDR_CATCH(env)
}

// cpuCacheStats() -> { cachedBytes, liveBytes, hits, misses, maxCachedBytes }
Napi::Value CpuCache(const Napi::CallbackInfo& info) {
  const CpuCacheStats s = GetCpuCacheStats();
  auto o = Napi::Object::New(info.Env());
  o.Set("cachedBytes", static_cast<double>(s.cached_bytes));
  o.Set("liveBytes", static_cast<double>(s.live_bytes));
  o.Set("hits", static_cast<double>(s.hits));
  o.Set("misses", static_cast<double>(s.misses));
  o.Set("maxCachedBytes", static_cast<double>(s.max_cached_bytes));
  return o;
}

// blasInfo() -> { sgemm, optimised, library, parallel, threads, limited }: the BLAS LibTorch's sgemm
// calls reach, and how its threads are set.
Napi::Value Blas(const Napi::CallbackInfo& info) {
  const BlasInfo& b = GetBlasInfo();
  auto o = Napi::Object::New(info.Env());
  o.Set("sgemm", b.sgemm);
  o.Set("optimised", b.optimised);
  o.Set("library", b.library);
  o.Set("parallel", b.parallel);
  o.Set("threads", b.threads);
  o.Set("limited", b.limited);
  return o;
}

// The process's minor and major page faults so far (getrusage), to show where a step's time goes.
Napi::Value PageFaults(const Napi::CallbackInfo& info) {
  struct rusage u {};
  getrusage(RUSAGE_SELF, &u);
  auto o = Napi::Object::New(info.Env());
  o.Set("minor", static_cast<double>(u.ru_minflt));
  o.Set("major", static_cast<double>(u.ru_majflt));
  return o;
}

// Encodes one RGB image as a JPEG file; throws (naming the file) on failure.
void WriteJpeg(const std::string& path, const std::vector<uint8_t>& rgb, int width, int height, int quality) {
  jpeg_compress_struct cinfo;
  data_detail::JpegErrorManager err;
  unsigned char* buffer = nullptr;  // before setjmp: see image_decode.h
  unsigned long size = 0;
  std::memset(&err, 0, sizeof(err));
  cinfo.err = jpeg_std_error(&err.mgr);
  err.mgr.error_exit = data_detail::SgdrJpegErrorExit;
  if (setjmp(err.jump)) {
    jpeg_destroy_compress(&cinfo);
    std::free(buffer);
    throw std::runtime_error("cannot encode " + path + ": " + err.message);
  }
  jpeg_create_compress(&cinfo);
  jpeg_mem_dest(&cinfo, &buffer, &size);
  cinfo.image_width = static_cast<JDIMENSION>(width);
  cinfo.image_height = static_cast<JDIMENSION>(height);
  cinfo.input_components = 3;
  cinfo.in_color_space = JCS_RGB;
  jpeg_set_defaults(&cinfo);
  jpeg_set_quality(&cinfo, quality, TRUE);
  jpeg_start_compress(&cinfo, TRUE);
  while (cinfo.next_scanline < cinfo.image_height) {
    JSAMPROW row = const_cast<JSAMPROW>(rgb.data() + static_cast<size_t>(cinfo.next_scanline) * width * 3);
    jpeg_write_scanlines(&cinfo, &row, 1);
  }
  jpeg_finish_compress(&cinfo);
  jpeg_destroy_compress(&cinfo);
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(buffer), static_cast<std::streamsize>(size));
  std::free(buffer);
  if (!out) throw std::runtime_error("cannot write " + path);
}

// writeJpegFolder(dir, { classes, perClass, width, height, seed, quality? }) -> images written
// An ImageFolder layout (dir/train/<class>/<i>.jpg and dir/val/<class>/<i>.jpg, perClass each) of
// smooth random pictures (a few sinusoids per channel plus noise, so they compress like photographs)
// for the loader benchmark when no image folder is given.
Napi::Value WriteJpegFolder(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  SGDR_TRY
  const std::string dir = StringArg(info, 0, "dir");
  Napi::Object o = ObjectArg(info, 1, "options");
  const double classes_v = NumberOption(o, "classes", 10), per_class_v = NumberOption(o, "perClass", 10);
  const double width_v = NumberOption(o, "width", 500), height_v = NumberOption(o, "height", 375);
  const double quality_v = NumberOption(o, "quality", 90), seed_v = NumberOption(o, "seed", 0);
  if (!IsIntegerIn(classes_v, 1, 1 << 20) || !IsIntegerIn(per_class_v, 1, 1 << 20) || !IsIntegerIn(width_v, 1, 8192) ||
      !IsIntegerIn(height_v, 1, 8192) || !IsIntegerIn(quality_v, 1, 100) || !IsIntegerIn(seed_v, 0, kMaxSeed))
    ThrowRange(env,
               "writeJpegFolder: classes, perClass integers in [1, 2^20]; width, height in [1, 8192]; quality in [1, "
               "100]; seed >= 0");
  const int classes = static_cast<int>(classes_v), per_class = static_cast<int>(per_class_v);
  const int width = static_cast<int>(width_v), height = static_cast<int>(height_v),
            quality = static_cast<int>(quality_v);
  const uint64_t seed = static_cast<uint64_t>(seed_v);
  namespace fs = std::filesystem;
  std::vector<uint8_t> rgb(static_cast<size_t>(width) * height * 3);
  int written = 0;
  for (const char* split : {"train", "val"}) {
    for (int c = 0; c < classes; ++c) {
      const fs::path folder = fs::path(dir) / split / ("class" + std::to_string(c));
      fs::create_directories(folder);
      for (int i = 0; i < per_class; ++i) {
        data_detail::Rng rng(data_detail::HashKey(
            {seed, static_cast<uint64_t>(split[0]), static_cast<uint64_t>(c), static_cast<uint64_t>(i)}));
        double fx[3][3], fy[3][3], ph[3][3];
        for (auto* a : {fx, fy, ph})
          for (int k = 0; k < 3; ++k)
            for (int j = 0; j < 3; ++j) a[k][j] = rng.Uniform(0.002, 0.05) * (a == ph ? 300 : 1);
        for (int y = 0; y < height; ++y)
          for (int x = 0; x < width; ++x)
            for (int k = 0; k < 3; ++k) {
              double v = 128;
              for (int j = 0; j < 3; ++j) v += 36 * std::sin(fx[k][j] * x + fy[k][j] * y + ph[k][j]);
              v += rng.Uniform(-12, 12);
              rgb[(static_cast<size_t>(y) * width + x) * 3 + k] = static_cast<uint8_t>(std::clamp(v, 0.0, 255.0));
            }
        WriteJpeg((folder / (std::to_string(i) + ".jpg")).string(), rgb, width, height, quality);
        ++written;
      }
    }
  }
  return Napi::Number::New(env, written);
  SGDR_CATCH(env)
}

}  // namespace

// mallocStats() -> { inUseBytes, freeBytes, mmappedBytes } | null: glibc's mallinfo2() (null
// elsewhere): bytes in use in malloc's arenas, free in them, and in use in mmap()ed blocks.
// mallocTrim() -> boolean: malloc_trim(0), which hands every free page of glibc's heaps back to the
// system (false elsewhere, or when there was nothing to give back). scripts/soak.js samples RSS
// after it, and prints the bytes in use beside it.
Napi::Value MallocStats(const Napi::CallbackInfo& info) {
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 33))
  const struct mallinfo2 m = mallinfo2();
  auto o = Napi::Object::New(info.Env());
  o.Set("inUseBytes", static_cast<double>(m.uordblks));
  o.Set("freeBytes", static_cast<double>(m.fordblks));
  o.Set("mmappedBytes", static_cast<double>(m.hblkhd));
  return o;
#else
  return info.Env().Null();
#endif
}

Napi::Value MallocTrim(const Napi::CallbackInfo& info) {
#if defined(__GLIBC__)
  return Napi::Boolean::New(info.Env(), malloc_trim(0) != 0);
#else
  return Napi::Boolean::New(info.Env(), false);
#endif
}

Napi::Object InitBench(Napi::Env env) {
  auto o = Napi::Object::New(env);
  o.Set("matmulGflops", Napi::Function::New(env, MatmulGflops, "matmulGflops"));
  o.Set("levers", Napi::Function::New(env, GetLevers, "levers"));
  o.Set("leverUses", Napi::Function::New(env, GetLeverUses, "leverUses"));
  o.Set("setLevers", Napi::Function::New(env, SetLevers, "setLevers"));
  o.Set("cpuCacheStats", Napi::Function::New(env, CpuCache, "cpuCacheStats"));
  o.Set("emptyCpuCache", Napi::Function::New(
                             env,
                             [](const Napi::CallbackInfo& info) {
                               EmptyCpuCache();
                               return info.Env().Undefined();
                             },
                             "emptyCpuCache"));
  o.Set("pageFaults", Napi::Function::New(env, PageFaults, "pageFaults"));
  o.Set("mallocStats", Napi::Function::New(env, MallocStats, "mallocStats"));
  o.Set("mallocTrim", Napi::Function::New(env, MallocTrim, "mallocTrim"));
  o.Set("blasInfo", Napi::Function::New(env, Blas, "blasInfo"));
  // stepSeconds() -> seconds spent inside TrainOneStep so far, summed over every thread.
  o.Set("stepSeconds", Napi::Function::New(
                           env,
                           [](const Napi::CallbackInfo& info) {
                             return Napi::Number::New(info.Env(), static_cast<double>(StepNanoseconds().load()) / 1e9);
                           },
                           "stepSeconds"));
  o.Set("writeJpegFolder", Napi::Function::New(env, WriteJpegFolder, "writeJpegFolder"));
  return o;
}

}  // namespace sgdr
