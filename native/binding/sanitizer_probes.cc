// Deliberate defects for scripts/sanitize.sh, compiled in only with -DSGDR_SANITIZER_PROBES (the
// sanitizer build): each run of that script calls them in child processes and checks that
// AddressSanitizer, UndefinedBehaviorSanitizer and LeakSanitizer each report theirs, naming this
// file. So a "0 reports" line at the end can only mean that the tools were live and found nothing,
// not that they were never loaded, or that the leak check never ran or could not see our frames.
// Release builds have no trace of this: without the define the file is empty.
//
// sanitizerProbe('leak-check') is not a defect: it runs LeakSanitizer's check now, in a live
// process (see test/setup/sanitizer.ts: vitest ends its workers with SIGTERM, before LSan's own
// check at exit could run), and returns whether it found leaks (its report goes to ASan's log).
#ifdef SGDR_SANITIZER_PROBES

#include <napi.h>
#include <sanitizer/lsan_interface.h>

#include <climits>
#include <cstring>
#include <string>

namespace sgdr {

namespace {

// Keeps the compiler from proving the defects away.
volatile int g_sink = 0;

// Hides where a pointer came from, so UBSan's object-size check (which knows the size of a `new
// char[16]` it can see) leaves the overflow below to ASan's instrumentation, whose report it is.
template <class T>
T* Opaque(T* p) {
  asm volatile("" : "+r"(p));
  return p;
}

__attribute__((noinline)) void HeapOverflow() {
  char* p = Opaque(new char[16]);
  std::memset(p, 1, 16);
  g_sink = p[16 + (g_sink & 0)];  // one past the end
  delete[] p;
}

__attribute__((noinline)) void UseAfterFree() {
  int* p = new int[4]{1, 2, 3, 4};
  delete[] p;
  g_sink = p[g_sink & 1];
}

__attribute__((noinline)) void Leak() {
  // Unreachable once this returns: what forgetting a delete in a wrapper would leave behind.
  int* p = new int[1000];
  p[0] = g_sink;
  g_sink = p[0];
}

__attribute__((noinline)) void SignedOverflow() {
  int x = INT_MAX - (g_sink & 0);
  g_sink = x + 1;
}

Napi::Value Probe(const Napi::CallbackInfo& info) {
  const std::string kind = info[0].As<Napi::String>().Utf8Value();
  if (kind == "heap-buffer-overflow")
    HeapOverflow();
  else if (kind == "heap-use-after-free")
    UseAfterFree();
  else if (kind == "leak")
    Leak();
  else if (kind == "signed-integer-overflow")
    SignedOverflow();
  else if (kind == "leak-check")
    return Napi::Boolean::New(info.Env(), __lsan_do_recoverable_leak_check() != 0);
  else
    throw Napi::RangeError::New(info.Env(), "unknown probe '" + kind + "'");
  return info.Env().Undefined();
}

}  // namespace

Napi::Function InitSanitizerProbe(Napi::Env env) { return Napi::Function::New(env, Probe, "sanitizerProbe"); }

}  // namespace sgdr

#endif  // SGDR_SANITIZER_PROBES
