// IDX and CIFAR-10 data held in memory as uint8, with torchvision's RandomCrop(padding) and
// RandomHorizontalFlip when augmenting (and a bilinear resize to another size).
#include <algorithm>
#include <stdexcept>

#include "core/failure.h"
#include "data/dataset_kinds.h"

namespace sgdr {
namespace data_detail {

namespace {

std::string SourceOf(const std::vector<SourceFile>& files, int64_t row) {
  auto it =
      std::upper_bound(files.begin(), files.end(), row, [](int64_t r, const SourceFile& f) { return r < f.first; });
  if (it == files.begin()) throw std::logic_error("row " + std::to_string(row) + " has no source file");
  --it;
  return it->path + " #" + std::to_string(row - it->first);
}

class InMemory : public Dataset {
 public:
  InMemory(DataSpec spec, const KindDefaults& d, std::vector<uint8_t> pixels, std::vector<int64_t> all_labels,
           int64_t channels, int64_t side, std::vector<std::string> class_names, std::vector<SourceFile> sources,
           std::vector<SourceFile> label_files = {})
      : Dataset(std::move(spec)), pixels_(std::move(pixels)), side_(side), sources_(std::move(sources)) {
    class_names_ = std::move(class_names);
    for (size_t i = 0; i < all_labels.size(); ++i)
      if (all_labels[i] < 0 || all_labels[i] >= num_classes())
        throw std::runtime_error(SourceOf(label_files.empty() ? sources_ : label_files, static_cast<int64_t>(i)) +
                                 ": label " + std::to_string(all_labels[i]) + " is not a class index in [0, " +
                                 std::to_string(num_classes()) + ")");
    rows_ = BalancedSubset(all_labels, num_classes(), spec_.limit);
    labels_.reserve(rows_.size());
    for (int64_t r : rows_) labels_.push_back(all_labels[r]);
    channels_ = channels;
    height_ = width_ = spec_.image_size > 0 ? spec_.image_size : side;
    augmenting_ = spec_.split == "train" && spec_.augment;
    hflip_ = spec_.hflip.value_or(d.hflip);
    pad_ = spec_.pad.value_or(d.pad);
    if (pad_ < 0) throw RangeFailure("pad must be >= 0, got " + std::to_string(pad_));
    norm_ = MakeNormalizer(spec_, d, channels_);
  }

  std::string source(int64_t i) const override { return SourceOf(sources_, rows_.at(i)); }

  void Get(int64_t i, uint64_t seed, int64_t epoch, float* out) const override {
    const int64_t plane = side_ * side_;
    U8View src = U8View::Planar(pixels_.data() + rows_.at(i) * channels_ * plane, side_, side_, channels_);
    if (width_ != side_) {
      Scratch& s = ThreadScratch();
      src = PillowBilinear::Resize(src, width_, height_, s.resize_tmp, s.resize_out);
    }
    if (!augmenting_) return EmitNormalized(src, 0, 0, width_, height_, false, norm_, out);
    // RandomCrop(size, padding=pad) then RandomHorizontalFlip(), in torchvision's order.
    Rng rng = SampleRng(seed, epoch, i);
    const int64_t dy = static_cast<int64_t>(rng.Below(static_cast<uint64_t>(2 * pad_ + 1))) - pad_;
    const int64_t dx = static_cast<int64_t>(rng.Below(static_cast<uint64_t>(2 * pad_ + 1))) - pad_;
    const bool flip = hflip_ && rng.Uniform() < 0.5;
    EmitNormalized(src, dx, dy, width_, height_, flip, norm_, out);
  }

 private:
  std::vector<uint8_t> pixels_;  // [N, C, side, side], file order
  int64_t side_;
  std::vector<SourceFile> sources_;  // by first file-order row
  std::vector<int64_t> rows_;        // subset index -> row
  bool hflip_ = false;
  int64_t pad_ = 0;
  Normalizer norm_;
};

}  // namespace

std::shared_ptr<Dataset> InMemoryDataset(DataSpec spec, const KindDefaults& d, std::vector<uint8_t> pixels,
                                         std::vector<int64_t> all_labels, int64_t channels, int64_t side,
                                         std::vector<std::string> class_names, std::vector<SourceFile> sources,
                                         std::vector<SourceFile> label_files) {
  return std::make_shared<InMemory>(std::move(spec), d, std::move(pixels), std::move(all_labels), channels, side,
                                    std::move(class_names), std::move(sources), std::move(label_files));
}

}  // namespace data_detail
}  // namespace sgdr
