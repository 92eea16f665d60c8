// An optimizer's hyper-parameters as JS gives them (lr, momentum, weightDecay, betas, ...): read and
// checked from an options object, and made into LibTorch's options for SGD, Adam or AdamW. Shared by
// the constructor (optimizer_wrap.cc) and importState (optimizer_state_wrap.cc).
#pragma once

#include <napi.h>
#include <torch/optim/optimizer.h>

#include <memory>
#include <string>

namespace sgdr {

struct Hyper {
  double lr, momentum, dampening, weight_decay, beta1, beta2, eps;
  bool nesterov, amsgrad;
};

// The hyper-parameters of `o` for `kind` ('sgd' | 'adam' | 'adamw'); a field `o` lacks comes from
// `defaults` (a group's overrides over the base options) or, without them, the kind's own default.
Hyper ReadHyper(const Napi::Object& o, const std::string& kind, const Hyper* defaults);

// LibTorch's options of `kind` with the hyper-parameters `h`.
std::unique_ptr<torch::optim::OptimizerOptions> MakeOptions(const std::string& kind, const Hyper& h);

}  // namespace sgdr
