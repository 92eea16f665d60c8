#include "binding/optimizer_wrap.h"

#include <torch/torch.h>

#include <cmath>

#include "binding/addon_data.h"
#include "core/compat.h"
#include "core/optim.h"
#include "binding/optimizer_hyper.h"
#include "binding/args.h"
#include "binding/js_errors.h"
#include "binding/model_wrap.h"
#include "binding/tensor_wrap.h"

namespace sgdr {

Napi::Function OptimizerWrap::Init(Napi::Env env) {
  Napi::Function ctor = DefineClass(env, "NativeOptimizer",
                                    {
                                        InstanceMethod<&OptimizerWrap::GetLr>("getLr"),
                                        InstanceMethod<&OptimizerWrap::SetLr>("setLr"),
                                        InstanceMethod<&OptimizerWrap::GroupCount>("groupCount"),
                                        InstanceMethod<&OptimizerWrap::Kind>("kind"),
                                        InstanceMethod<&OptimizerWrap::ZeroGrad>("zeroGrad"),
                                        InstanceMethod<&OptimizerWrap::SetWeightDecay>("setWeightDecay"),
                                        InstanceMethod<&OptimizerWrap::ExportState>("exportState"),
                                        InstanceMethod<&OptimizerWrap::ImportState>("importState"),
                                    });
  GetAddonData(env).optimizer_constructor = Napi::Persistent(ctor);
  return ctor;
}

OptimizerWrap* OptimizerWrap::Get(Napi::Value value, const char* what) {
  if (!value.IsObject() ||
      !value.As<Napi::Object>().InstanceOf(GetAddonData(value.Env()).optimizer_constructor.Value()))
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
  const auto group = IntegerIn<size_t>(env, g, 0, static_cast<double>(groups.size()) - 1,
                                       "group must be an integer in [0, " + std::to_string(groups.size()) + ")");
  return Napi::Number::New(env, groups[group].options().get_lr());
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
    const auto group = IntegerIn<size_t>(env, g, 0, static_cast<double>(groups.size()) - 1,
                                         "group must be an integer in [0, " + std::to_string(groups.size()) + ")");
    groups[group].options().set_lr(lr);
  } else {
    for (auto& group : groups) group.options().set_lr(lr);
  }
  return env.Undefined();
  SGDR_CATCH(env)
}

// setWeightDecay(wd): every group (the AdamW paper's normalized weight decay changes it per cycle).
Napi::Value OptimizerWrap::SetWeightDecay(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  SGDR_TRY
  const double wd = NumberArg(info, 0, "weightDecay");
  CheckNonNegative(wd, "weightDecay");
  for (auto& group : optimizer_->param_groups()) {
    if (kind_ == "sgd")
      static_cast<torch::optim::SGDOptions&>(group.options()).weight_decay(wd);
    else if (kind_ == "adam")
      static_cast<torch::optim::AdamOptions&>(group.options()).weight_decay(wd);
    else
      static_cast<torch::optim::AdamWOptions&>(group.options()).weight_decay(wd);
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
