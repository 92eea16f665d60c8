#include "distributed/data_parallel.h"

#include <map>

namespace sgdr {

namespace {

std::vector<torch::Tensor> ParametersOf(ResNet& module) {
  std::vector<torch::Tensor> out;
  for (auto& p : module->parameters()) out.push_back(p);
  return out;
}

// Gloo broadcasts one tensor per call: tensors are packed by dtype into flat buffers, sent, and
// copied back.
void BroadcastPacked(ProcessGroup& group, const std::vector<torch::Tensor>& tensors) {
  std::map<std::pair<c10::ScalarType, std::string>, std::vector<torch::Tensor>> by_kind;
  for (const auto& t : tensors)
    if (t.defined() && t.numel() > 0) by_kind[{t.scalar_type(), t.device().str()}].push_back(t);
  torch::NoGradGuard no_grad;
  for (auto& [kind, group_tensors] : by_kind) {
    std::vector<torch::Tensor> flat_parts;
    for (auto& t : group_tensors) flat_parts.push_back(t.detach().reshape({-1}));
    std::vector<torch::Tensor> one{torch::cat(flat_parts)};
    group.Broadcast(one, 0);
    int64_t offset = 0;
    for (auto& t : group_tensors) {
      t.detach().copy_(one[0].narrow(0, offset, t.numel()).view(t.sizes()));
      offset += t.numel();
    }
  }
}

}  // namespace

DataParallel::DataParallel(std::shared_ptr<ProcessGroup> group, ResNet module, bool overlap, bool sync_batch_norm)
    : group_(std::move(group)), module_(module), reducer_(*group_, ParametersOf(module), overlap) {
  for (auto& b : module_->buffers()) buffers_.push_back(b);
  // On one rank the global batch is the local one: plain BatchNorm, as torch.nn.SyncBatchNorm does.
  if (sync_batch_norm && group_->world_size() > 1) sync_bn_ = std::make_unique<SyncBatchNorm>(*group_);
}

DataParallel::~DataParallel() { module_->SetBatchNormSync(nullptr); }

void DataParallel::BroadcastState() {
  std::vector<torch::Tensor> all = ParametersOf(module_);
  all.insert(all.end(), buffers_.begin(), buffers_.end());
  BroadcastPacked(*group_, all);
}

void DataParallel::BeforeForward() {
  if (group_->world_size() > 1 && !buffers_.empty()) BroadcastPacked(*group_, buffers_);
  if (sync_bn_) module_->SetBatchNormSync(sync_bn_.get());
}

void DataParallel::AfterForward(const torch::Tensor& loss, const torch::Tensor& logits, const torch::Tensor& target) {
  // The backward's all-reduces are in the graph; no later forward (evaluation) is routed.
  module_->SetBatchNormSync(nullptr);
  torch::NoGradGuard no_grad;
  const double n = static_cast<double>(target.size(0));
  const auto f64 = torch::TensorOptions().dtype(torch::kFloat64).device(loss.device());
  stats_ = torch::stack({loss.detach().to(torch::kFloat64) * n, torch::full({}, n, f64),
                         logits.detach().argmax(1).eq(target).sum().to(torch::kFloat64)});
  std::vector<torch::Tensor> one{stats_};
  stats_work_ = group_->AllReduceSumAsync(one);
  stats_ready_ = false;
  reducer_.Prepare();
}

void DataParallel::WaitStats() {
  if (stats_ready_) return;
  group_->Wait(stats_work_, "step statistics all-reduce");
  stats_work_.reset();
  stats_ready_ = true;
  torch::NoGradGuard no_grad;
  count_ = static_cast<int64_t>(stats_[1].item<double>());
  loss_ = stats_[0] / stats_[1];
  correct_ = stats_[2].to(torch::kInt64);
}

bool DataParallel::AnyRankNonFinite() {
  WaitStats();
  return !std::isfinite(loss_.item<double>());
}

void DataParallel::AfterBackward() {
  reducer_.Finish();
  WaitStats();
}

void DataParallel::Skip() { WaitStats(); }

void DataParallel::AllReduceSum(torch::Tensor& t) {
  std::vector<torch::Tensor> one{t};
  group_->AllReduceSum(one);
}

}  // namespace sgdr
