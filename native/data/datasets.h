// The native data layer: datasets (Fashion-MNIST/MNIST IDX, CIFAR-10 binary batches, ImageNet-style
// image folders), their transforms, and a background batch loader whose output is a pure function of
// (seed, epoch, batch) — never of thread timing or worker count — so a resumed run restarts exactly.
//
// Lean on purpose: no <torch/torch.h> here, so the trainer's translation unit stays cheap to build.
#pragma once

#include <torch/types.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace sgdr {

// What to open. Fields left at their defaults take the dataset's own defaults.
struct DataSpec {
  std::string kind;             // "fashion-mnist" | "mnist" | "cifar10" | "image-folder" | "synthetic"
  std::string root;             // folder; "" = /usr/share/datasets/fashion-mnist for kind "fashion-mnist"
  std::string split = "train";  // "train" | "val"
  // Class-balanced subset of this many examples (0 = all). Rule: classes take turns in class-index
  // order, each contributing its next example in file order, until `limit` are taken (a class that
  // runs out drops out of the rotation). Class counts therefore differ by at most 1 wherever every
  // class has enough examples; the subset keeps file order.
  int64_t limit = 0;
  // Random transforms of the train split (val never has any). false = train uses the val transform.
  bool augment = true;
  // Random horizontal flip (p = 0.5) when augmenting. Unset = on, except for MNIST digits.
  std::optional<bool> hflip;
  // Zero padding of the random crop of 28/32 px data. Unset = 4 for CIFAR-10, 2 for (Fashion-)MNIST.
  std::optional<int64_t> pad;
  // Output size (square). 0 = native size (28/32) for IDX/CIFAR (another size resizes bilinearly), 224
  // for image folders.
  int64_t image_size = 0;
  // Image folders, val transform: shorter side resized to this before the center crop. 0 = 256 for
  // size 224, else round(image_size / 0.875).
  int64_t resize = 0;
  // Image folders: decode JPEGs reduced (PIL's Image.draft: DCT scaling by 1/2, 1/4 or 1/8, as far as
  // the output size allows). Faster when the images are much larger than the output; the pixels then
  // are those of torchvision after Image.draft, not of a full decode. (Random crops are decoded only
  // over the region they read either way.) PNGs and files without an end-of-image marker are decoded
  // whole.
  bool fast_decode = false;
  // Normalize statistics, one per channel (or one for all). Empty = the dataset's defaults.
  std::vector<float> mean, std;
  // kind "synthetic" only (benchmarks: random data resident in memory, no decoding, no transform):
  // `size` examples of `channels` x image_size x image_size floats drawn from a seeded generator, with
  // labels in [0, num_classes). At most `distinct` different images are stored (example i is image
  // i % distinct), so memory stays bounded however large `size` is.
  int64_t size = 0, channels = 3, num_classes = 10, distinct = 1024;
  uint64_t seed = 0;
};

// The default location of the Fashion-MNIST files (Debian's dataset-fashion-mnist package).
extern const char* const kDefaultFashionMnistDir;

// A dataset opened and validated; Open() throws (naming the file or folder) on any problem it can see
// without decoding images. Thread-safe: Get() is const and may run on many threads at once.
class Dataset {
 public:
  static std::shared_ptr<Dataset> Open(const DataSpec& spec);
  virtual ~Dataset() = default;

  int64_t size() const { return static_cast<int64_t>(labels_.size()); }
  int64_t num_classes() const { return static_cast<int64_t>(class_names_.size()); }
  int64_t channels() const { return channels_; }
  int64_t height() const { return height_; }
  int64_t width() const { return width_; }
  std::vector<std::string> class_names() const { return class_names_; }
  int64_t label(int64_t i) const { return labels_.at(static_cast<size_t>(i)); }
  const std::vector<int64_t>& labels() const { return labels_; }
  const DataSpec& spec() const { return spec_; }
  // Whether Get() applies random transforms (train split with augment on).
  bool augmenting() const { return augmenting_; }
  // Where sample i comes from, for error messages ("/x/train/cat/1.jpg", "data_batch_2.bin #17").
  virtual std::string source(int64_t i) const = 0;

  // Writes sample i (0 <= i < size()), transformed and normalized, as float32 [C, H, W] into `out`
  // (channels()*height()*width() floats). The random transform is a pure function of (seed, epoch, i).
  // Throws (naming the image) if it cannot be decoded.
  virtual void Get(int64_t i, uint64_t seed, int64_t epoch, float* out) const = 0;
  // The same as a new tensor [C, H, W].
  torch::Tensor GetTensor(int64_t i, uint64_t seed = 0, int64_t epoch = 0) const;

  // The random crop Get() takes for sample i in (seed, epoch), for datasets that draw one per sample
  // (augmenting image folders; others return nullopt): the box in the full-size image's pixels, the
  // flip, and the DCT scale the image is decoded at (1 unless fast_decode reduces it).
  struct SampleCrop {
    int64_t x = 0, y = 0, w = 0, h = 0;
    bool flip = false;
    int scale = 1;
  };
  virtual std::optional<SampleCrop> Crop(int64_t, uint64_t, int64_t) const { return std::nullopt; }

 protected:
  explicit Dataset(DataSpec spec) : spec_(std::move(spec)) {}

  DataSpec spec_;
  std::vector<std::string> class_names_;
  std::vector<int64_t> labels_;  // of the (limited) dataset, in its order
  int64_t channels_ = 0, height_ = 0, width_ = 0;
  bool augmenting_ = false;
};

// The indices kept by `limit` (see DataSpec::limit), ascending; all indices when limit is 0 or >= size.
std::vector<int64_t> BalancedSubset(const std::vector<int64_t>& labels, int64_t num_classes, int64_t limit);

// The order of epoch `epoch`: a permutation of [0, n) that depends only on (seed, epoch, n).
std::vector<int64_t> EpochOrder(int64_t n, uint64_t seed, int64_t epoch);

struct Batch {
  torch::Tensor images;  // float32 [B, C, H, W]
  torch::Tensor labels;  // int64 [B]
  int64_t index = 0;     // batch number within the epoch
};

// Prepares the batches of an epoch ahead of the consumer on its own threads and hands them over in
// order. Batch b of epoch e (its samples, their order and their augmentation) depends only on
// (dataset, batch_size, shuffle, drop_last, seed, e, b).
// One rank's part of every epoch under data parallelism, as PyTorch's DistributedSampler takes it:
// the epoch's order (the same permutation on every rank, from the shared seed) is cut into
// world_size interleaved shards, and rank r takes positions r, r + world, r + 2 world ... With pad
// (training), the order is first extended by repeating its start to a multiple of world_size, so
// every rank has the same number of samples and batches; without it (evaluation) every sample is
// seen exactly once over all ranks.
struct LoaderShard {
  int64_t rank = 0, world = 1;
  bool pad = true;
};

// The positions of `order` that shard `s` takes (DistributedSampler's indices[rank:total:world]).
std::vector<int64_t> ShardOf(const std::vector<int64_t>& order, const LoaderShard& s);

class BatchLoader {
 public:
  // batch_size >= 1 (RangeFailure otherwise); workers 0 = automatic; prefetch >= 1 = batches prepared
  // ahead of the consumer. pin_memory: batches in page-locked memory (only with CUDA), so copies to
  // the GPU can be asynchronous; those come from LibTorch's caching host allocator, which keeps a
  // buffer from reuse until the copies reading it have finished, instead of this loader's pool.
  BatchLoader(std::shared_ptr<Dataset> dataset, int64_t batch_size, bool shuffle, bool drop_last, uint64_t seed,
              int workers = 0, int prefetch = 4, bool pin_memory = false, LoaderShard shard = {});
  // Stops and joins the worker threads (they finish at most the sample in hand).
  ~BatchLoader();
  BatchLoader(const BatchLoader&) = delete;
  BatchLoader& operator=(const BatchLoader&) = delete;

  int64_t batches_per_epoch() const;
  int64_t batch_size() const;
  int workers() const;
  const std::shared_ptr<Dataset>& dataset() const;
  // Starts (or restarts) epoch `epoch` at batch `start_batch` (0 <= start_batch <= batches_per_epoch()),
  // dropping whatever was prepared before. Next() without a StartEpoch() starts epoch 0.
  void StartEpoch(int64_t epoch, int64_t start_batch = 0);
  // The next batch of the epoch, waiting for it if needed; false at the end of the epoch. Rethrows a
  // batch's error (an undecodable image, naming it) in that batch's place; the next call moves on.
  // Throws once Close() has been called.
  bool Next(Batch& out);
  // Stops the workers and wakes any Next() that waits (it throws). Idempotent; the destructor calls it.
  void Close();
  // What a batch error calls these batches: "training" (default: "training batch 3 of epoch 2") or
  // "validation" ("validation batch 3"); numbers are 1-based, as everywhere the user reads them.
  void SetRole(const std::string& role);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace sgdr
