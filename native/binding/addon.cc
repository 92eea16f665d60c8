// Registers the native classes and functions; nothing else lives here.
#include <napi.h>
#include <torch/torch.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <thread>

#include "binding/addon_data.h"
#include "binding/data_wrap.h"
#include "binding/args.h"
#include "binding/js_errors.h"
#include "binding/model_wrap.h"
#include "binding/optimizer_wrap.h"
#include "binding/process_group_wrap.h"
#include "binding/tensor_wrap.h"

namespace sgdr {

Napi::Function InitScheduler(Napi::Env env);
Napi::Function InitTrainer(Napi::Env env);
Napi::Value TrainStep(const Napi::CallbackInfo& info);
Napi::Value Evaluate(const Napi::CallbackInfo& info);
Napi::Object InitBench(Napi::Env env);
#ifdef SGDR_SANITIZER_PROBES
Napi::Function InitSanitizerProbe(Napi::Env env);  // sanitizer_probes.cc: the sanitizer build only
#endif
void InstallCachingCpuAllocator();
void ConfigureBlasThreads();

namespace {

// Debian's LibTorch starts with one intra-op thread unless OMP_NUM_THREADS is set; use every core
// by default (SGDR_THREADS or setNumThreads() override).
void DefaultThreads() {
  static bool done = false;
  if (done) return;
  done = true;
  if (const char* s = std::getenv("SGDR_THREADS")) {
    const int n = std::atoi(s);
    if (n > 0) torch::set_num_threads(n);
  } else if (!std::getenv("OMP_NUM_THREADS")) {
    const unsigned n = std::thread::hardware_concurrency();
    if (n > 0) torch::set_num_threads(static_cast<int>(n));
  }
}

Napi::Value SetNumThreads(const Napi::CallbackInfo& info) {
  const double n = NumberArg(info, 0, "threads");
  torch::set_num_threads(IntegerIn<int>(info.Env(), n, 1, 4096, "threads must be an integer in [1, 4096]"));
  return info.Env().Undefined();
}

Napi::Value GetNumThreads(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), torch::get_num_threads());
}

Napi::Value CudaAvailable(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), torch::cuda::is_available());
}

Napi::Value CudaDeviceCount(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(torch::cuda::device_count()));
}

Napi::Value ManualSeed(const Napi::CallbackInfo& info) {
  const double seed = NumberArg(info, 0, "seed");
  if (!IsIntegerIn(seed, 0, kMaxSeed)) ThrowRange(info.Env(), "seed must be an integer in [0, 2^64)");
  torch::manual_seed(static_cast<uint64_t>(seed));
  return info.Env().Undefined();
}

// Ends the process at once with `code`, running no exit handlers or static destructors. A second
// Ctrl-C must not wait for the batch in flight, and exit() while a trainer thread is inside
// LibTorch tears down what that thread uses (a segfault, rc 139, seen). Every file of ours is
// written atomically, so nothing half-written survives this.
Napi::Value ExitNow(const Napi::CallbackInfo& info) {
  const double code = NumberArg(info, 0, "code");
  const int status = IntegerIn<int>(info.Env(), code, 0, 255, "code must be an integer in [0, 255]");
  std::fflush(nullptr);
  std::_Exit(status);
}

// setErrorClasses({ DisposedError }): the library's error classes, for the errors native code throws
// (binding/js_errors.h). Called once by lib/binding.ts when it loads the addon.
Napi::Value SetErrorClasses(const Napi::CallbackInfo& info) {
  Napi::Object classes = ObjectArg(info, 0, "classes");
  Napi::Value disposed = classes.Get("DisposedError");
  if (!disposed.IsFunction()) ThrowType(info.Env(), "classes.DisposedError must be a class");
  GetAddonData(info.Env()).disposed_error_constructor = Napi::Persistent(disposed.As<Napi::Function>());
  return info.Env().Undefined();
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  env.SetInstanceData(new AddonData());
  DefaultThreads();
  InstallCachingCpuAllocator();
  ConfigureBlasThreads();
  exports.Set("NativeTensor", TensorWrap::Init(env));
  exports.Set("NativeResNet", ModelWrap::Init(env));
  exports.Set("NativeOptimizer", OptimizerWrap::Init(env));
  exports.Set("NativeLRScheduler", InitScheduler(env));
  exports.Set("NativeDataset", InitDataset(env));
  exports.Set("NativeDataLoader", InitDataLoader(env));
  exports.Set("NativeTrainer", InitTrainer(env));
  exports.Set("NativeProcessGroup", ProcessGroupWrap::Init(env));
  exports.Set("trainStep", Napi::Function::New(env, TrainStep, "trainStep"));
  exports.Set("evaluate", Napi::Function::New(env, Evaluate, "evaluate"));
  exports.Set("setNumThreads", Napi::Function::New(env, SetNumThreads, "setNumThreads"));
  exports.Set("getNumThreads", Napi::Function::New(env, GetNumThreads, "getNumThreads"));
  exports.Set("cudaAvailable", Napi::Function::New(env, CudaAvailable, "cudaAvailable"));
  exports.Set("cudaDeviceCount", Napi::Function::New(env, CudaDeviceCount, "cudaDeviceCount"));
  exports.Set("manualSeed", Napi::Function::New(env, ManualSeed, "manualSeed"));
  exports.Set("exitNow", Napi::Function::New(env, ExitNow, "exitNow"));
  exports.Set("setErrorClasses", Napi::Function::New(env, SetErrorClasses, "setErrorClasses"));
  exports.Set("libtorchVersion", Napi::String::New(env, TORCH_VERSION));
  exports.Set("bench", InitBench(env));
#ifdef SGDR_SANITIZER_PROBES
  exports.Set("sanitizerProbe", InitSanitizerProbe(env));
#endif
  return exports;
}

}  // namespace

}  // namespace sgdr

static Napi::Object InitAddon(Napi::Env env, Napi::Object exports) { return sgdr::Init(env, exports); }

NODE_API_MODULE(sgdr_native, InitAddon)
