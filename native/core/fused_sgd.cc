// optimizer.step() for the training step (train_step.h): SGD through one fused pass over all
// parameters when the lever is on and the pass applies, else LibTorch's own step.
#include <ATen/Parallel.h>
#include <ATen/Version.h>
#include <torch/optim/sgd.h>
#include <immintrin.h>

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "core/compat.h"
#include "core/train_step.h"
#include "perf/levers.h"

namespace sgdr {

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
  float* buf;  // momentum buffer (nullptr without momentum)
  int64_t n;
  bool init;  // first step: buf = d (torch::clone(d_p))
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
        if (!b.defined() || !b.is_contiguous() || b.scalar_type() != torch::kFloat32 || b.sizes() != p.sizes())
          return false;
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

}  // namespace

void OptimizerStep(torch::optim::Optimizer& optimizer) {
  if (Levers().fused_sgd.load(std::memory_order_relaxed) && FusedSgdStep(optimizer)) {
    CountLeverUse(&LeverUses::fused_sgd);
    return;
  }
  optimizer.step();
}

}  // namespace sgdr
