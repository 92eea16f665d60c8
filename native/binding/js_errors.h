// The one way a C++ failure becomes a JS error, for every path: synchronous entry points
// (SGDR_TRY / SGDR_CATCH), Promise workers (promise_worker.h), the trainer's jobs and the loader's
// next(). Why one: an exception escaping into N-API aborts the whole Node process, and four
// hand-written translations had drifted apart (a TypeFailure became a plain Error in two of them,
// and one path kept LibTorch's C++ backtrace in the message).
//
// Off the JS thread there is no Napi::Env, so a failure is first captured as a CapturedError (its
// kind and message, copyable across threads) and turned into the JS error once back on the JS thread.
#pragma once

#include <napi.h>

#include <exception>
#include <string>

#include "binding/addon_data.h"
#include "core/failure.h"

namespace sgdr {

struct CapturedError {
  enum class Kind { kError, kRange, kType };
  Kind kind = Kind::kError;
  std::string message;
};

// Classifies the exception e: RangeFailure -> RangeError, TypeFailure -> TypeError, a LibTorch
// c10::Error -> Error with its message only (no C++ backtrace), any other std::exception -> Error.
// A Napi::Error keeps its message (its JS type cannot be carried across threads).
inline CapturedError Capture(std::exception_ptr e) {
  try {
    std::rethrow_exception(e);
  } catch (const RangeFailure& f) {
    return {CapturedError::Kind::kRange, f.what()};
  } catch (const TypeFailure& f) {
    return {CapturedError::Kind::kType, f.what()};
  } catch (const Napi::Error& f) {
    return {CapturedError::Kind::kError, f.Message()};
  } catch (const c10::Error& f) {
    return {CapturedError::Kind::kError, MessageOf(f)};
  } catch (const std::exception& f) {
    return {CapturedError::Kind::kError, f.what()};
  } catch (...) {
    return {CapturedError::Kind::kError, "unknown native error"};
  }
}

inline Napi::Error ToJsError(Napi::Env env, const CapturedError& e) {
  switch (e.kind) {
    case CapturedError::Kind::kRange:
      return Napi::RangeError::New(env, e.message);
    case CapturedError::Kind::kType:
      return Napi::TypeError::New(env, e.message);
    default:
      return Napi::Error::New(env, e.message);
  }
}

// On the JS thread: a Napi::Error passes through as it is (it already is the JS error to throw).
inline Napi::Error ToJsError(Napi::Env env, std::exception_ptr e) {
  try {
    std::rethrow_exception(e);
  } catch (const Napi::Error& f) {
    return f;
  } catch (...) {
    return ToJsError(env, Capture(std::current_exception()));
  }
}

// Use of a handle (Tensor, model, data set, loader) after its dispose(): the library's DisposedError
// (lib/errors.ts; name 'DisposedError', code 'ERR_SGDR_DISPOSED'), or an Error with that name and
// code before the library has registered its class.
[[noreturn]] inline void ThrowDisposed(Napi::Env env, const std::string& message) {
  AddonData* data = env.GetInstanceData<AddonData>();
  if (data && !data->disposed_error_constructor.IsEmpty())
    throw Napi::Error(env, data->disposed_error_constructor.New({Napi::String::New(env, message)}));
  Napi::Error e = Napi::Error::New(env, message);
  e.Set("name", Napi::String::New(env, "DisposedError"));
  e.Set("code", Napi::String::New(env, "ERR_SGDR_DISPOSED"));
  throw e;
}

}  // namespace sgdr

#define SGDR_TRY try {
#define SGDR_CATCH(env)                                     \
  }                                                         \
  catch (...) {                                             \
    throw ::sgdr::ToJsError(env, std::current_exception()); \
  }
