// JS wrapper of a LibTorch optimizer (SGD, Adam, AdamW) over a model's trainable parameters,
// with per-parameter-group learning rates: the class and its LRs in optimizer_wrap.cc, its state for
// checkpoints in optimizer_state_wrap.cc, its hyper-parameters from JS in optimizer_hyper.h.
#pragma once

#include <napi.h>
#include <torch/optim/optimizer.h>

#include <memory>
#include <string>

namespace sgdr {

class OptimizerWrap : public Napi::ObjectWrap<OptimizerWrap> {
 public:
  static Napi::Function Init(Napi::Env env);
  static OptimizerWrap* Get(Napi::Value value, const char* what);

  explicit OptimizerWrap(const Napi::CallbackInfo& info);

  torch::optim::Optimizer& optimizer() { return *optimizer_; }
  const std::string& kind() const { return kind_; }

 private:
  Napi::Value GetLr(const Napi::CallbackInfo& info);
  Napi::Value SetLr(const Napi::CallbackInfo& info);
  Napi::Value GroupCount(const Napi::CallbackInfo& info);
  Napi::Value Kind(const Napi::CallbackInfo& info);
  Napi::Value ZeroGrad(const Napi::CallbackInfo& info);
  Napi::Value SetWeightDecay(const Napi::CallbackInfo& info);
  Napi::Value ExportState(const Napi::CallbackInfo& info);
  Napi::Value ImportState(const Napi::CallbackInfo& info);

  std::unique_ptr<torch::optim::Optimizer> optimizer_;
  std::string kind_;
  Napi::ObjectReference model_ref_;  // the model must outlive the optimizer that points into it
};

}  // namespace sgdr
