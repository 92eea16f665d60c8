// Dataset::Open (the checks every kind shares, then the kind's own opener), what the kinds share
// (dataset_kinds.h), and the class-balanced subset and epoch order every kind and the loader use.
#include <torch/types.h>

#include <algorithm>
#include <filesystem>
#include <numeric>

#include "core/failure.h"
#include "data/dataset_kinds.h"
#include "data/datasets.h"

namespace sgdr {

const char* const kDefaultFashionMnistDir = "/usr/share/datasets/fashion-mnist";

namespace data_detail {

namespace fs = std::filesystem;

std::string Join(const std::vector<std::string>& items, const std::string& sep) {
  std::string s;
  for (size_t i = 0; i < items.size(); ++i) s += (i ? sep : "") + items[i];
  return s;
}

bool IsDirectory(const std::string& path) {
  std::error_code ec;
  return fs::is_directory(path, ec);
}

bool IsFile(const std::string& path) {
  std::error_code ec;
  return fs::is_regular_file(path, ec);
}

KindDefaults DefaultsFor(const std::string& kind) {
  if (kind == "fashion-mnist") return {1, 28, 2, true, {0.2860f}, {0.3530f}};
  if (kind == "mnist") return {1, 28, 2, false, {0.1307f}, {0.3081f}};
  if (kind == "cifar10") return {3, 32, 4, true, {0.4914f, 0.4822f, 0.4465f}, {0.2470f, 0.2435f, 0.2616f}};
  if (kind == "image-folder") return {3, 224, 0, true, {0.485f, 0.456f, 0.406f}, {0.229f, 0.224f, 0.225f}};
  throw RangeFailure("unknown dataset kind '" + kind + "' (expected fashion-mnist, mnist, cifar10 or image-folder)");
}

// Mean/std of the spec, checked against the channel count; empty = the kind's defaults.
Normalizer MakeNormalizer(const DataSpec& spec, const KindDefaults& d, int64_t channels) {
  const std::vector<float>& mean = spec.mean.empty() ? d.mean : spec.mean;
  const std::vector<float>& std = spec.std.empty() ? d.std : spec.std;
  const auto count_ok = [&](size_t n) { return n == 1 || static_cast<int64_t>(n) == channels; };
  if (!count_ok(mean.size()))
    throw RangeFailure("mean must have 1 or " + std::to_string(channels) + " values for " + spec.kind + ", got " +
                       std::to_string(mean.size()));
  if (!count_ok(std.size()))
    throw RangeFailure("std must have 1 or " + std::to_string(channels) + " values for " + spec.kind + ", got " +
                       std::to_string(std.size()));
  for (float s : std)
    if (!(s > 0)) throw RangeFailure("std values must be > 0");
  return Normalizer(mean, std, channels);
}

Scratch& ThreadScratch() {
  thread_local Scratch scratch;
  return scratch;
}

Rng SampleRng(uint64_t seed, int64_t epoch, int64_t index) {
  return Rng(HashKey({seed, kAugmentStream, static_cast<uint64_t>(epoch), static_cast<uint64_t>(index)}));
}

}  // namespace data_detail

using namespace data_detail;

// --- Dataset -------------------------------------------------------------------------------------

std::shared_ptr<Dataset> Dataset::Open(const DataSpec& input) {
  DataSpec spec = input;
  if (spec.kind == "synthetic") {
    if (spec.limit < 0) throw RangeFailure("limit must be >= 0 (0 = all), got " + std::to_string(spec.limit));
    if (spec.image_size < 0)
      throw RangeFailure("image size must be >= 1 (0 = default), got " + std::to_string(spec.image_size));
    return OpenSynthetic(spec);
  }
  const KindDefaults d = DefaultsFor(spec.kind);
  if (spec.split != "train" && spec.split != "val")
    throw RangeFailure("split must be 'train' or 'val', got '" + spec.split + "'");
  if (spec.limit < 0) throw RangeFailure("limit must be >= 0 (0 = all), got " + std::to_string(spec.limit));
  if (spec.image_size < 0)
    throw RangeFailure("image size must be >= 1 (0 = default), got " + std::to_string(spec.image_size));
  if (spec.resize < 0) throw RangeFailure("resize must be >= 1 (0 = default), got " + std::to_string(spec.resize));
  if (spec.root.empty()) {
    if (spec.kind != "fashion-mnist") throw RangeFailure(spec.kind + " needs a folder (" + spec.kind + ":DIR)");
    spec.root = kDefaultFashionMnistDir;
  }
  if (spec.kind == "fashion-mnist" || spec.kind == "mnist") return OpenIdx(spec, d);
  if (spec.kind == "cifar10") return OpenCifar(spec, d);
  return OpenFolder(spec, d);
}

torch::Tensor Dataset::GetTensor(int64_t i, uint64_t seed, int64_t epoch) const {
  if (i < 0 || i >= size())
    throw RangeFailure("sample index " + std::to_string(i) + " is out of range [0, " + std::to_string(size()) + ")");
  torch::Tensor t = torch::empty({channels_, height_, width_}, torch::kFloat32);
  Get(i, seed, epoch, t.data_ptr<float>());
  return t;
}

std::vector<int64_t> BalancedSubset(const std::vector<int64_t>& labels, int64_t num_classes, int64_t limit) {
  const int64_t n = static_cast<int64_t>(labels.size());
  std::vector<int64_t> all(static_cast<size_t>(n));
  std::iota(all.begin(), all.end(), int64_t{0});
  if (limit <= 0 || limit >= n) return all;
  std::vector<std::vector<int64_t>> by_class(static_cast<size_t>(num_classes));
  for (int64_t i = 0; i < n; ++i) by_class[labels[i]].push_back(i);
  // Round-robin over the classes, each giving its next example in file order.
  std::vector<int64_t> picked;
  picked.reserve(static_cast<size_t>(limit));
  for (size_t round = 0; static_cast<int64_t>(picked.size()) < limit; ++round)
    for (const auto& members : by_class) {
      if (round < members.size()) picked.push_back(members[round]);
      if (static_cast<int64_t>(picked.size()) == limit) break;
    }
  std::sort(picked.begin(), picked.end());
  return picked;
}

std::vector<int64_t> EpochOrder(int64_t n, uint64_t seed, int64_t epoch) {
  Rng rng(HashKey({seed, kOrderStream, static_cast<uint64_t>(epoch)}));
  return Permutation(n, rng);
}

}  // namespace sgdr
