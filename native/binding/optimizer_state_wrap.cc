// NativeOptimizer's exportState/importState: the optimizer's state for checkpoints, in the layout of
// PyTorch's optimizer.state_dict().
#include <torch/torch.h>

#include <string>

#include "binding/args.h"
#include "binding/js_errors.h"
#include "binding/optimizer_hyper.h"
#include "binding/optimizer_wrap.h"
#include "binding/tensor_wrap.h"
#include "core/compat.h"
#include "core/optim.h"

namespace sgdr {

// The layout mirrors PyTorch's optimizer.state_dict(): per-parameter state keyed by the index of the
// parameter across groups, and per-group hyper-parameters with the indices of their parameters.

namespace {

Napi::Object Record(Napi::Env env, const torch::Tensor& t) {
  auto o = Napi::Object::New(env);
  SetTensorFields(env, o, t);
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
