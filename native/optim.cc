#include "optim.h"

#include <torch/torch.h>

#include <cmath>
#include <sstream>

#include "addon_data.h"
#include "errors.h"
#include "model.h"

namespace sgdr {

namespace {

std::string Num(double v) {
  std::ostringstream s;
  s << v;
  return s.str();
}

void CheckNonNegative(double v, const char* name) {
  if (!std::isfinite(v) || v < 0) throw RangeFailure(std::string(name) + " must be a finite number >= 0, got " + Num(v));
}

struct Hyper {
  double lr, momentum, dampening, weight_decay, beta1, beta2, eps;
  bool nesterov, amsgrad;
};

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
  if (!(h.eps > 0) || !std::isfinite(h.eps)) throw RangeFailure("eps must be a finite number > 0, got " + Num(h.eps));
  h.beta1 = defaults ? defaults->beta1 : 0.9;
  h.beta2 = defaults ? defaults->beta2 : 0.999;
  Napi::Value betas = o.Get("betas");
  if (!betas.IsUndefined() && !betas.IsNull()) {
    if (!betas.IsArray() || betas.As<Napi::Array>().Length() != 2) throw TypeFailure("betas must be [beta1, beta2]");
    h.beta1 = betas.As<Napi::Array>().Get(0u).ToNumber().DoubleValue();
    h.beta2 = betas.As<Napi::Array>().Get(1u).ToNumber().DoubleValue();
    if (!(h.beta1 >= 0 && h.beta1 < 1)) throw RangeFailure("betas[0] must be in [0, 1), got " + Num(h.beta1));
    if (!(h.beta2 >= 0 && h.beta2 < 1)) throw RangeFailure("betas[1] must be in [0, 1), got " + Num(h.beta2));
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

}  // namespace

void ZeroGradToNone(torch::optim::Optimizer& optimizer) {
  for (auto& group : optimizer.param_groups())
    for (auto& p : group.params()) p.mutable_grad().reset();
}

void CheckLr(double lr, const std::string& name) {
  if (!std::isfinite(lr) || lr < 0) throw RangeFailure(name + " must be a finite number >= 0, got " + Num(lr));
}

Napi::Function OptimizerWrap::Init(Napi::Env env) {
  Napi::Function ctor = DefineClass(env, "NativeOptimizer",
                                    {
                                        InstanceMethod<&OptimizerWrap::GetLr>("getLr"),
                                        InstanceMethod<&OptimizerWrap::SetLr>("setLr"),
                                        InstanceMethod<&OptimizerWrap::GroupCount>("groupCount"),
                                        InstanceMethod<&OptimizerWrap::Kind>("kind"),
                                        InstanceMethod<&OptimizerWrap::ZeroGrad>("zeroGrad"),
                                    });
  GetAddonData(env).optimizer_constructor = Napi::Persistent(ctor);
  return ctor;
}

OptimizerWrap* OptimizerWrap::Get(Napi::Value value, const char* what) {
  if (!value.IsObject() || !value.As<Napi::Object>().InstanceOf(GetAddonData(value.Env()).optimizer_constructor.Value()))
    ThrowType(value.Env(), std::string(what) + " must be an optimizer");
  return Unwrap(value.As<Napi::Object>());
}

// new NativeOptimizer(model, kind: 'sgd'|'adam'|'adamw', options, groups?: [{prefixes, ...overrides}])
// Trainable parameters go to the first group whose name prefix matches, else to group 0.
OptimizerWrap::OptimizerWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<OptimizerWrap>(info) {
  Napi::Env env = info.Env();
  SGDR_TRY
  ModelWrap* model = ModelWrap::Get(info[0], "model");
  kind_ = StringArg(info, 1, "optimizer");
  if (kind_ != "sgd" && kind_ != "adam" && kind_ != "adamw")
    ThrowRange(env, "unknown optimizer '" + kind_ + "' (expected sgd, adam or adamw)");
  Napi::Object o = info.Length() > 2 && info[2].IsObject() ? info[2].As<Napi::Object>() : Napi::Object::New(env);
  const Hyper base = ReadHyper(o, kind_, nullptr);

  struct GroupSpec {
    std::vector<std::string> prefixes;
    Hyper hyper;
    std::vector<torch::Tensor> params;
  };
  std::vector<GroupSpec> groups(1, GroupSpec{{}, base, {}});
  if (info.Length() > 3 && info[3].IsArray()) {
    auto arr = info[3].As<Napi::Array>();
    for (uint32_t i = 0; i < arr.Length(); ++i) {
      if (!arr.Get(i).IsObject()) ThrowType(env, "groups[" + std::to_string(i) + "] must be an object");
      Napi::Object g = arr.Get(i).As<Napi::Object>();
      GroupSpec spec{{}, ReadHyper(g, kind_, &base), {}};
      Napi::Value prefixes = g.Get("prefixes");
      if (!prefixes.IsArray()) ThrowType(env, "groups[" + std::to_string(i) + "].prefixes must be an array of strings");
      for (uint32_t j = 0; j < prefixes.As<Napi::Array>().Length(); ++j)
        spec.prefixes.push_back(prefixes.As<Napi::Array>().Get(j).ToString().Utf8Value());
      groups.push_back(std::move(spec));
    }
  }
  for (auto& p : model->module()->named_parameters()) {
    if (!p.value().requires_grad()) continue;  // frozen parameters are not optimised
    size_t target = 0;
    for (size_t g = 1; g < groups.size() && target == 0; ++g)
      for (const auto& prefix : groups[g].prefixes)
        if (p.key().rfind(prefix, 0) == 0) {
          target = g;
          break;
        }
    groups[target].params.push_back(p.value());
  }
  std::vector<torch::optim::OptimizerParamGroup> param_groups;
  for (auto& g : groups) param_groups.emplace_back(g.params, MakeOptions(kind_, g.hyper));
  if (kind_ == "sgd")
    optimizer_ = std::make_unique<torch::optim::SGD>(param_groups, torch::optim::SGDOptions(base.lr));
  else if (kind_ == "adam")
    optimizer_ = std::make_unique<torch::optim::Adam>(param_groups, torch::optim::AdamOptions(base.lr));
  else
    optimizer_ = std::make_unique<torch::optim::AdamW>(param_groups, torch::optim::AdamWOptions(base.lr));
  model_ref_ = Napi::Persistent(info[0].As<Napi::Object>());
  SGDR_CATCH(env)
}

Napi::Value OptimizerWrap::GetLr(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  SGDR_TRY
  const double g = info.Length() > 0 && info[0].IsNumber() ? info[0].As<Napi::Number>().DoubleValue() : 0;
  auto& groups = optimizer_->param_groups();
  if (!(g >= 0) || g >= groups.size() || g != std::floor(g))
    ThrowRange(env, "group must be an integer in [0, " + std::to_string(groups.size()) + ")");
  return Napi::Number::New(env, groups[static_cast<size_t>(g)].options().get_lr());
  SGDR_CATCH(env)
}

// setLr(lr, group?): one group, or every group when group is omitted.
Napi::Value OptimizerWrap::SetLr(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  SGDR_TRY
  const double lr = NumberArg(info, 0, "lr");
  CheckLr(lr);
  auto& groups = optimizer_->param_groups();
  if (info.Length() > 1 && !info[1].IsUndefined()) {
    const double g = NumberArg(info, 1, "group");
    if (!(g >= 0) || g >= groups.size() || g != std::floor(g))
      ThrowRange(env, "group must be an integer in [0, " + std::to_string(groups.size()) + ")");
    groups[static_cast<size_t>(g)].options().set_lr(lr);
  } else {
    for (auto& group : groups) group.options().set_lr(lr);
  }
  return env.Undefined();
  SGDR_CATCH(env)
}

Napi::Value OptimizerWrap::GroupCount(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(optimizer_->param_groups().size()));
}

Napi::Value OptimizerWrap::Kind(const Napi::CallbackInfo& info) { return Napi::String::New(info.Env(), kind_); }

Napi::Value OptimizerWrap::ZeroGrad(const Napi::CallbackInfo& info) {
  ZeroGradToNone(*optimizer_);
  return info.Env().Undefined();
}

}  // namespace sgdr
