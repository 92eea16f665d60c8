// Turning C++ failures into JS exceptions, and argument checks that name the bad argument.
//
// Why: an exception escaping into N-API aborts the whole Node process. Every entry point wraps its
// body in SGDR_TRY / SGDR_CATCH so LibTorch's c10::Error (and any std::exception) becomes a JS Error
// carrying LibTorch's message without its C++ backtrace.
#pragma once

#include <napi.h>
#include <c10/util/Exception.h>

#include <cmath>
#include <string>

namespace sgdr {

// c10::Error::what() appends a long C++ backtrace; users want the first part only.
inline std::string MessageOf(const c10::Error& e) {
  std::string msg = e.what_without_backtrace();
  // LibTorch appends "Exception raised from ... (most recent call first):" on some paths.
  auto pos = msg.find("\nException raised from");
  if (pos != std::string::npos) msg.erase(pos);
  return msg;
}

inline std::string MessageOf(const std::exception& e) { return e.what(); }

// Thrown by checks that run off the JS thread, so the JS side can still raise the right error type.
struct RangeFailure : std::runtime_error {
  using std::runtime_error::runtime_error;
};
struct TypeFailure : std::runtime_error {
  using std::runtime_error::runtime_error;
};

}  // namespace sgdr

#define SGDR_TRY try {
#define SGDR_CATCH(env)                                                        \
  }                                                                            \
  catch (const Napi::Error&) {                                                 \
    throw;                                                                     \
  }                                                                            \
  catch (const ::sgdr::RangeFailure& e) {                                      \
    throw Napi::RangeError::New(env, e.what());                                \
  }                                                                            \
  catch (const ::sgdr::TypeFailure& e) {                                       \
    throw Napi::TypeError::New(env, e.what());                                 \
  }                                                                            \
  catch (const c10::Error& e) {                                                \
    throw Napi::Error::New(env, ::sgdr::MessageOf(e));                         \
  }                                                                            \
  catch (const std::exception& e) {                                            \
    throw Napi::Error::New(env, ::sgdr::MessageOf(e));                         \
  }                                                                            \
  catch (...) {                                                                \
    throw Napi::Error::New(env, "unknown native error");                       \
  }

namespace sgdr {

// Whether v is an integer in [lo, hi]. Checked before every cast of a JS number to an integer type:
// the cast of a double outside the type's range (or of NaN) is undefined behaviour, which on x86
// quietly gives INT64_MIN, and UBSan's float-cast-overflow aborts on it.
inline bool IsIntegerIn(double v, double lo, double hi) { return v >= lo && v <= hi && v == std::floor(v); }
// 2^53: up to here every integer is a double; the bound for counts, indices, epochs and sizes.
constexpr double kMaxExactInteger = 9007199254740992.0;
// 2^64 - 2048, the largest double below 2^64: the bound for 64-bit seeds.
constexpr double kMaxSeed = 18446744073709549568.0;

[[noreturn]] inline void ThrowType(Napi::Env env, const std::string& msg) { throw Napi::TypeError::New(env, msg); }
[[noreturn]] inline void ThrowRange(Napi::Env env, const std::string& msg) { throw Napi::RangeError::New(env, msg); }

inline double NumberArg(const Napi::CallbackInfo& info, size_t i, const char* name) {
  if (info.Length() <= i || !info[i].IsNumber()) ThrowType(info.Env(), std::string(name) + " must be a number");
  return info[i].As<Napi::Number>().DoubleValue();
}

inline std::string StringArg(const Napi::CallbackInfo& info, size_t i, const char* name) {
  if (info.Length() <= i || !info[i].IsString()) ThrowType(info.Env(), std::string(name) + " must be a string");
  return info[i].As<Napi::String>().Utf8Value();
}

inline Napi::Object ObjectArg(const Napi::CallbackInfo& info, size_t i, const char* name) {
  if (info.Length() <= i || !info[i].IsObject()) ThrowType(info.Env(), std::string(name) + " must be an object");
  return info[i].As<Napi::Object>();
}

// Reads an optional numeric option; absent/undefined gives the fallback.
inline double NumberOption(const Napi::Object& o, const char* key, double fallback) {
  Napi::Value v = o.Get(key);
  if (v.IsUndefined() || v.IsNull()) return fallback;
  if (!v.IsNumber()) ThrowType(o.Env(), std::string(key) + " must be a number");
  return v.As<Napi::Number>().DoubleValue();
}

inline bool BoolOption(const Napi::Object& o, const char* key, bool fallback) {
  Napi::Value v = o.Get(key);
  if (v.IsUndefined() || v.IsNull()) return fallback;
  if (!v.IsBoolean()) ThrowType(o.Env(), std::string(key) + " must be a boolean");
  return v.As<Napi::Boolean>().Value();
}

inline std::string StringOption(const Napi::Object& o, const char* key, const std::string& fallback) {
  Napi::Value v = o.Get(key);
  if (v.IsUndefined() || v.IsNull()) return fallback;
  if (!v.IsString()) ThrowType(o.Env(), std::string(key) + " must be a string");
  return v.As<Napi::String>().Utf8Value();
}

}  // namespace sgdr
