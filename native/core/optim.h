// Helpers over LibTorch's optimizers shared by the training step and the optimizer binding.
#pragma once

#include <torch/optim/optimizer.h>

#include <string>

namespace sgdr {

// Drops every gradient (PyTorch's zero_grad(set_to_none=True)): no memset per step, and the next
// backward writes fresh gradients instead of accumulating into zeros.
void ZeroGradToNone(torch::optim::Optimizer& optimizer);

// Throws RangeFailure unless lr is finite and >= 0.
void CheckLr(double lr, const std::string& name = "lr");

}  // namespace sgdr
