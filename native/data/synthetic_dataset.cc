// Kind "synthetic": random images resident in memory, for benchmarks of the training step.
#include <algorithm>
#include <cstring>

#include "core/failure.h"
#include "data/dataset_kinds.h"

namespace sgdr {
namespace data_detail {

namespace {

// What a benchmark of the training step needs from a data set: samples that cost a memcpy, so the
// loader is never the bottleneck and the step is measured, through the same loader and trainer as
// real data. Values are uniform in [-1.7, 1.7) (about unit variance), labels uniform over the
// classes; both are pure functions of (seed, index).
class SyntheticDataset : public Dataset {
 public:
  explicit SyntheticDataset(DataSpec spec) : Dataset(std::move(spec)) {
    if (spec_.size < 1) throw RangeFailure("synthetic: size must be >= 1, got " + std::to_string(spec_.size));
    if (spec_.channels < 1)
      throw RangeFailure("synthetic: channels must be >= 1, got " + std::to_string(spec_.channels));
    if (spec_.num_classes < 1)
      throw RangeFailure("synthetic: numClasses must be >= 1, got " + std::to_string(spec_.num_classes));
    if (spec_.distinct < 1)
      throw RangeFailure("synthetic: distinct must be >= 1, got " + std::to_string(spec_.distinct));
    channels_ = spec_.channels;
    height_ = width_ = spec_.image_size > 0 ? spec_.image_size : 32;
    for (int64_t c = 0; c < spec_.num_classes; ++c) class_names_.push_back(std::to_string(c));
    const int64_t n = spec_.limit > 0 ? std::min(spec_.limit, spec_.size) : spec_.size;
    distinct_ = std::min(spec_.distinct, n);
    sample_ = channels_ * height_ * width_;
    pixels_.resize(static_cast<size_t>(distinct_ * sample_));
    for (int64_t i = 0; i < distinct_; ++i) {
      Rng rng(HashKey({spec_.seed, kSyntheticStream, static_cast<uint64_t>(i)}));
      float* p = pixels_.data() + i * sample_;
      for (int64_t k = 0; k < sample_; ++k) p[k] = static_cast<float>(rng.Uniform(-1.7320508, 1.7320508));
    }
    Rng labels(HashKey({spec_.seed, kSyntheticStream, ~uint64_t{0}}));
    labels_.resize(static_cast<size_t>(n));
    for (auto& l : labels_) l = static_cast<int64_t>(labels.Below(static_cast<uint64_t>(spec_.num_classes)));
  }

  std::string source(int64_t i) const override { return "synthetic #" + std::to_string(i); }

  void Get(int64_t i, uint64_t, int64_t, float* out) const override {
    std::memcpy(out, pixels_.data() + (i % distinct_) * sample_, static_cast<size_t>(sample_) * sizeof(float));
  }

 private:
  std::vector<float> pixels_;  // [distinct, C, H, W]
  int64_t distinct_ = 1, sample_ = 0;
};

}  // namespace

std::shared_ptr<Dataset> OpenSynthetic(const DataSpec& spec) { return std::make_shared<SyntheticDataset>(spec); }

}  // namespace data_detail
}  // namespace sgdr
