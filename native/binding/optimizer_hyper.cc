#include "binding/optimizer_hyper.h"

#include <torch/torch.h>

#include <cmath>

#include "binding/args.h"
#include "core/failure.h"
#include "core/optim.h"

namespace sgdr {

Hyper ReadHyper(const Napi::Object& o, const std::string& kind, const Hyper* defaults) {
  Hyper h{};
  const bool adam = kind != "sgd";
  h.lr = NumberOption(o, "lr", defaults ? defaults->lr : (adam ? 1e-3 : NAN));
  if (std::isnan(h.lr) && !o.Has("lr")) throw RangeFailure("lr is required for sgd");
  CheckLr(h.lr);
  h.weight_decay = NumberOption(o, "weightDecay", defaults ? defaults->weight_decay : (kind == "adamw" ? 1e-2 : 0));
  CheckNonNegative(h.weight_decay, "weightDecay");
  h.momentum = NumberOption(o, "momentum", defaults ? defaults->momentum : 0);
  CheckNonNegative(h.momentum, "momentum");
  h.dampening = NumberOption(o, "dampening", defaults ? defaults->dampening : 0);
  CheckNonNegative(h.dampening, "dampening");
  h.nesterov = BoolOption(o, "nesterov", defaults ? defaults->nesterov : false);
  if (!adam && h.nesterov && (h.momentum <= 0 || h.dampening != 0))
    throw RangeFailure("nesterov momentum requires momentum > 0 and dampening 0");
  h.eps = NumberOption(o, "eps", defaults ? defaults->eps : 1e-8);
  if (!(h.eps > 0) || !std::isfinite(h.eps))
    throw RangeFailure("eps must be a finite number > 0, got " + NumberText(h.eps));
  h.beta1 = defaults ? defaults->beta1 : 0.9;
  h.beta2 = defaults ? defaults->beta2 : 0.999;
  Napi::Value betas = o.Get("betas");
  if (!betas.IsUndefined() && !betas.IsNull()) {
    if (!betas.IsArray() || betas.As<Napi::Array>().Length() != 2) throw TypeFailure("betas must be [beta1, beta2]");
    h.beta1 = betas.As<Napi::Array>().Get(0u).ToNumber().DoubleValue();
    h.beta2 = betas.As<Napi::Array>().Get(1u).ToNumber().DoubleValue();
    if (!(h.beta1 >= 0 && h.beta1 < 1)) throw RangeFailure("betas[0] must be in [0, 1), got " + NumberText(h.beta1));
    if (!(h.beta2 >= 0 && h.beta2 < 1)) throw RangeFailure("betas[1] must be in [0, 1), got " + NumberText(h.beta2));
  }
  h.amsgrad = BoolOption(o, "amsgrad", defaults ? defaults->amsgrad : false);
  return h;
}

std::unique_ptr<torch::optim::OptimizerOptions> MakeOptions(const std::string& kind, const Hyper& h) {
  if (kind == "sgd")
    return std::make_unique<torch::optim::SGDOptions>(torch::optim::SGDOptions(h.lr)
                                                          .momentum(h.momentum)
                                                          .dampening(h.dampening)
                                                          .weight_decay(h.weight_decay)
                                                          .nesterov(h.nesterov));
  if (kind == "adam")
    return std::make_unique<torch::optim::AdamOptions>(torch::optim::AdamOptions(h.lr)
                                                           .betas({h.beta1, h.beta2})
                                                           .eps(h.eps)
                                                           .weight_decay(h.weight_decay)
                                                           .amsgrad(h.amsgrad));
  return std::make_unique<torch::optim::AdamWOptions>(torch::optim::AdamWOptions(h.lr)
                                                          .betas({h.beta1, h.beta2})
                                                          .eps(h.eps)
                                                          .weight_decay(h.weight_decay)
                                                          .amsgrad(h.amsgrad));
}

}  // namespace sgdr
