#include "core/resnet.h"

#include <torch/torch.h>

#include <cmath>

#include "core/compat.h"
#include "core/failure.h"
#include "perf/levers.h"

namespace sgdr {

namespace {

namespace nn = torch::nn;

namespace variant_ns = compat::variant_ns;

// conv(x), or, for a CPU convolution whose output is 1x1 (PerfLevers::conv_as_matmul), the same
// function as one matrix product: the single output window starts at -padding, so only the kernel
// taps [pad, pad + h) x [pad, pad + w) ever meet input rows [0, h) x [0, w) (h = min(H, k - pad)); the
// other taps multiply zero padding. Autograd differentiates the narrow/reshape/mm, so the weight's
// gradient is exactly zero on those taps, as the convolution's is.
torch::Tensor RunConv(nn::Conv2d conv, const torch::Tensor& x) {
  const auto& o = conv->options;
  if (x.dim() == 4 && x.device().is_cpu() && o.groups() == 1 &&
      Levers().conv_as_matmul.load(std::memory_order_relaxed) &&
      variant_ns::holds_alternative<torch::ExpandingArray<2>>(o.padding()) && o.dilation()->at(0) == 1 &&
      o.dilation()->at(1) == 1 && variant_ns::holds_alternative<torch::enumtype::kZeros>(o.padding_mode())) {
    const auto& pad = variant_ns::get<torch::ExpandingArray<2>>(o.padding());
    const int64_t kh = o.kernel_size()->at(0), kw = o.kernel_size()->at(1), sh = o.stride()->at(0),
                  sw = o.stride()->at(1);
    const int64_t ph = pad->at(0), pw = pad->at(1), H = x.size(2), W = x.size(3);
    const int64_t oh = (H + 2 * ph - kh) / sh + 1, ow = (W + 2 * pw - kw) / sw + 1;
    const int64_t h = std::min(H, kh - ph), w = std::min(W, kw - pw);
    if (oh == 1 && ow == 1 && h >= 1 && w >= 1 && H + 2 * ph >= kh && W + 2 * pw >= kw) {
      CountLeverUse(&LeverUses::conv_as_matmul);
      const int64_t n = x.size(0), c = x.size(1), out = conv->weight.size(0);
      torch::Tensor xs = x.narrow(2, 0, h).narrow(3, 0, w).reshape({n, c * h * w});
      torch::Tensor ws = conv->weight.narrow(2, ph, h).narrow(3, pw, w).reshape({out, c * h * w});
      torch::Tensor y = conv->bias.defined() ? torch::addmm(conv->bias, xs, ws.t()) : torch::mm(xs, ws.t());
      return y.view({n, out, 1, 1});
    }
  }
  return conv->forward(x);
}

using Route = std::shared_ptr<BatchNormRoute>;

// downsample = Sequential(conv, bn), run through RunConv() above and the model's BatchNorm route.
torch::Tensor Downsample(const nn::Sequential& downsample, const Route& route, const torch::Tensor& x) {
  const nn::Conv2d conv(std::dynamic_pointer_cast<nn::Conv2dImpl>(downsample->ptr(0)));
  return route->Run(*downsample->ptr(1)->as<nn::BatchNorm2d>(), RunConv(conv, x));
}

nn::Conv2d Conv(int64_t in, int64_t out, int64_t k, int64_t stride, int64_t pad) {
  return nn::Conv2d(nn::Conv2dOptions(in, out, k).stride(stride).padding(pad).bias(false));
}

// torchvision's BasicBlock (expansion 1).
class BasicBlockImpl : public nn::Module {
 public:
  BasicBlockImpl(int64_t inplanes, int64_t planes, int64_t stride, nn::Sequential downsample, Route route)
      : route(std::move(route)) {
    conv1 = register_module("conv1", Conv(inplanes, planes, 3, stride, 1));
    bn1 = register_module("bn1", nn::BatchNorm2d(planes));
    relu = register_module("relu", nn::ReLU(nn::ReLUOptions(true)));
    conv2 = register_module("conv2", Conv(planes, planes, 3, 1, 1));
    bn2 = register_module("bn2", nn::BatchNorm2d(planes));
    if (downsample) this->downsample = register_module("downsample", downsample);
  }
  torch::Tensor forward(torch::Tensor x) {
    torch::Tensor identity = downsample ? Downsample(downsample, route, x) : x;
    torch::Tensor out = relu(route->Run(*bn1, RunConv(conv1, x)));
    out = route->Run(*bn2, RunConv(conv2, out));
    return relu(out + identity);
  }
  nn::Conv2d conv1{nullptr}, conv2{nullptr};
  nn::BatchNorm2d bn1{nullptr}, bn2{nullptr};
  nn::ReLU relu{nullptr};
  nn::Sequential downsample{nullptr};
  Route route;
};
TORCH_MODULE(BasicBlock);

// torchvision's Bottleneck (expansion 4; stride on the 3x3 conv, "ResNet v1.5").
class BottleneckImpl : public nn::Module {
 public:
  BottleneckImpl(int64_t inplanes, int64_t planes, int64_t stride, nn::Sequential downsample, Route route)
      : route(std::move(route)) {
    conv1 = register_module("conv1", Conv(inplanes, planes, 1, 1, 0));
    bn1 = register_module("bn1", nn::BatchNorm2d(planes));
    conv2 = register_module("conv2", Conv(planes, planes, 3, stride, 1));
    bn2 = register_module("bn2", nn::BatchNorm2d(planes));
    conv3 = register_module("conv3", Conv(planes, planes * 4, 1, 1, 0));
    bn3 = register_module("bn3", nn::BatchNorm2d(planes * 4));
    relu = register_module("relu", nn::ReLU(nn::ReLUOptions(true)));
    if (downsample) this->downsample = register_module("downsample", downsample);
  }
  torch::Tensor forward(torch::Tensor x) {
    torch::Tensor identity = downsample ? Downsample(downsample, route, x) : x;
    torch::Tensor out = relu(route->Run(*bn1, RunConv(conv1, x)));
    out = relu(route->Run(*bn2, RunConv(conv2, out)));
    out = route->Run(*bn3, RunConv(conv3, out));
    return relu(out + identity);
  }
  nn::Conv2d conv1{nullptr}, conv2{nullptr}, conv3{nullptr};
  nn::BatchNorm2d bn1{nullptr}, bn2{nullptr}, bn3{nullptr};
  nn::ReLU relu{nullptr};
  nn::Sequential downsample{nullptr};
  Route route;
};
TORCH_MODULE(Bottleneck);

struct ArchSpec {
  const char* name;
  bool bottleneck;
  int64_t blocks[4];
};

constexpr ArchSpec kArchs[] = {
    {"resnet18", false, {2, 2, 2, 2}},  {"resnet34", false, {3, 4, 6, 3}},  {"resnet50", true, {3, 4, 6, 3}},
    {"resnet101", true, {3, 4, 23, 3}}, {"resnet152", true, {3, 8, 36, 3}},
};

const ArchSpec& FindArch(const std::string& name) {
  for (const auto& a : kArchs)
    if (name == a.name) return a;
  throw RangeFailure("unknown arch '" + name + "' (expected resnet18, resnet34, resnet50, resnet101 or resnet152)");
}

}  // namespace

void ResNetImpl::InitModule(torch::nn::Module& module) {
  // torchvision: kaiming_normal_(fan_out, relu) for convs, BN weight 1 / bias 0, nn.Linear's default.
  torch::NoGradGuard no_grad;
  if (auto* conv = module.as<nn::Conv2d>()) {
    nn::init::kaiming_normal_(conv->weight, 0, torch::kFanOut, torch::kReLU);
  } else if (auto* bn = module.as<nn::BatchNorm2d>()) {
    bn->reset_parameters();  // weight 1, bias 0, running stats reset
  } else if (auto* linear = module.as<nn::Linear>()) {
    linear->reset_parameters();
  }
}

ResNetImpl::ResNetImpl(const ResNetOptions& options) : options_(options) {
  const ArchSpec& arch = FindArch(options.arch);
  if (options.num_classes < 1)
    throw RangeFailure("numClasses must be >= 1, got " + std::to_string(options.num_classes));
  if (options.in_channels < 1)
    throw RangeFailure("inChannels must be >= 1, got " + std::to_string(options.in_channels));
  bottleneck_ = arch.bottleneck;
  conv1 = register_module(
      "conv1", options.cifar_stem ? Conv(options.in_channels, 64, 3, 1, 1) : Conv(options.in_channels, 64, 7, 2, 3));
  bn1 = register_module("bn1", nn::BatchNorm2d(64));
  relu = register_module("relu", nn::ReLU(nn::ReLUOptions(true)));
  if (!options.cifar_stem)
    maxpool = register_module("maxpool", nn::MaxPool2d(nn::MaxPool2dOptions(3).stride(2).padding(1)));
  layer1 = register_module("layer1", MakeLayer(64, arch.blocks[0], 1));
  layer2 = register_module("layer2", MakeLayer(128, arch.blocks[1], 2));
  layer3 = register_module("layer3", MakeLayer(256, arch.blocks[2], 2));
  layer4 = register_module("layer4", MakeLayer(512, arch.blocks[3], 2));
  avgpool = register_module("avgpool", nn::AdaptiveAvgPool2d(nn::AdaptiveAvgPool2dOptions({1, 1})));
  fc = register_module("fc", nn::Linear(512 * (bottleneck_ ? 4 : 1), options.num_classes));
  for (auto& m : modules(/*include_self=*/false)) InitModule(*m);
}

nn::Sequential ResNetImpl::MakeLayer(int64_t planes, int64_t blocks, int64_t stride) {
  const int64_t expansion = bottleneck_ ? 4 : 1;
  nn::Sequential downsample{nullptr};
  if (stride != 1 || inplanes_ != planes * expansion) {
    downsample = nn::Sequential(Conv(inplanes_, planes * expansion, 1, stride, 0), nn::BatchNorm2d(planes * expansion));
  }
  nn::Sequential layer;
  for (int64_t i = 0; i < blocks; ++i) {
    const int64_t s = i == 0 ? stride : 1;
    nn::Sequential ds = i == 0 ? downsample : nn::Sequential{nullptr};
    if (bottleneck_)
      layer->push_back(Bottleneck(inplanes_, planes, s, ds, bn_route_));
    else
      layer->push_back(BasicBlock(inplanes_, planes, s, ds, bn_route_));
    inplanes_ = planes * expansion;
  }
  return layer;
}

torch::Tensor ResNetImpl::forward(torch::Tensor x) {
  x = relu(bn_route_->Run(*bn1, RunConv(conv1, x)));
  if (maxpool) x = maxpool(x);
  x = layer4->forward(layer3->forward(layer2->forward(layer1->forward(x))));
  x = torch::flatten(avgpool(x), 1);
  return fc(x);
}

void ResNetImpl::ReplaceClassifier(int64_t num_classes) {
  if (num_classes < 1) throw RangeFailure("numClasses must be >= 1, got " + std::to_string(num_classes));
  auto device = fc->weight.device();
  fc = replace_module("fc", nn::Linear(fc->options.in_features(), num_classes));
  fc->to(device);
  options_.num_classes = num_classes;
}

ResNet MakeResNet(const ResNetOptions& options) { return ResNet(options); }

std::vector<std::pair<std::string, torch::Tensor>> ResNetImpl::StateEntries() {
  std::vector<std::pair<std::string, torch::Tensor>> out;
  // PyTorch interleaves per module (params then buffers of each module); reproduce that order.
  for (const auto& item : named_modules("", /*include_self=*/true)) {
    const std::string prefix = item.key().empty() ? "" : item.key() + ".";
    for (const auto& p : item.value()->named_parameters(/*recurse=*/false))
      out.emplace_back(prefix + p.key(), p.value());
    for (const auto& b : item.value()->named_buffers(/*recurse=*/false)) out.emplace_back(prefix + b.key(), b.value());
  }
  return out;
}

int64_t ResNetImpl::SetRequiresGrad(const std::vector<std::string>& prefixes, bool value) {
  int64_t changed = 0;
  for (auto& p : named_parameters()) {
    for (const auto& prefix : prefixes) {
      if (p.key().rfind(prefix, 0) == 0) {
        p.value().set_requires_grad(value);
        ++changed;
        break;
      }
    }
  }
  return changed;
}

template <typename F>
int64_t ResNetImpl::ForEachBatchNorm(F&& f) {
  int64_t count = 0;
  for (const auto& m : modules(/*include_self=*/false)) {
    if (auto* bn = m->as<torch::nn::BatchNorm2d>()) {
      f(*bn, count == 0);
      ++count;
    }
  }
  return count;
}

int64_t ResNetImpl::ResetBatchNormStats() {
  torch::NoGradGuard no_grad;
  return ForEachBatchNorm([](torch::nn::BatchNorm2dImpl& bn, bool) { bn.reset_running_stats(); });
}

c10::optional<double> ResNetImpl::SetBatchNormMomentum(c10::optional<double> momentum) {
  c10::optional<double> previous;
  ForEachBatchNorm([&](torch::nn::BatchNorm2dImpl& bn, bool first) {
    if (first) previous = bn.options.momentum();
    bn.options.momentum(momentum);
  });
  return previous;
}

}  // namespace sgdr
