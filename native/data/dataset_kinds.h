// What the dataset kinds share (defaults, normalization, per-thread scratch, the sample generator,
// in-memory uint8 storage) and how Dataset::Open reaches each kind. Internal to native/data/:
// datasets.h is the data layer's interface. One kind, one file: idx_dataset.cc, cifar_dataset.cc,
// folder_dataset.cc, synthetic_dataset.cc; in_memory_dataset.cc holds what IDX and CIFAR-10 share.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "data/datasets.h"
#include "data/image_decode.h"
#include "data/image_transform.h"
#include "data/random.h"

namespace sgdr {
namespace data_detail {

std::string Join(const std::vector<std::string>& items, const std::string& sep);
bool IsDirectory(const std::string& path);
bool IsFile(const std::string& path);

// A kind's own defaults: channels, native side, crop padding, flip, normalization statistics.
struct KindDefaults {
  int64_t channels, side, pad;
  bool hflip;
  std::vector<float> mean, std;
};

// The defaults of "fashion-mnist", "mnist", "cifar10" or "image-folder"; RangeFailure for another kind.
KindDefaults DefaultsFor(const std::string& kind);

// Mean/std of the spec, checked against the channel count; empty = the kind's defaults.
Normalizer MakeNormalizer(const DataSpec& spec, const KindDefaults& d, int64_t channels);

// Per-thread scratch buffers, reused across samples so decoding allocates once per thread.
struct Scratch {
  std::vector<uint8_t> file, resize_tmp, resize_out, resize2_tmp, resize2_out;
  RgbImage image;
};
Scratch& ThreadScratch();

// The generator of sample `index`'s random transform in (seed, epoch).
Rng SampleRng(uint64_t seed, int64_t epoch, int64_t index);

// The file rows [first, next file's first) come from; "<file> #<row in that file>" names a sample
// without a string per sample (a crafted header can claim millions of them).
struct SourceFile {
  int64_t first;
  std::string path;
};

// IDX and CIFAR-10 data, small enough to hold in memory as uint8 [N, C, side, side] in file order.
// `label_files`: where the labels come from when not from `sources` (IDX keeps them apart), so a bad
// label names the file that holds it.
std::shared_ptr<Dataset> InMemoryDataset(DataSpec spec, const KindDefaults& d, std::vector<uint8_t> pixels,
                                         std::vector<int64_t> all_labels, int64_t channels, int64_t side,
                                         std::vector<std::string> class_names, std::vector<SourceFile> sources,
                                         std::vector<SourceFile> label_files = {});

// The kinds, each opened from a checked spec (root filled in) by Dataset::Open.
std::shared_ptr<Dataset> OpenIdx(const DataSpec& spec, const KindDefaults& d);
std::shared_ptr<Dataset> OpenCifar(const DataSpec& spec, const KindDefaults& d);
std::shared_ptr<Dataset> OpenFolder(const DataSpec& spec, const KindDefaults& d);
std::shared_ptr<Dataset> OpenSynthetic(const DataSpec& spec);

}  // namespace data_detail
}  // namespace sgdr
