// JS wrapper of a ResNet: construction, async forward, train/eval, state dict in and out.
// A mutex per model serialises native work on it (an async forward and a weight load never interleave).
#pragma once

#include <napi.h>

#include <memory>
#include <mutex>

#include "core/resnet.h"

namespace sgdr {

class ModelWrap : public Napi::ObjectWrap<ModelWrap> {
 public:
  static Napi::Function Init(Napi::Env env);
  static ModelWrap* Get(Napi::Value value, const char* what);

  explicit ModelWrap(const Napi::CallbackInfo& info);
  void Finalize(Napi::Env env) override;

  ResNet& module() { return module_; }
  std::mutex& mutex() { return *mutex_; }
  torch::Device device() const { return device_; }
  // Checks an input batch against the model (shape [N, inChannels, H, W]); throws naming the problem.
  void CheckInput(const torch::Tensor& input) const;

 private:
  Napi::Value Forward(const Napi::CallbackInfo& info);
  Napi::Value SetTraining(const Napi::CallbackInfo& info);
  Napi::Value IsTraining(const Napi::CallbackInfo& info);
  Napi::Value ParameterCount(const Napi::CallbackInfo& info);
  Napi::Value StateDictKeys(const Napi::CallbackInfo& info);
  Napi::Value StateDict(const Napi::CallbackInfo& info);
  Napi::Value LoadStateDict(const Napi::CallbackInfo& info);
  Napi::Value To(const Napi::CallbackInfo& info);
  Napi::Value Device(const Napi::CallbackInfo& info);
  Napi::Value Info(const Napi::CallbackInfo& info);
  Napi::Value ReplaceClassifier(const Napi::CallbackInfo& info);
  Napi::Value ModuleNames(const Napi::CallbackInfo& info);
  Napi::Value ReinitModules(const Napi::CallbackInfo& info);
  Napi::Value SetRequiresGrad(const Napi::CallbackInfo& info);
  Napi::Value ResetBatchNormStats(const Napi::CallbackInfo& info);
  Napi::Value SetBatchNormMomentum(const Napi::CallbackInfo& info);
  Napi::Value Dispose(const Napi::CallbackInfo& info);
  Napi::Value IsDisposed(const Napi::CallbackInfo& info);

  void ReportMemory(Napi::Env env);

  ResNet module_{nullptr};
  std::shared_ptr<std::mutex> mutex_ = std::make_shared<std::mutex>();
  torch::Device device_{torch::kCPU};
  int64_t reported_bytes_ = 0;
};

}  // namespace sgdr
