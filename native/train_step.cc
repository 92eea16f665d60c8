// One training step (forward, cross-entropy, backward, optimizer step) and one evaluation pass,
// each off the JS thread. The full epoch loop lives in trainer.cc; these serve tests, benchmarks
// and users who write their own loop.
#include <napi.h>
#include <torch/torch.h>
#include <ATen/Version.h>
#include <immintrin.h>

#include <cstdlib>
#include <string>

#include "async.h"
#include "compat.h"
#include "errors.h"
#include "model.h"
#include "optim.h"
#include "step.h"
#include "tensor.h"

namespace sgdr {

namespace {

// $SGDR_EXACT=1: only levers that leave every result bit for bit as PyTorch computes it (the
// convolution-as-matmul and channels_last levers round differently). $SGDR_LEVERS="name=on|off,...": any lever.
void LeversFromEnvironment(PerfLevers& levers) {
  if (const char* exact = std::getenv("SGDR_EXACT"); exact && std::string(exact) != "0" && std::string(exact) != "") {
    levers.conv_as_matmul = false;
    levers.channels_last_input = false;
  }
  const char* spec = std::getenv("SGDR_LEVERS");
  if (!spec) return;
  std::stringstream list(spec);
  std::string item;
  while (std::getline(list, item, ',')) {
    const size_t eq = item.find('=');
    if (eq == std::string::npos) continue;
    const std::string name = item.substr(0, eq), value = item.substr(eq + 1);
    const bool on = value == "on" || value == "1" || value == "true";
    for (const LeverName& lever : kLeverNames)
      if (name == lever.name) (levers.*lever.field) = on;
  }
}

}  // namespace

std::atomic<int64_t>& StepNanoseconds() {
  static std::atomic<int64_t> ns{0};
  return ns;
}

PerfLevers& Levers() {
  static PerfLevers* levers = [] {
    auto* l = new PerfLevers();
    LeversFromEnvironment(*l);
    return l;
  }();
  return *levers;
}

namespace {

// --- Fused SGD ------------------------------------------------------------------------------------
//
// torch::optim::SGD::step runs, per parameter, d = g.add(p, wd) (a new tensor), buf.mul_(m),
// buf.add_(d, 1 - dampening), [d.add(buf, m)], p.add_(d, -lr): five passes over memory and up to four
// parallel regions per parameter (ResNet-18: 62 parameters, 11 M floats, ~0.5 GB of traffic a step).
// Here each element is read and written once, in one parallel region over all parameters, with the
// same float operations in the same order as ATen's AVX2/AVX-512 kernels (add with alpha is a fused
// multiply-add there, mul is a plain product), so the result is bit for bit the same.

struct SgdSegment {
  float* p;
  const float* g;
  float* buf;     // momentum buffer (nullptr without momentum)
  int64_t n;
  bool init;      // first step: buf = d (torch::clone(d_p))
  float wd, momentum, one_minus_dampening, neg_lr;
  bool nesterov;
};

// d = g + wd*p ; buf = init ? d : buf*m + (1-damp)*d ; d = nesterov ? d + m*buf : buf ; p += -lr*d
__attribute__((target("avx2,fma"))) void SgdKernelAvx2(const SgdSegment& s, int64_t begin, int64_t end) {
  const __m256 wd = _mm256_set1_ps(s.wd), m = _mm256_set1_ps(s.momentum), omd = _mm256_set1_ps(s.one_minus_dampening),
               nlr = _mm256_set1_ps(s.neg_lr);
  int64_t i = begin;
  for (; i + 8 <= end; i += 8) {
    __m256 d = _mm256_loadu_ps(s.g + i);
    __m256 p = _mm256_loadu_ps(s.p + i);
    if (s.wd != 0) d = _mm256_fmadd_ps(p, wd, d);
    if (s.buf) {
      __m256 b;
      if (s.init) {
        b = d;
      } else {
        b = _mm256_mul_ps(_mm256_loadu_ps(s.buf + i), m);
        b = _mm256_fmadd_ps(d, omd, b);
      }
      _mm256_storeu_ps(s.buf + i, b);
      d = s.nesterov ? _mm256_fmadd_ps(b, m, d) : b;
    }
    _mm256_storeu_ps(s.p + i, _mm256_fmadd_ps(d, nlr, p));
  }
  for (; i < end; ++i) {  // the tail: ATen's scalar loop, which its AVX2 build also contracts to fma
    float d = s.g[i];
    const float p = s.p[i];
    if (s.wd != 0) d = __builtin_fmaf(p, s.wd, d);
    if (s.buf) {
      float b = s.init ? d : __builtin_fmaf(d, s.one_minus_dampening, s.buf[i] * s.momentum);
      s.buf[i] = b;
      d = s.nesterov ? __builtin_fmaf(b, s.momentum, d) : b;
    }
    s.p[i] = __builtin_fmaf(d, s.neg_lr, p);
  }
}

bool FusedSgdSupported() {
  // ATen reports the kernels it dispatches to in its config ("CPU capability usage: AVX2").
  static const bool ok = [] {
    const std::string config = at::show_config();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
           (config.find("CPU capability usage: AVX2") != std::string::npos ||
            config.find("CPU capability usage: AVX512") != std::string::npos);
  }();
  return ok;
}

// The fused step, or false (nothing done) when it does not apply: not SGD, a parameter that is not a
// dense contiguous float32 CPU tensor, or a CPU whose ATen kernels round differently.
bool FusedSgdStep(torch::optim::Optimizer& optimizer) {
  auto* sgd = dynamic_cast<torch::optim::SGD*>(&optimizer);
  if (!sgd || !FusedSgdSupported()) return false;
  auto& state = sgd->state();
  std::vector<SgdSegment> segments;
  std::vector<torch::Tensor> params;
  // Check everything before changing anything.
  for (auto& group : sgd->param_groups()) {
    for (auto& p : group.params()) {
      const torch::Tensor& g = p.grad();
      if (!g.defined()) continue;
      if (!p.device().is_cpu() || p.scalar_type() != torch::kFloat32 || g.scalar_type() != torch::kFloat32 ||
          g.is_sparse() || p.is_sparse() || !p.is_contiguous() || !g.is_contiguous() || g.sizes() != p.sizes())
        return false;
      auto it = state.find(compat::OptimizerStateKey(*sgd, p));
      if (it != state.end()) {
        const torch::Tensor& b = static_cast<torch::optim::SGDParamState&>(*it->second).momentum_buffer();
        if (!b.defined() || !b.is_contiguous() || b.scalar_type() != torch::kFloat32 || b.sizes() != p.sizes()) return false;
      }
    }
  }
  torch::NoGradGuard no_grad;
  for (auto& group : sgd->param_groups()) {
    const auto& o = static_cast<const torch::optim::SGDOptions&>(group.options());
    for (auto& p : group.params()) {
      const torch::Tensor& g = p.grad();
      if (!g.defined()) continue;
      SgdSegment s{};
      s.p = p.data_ptr<float>();
      s.g = g.data_ptr<float>();
      s.n = p.numel();
      // Scalars as ATen converts them (Scalar(double).to<float>()).
      s.wd = static_cast<float>(o.weight_decay());
      s.momentum = static_cast<float>(o.momentum());
      s.one_minus_dampening = static_cast<float>(1 - o.dampening());
      s.neg_lr = static_cast<float>(-1 * o.lr());
      s.nesterov = o.nesterov();
      if (o.momentum() != 0) {
        const auto key = compat::OptimizerStateKey(*sgd, p);
        auto it = state.find(key);
        if (it == state.end()) {
          torch::Tensor buf = torch::empty_like(p, torch::MemoryFormat::Contiguous);
          auto ps = std::make_unique<torch::optim::SGDParamState>();
          ps->momentum_buffer(buf);
          state[key] = std::move(ps);
          s.buf = buf.data_ptr<float>();
          s.init = true;
        } else {
          s.buf = static_cast<torch::optim::SGDParamState&>(*it->second).momentum_buffer().data_ptr<float>();
        }
      }
      segments.push_back(s);
      params.push_back(p);
    }
  }
  // One parallel region over all elements (the vector body and the scalar tail compute the same
  // roundings, so how the elements are split between threads does not change the result).
  std::vector<int64_t> starts(segments.size() + 1, 0);
  for (size_t k = 0; k < segments.size(); ++k) starts[k + 1] = starts[k] + segments[k].n;
  const int64_t total = starts.back();
  constexpr int64_t kGrain = 1 << 15;
  const int64_t chunks = (total + kGrain - 1) / kGrain;
  at::parallel_for(0, chunks, 1, [&](int64_t c0, int64_t c1) {
    const int64_t lo = c0 * kGrain, hi = std::min(total, c1 * kGrain);
    size_t k = std::upper_bound(starts.begin(), starts.end(), lo) - starts.begin() - 1;
    for (; k < segments.size() && starts[k] < hi; ++k) {
      const int64_t b = std::max(lo, starts[k]) - starts[k], e = std::min(hi, starts[k + 1]) - starts[k];
      if (b < e) SgdKernelAvx2(segments[k], b, e);
    }
  });
  for (auto& p : params) p.unsafeGetTensorImpl()->bump_version();
  return true;
}

void CheckTarget(const torch::Tensor& target, const torch::Tensor& input, int64_t num_classes) {
  if (target.scalar_type() != torch::kInt64) throw TypeFailure("target must be an int64 tensor of class indices, got " + DTypeName(target.scalar_type()));
  if (target.dim() != 1 || target.size(0) != input.size(0))
    throw RangeFailure("target must have shape [" + std::to_string(input.size(0)) + "] (one class index per input)");
}

// Runs on the worker thread: cheap relative to a step, and catches labels that would otherwise make
// LibTorch index out of bounds.
void CheckTargetValues(const torch::Tensor& target, int64_t num_classes) {
  const int64_t lo = target.min().item<int64_t>(), hi = target.max().item<int64_t>();
  if (lo < 0 || hi >= num_classes)
    throw RangeFailure("target class indices must be in [0, " + std::to_string(num_classes) + "), found " +
                       std::to_string(lo < 0 ? lo : hi));
}

}  // namespace

void OptimizerStep(torch::optim::Optimizer& optimizer) {
  if (Levers().fused_sgd.load(std::memory_order_relaxed) && FusedSgdStep(optimizer)) return;
  optimizer.step();
}

// trainStep(model, optimizer, input, target) -> Promise<{ loss }>
Napi::Value TrainStep(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  SGDR_TRY
  ModelWrap* model = ModelWrap::Get(info[0], "model");
  OptimizerWrap* opt = OptimizerWrap::Get(info[1], "optimizer");
  torch::Tensor input = TensorWrap::Get(info[2], "input");
  torch::Tensor target = TensorWrap::Get(info[3], "target");
  model->CheckInput(input);
  const int64_t num_classes = model->module()->options().num_classes;
  CheckTarget(target, input, num_classes);
  auto loss = std::make_shared<double>(0);
  ResNet module = model->module();
  std::mutex* mutex = &model->mutex();
  torch::optim::Optimizer* optimizer = &opt->optimizer();
  torch::Device device = model->device();
  return PromiseWorker::Start(
      env,
      [=]() mutable {
        CheckTargetValues(target, num_classes);
        std::lock_guard<std::mutex> lock(*mutex);
        *loss = TrainOneStep(module, *optimizer, input.to(device), target.to(device)).loss.item<double>();
      },
      [=](Napi::Env env) -> Napi::Value {
        auto o = Napi::Object::New(env);
        o.Set("loss", *loss);
        return o;
      },
      {info[0].As<Napi::Object>(), info[1].As<Napi::Object>(), info[2].As<Napi::Object>(), info[3].As<Napi::Object>()});
  SGDR_CATCH(env)
}

// evaluate(model, input, target) -> Promise<{ loss (mean), correct, count }>, no autograd.
Napi::Value Evaluate(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  SGDR_TRY
  ModelWrap* model = ModelWrap::Get(info[0], "model");
  torch::Tensor input = TensorWrap::Get(info[1], "input");
  torch::Tensor target = TensorWrap::Get(info[2], "target");
  model->CheckInput(input);
  const int64_t num_classes = model->module()->options().num_classes;
  CheckTarget(target, input, num_classes);
  auto result = std::make_shared<std::pair<double, int64_t>>();
  ResNet module = model->module();
  std::mutex* mutex = &model->mutex();
  torch::Device device = model->device();
  const int64_t count = input.size(0);
  return PromiseWorker::Start(
      env,
      [=]() mutable {
        CheckTargetValues(target, num_classes);
        std::lock_guard<std::mutex> lock(*mutex);
        torch::InferenceMode guard;
        torch::Tensor out = module->forward(ModelInput(input.to(device)));
        torch::Tensor t = target.to(device);
        result->first = torch::nn::functional::cross_entropy(out, t).item<double>();
        result->second = out.argmax(1).eq(t).sum().item<int64_t>();
      },
      [=](Napi::Env env) -> Napi::Value {
        auto o = Napi::Object::New(env);
        o.Set("loss", result->first);
        o.Set("correct", static_cast<double>(result->second));
        o.Set("count", static_cast<double>(count));
        return o;
      },
      {info[0].As<Napi::Object>(), info[1].As<Napi::Object>(), info[2].As<Napi::Object>()});
  SGDR_CATCH(env)
}

}  // namespace sgdr
