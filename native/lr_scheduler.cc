// LR schedulers (LibTorch side) and their JS wrapper.
#include "lr_scheduler.h"

#include <napi.h>
#include <torch/optim.h>

#include <cmath>
#include <memory>
#include <sstream>

#include "errors.h"
#include "optim.h"

namespace sgdr {

ClosedFormLR::ClosedFormLR(torch::optim::Optimizer& optimizer) : LRScheduler(optimizer), optimizer_ref_(optimizer) {
  for (auto& group : optimizer.param_groups()) base_lrs_.push_back(group.options().get_lr());
}

std::vector<double> ClosedFormLR::get_lrs() {
  t_ += 1;
  return lrs_at(t_);
}

void ClosedFormLR::set_epoch(double t) {
  if (!std::isfinite(t) || t < 0) throw RangeFailure("epoch must be a finite number >= 0");
  t_ = t;
  apply();
}

void ClosedFormLR::apply() {
  std::vector<double> lrs = lrs_at(t_);
  auto& groups = optimizer_ref_.param_groups();
  for (size_t i = 0; i < groups.size() && i < lrs.size(); ++i) groups[i].options().set_lr(lrs[i]);
}

CosineAnnealingLR::CosineAnnealingLR(torch::optim::Optimizer& optimizer, double t_max, double eta_min)
    : ClosedFormLR(optimizer), t_max_(t_max), eta_min_(eta_min) {
  reset(t_max, eta_min);
}

void CosineAnnealingLR::reset(double t_max, double eta_min, const std::vector<double>& base_lrs) {
  if (!std::isfinite(t_max) || t_max <= 0) throw RangeFailure("tMax must be a finite number > 0");
  CheckLr(eta_min, "etaMin");
  if (!base_lrs.empty()) {
    if (base_lrs.size() != base_lrs_.size()) throw RangeFailure("one base LR per parameter group is needed");
    for (double lr : base_lrs) CheckLr(lr, "baseLr");
    base_lrs_ = base_lrs;
  }
  t_max_ = t_max;
  eta_min_ = eta_min;
  t_ = 0;
  apply();
}

std::vector<double> CosineAnnealingLR::lrs_at(double t) const {
  std::vector<double> out;
  // Same expression, in the same order, as PyTorch's closed form: results agree to the last bit
  // wherever cos does.
  for (double base : base_lrs_) out.push_back(eta_min_ + (base - eta_min_) * (1 + std::cos(M_PI * t / t_max_)) / 2);
  return out;
}

StepLR::StepLR(torch::optim::Optimizer& optimizer, double step_size, double gamma)
    : ClosedFormLR(optimizer), step_size_(step_size), gamma_(gamma) {
  if (!std::isfinite(step_size) || step_size < 1 || step_size != std::floor(step_size))
    throw RangeFailure("stepSize must be an integer >= 1");
  if (!std::isfinite(gamma) || gamma <= 0) throw RangeFailure("gamma must be a finite number > 0");
  apply();
}

std::vector<double> StepLR::lrs_at(double t) const {
  std::vector<double> out;
  const double k = std::floor(std::floor(t) / step_size_);
  for (double base : base_lrs_) out.push_back(base * std::pow(gamma_, k));
  return out;
}

// ---- JS wrapper ------------------------------------------------------------------------------

namespace {

class SchedulerWrap : public Napi::ObjectWrap<SchedulerWrap> {
 public:
  // new NativeLRScheduler(optimizer, { type: 'cosine', tMax, etaMin } | { type: 'step', stepSize, gamma })
  explicit SchedulerWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<SchedulerWrap>(info) {
    Napi::Env env = info.Env();
    SGDR_TRY
    OptimizerWrap* opt = OptimizerWrap::Get(info[0], "optimizer");
    Napi::Object o = ObjectArg(info, 1, "options");
    const std::string type = StringOption(o, "type", "");
    if (type == "cosine") {
      scheduler_ = std::make_unique<CosineAnnealingLR>(opt->optimizer(), NumberOption(o, "tMax", NAN),
                                                       NumberOption(o, "etaMin", 0));
    } else if (type == "step") {
      scheduler_ = std::make_unique<StepLR>(opt->optimizer(), NumberOption(o, "stepSize", NAN), NumberOption(o, "gamma", 0.1));
    } else {
      ThrowRange(env, "unknown scheduler type '" + type + "' (expected 'cosine' or 'step')");
    }
    optimizer_ref_ = Napi::Persistent(info[0].As<Napi::Object>());
    SGDR_CATCH(env)
  }

  static Napi::Function Init(Napi::Env env) {
    return DefineClass(env, "NativeLRScheduler",
                       {
                           InstanceMethod<&SchedulerWrap::Step>("step"),
                           InstanceMethod<&SchedulerWrap::SetEpoch>("setEpoch"),
                           InstanceMethod<&SchedulerWrap::Epoch>("epoch"),
                           InstanceMethod<&SchedulerWrap::Lrs>("lrs"),
                           InstanceMethod<&SchedulerWrap::LrsAt>("lrsAt"),
                           InstanceMethod<&SchedulerWrap::Reset>("reset"),
                       });
  }

 private:
  Napi::Value Step(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    SGDR_TRY
    scheduler_->step();
    return Lrs(info);
    SGDR_CATCH(env)
  }
  Napi::Value SetEpoch(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    SGDR_TRY
    scheduler_->set_epoch(NumberArg(info, 0, "epoch"));
    return Lrs(info);
    SGDR_CATCH(env)
  }
  Napi::Value Epoch(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), scheduler_->epoch()); }
  Napi::Value Lrs(const Napi::CallbackInfo& info) { return ToArray(info.Env(), scheduler_->lrs_at(scheduler_->epoch())); }
  Napi::Value LrsAt(const Napi::CallbackInfo& info) { return ToArray(info.Env(), scheduler_->lrs_at(NumberArg(info, 0, "epoch"))); }
  // reset({ tMax, etaMin, baseLrs? }): a warm restart (cosine only).
  Napi::Value Reset(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    SGDR_TRY
    auto* cosine = dynamic_cast<CosineAnnealingLR*>(scheduler_.get());
    if (!cosine) ThrowType(env, "reset() is only defined for the cosine scheduler");
    Napi::Object o = ObjectArg(info, 0, "options");
    std::vector<double> base;
    Napi::Value b = o.Get("baseLrs");
    if (b.IsArray())
      for (uint32_t i = 0; i < b.As<Napi::Array>().Length(); ++i) base.push_back(b.As<Napi::Array>().Get(i).ToNumber().DoubleValue());
    cosine->reset(NumberOption(o, "tMax", cosine->t_max()), NumberOption(o, "etaMin", cosine->eta_min()), base);
    return Lrs(info);
    SGDR_CATCH(env)
  }

  static Napi::Value ToArray(Napi::Env env, const std::vector<double>& v) {
    auto a = Napi::Array::New(env, v.size());
    for (size_t i = 0; i < v.size(); ++i) a.Set(static_cast<uint32_t>(i), v[i]);
    return a;
  }

  std::unique_ptr<ClosedFormLR> scheduler_;
  Napi::ObjectReference optimizer_ref_;  // the optimizer must outlive its scheduler
};

}  // namespace

Napi::Function InitScheduler(Napi::Env env) { return SchedulerWrap::Init(env); }

}  // namespace sgdr
