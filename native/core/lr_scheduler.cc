// LibTorch-side LR schedulers with PyTorch's semantics (core/lr_scheduler.h).
#include "core/lr_scheduler.h"

#include <cmath>
#include <memory>

#include "core/checks.h"
#include "core/failure.h"
#include "core/optim.h"

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

ClosedFormStepLR::ClosedFormStepLR(torch::optim::Optimizer& optimizer, double step_size, double gamma)
    : ClosedFormLR(optimizer), step_size_(step_size), gamma_(gamma) {
  if (!IsIntegerIn(step_size, 1, kMaxExactInteger)) throw RangeFailure("stepSize must be an integer >= 1");
  if (!std::isfinite(gamma) || gamma <= 0) throw RangeFailure("gamma must be a finite number > 0");
  apply();
}

std::vector<double> ClosedFormStepLR::lrs_at(double t) const {
  std::vector<double> out;
  const double k = std::floor(std::floor(t) / step_size_);
  for (double base : base_lrs_) out.push_back(base * std::pow(gamma_, k));
  return out;
}

}  // namespace sgdr
