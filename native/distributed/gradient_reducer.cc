#include "distributed/gradient_reducer.h"

#include "core/failure.h"

namespace sgdr {

GradientReducer::GradientReducer(ProcessGroup& group, std::vector<torch::Tensor> parameters, bool overlap,
                                 int64_t bucket_bytes)
    : group_(group), overlap_(overlap) {
  for (auto& p : parameters)
    if (p.requires_grad()) params_.push_back(p);  // frozen layers (fine-tuning) have nothing to reduce
  if (params_.empty()) return;
  const auto dtype = params_[0].scalar_type();
  const auto device = params_[0].device();
  slots_.resize(params_.size());
  // Reverse order: backward produces the last layers' gradients first.
  int64_t cap = kFirstBucketBytes, bytes = 0;
  std::vector<size_t> current;
  auto close_bucket = [&] {
    if (current.empty()) return;
    Bucket b;
    int64_t numel = 0;
    for (size_t i : current) {
      slots_[i] = Slot{buckets_.size(), numel, params_[i].numel(), false};
      numel += params_[i].numel();
    }
    b.flat = torch::zeros({numel}, torch::TensorOptions().dtype(dtype).device(device));
    b.params = current;
    buckets_.push_back(std::move(b));
    current.clear();
    bytes = 0;
    cap = bucket_bytes;
  };
  for (size_t k = params_.size(); k-- > 0;) {
    const torch::Tensor& p = params_[k];
    if (p.scalar_type() != dtype || p.device() != device)
      throw TypeFailure("data-parallel training needs every trained parameter on one device with one dtype; got " +
                        std::string(c10::toString(p.scalar_type())) + " on " + p.device().str() + " beside " +
                        std::string(c10::toString(dtype)) + " on " + device.str());
    current.push_back(k);
    bytes += p.numel() * static_cast<int64_t>(p.element_size());
    if (bytes >= cap) close_bucket();
  }
  close_bucket();
  if (overlap_)
    for (size_t i = 0; i < params_.size(); ++i)
      hooks_.push_back(params_[i].register_hook([this, i](torch::Tensor grad) {
        std::lock_guard<std::mutex> lock(mu_);
        if (armed_) MarkReady(i, grad);
      }));
}

GradientReducer::~GradientReducer() {
  for (size_t i = 0; i < hooks_.size(); ++i) {
    try {
      params_[i].remove_hook(hooks_[i]);
    } catch (...) {
    }
  }
}

void GradientReducer::Prepare() {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& s : slots_) s.ready = false;
  for (auto& b : buckets_) {
    b.pending = b.params.size();
    b.work.reset();
  }
  armed_ = overlap_;
}

void GradientReducer::MarkReady(size_t index, const torch::Tensor& grad) {
  Slot& s = slots_[index];
  if (s.ready)
    throw std::runtime_error(
        "data-parallel training: a parameter received two gradients in one backward pass "
        "(a layer used twice); gradient buckets need each parameter once");
  s.ready = true;
  Bucket& b = buckets_[s.bucket];
  {
    torch::NoGradGuard no_grad;
    b.flat.narrow(0, s.offset, s.numel).copy_(grad.reshape({-1}));
  }
  if (--b.pending == 0) Launch(b);
}

void GradientReducer::Launch(Bucket& b) {
  std::vector<torch::Tensor> one{b.flat};
  b.work = group_.AllReduceSumAsync(one);
}

void GradientReducer::Finish() {
  std::unique_lock<std::mutex> lock(mu_);
  armed_ = false;
  // Parameters whose gradient did not come through a hook (overlap off, or a layer unused in this
  // forward) are packed now; an unused one counts as a zero gradient, as DDP's
  // find_unused_parameters treats it.
  for (auto& b : buckets_) {
    if (b.work) continue;
    torch::NoGradGuard no_grad;
    for (size_t i : b.params) {
      Slot& s = slots_[i];
      if (s.ready) continue;
      const torch::Tensor& g = params_[i].grad();
      auto view = b.flat.narrow(0, s.offset, s.numel);
      if (g.defined())
        view.copy_(g.reshape({-1}));
      else
        view.zero_();
      s.ready = true;
    }
    b.pending = 0;
    Launch(b);
  }
  lock.unlock();
  const double world = group_.world_size();
  torch::NoGradGuard no_grad;
  for (auto& b : buckets_) {
    group_.Wait(b.work, "gradient all-reduce");
    b.work.reset();
    b.flat.div_(world);
    for (size_t i : b.params) {
      const Slot& s = slots_[i];
      torch::Tensor& p = params_[i];
      auto avg = b.flat.narrow(0, s.offset, s.numel).view(p.sizes());
      if (p.grad().defined())
        p.mutable_grad().copy_(avg);
      else
        p.mutable_grad() = avg.clone();
    }
  }
}

}  // namespace sgdr
