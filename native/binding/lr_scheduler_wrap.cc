// The JS wrapper of the LibTorch-side LR schedulers (core/lr_scheduler.h): NativeLRScheduler.
//
// Why it is here although fit() drives the TS schedule: lib/optim/warm-restarts-driver.ts drives
// SGDR through this native CosineAnnealingLR, reset at every restart, for users who write their own
// loop with trainStep() in LibTorch style (DESIGN.md: the restart manager over CosineAnnealingLR).
#include "core/lr_scheduler.h"

#include <napi.h>
#include <torch/optim.h>

#include <cmath>
#include <memory>
#include <sstream>

#include "binding/args.h"
#include "binding/js_errors.h"
#include "binding/optimizer_wrap.h"

namespace sgdr {

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
      scheduler_ = std::make_unique<ClosedFormStepLR>(opt->optimizer(), NumberOption(o, "stepSize", NAN),
                                                      NumberOption(o, "gamma", 0.1));
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
  Napi::Value Lrs(const Napi::CallbackInfo& info) {
    return ToArray(info.Env(), scheduler_->lrs_at(scheduler_->epoch()));
  }
  Napi::Value LrsAt(const Napi::CallbackInfo& info) {
    return ToArray(info.Env(), scheduler_->lrs_at(NumberArg(info, 0, "epoch")));
  }
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
      for (uint32_t i = 0; i < b.As<Napi::Array>().Length(); ++i)
        base.push_back(b.As<Napi::Array>().Get(i).ToNumber().DoubleValue());
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
