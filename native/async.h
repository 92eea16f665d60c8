// A Promise-returning AsyncWorker: runs `work` off the JS thread, then resolves with `done()`'s
// value on the JS thread. Any C++ exception in `work` becomes a rejected Promise with a JS Error
// (RangeError/TypeError for argument failures), never an abort. The JS objects the work uses are
// held by persistent references until it finishes, so GC cannot free them mid-flight.
#pragma once

#include <napi.h>

#include <functional>
#include <vector>

#include "errors.h"

namespace sgdr {

class PromiseWorker : public Napi::AsyncWorker {
 public:
  using Work = std::function<void()>;
  using Done = std::function<Napi::Value(Napi::Env)>;

  static Napi::Promise Start(Napi::Env env, Work work, Done done, const std::vector<Napi::Object>& keep_alive = {}) {
    auto* worker = new PromiseWorker(env, std::move(work), std::move(done), keep_alive);
    Napi::Promise promise = worker->deferred_.Promise();
    worker->Queue();
    return promise;
  }

 protected:
  void Execute() override {
    try {
      work_();
    } catch (const RangeFailure& e) {
      kind_ = Kind::kRange;
      SetError(e.what());
    } catch (const TypeFailure& e) {
      kind_ = Kind::kType;
      SetError(e.what());
    } catch (const c10::Error& e) {
      SetError(MessageOf(e));
    } catch (const std::exception& e) {
      SetError(e.what());
    } catch (...) {
      SetError("unknown native error");
    }
  }

  void OnOK() override {
    Napi::Env env = Env();
    try {
      deferred_.Resolve(done_(env));
    } catch (const Napi::Error& e) {
      deferred_.Reject(e.Value());
    } catch (const c10::Error& e) {
      deferred_.Reject(Napi::Error::New(env, MessageOf(e)).Value());
    } catch (const std::exception& e) {
      deferred_.Reject(Napi::Error::New(env, e.what()).Value());
    }
  }

  void OnError(const Napi::Error& error) override {
    Napi::Env env = Env();
    switch (kind_) {
      case Kind::kRange: deferred_.Reject(Napi::RangeError::New(env, error.Message()).Value()); break;
      case Kind::kType: deferred_.Reject(Napi::TypeError::New(env, error.Message()).Value()); break;
      default: deferred_.Reject(Napi::Error::New(env, error.Message()).Value());
    }
  }

 private:
  enum class Kind { kError, kRange, kType };

  PromiseWorker(Napi::Env env, Work work, Done done, const std::vector<Napi::Object>& keep_alive)
      : Napi::AsyncWorker(env, "sgdr"), deferred_(Napi::Promise::Deferred::New(env)), work_(std::move(work)),
        done_(std::move(done)) {
    for (const auto& o : keep_alive) refs_.push_back(Napi::Persistent(o));
  }

  Napi::Promise::Deferred deferred_;
  Work work_;
  Done done_;
  std::vector<Napi::ObjectReference> refs_;
  Kind kind_ = Kind::kError;
};

}  // namespace sgdr
