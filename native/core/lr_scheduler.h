// LibTorch-style LR schedulers with PyTorch's semantics and closed forms. They set an optimizer's LR
// in C++ (JS: lib/optim/lr-scheduler.ts, CosineAnnealingLR and StepLRScheduler); the schedules fit()
// follows are pure functions of t in TS (lib/schedule: WarmRestarts, StepLR, ...).
//
// CosineAnnealingLR: eta(t) = eta_min + (base - eta_min) * (1 + cos(pi * t / T_max)) / 2, computed
// from t directly (no recursive update, so no drift), with fractional t for per-iteration stepping
// and reset() so the TS restart manager (lib/schedule) can start a new SGDR cycle.
// ClosedFormStepLR: base * gamma^floor(t / step_size); named apart from LibTorch's own
// torch::optim::StepLR, which it is not: like PyTorch (and unlike LibTorch's), construction applies
// the LR for t = 0, and each step() advances one epoch.
// Both are torch::optim::LRScheduler subclasses usable from C++ code.
#pragma once

#include <torch/optim/optimizer.h>
#include <torch/optim/schedulers/lr_scheduler.h>

#include <vector>

namespace sgdr {

class ClosedFormLR : public torch::optim::LRScheduler {
 public:
  explicit ClosedFormLR(torch::optim::Optimizer& optimizer);
  // Sets t (in epochs, fractional allowed) and applies the LR for it.
  void set_epoch(double t);
  double epoch() const { return t_; }
  // The LR of each parameter group at t, without applying it.
  virtual std::vector<double> lrs_at(double t) const = 0;
  const std::vector<double>& base_lrs() const { return base_lrs_; }
  void set_base_lrs(std::vector<double> base) { base_lrs_ = std::move(base); }

 protected:
  std::vector<double> get_lrs() override;  // LRScheduler::step(): t += 1
  void apply();

  torch::optim::Optimizer& optimizer_ref_;
  std::vector<double> base_lrs_;
  double t_ = 0;
};

class CosineAnnealingLR : public ClosedFormLR {
 public:
  CosineAnnealingLR(torch::optim::Optimizer& optimizer, double t_max, double eta_min = 0);
  std::vector<double> lrs_at(double t) const override;
  // Starts a new cycle: t = 0, the given length, floor and (optionally) peak LRs.
  void reset(double t_max, double eta_min, const std::vector<double>& base_lrs = {});
  double t_max() const { return t_max_; }
  double eta_min() const { return eta_min_; }

 private:
  double t_max_, eta_min_;
};

class ClosedFormStepLR : public ClosedFormLR {
 public:
  ClosedFormStepLR(torch::optim::Optimizer& optimizer, double step_size, double gamma = 0.1);
  std::vector<double> lrs_at(double t) const override;

 private:
  double step_size_, gamma_;
};

}  // namespace sgdr
