// A Promise-returning AsyncWorker: runs `work` off the JS thread, then resolves with `done()`'s
// value on the JS thread. Any C++ exception in `work` becomes a rejected Promise with a JS Error
// (RangeError/TypeError for argument failures), never an abort. The JS objects the work uses are
// held by persistent references until it finishes, so GC cannot free them mid-flight.
#pragma once

#include <napi.h>

#include <functional>
#include <vector>

#include "binding/js_errors.h"

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
    } catch (...) {
      error_ = Capture(std::current_exception());
      SetError(error_.message);
    }
  }

  void OnOK() override {
    Napi::Env env = Env();
    try {
      deferred_.Resolve(done_(env));
    } catch (...) {
      deferred_.Reject(ToJsError(env, std::current_exception()).Value());
    }
  }

  void OnError(const Napi::Error&) override { deferred_.Reject(ToJsError(Env(), error_).Value()); }

 private:
  PromiseWorker(Napi::Env env, Work work, Done done, const std::vector<Napi::Object>& keep_alive)
      : Napi::AsyncWorker(env, "sgdr"),
        deferred_(Napi::Promise::Deferred::New(env)),
        work_(std::move(work)),
        done_(std::move(done)) {
    for (const auto& o : keep_alive) refs_.push_back(Napi::Persistent(o));
  }

  Napi::Promise::Deferred deferred_;
  Work work_;
  Done done_;
  std::vector<Napi::ObjectReference> refs_;
  CapturedError error_;  // what Execute() caught, turned into the JS error in OnError
};

}  // namespace sgdr
