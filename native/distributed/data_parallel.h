// One data-parallel training step, as PyTorch's DistributedDataParallel runs it: every rank holds a
// replica; rank 0's parameters and buffers are broadcast once at the start; before every forward
// rank 0's buffers (BatchNorm running statistics) are broadcast, DDP's broadcast_buffers default,
// while the batch statistics stay per replica, unless SyncBatchNorm is asked for (sync_batch_norm.h:
// then every training forward normalises with the global batch's statistics); gradients are
// averaged in buckets (gradient_reducer.h).
//
// Beside the gradients, one small all-reduce per step carries the batch's [loss x n, n, correct],
// so every rank sees the global batch's loss and accuracy: the divergence checks (a NaN loss stops
// or skips the step) then decide the same on every rank, and no rank runs ahead of the others into
// a collective they will never join.
#pragma once

#include <torch/torch.h>

#include <memory>

#include "core/resnet.h"
#include "core/train_step.h"
#include "distributed/gradient_reducer.h"
#include "distributed/process_group.h"
#include "distributed/sync_batch_norm.h"

namespace sgdr {

class DataParallel : public StepSync {
 public:
  DataParallel(std::shared_ptr<ProcessGroup> group, ResNet module, bool overlap, bool sync_batch_norm = false);
  ~DataParallel() override;
  DataParallel(const DataParallel&) = delete;
  DataParallel& operator=(const DataParallel&) = delete;

  ProcessGroup& group() { return *group_; }
  const std::shared_ptr<ProcessGroup>& shared_group() const { return group_; }
  bool overlap() const { return reducer_.overlap(); }
  int64_t buckets() const { return reducer_.buckets(); }
  bool sync_batch_norm() const { return sync_bn_ != nullptr; }

  // Rank 0's parameters and buffers to every rank (the trainer's first job, DDP's constructor).
  void BroadcastState();
  // Before a training forward: rank 0's buffers to every rank; with SyncBatchNorm, the model's
  // BatchNorm layers routed through it for this forward.
  void BeforeForward() override;
  // After the forward: starts the step's statistics all-reduce and arms the gradient hooks.
  void AfterForward(const torch::Tensor& loss, const torch::Tensor& logits, const torch::Tensor& target) override;
  // Whether any rank's loss is non-finite (waits for the statistics; for skipNonFinite).
  bool AnyRankNonFinite() override;
  // After backward: the averaged gradients are in .grad, and the statistics are in.
  void AfterBackward() override;
  // Where a step is skipped (no backward): the statistics are still waited for.
  void Skip() override;

  // The step's global statistics (valid after AfterBackward or Skip): mean loss (0-dim float64),
  // correct predictions (0-dim int64) and images, over all ranks.
  torch::Tensor loss() const { return loss_; }
  torch::Tensor correct() const { return correct_; }
  int64_t count() const { return count_; }

  // In place: sums of 0-dim or flat tensors over all ranks (for evaluation totals).
  void AllReduceSum(torch::Tensor& t);

 private:
  void WaitStats();

  std::shared_ptr<ProcessGroup> group_;
  ResNet module_;
  GradientReducer reducer_;
  std::unique_ptr<SyncBatchNorm> sync_bn_;  // null: BatchNorm per replica (DDP's default)
  std::vector<torch::Tensor> buffers_;
  torch::Tensor stats_, loss_, correct_;
  c10::intrusive_ptr<c10d::Work> stats_work_;
  bool stats_ready_ = false;
  int64_t count_ = 0;
};

}  // namespace sgdr
