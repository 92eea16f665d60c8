// SyncBatchNorm on the data-parallel job's own process group, as torch.nn.SyncBatchNorm computes
// it: in a training forward, every BatchNorm normalises with the mean and variance of the global
// batch (all ranks' images), not of its replica's shard; its backward all-reduces the two
// per-channel sums the input gradient needs. The weight and bias gradients stay local, and the
// gradient reducer averages them with the rest, so a step over W ranks of n images computes what
// one process computes on the W x n images (test/distributed-gloo.test.ts checks that to 1e-5).
//
// Cost: one all-reduce of 2C + 1 float64 values per BatchNorm in forward and one of 2C in backward,
// each waited for where it stands (the next layer needs it). Eval-mode forwards are plain BatchNorm.
#pragma once

#include <torch/types.h>

#include "core/batch_norm_sync.h"
#include "distributed/process_group.h"

namespace sgdr {

class SyncBatchNorm : public BatchNormSync {
 public:
  explicit SyncBatchNorm(ProcessGroup& group) : group_(group) {}
  torch::Tensor Forward(torch::nn::BatchNorm2dImpl& bn, const torch::Tensor& x) override;

 private:
  ProcessGroup& group_;
};

}  // namespace sgdr
