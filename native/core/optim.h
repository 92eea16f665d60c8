// Helpers over LibTorch's optimizers shared by the training step and the optimizer binding.
#pragma once

#include <torch/optim/optimizer.h>

#include <string>

namespace sgdr {

// Drops every gradient (PyTorch's zero_grad(set_to_none=True)): no memset per step, and the next
// backward writes fresh gradients instead of accumulating into zeros.
void ZeroGradToNone(torch::optim::Optimizer& optimizer);

// Throws RangeFailure unless v is finite and >= 0 ("weightDecay must be a finite number >= 0, got -1").
void CheckNonNegative(double v, const std::string& name);

// Throws RangeFailure unless lr is finite and >= 0.
inline void CheckLr(double lr, const std::string& name = "lr") { CheckNonNegative(lr, name); }

// A number as the hyper-parameter messages print it (ostream's default: 0.001, 1e-08, nan).
std::string NumberText(double v);

}  // namespace sgdr
