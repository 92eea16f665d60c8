// torchvision's ResNet family in LibTorch, with torchvision's module tree and parameter/buffer
// names (conv1, bn1, layer1.0.conv1.weight, layer2.0.downsample.0.weight, fc.bias, ...), so a
// state dict written by PyTorch for torchvision.models.resnetXX loads key for key.
#pragma once

#include <torch/nn/module.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/activation.h>
#include <torch/nn/modules/pooling.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/batch_norm_sync.h"

namespace sgdr {

struct ResNetOptions {
  std::string arch = "resnet18";  // resnet18 | resnet34 | resnet50 | resnet101 | resnet152
  int64_t num_classes = 1000;
  int64_t in_channels = 3;
  // 'cifar' stem: 3x3 stride-1 conv and no max-pool, for 28-32 px images (ImageNet's 7x7/2 + pool
  // would shrink a 32 px image to 8 px before the first block).
  bool cifar_stem = false;
};

class ResNetImpl : public torch::nn::Module {
 public:
  explicit ResNetImpl(const ResNetOptions& options);
  torch::Tensor forward(torch::Tensor x);

  // Replaces `fc` with a freshly initialised Linear(in_features, num_classes) (transfer learning).
  void ReplaceClassifier(int64_t num_classes);
  // Re-runs torchvision's initialisation on one module (used to re-initialise the last N modules).
  static void InitModule(torch::nn::Module& module);
  // Parameters then buffers of each module, modules in registration order: PyTorch's state_dict() order.
  std::vector<std::pair<std::string, torch::Tensor>> StateEntries();
  // Sets requires_grad of the parameters whose names start with one of `prefixes` ('' matches all);
  // returns how many there are.
  int64_t SetRequiresGrad(const std::vector<std::string>& prefixes, bool value);
  // Every BatchNorm's running statistics back to mean 0, var 1, num_batches_tracked 0 (PyTorch's
  // reset_running_stats()); returns how many BatchNorm layers there are.
  int64_t ResetBatchNormStats();
  // Every BatchNorm's momentum (nullopt: PyTorch's None, the cumulative average); returns the
  // previous one (the layers of a ResNet always share one), nullopt for None or no BatchNorm.
  c10::optional<double> SetBatchNormMomentum(c10::optional<double> momentum);

  const ResNetOptions& options() const { return options_; }

  // Every BatchNorm's training forward through `sync` (SyncBatchNorm) until it is set back to
  // nullptr; eval-mode forwards are never routed.
  void SetBatchNormSync(BatchNormSync* sync) { bn_route_->sync = sync; }

 private:
  torch::nn::Sequential MakeLayer(int64_t planes, int64_t blocks, int64_t stride);
  // Calls f(layer, first) for every BatchNorm2d in module order; returns how many there are.
  template <typename F>
  int64_t ForEachBatchNorm(F&& f);

  ResNetOptions options_;
  bool bottleneck_;
  int64_t inplanes_ = 64;
  std::shared_ptr<BatchNormRoute> bn_route_ = std::make_shared<BatchNormRoute>();
  torch::nn::Conv2d conv1{nullptr};
  torch::nn::BatchNorm2d bn1{nullptr};
  torch::nn::ReLU relu{nullptr};
  torch::nn::MaxPool2d maxpool{nullptr};
  torch::nn::Sequential layer1{nullptr}, layer2{nullptr}, layer3{nullptr}, layer4{nullptr};
  torch::nn::AdaptiveAvgPool2d avgpool{nullptr};
  torch::nn::Linear fc{nullptr};
};
TORCH_MODULE(ResNet);

// Throws RangeFailure naming the arch when it is not one of the family.
ResNet MakeResNet(const ResNetOptions& options);

}  // namespace sgdr
