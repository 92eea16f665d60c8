// One training step, defined once for every caller: the trainer's epoch loop (trainer.cc), the
// single-step API (train_step.cc) and the pure C++ timing loop of the benchmark (bench.cc), so the
// benchmark times exactly what training runs.
#pragma once

#include <torch/nn/functional/loss.h>
#include <torch/optim/optimizer.h>
#include <torch/types.h>

#include <chrono>
#include <cmath>

#include "core/optim.h"
#include "perf/levers.h"
#include "core/resnet.h"

namespace sgdr {

// optimizer.step(), through the fused SGD pass when it applies (see PerfLevers::fused_sgd in perf/levers.h).
void OptimizerStep(torch::optim::Optimizer& optimizer);

// The batch as the model takes it: on a CPU, in channels_last when that lever is on.
inline torch::Tensor ModelInput(const torch::Tensor& x) {
  if (x.dim() == 4 && x.device().is_cpu() && Levers().channels_last_input.load(std::memory_order_relaxed)) {
    CountLeverUse(&LeverUses::channels_last_input);
    return x.contiguous(torch::MemoryFormat::ChannelsLast);
  }
  return x;
}

// What data parallelism adds around a step (distributed/data_parallel.h implements it for c10d):
// core/ knows this interface only, so the step stays one function for every caller.
class StepSync {
 public:
  virtual ~StepSync() = default;
  virtual void BeforeForward() = 0;
  virtual void AfterForward(const torch::Tensor& loss, const torch::Tensor& logits, const torch::Tensor& target) = 0;
  // With skip_nonfinite: whether the step is skipped (any rank's loss not finite), the same on every rank.
  virtual bool AnyRankNonFinite() = 0;
  virtual void AfterBackward() = 0;
  virtual void Skip() = 0;
};

// What one step leaves behind: the loss (a 0-dim tensor, not read back) and the logits.
struct StepOutput {
  torch::Tensor loss, logits;
};

// zero_grad(set_to_none) -> forward -> cross_entropy -> backward -> step, on tensors already on the
// model's device. Nothing is read back to the host, unless `skip_nonfinite` is given: then the loss
// is read (a host sync) before the step, and a NaN or infinite loss skips the step (the update is
// not applied) and sets *skip_nonfinite. With `sync` (data parallelism), the gradients are averaged
// over the ranks between backward and the step, and the skip is decided on the global batch's loss.
inline StepOutput TrainOneStep(ResNet& module, torch::optim::Optimizer& optimizer, const torch::Tensor& x,
                               const torch::Tensor& y, bool* skip_nonfinite = nullptr, StepSync* sync = nullptr) {
  const auto t0 = std::chrono::steady_clock::now();
  ZeroGradToNone(optimizer);
  if (sync) sync->BeforeForward();
  torch::Tensor out = module->forward(ModelInput(x));
  torch::Tensor loss = torch::nn::functional::cross_entropy(out, y);
  if (sync) sync->AfterForward(loss, out, y);
  if (skip_nonfinite) {
    *skip_nonfinite = sync ? sync->AnyRankNonFinite() : !std::isfinite(loss.item<double>());
    if (*skip_nonfinite) {
      if (sync) sync->Skip();
      return {loss, out};
    }
  }
  loss.backward();
  if (sync) sync->AfterBackward();
  OptimizerStep(optimizer);
  StepNanoseconds().fetch_add(
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - t0).count(),
      std::memory_order_relaxed);
  return {loss, out};
}

}  // namespace sgdr
