#include "distributed/sync_batch_norm.h"

#include <torch/torch.h>

#include <string>

#include "core/failure.h"

namespace sgdr {

namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

const std::vector<int64_t> kReduceDims{0, 2, 3};

// y = (x - mean) * invstd * weight + bias, with the global batch's mean and invstd ([1, C, 1, 1]).
// The backward is torch.nn.SyncBatchNorm's: the per-channel sums of dy and dy * (x - mean) are
// summed over the ranks, and each rank's input gradient uses them with the global count.
struct SyncBatchNormFunction : torch::autograd::Function<SyncBatchNormFunction> {
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& x, const torch::Tensor& weight,
                               const torch::Tensor& bias, const torch::Tensor& mean, const torch::Tensor& invstd,
                               double count, ProcessGroup* group) {
    ctx->save_for_backward({x, weight, mean, invstd});
    ctx->saved_data["count"] = count;
    // The group outlives every step's graph (the DataParallel holding it is destroyed after the
    // trainer's last backward); autograd's saved data holds plain values, hence the address.
    ctx->saved_data["group"] = static_cast<int64_t>(reinterpret_cast<intptr_t>(group));
    const torch::Tensor scale = weight.defined() ? invstd * weight.view({1, -1, 1, 1}) : invstd;
    torch::Tensor y = (x - mean) * scale;
    return bias.defined() ? y + bias.view({1, -1, 1, 1}) : y;
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const torch::Tensor &x = saved[0], &weight = saved[1], &mean = saved[2], &invstd = saved[3];
    const double count = ctx->saved_data["count"].toDouble();
    auto* group = reinterpret_cast<ProcessGroup*>(static_cast<intptr_t>(ctx->saved_data["group"].toInt()));
    const torch::Tensor dy = grads[0].contiguous(x.suggest_memory_format());
    const torch::Tensor xmu = x - mean;
    // Local sums in float64 (PyTorch's CPU BatchNorm accumulates in double too), then global.
    const torch::Tensor sum_dy = dy.sum(kReduceDims, false, torch::kFloat64);
    const torch::Tensor sum_dy_xmu = (dy * xmu).sum(kReduceDims, false, torch::kFloat64);
    std::vector<torch::Tensor> both{torch::cat({sum_dy, sum_dy_xmu})};
    group->AllReduceSum(both);
    const int64_t c = sum_dy.size(0);
    const auto as_x = [&](const torch::Tensor& t) { return t.to(x.scalar_type()).view({1, -1, 1, 1}); };
    const torch::Tensor mean_dy = as_x(both[0].narrow(0, 0, c) / count);
    const torch::Tensor mean_dy_xmu = as_x(both[0].narrow(0, c, c) / count);
    const torch::Tensor scale = weight.defined() ? invstd * weight.view({1, -1, 1, 1}) : invstd;
    torch::Tensor dx = (dy - mean_dy - xmu * (invstd * invstd) * mean_dy_xmu) * scale;
    // This replica's share of the parameters' gradients: the gradient reducer averages them.
    torch::Tensor dweight = weight.defined()
                                ? (sum_dy_xmu * invstd.reshape({-1}).to(torch::kFloat64)).to(weight.scalar_type())
                                : torch::Tensor();
    torch::Tensor dbias = weight.defined() ? sum_dy.to(weight.scalar_type()) : torch::Tensor();
    return {dx, dweight, dbias, torch::Tensor(), torch::Tensor(), torch::Tensor(), torch::Tensor()};
  }
};

}  // namespace

torch::Tensor SyncBatchNorm::Forward(torch::nn::BatchNorm2dImpl& bn, const torch::Tensor& x) {
  if (x.dim() != 4) throw RangeFailure("SyncBatchNorm expects a 4-d input [N, C, H, W], got " + ShapeString(x.sizes()));
  const int64_t c = x.size(1);
  const auto f64 = torch::TensorOptions().dtype(torch::kFloat64).device(x.device());
  torch::Tensor mean, var;
  double count = 0;
  {
    torch::NoGradGuard no_grad;
    const torch::Tensor xd = x.detach();
    const double n = static_cast<double>(x.numel() / std::max<int64_t>(c, 1));
    // Per rank: n, n * mean and n * E[x^2], the latter from the deviations about the local mean so
    // that no precision is lost to a large mean; summed over the ranks they give the global ones.
    const torch::Tensor local_mean = xd.sum(kReduceDims, false, torch::kFloat64) / n;
    const torch::Tensor dev = xd - local_mean.to(x.scalar_type()).view({1, -1, 1, 1});
    const torch::Tensor local_var = dev.square().sum(kReduceDims, false, torch::kFloat64) / n;
    std::vector<torch::Tensor> stats{
        torch::cat({local_mean * n, (local_var + local_mean.square()) * n, torch::full({1}, n, f64)})};
    group_.AllReduceSum(stats);
    count = stats[0][2 * c].item<double>();
    if (count <= 1)
      throw RangeFailure("SyncBatchNorm needs more than 1 value per channel over all ranks in training, got " +
                         std::to_string(static_cast<int64_t>(count)) + " (input " + ShapeString(x.sizes()) + ")");
    mean = stats[0].narrow(0, 0, c) / count;
    var = (stats[0].narrow(0, c, c) / count - mean.square()).clamp_min(0);
    // Running statistics as BatchNorm updates them: unbiased variance, momentum or (momentum None)
    // the cumulative average over num_batches_tracked.
    if (bn.options.track_running_stats() && bn.running_mean.defined()) {
      double factor = 0;
      if (bn.num_batches_tracked.defined()) bn.num_batches_tracked += 1;
      if (bn.options.momentum().has_value())
        factor = *bn.options.momentum();
      else
        factor = 1.0 / bn.num_batches_tracked.item<double>();
      const torch::Tensor unbiased = var * (count / (count - 1));
      bn.running_mean.mul_(1 - factor).add_(mean.to(bn.running_mean.scalar_type()), factor);
      bn.running_var.mul_(1 - factor).add_(unbiased.to(bn.running_var.scalar_type()), factor);
    }
  }
  const torch::Tensor invstd = (var + bn.options.eps()).rsqrt().to(x.scalar_type()).view({1, -1, 1, 1});
  return SyncBatchNormFunction::apply(x, bn.options.affine() ? bn.weight : torch::Tensor(),
                                      bn.options.affine() ? bn.bias : torch::Tensor(),
                                      mean.to(x.scalar_type()).view({1, -1, 1, 1}), invstd, count, &group_);
}

}  // namespace sgdr
