// Where a ResNet's BatchNorm layers can be taken over for a training forward: SyncBatchNorm
// (distributed/sync_batch_norm.h) uses it to normalise with the statistics of the global batch.
// core/ knows this interface only; the model's module tree, names and state dict stay those of
// torchvision's, so a run with synchronised BatchNorm saves the same files as one without.
#pragma once

#include <torch/nn/modules/batchnorm.h>

namespace sgdr {

class BatchNormSync {
 public:
  virtual ~BatchNormSync() = default;
  // The training-mode forward of `bn` on x ([N, C, H, W]), running statistics updated as bn's own
  // forward updates them.
  virtual torch::Tensor Forward(torch::nn::BatchNorm2dImpl& bn, const torch::Tensor& x) = 0;
};

// Shared by every block of one ResNet: which BatchNormSync, if any, a training forward goes through.
// Set for the span of one data-parallel step's forward (DataParallel), so no other forward of the
// model (evaluation, SWA's BatchNorm refresh, a user's own) ever joins a collective.
struct BatchNormRoute {
  BatchNormSync* sync = nullptr;
  torch::Tensor Run(torch::nn::BatchNorm2dImpl& bn, const torch::Tensor& x) const {
    return sync != nullptr && bn.is_training() ? sync->Forward(bn, x) : bn.forward(x);
  }
};

}  // namespace sgdr
