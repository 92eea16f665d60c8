// The JS handle of a c10d process group (NativeProcessGroup). The trainer and trainStep take one to
// train data-parallel; Get() checks the argument and returns the shared group.
#pragma once

#include <napi.h>

#include <memory>

#include "distributed/process_group.h"

namespace sgdr {

class ProcessGroupWrap : public Napi::ObjectWrap<ProcessGroupWrap> {
 public:
  static Napi::Function Init(Napi::Env env);
  explicit ProcessGroupWrap(const Napi::CallbackInfo& info);
  // The group behind a JS value, or a TypeError naming `what`; an Error once it is closed.
  static std::shared_ptr<ProcessGroup> Get(Napi::Value value, const char* what);

 private:
  static Napi::Value Connect(const Napi::CallbackInfo& info);
  static Napi::Value Backends(const Napi::CallbackInfo& info);
  Napi::Value Rank(const Napi::CallbackInfo& info);
  Napi::Value WorldSize(const Napi::CallbackInfo& info);
  Napi::Value Backend(const Napi::CallbackInfo& info);
  Napi::Value AllReduce(const Napi::CallbackInfo& info);
  Napi::Value Broadcast(const Napi::CallbackInfo& info);
  Napi::Value Barrier(const Napi::CallbackInfo& info);
  Napi::Value MarkFinished(const Napi::CallbackInfo& info);
  Napi::Value Close(const Napi::CallbackInfo& info);

  std::shared_ptr<ProcessGroup> group_;
};

}  // namespace sgdr
