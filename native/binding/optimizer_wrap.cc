#include "binding/optimizer_wrap.h"

#include <torch/torch.h>

#include <cmath>
#include <sstream>

#include "binding/addon_data.h"
#include "core/compat.h"
#include "core/optim.h"
#include "binding/args.h"
#include "binding/js_errors.h"
#include "binding/model_wrap.h"
#include "binding/tensor_wrap.h"

namespace sgdr {

namespace {

std::string Num(double v) {
  std::ostringstream s;
  s << v;
  return s.str();
}

void CheckNonNegative(double v, const char* name) {
  if (!std::isfinite(v) || v < 0)
    throw RangeFailure(std::string(name) + " must be a finite number >= 0, got " + Num(v));
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

// ---- State for checkpoints -----------------------------------------------------------------
// The layout mirrors PyTorch's optimizer.state_dict(): per-parameter state keyed by the index of the
// parameter across groups, and per-group hyper-parameters with the indices of their parameters.

namespace {

Napi::Object Record(Napi::Env env, const torch::Tensor& t) {
  auto o = Napi::Object::New(env);
  o.Set("dtype", DTypeName(t.scalar_type()));
  auto shape = Napi::Array::New(env);
  for (int64_t d = 0; d < t.dim(); ++d) shape.Set(static_cast<uint32_t>(d), static_cast<double>(t.size(d)));
  o.Set("shape", shape);
  o.Set("data", TypedArrayFromTensor(env, t));
  return o;
}

// Adam's and AdamW's options and per-parameter state have the same fields but are unrelated types:
// each is read and made as its own type (a static_cast of one to the other is undefined behaviour,
// which UBSan reports, and LibTorch's AdamW::step casts its state to AdamWParamState).
template <class Options>
void SetAdamOptions(Napi::Env env, Napi::Object& g, const Options& o) {
  auto betas = Napi::Array::New(env, 2);
  betas.Set(0u, std::get<0>(o.betas()));
  betas.Set(1u, std::get<1>(o.betas()));
  g.Set("betas", betas);
  g.Set("eps", o.eps());
  g.Set("weight_decay", o.weight_decay());
  g.Set("amsgrad", o.amsgrad());
}

// A state tensor from a JS record, checked against the parameter it belongs to.
torch::Tensor StateTensor(Napi::Env env, Napi::Value v, const torch::Tensor& param, const std::string& what) {
  if (!v.IsObject()) throw TypeFailure(what + " must be a tensor record");
  Napi::Object r = v.As<Napi::Object>();
  torch::Tensor t = TensorFromTypedArray(env, r.Get("data"), r.Get("shape"), StringOption(r, "dtype", "float32"));
  if (t.sizes() != param.sizes()) throw RangeFailure(what + " has the wrong shape for its parameter");
  return t.to(param.device(), param.scalar_type());
}

template <class State>
void SetAdamState(Napi::Env env, Napi::Object& s, const State& ps) {
  s.Set("step", static_cast<double>(ps.step()));
  s.Set("exp_avg", Record(env, ps.exp_avg()));
  s.Set("exp_avg_sq", Record(env, ps.exp_avg_sq()));
  if (ps.max_exp_avg_sq().defined()) s.Set("max_exp_avg_sq", Record(env, ps.max_exp_avg_sq()));
}

template <class State>
std::unique_ptr<torch::optim::OptimizerParamState> AdamStateFrom(Napi::Env env, const Napi::Object& s,
                                                                 const torch::Tensor& p, const std::string& where) {
  auto ps = std::make_unique<State>();
  const double step = NumberOption(s, "step", 0);
  if (!IsIntegerIn(step, 0, kMaxExactInteger))
    ThrowRange(env,
               where + ": step must be an integer >= 0, got " + Napi::Number::New(env, step).ToString().Utf8Value());
  ps->step(static_cast<int64_t>(step));
  ps->exp_avg(StateTensor(env, s.Get("exp_avg"), p, where + " (exp_avg)"));
  ps->exp_avg_sq(StateTensor(env, s.Get("exp_avg_sq"), p, where + " (exp_avg_sq)"));
  if (s.Has("max_exp_avg_sq"))
    ps->max_exp_avg_sq(StateTensor(env, s.Get("max_exp_avg_sq"), p, where + " (max_exp_avg_sq)"));
  return ps;
}

}  // namespace

Napi::Value OptimizerWrap::ExportState(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  SGDR_TRY
  auto state_list = Napi::Array::New(env);
  auto group_list = Napi::Array::New(env);
  auto& state = optimizer_->state();
  uint32_t index = 0, n_state = 0, n_group = 0;
  for (auto& group : optimizer_->param_groups()) {
    auto g = Napi::Object::New(env);
    auto params = Napi::Array::New(env);
    const auto& opts = group.options();
    g.Set("lr", opts.get_lr());
    if (kind_ == "sgd") {
      const auto& o = static_cast<const torch::optim::SGDOptions&>(opts);
      g.Set("momentum", o.momentum());
      g.Set("dampening", o.dampening());
      g.Set("weight_decay", o.weight_decay());
      g.Set("nesterov", o.nesterov());
    } else if (kind_ == "adam") {
      SetAdamOptions(env, g, static_cast<const torch::optim::AdamOptions&>(opts));
    } else {
      SetAdamOptions(env, g, static_cast<const torch::optim::AdamWOptions&>(opts));
    }
    uint32_t k = 0;
    for (auto& p : group.params()) {
      params.Set(k++, index);
      auto it = state.find(compat::OptimizerStateKey(*optimizer_, p));
      if (it != state.end()) {
        auto s = Napi::Object::New(env);
        s.Set("index", index);
        if (kind_ == "sgd") {
          const auto& ps = static_cast<const torch::optim::SGDParamState&>(*it->second);
          if (ps.momentum_buffer().defined()) s.Set("momentum_buffer", Record(env, ps.momentum_buffer()));
        } else if (kind_ == "adam") {
          SetAdamState(env, s, static_cast<const torch::optim::AdamParamState&>(*it->second));
        } else {
          SetAdamState(env, s, static_cast<const torch::optim::AdamWParamState&>(*it->second));
        }
        state_list.Set(n_state++, s);
      }
      ++index;
    }
    g.Set("params", params);
    group_list.Set(n_group++, g);
  }
  auto out = Napi::Object::New(env);
  out.Set("kind", kind_);
  out.Set("state", state_list);
  out.Set("param_groups", group_list);
  return out;
  SGDR_CATCH(env)
}

// Restores what ExportState produced (same model, same groups): buffers, steps and hyper-parameters.
// Everything is checked before anything changes.
Napi::Value OptimizerWrap::ImportState(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  SGDR_TRY
  Napi::Object in = ObjectArg(info, 0, "optimizer state");
  const std::string kind = StringOption(in, "kind", kind_);
  if (kind != kind_) ThrowRange(env, "optimizer state is for '" + kind + "', this optimizer is '" + kind_ + "'");
  Napi::Value groups_v = in.Get("param_groups"), state_v = in.Get("state");
  if (!groups_v.IsArray() || !state_v.IsArray())
    ThrowType(env, "optimizer state needs 'param_groups' and 'state' arrays");
  auto groups_in = groups_v.As<Napi::Array>();
  auto& groups = optimizer_->param_groups();
  if (groups_in.Length() != groups.size())
    ThrowRange(env, "optimizer state has " + std::to_string(groups_in.Length()) +
                        " parameter groups, this optimizer has " + std::to_string(groups.size()));
  std::vector<torch::Tensor> params;
  for (size_t g = 0; g < groups.size(); ++g) {
    Napi::Value gp = groups_in.Get(static_cast<uint32_t>(g)).As<Napi::Object>().Get("params");
    if (!gp.IsArray() || gp.As<Napi::Array>().Length() != groups[g].params().size())
      ThrowRange(env, "optimizer state's group " + std::to_string(g) + " does not match this optimizer's parameters");
    for (auto& p : groups[g].params()) params.push_back(p);
  }
  using StateKey = decltype(compat::OptimizerStateKey(*optimizer_, torch::Tensor()));
  std::vector<std::pair<StateKey, std::unique_ptr<torch::optim::OptimizerParamState>>> new_state;
  auto state_in = state_v.As<Napi::Array>();
  for (uint32_t i = 0; i < state_in.Length(); ++i) {
    Napi::Object s = state_in.Get(i).As<Napi::Object>();
    const double idx = NumberOption(s, "index", -1);
    if (!IsIntegerIn(idx, 0, static_cast<double>(params.size()) - 1))
      ThrowRange(env, "optimizer state refers to parameter " + Napi::Number::New(env, idx).ToString().Utf8Value() +
                          ", not one of its " + std::to_string(params.size()));
    const torch::Tensor& p = params[static_cast<size_t>(idx)];
    const std::string where = "optimizer state of parameter " + std::to_string(static_cast<int64_t>(idx));
    if (kind_ == "sgd") {
      auto ps = std::make_unique<torch::optim::SGDParamState>();
      if (s.Has("momentum_buffer"))
        ps->momentum_buffer(StateTensor(env, s.Get("momentum_buffer"), p, where + " (momentum_buffer)"));
      new_state.emplace_back(compat::OptimizerStateKey(*optimizer_, p), std::move(ps));
    } else {
      new_state.emplace_back(compat::OptimizerStateKey(*optimizer_, p),
                             kind_ == "adam" ? AdamStateFrom<torch::optim::AdamParamState>(env, s, p, where)
                                             : AdamStateFrom<torch::optim::AdamWParamState>(env, s, p, where));
    }
  }
  std::vector<Hyper> hypers;
  for (size_t g = 0; g < groups.size(); ++g) {
    Napi::Object gi = groups_in.Get(static_cast<uint32_t>(g)).As<Napi::Object>();
    Napi::Object o = Napi::Object::New(env);  // PyTorch's snake_case keys -> our option names
    o.Set("lr", gi.Get("lr"));
    o.Set("momentum", gi.Get("momentum"));
    o.Set("dampening", gi.Get("dampening"));
    o.Set("weightDecay", gi.Get("weight_decay"));
    o.Set("nesterov", gi.Get("nesterov"));
    o.Set("betas", gi.Get("betas"));
    o.Set("eps", gi.Get("eps"));
    o.Set("amsgrad", gi.Get("amsgrad"));
    hypers.push_back(ReadHyper(o, kind_, nullptr));
  }
  auto& state = optimizer_->state();
  state.clear();
  for (auto& e : new_state) state[e.first] = std::move(e.second);
  for (size_t g = 0; g < groups.size(); ++g) groups[g].set_options(MakeOptions(kind_, hypers[g]));
  return env.Undefined();
  SGDR_CATCH(env)
}

}  // namespace sgdr
