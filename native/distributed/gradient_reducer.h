// DDP's gradient synchronisation, on a ProcessGroup: the parameters' gradients are packed into
// buckets (in reverse registration order, as they arrive during backward; the first bucket is small
// so the first all-reduce starts early, 25 MiB after that, DDP's defaults), each bucket is
// all-reduced (sum) and divided by the world size, and the averages are written back into .grad.
//
// With overlap on, a hook on every parameter copies its gradient into its bucket the moment autograd
// produces it, and a bucket whose gradients are all in starts its all-reduce while backward goes on
// computing the earlier layers' gradients. With overlap off, the buckets are packed and reduced after
// backward has finished. BENCHMARKS.md says when overlap helps.
#pragma once

#include <torch/torch.h>

#include <mutex>
#include <vector>

#include "distributed/process_group.h"

namespace sgdr {

class GradientReducer {
 public:
  static constexpr int64_t kFirstBucketBytes = 1 << 20;
  static constexpr int64_t kBucketBytes = 25 << 20;

  GradientReducer(ProcessGroup& group, std::vector<torch::Tensor> parameters, bool overlap,
                  int64_t bucket_bytes = kBucketBytes);
  ~GradientReducer();
  GradientReducer(const GradientReducer&) = delete;
  GradientReducer& operator=(const GradientReducer&) = delete;

  // Around one backward pass: Prepare() before it (arms the hooks), Finish() after it (starts what
  // is left, waits for every bucket and writes the averaged gradients into .grad).
  void Prepare();
  void Finish();

  int64_t buckets() const { return static_cast<int64_t>(buckets_.size()); }
  bool overlap() const { return overlap_; }

 private:
  struct Slot {
    size_t bucket = 0;
    int64_t offset = 0, numel = 0;
    bool ready = false;
  };
  struct Bucket {
    torch::Tensor flat;
    std::vector<size_t> params;
    size_t pending = 0;
    c10::intrusive_ptr<c10d::Work> work;
  };

  void MarkReady(size_t index, const torch::Tensor& grad);  // holds mu_
  void Launch(Bucket& bucket);

  ProcessGroup& group_;
  std::vector<torch::Tensor> params_;
  std::vector<Slot> slots_;
  std::vector<Bucket> buckets_;
  std::vector<unsigned> hooks_;
  bool overlap_;
  bool armed_ = false;
  std::mutex mu_;
};

}  // namespace sgdr
