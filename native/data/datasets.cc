// Datasets (IDX, CIFAR-10, image folders), their per-sample transforms, and the background batch
// loader. See data.h for the contracts; the building blocks are in data_files.h (file formats),
// image_decode.h (JPEG/PNG), image_transform.h (torchvision transforms) and data_random.h.
#include "data/datasets.h"

#include <torch/types.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <condition_variable>
#include <cstring>
#include <filesystem>
#include <map>
#include <mutex>
#include <numeric>
#include <set>
#include <thread>

#include <sys/stat.h>

#include "data/file_formats.h"
#include "data/random.h"
#include "core/failure.h"
#include "data/image_decode.h"
#include "data/image_transform.h"
#include "perf/levers.h"

namespace sgdr {

const char* const kDefaultFashionMnistDir = "/usr/share/datasets/fashion-mnist";

namespace {

namespace fs = std::filesystem;
using namespace data_detail;

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

struct KindDefaults {
  int64_t channels, side, pad;
  bool hflip;
  std::vector<float> mean, std;
};

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

// Per-thread scratch buffers, reused across samples so decoding allocates once per thread.
struct Scratch {
  std::vector<uint8_t> file, resize_tmp, resize_out, resize2_tmp, resize2_out;
  RgbImage image;
};
Scratch& ThreadScratch() {
  thread_local Scratch scratch;
  return scratch;
}

Rng SampleRng(uint64_t seed, int64_t epoch, int64_t index) {
  return Rng(HashKey({seed, kAugmentStream, static_cast<uint64_t>(epoch), static_cast<uint64_t>(index)}));
}

// --- IDX and CIFAR-10: small, held in memory as uint8 --------------------------------------------

// The file rows [first, next file's first) come from; "<file> #<row in that file>" names a sample
// without a string per sample (a crafted header can claim millions of them).
struct SourceFile {
  int64_t first;
  std::string path;
};

std::string SourceOf(const std::vector<SourceFile>& files, int64_t row) {
  auto it =
      std::upper_bound(files.begin(), files.end(), row, [](int64_t r, const SourceFile& f) { return r < f.first; });
  if (it == files.begin()) throw std::logic_error("row " + std::to_string(row) + " has no source file");
  --it;
  return it->path + " #" + std::to_string(row - it->first);
}

class InMemoryDataset : public Dataset {
 public:
  // `label_files`: where the labels come from when not from `sources` (IDX keeps them apart), so a
  // bad label names the file that holds it.
  InMemoryDataset(DataSpec spec, const KindDefaults& d, std::vector<uint8_t> pixels, std::vector<int64_t> all_labels,
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

const char* const kFashionClasses[] = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                       "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};
const char* const kMnistClasses[] = {"0 - zero", "1 - one", "2 - two",   "3 - three", "4 - four",
                                     "5 - five", "6 - six", "7 - seven", "8 - eight", "9 - nine"};
const char* const kCifarClasses[] = {"airplane", "automobile", "bird",  "cat",  "deer",
                                     "dog",      "frog",       "horse", "ship", "truck"};

// The file `name` or `name.gz` in the first folder that has it (the folder itself, or torchvision's
// download layout <root>/raw and <root>/<FashionMNIST|MNIST>/raw); "" if none.
std::string FindIdxFile(const std::vector<std::string>& dirs, const std::string& name) {
  for (const auto& dir : dirs)
    for (const char* suffix : {"", ".gz"}) {
      const std::string path = (fs::path(dir) / (name + suffix)).string();
      if (IsFile(path)) return path;
    }
  return "";
}

std::shared_ptr<Dataset> OpenIdx(const DataSpec& spec, const KindDefaults& d) {
  const std::string& root = spec.root;
  if (!IsDirectory(root)) throw std::runtime_error(spec.kind + ": folder not found: " + root);
  const std::string prefix = spec.split == "train" ? "train" : "t10k";
  const std::string images_name = prefix + "-images-idx3-ubyte", labels_name = prefix + "-labels-idx1-ubyte";
  const std::vector<std::string> dirs = {
      root, (fs::path(root) / "raw").string(),
      (fs::path(root) / (spec.kind == "mnist" ? "MNIST" : "FashionMNIST") / "raw").string()};
  const std::string images_path = FindIdxFile(dirs, images_name), labels_path = FindIdxFile(dirs, labels_name);
  if (images_path.empty() || labels_path.empty()) {
    std::vector<std::string> missing;
    if (images_path.empty()) missing.push_back(images_name + "[.gz]");
    if (labels_path.empty()) missing.push_back(labels_name + "[.gz]");
    throw std::runtime_error(spec.kind + ": " + root + " has no " + Join(missing, " or ") +
                             " (expected train-images-idx3-ubyte[.gz], train-labels-idx1-ubyte[.gz], "
                             "t10k-images-idx3-ubyte[.gz], t10k-labels-idx1-ubyte[.gz])");
  }
  IdxArray images = ReadIdx(images_path, 3);
  // Without a single image, an epoch has no batches (and the schedule would divide by zero).
  if (images.dims[0] == 0)
    throw std::runtime_error(spec.kind + ": " + images_path + " holds 0 images (its IDX header says 0x" +
                             std::to_string(images.dims[1]) + "x" + std::to_string(images.dims[2]) + ")");
  IdxArray labels = ReadIdx(labels_path, 1);
  if (images.dims[0] != labels.dims[0])
    throw std::runtime_error(spec.kind + ": " + images_path + " has " + std::to_string(images.dims[0]) +
                             " images but " + labels_path + " has " + std::to_string(labels.dims[0]) + " labels");
  std::vector<int64_t> all_labels(labels.data.begin(), labels.data.end());
  std::vector<std::string> names;
  for (const char* n : spec.kind == "mnist" ? kMnistClasses : kFashionClasses) names.push_back(n);
  return std::make_shared<InMemoryDataset>(spec, d, std::move(images.data), std::move(all_labels), 1, images.dims[1],
                                           std::move(names), std::vector<SourceFile>{{0, images_path}},
                                           std::vector<SourceFile>{{0, labels_path}});
}

std::shared_ptr<Dataset> OpenCifar(const DataSpec& spec, const KindDefaults& d) {
  if (!IsDirectory(spec.root)) throw std::runtime_error("cifar10: folder not found: " + spec.root);
  // Accept the folder that holds the batches, or the one the archive was extracted into.
  std::string dir = spec.root;
  const std::string nested = (fs::path(spec.root) / "cifar-10-batches-bin").string();
  if (!IsFile((fs::path(dir) / "test_batch.bin").string()) && IsDirectory(nested)) dir = nested;
  std::vector<std::string> files;
  if (spec.split == "train")
    for (int b = 1; b <= 5; ++b) files.push_back("data_batch_" + std::to_string(b) + ".bin");
  else
    files.push_back("test_batch.bin");
  std::vector<std::string> missing;
  for (const auto& f : files)
    if (!IsFile((fs::path(dir) / f).string())) missing.push_back(f);
  if (!missing.empty())
    throw std::runtime_error("cifar10: " + dir + " has no " + Join(missing, ", ") +
                             " (expected data_batch_1.bin ... data_batch_5.bin and test_batch.bin, the CIFAR-10 binary "
                             "version, possibly in a cifar-10-batches-bin subfolder)");
  std::vector<int64_t> labels;
  std::vector<uint8_t> pixels;
  std::vector<SourceFile> sources;
  for (const auto& f : files) {
    const std::string path = (fs::path(dir) / f).string();
    sources.push_back({static_cast<int64_t>(labels.size()), path});
    ReadCifarBatch(path, labels, pixels);
  }
  std::vector<std::string> names(std::begin(kCifarClasses), std::end(kCifarClasses));
  const std::string meta = (fs::path(dir) / "batches.meta.txt").string();
  if (IsFile(meta)) {
    const std::vector<uint8_t> text = ReadFile(meta);
    std::vector<std::string> lines;
    std::string line;
    for (uint8_t ch : text) {
      if (ch == '\n') {
        while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
        if (!line.empty()) lines.push_back(line);
        line.clear();
      } else {
        line += static_cast<char>(ch);
      }
    }
    if (!line.empty()) lines.push_back(line);
    if (lines.size() != names.size())
      throw std::runtime_error("cifar10: " + meta + " lists " + std::to_string(lines.size()) +
                               " class names, expected " + std::to_string(names.size()));
    names = lines;
  }
  return std::make_shared<InMemoryDataset>(spec, d, std::move(pixels), std::move(labels), 3, kCifarSide,
                                           std::move(names), std::move(sources));
}

// --- Image folders: listed at open, decoded per sample ------------------------------------------

bool HasImageExtension(const fs::path& p) {
  std::string ext = p.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return ext == ".jpg" || ext == ".jpeg" || ext == ".png";
}

std::vector<std::string> ClassFolders(const std::string& dir) {
  std::vector<std::string> classes;
  std::error_code ec;
  for (fs::directory_iterator it(dir, fs::directory_options::follow_directory_symlink, ec), end; !ec && it != end;
       it.increment(ec))
    if (it->is_directory(ec)) classes.push_back(it->path().filename().string());
  if (ec) throw std::runtime_error("image-folder: cannot list " + dir + ": " + ec.message());
  std::sort(classes.begin(), classes.end());  // torchvision's find_classes: sorted names
  return classes;
}

// A folder's identity (device, inode), following symlinks; false if it cannot be stat'ed.
using DirId = std::pair<uint64_t, uint64_t>;
bool DirIdOf(const fs::path& p, DirId& id) {
  struct stat st;
  if (::stat(p.c_str(), &st) != 0) return false;
  id = {static_cast<uint64_t>(st.st_dev), static_cast<uint64_t>(st.st_ino)};
  return true;
}

// The images of one class, in torchvision's order: sorted(os.walk(...)) then sorted file names.
// Symlinked folders are followed (a class folder may link to images kept elsewhere), but never
// into a folder that is in `visited`: the walk adds every folder it enters, and the caller seeds it
// with the split folder, its ancestors and every class folder. A link to "." or ".." (a loop that
// turned 16 images into 656), to the data set's root, or into another class's folder is skipped,
// so no image is counted twice and none outside the class is counted as the class.
std::vector<std::string> ClassImages(const std::string& dir, std::set<DirId>& visited) {
  std::vector<std::pair<std::string, std::string>> found;  // (folder, file name)
  std::vector<fs::path> pending{fs::path(dir)};
  while (!pending.empty()) {
    const fs::path folder = pending.back();
    pending.pop_back();
    std::error_code ec;
    std::vector<fs::path> subfolders;
    for (fs::directory_iterator it(folder, fs::directory_options::skip_permission_denied, ec), end; !ec && it != end;
         it.increment(ec)) {
      std::error_code sec;
      const fs::file_status st = it->status(sec);  // through symlinks; a dangling or looping link fails
      if (sec) continue;
      if (fs::is_directory(st)) {
        subfolders.push_back(it->path());
      } else if (fs::is_regular_file(st) && HasImageExtension(it->path())) {
        found.emplace_back(folder.string(), it->path().filename().string());
      }
    }
    if (ec) throw std::runtime_error("image-folder: cannot list " + folder.string() + ": " + ec.message());
    // In name order, so which of two links to one folder is followed does not depend on readdir.
    std::sort(subfolders.begin(), subfolders.end());
    std::vector<fs::path> enter;
    for (const auto& sub : subfolders) {
      DirId id;
      if (DirIdOf(sub, id) && visited.insert(id).second) enter.push_back(sub);
    }
    pending.insert(pending.end(), enter.rbegin(), enter.rend());  // the first name is walked first
  }
  std::sort(found.begin(), found.end());
  std::vector<std::string> paths;
  for (const auto& f : found) paths.push_back((fs::path(f.first) / f.second).string());
  return paths;
}

class FolderDataset : public Dataset {
 public:
  FolderDataset(DataSpec spec, const KindDefaults& d) : Dataset(std::move(spec)) {
    const std::string& root = spec_.root;
    if (!IsDirectory(root)) throw std::runtime_error("image-folder: folder not found: " + root);
    const std::string layout = " (expected " + root + "/train/<class>/*.jpg|jpeg|png and " + root + "/val/<class>/...)";
    const std::string train_dir = (fs::path(root) / "train").string();
    std::string dir = train_dir;
    if (spec_.split == "val") {
      dir.clear();
      for (const char* name : {"val", "validation", "test"}) {
        const std::string candidate = (fs::path(root) / name).string();
        if (IsDirectory(candidate)) {
          dir = candidate;
          break;
        }
      }
      if (dir.empty()) throw std::runtime_error("image-folder: " + root + " has no val folder" + layout);
    } else if (!IsDirectory(dir)) {
      throw std::runtime_error("image-folder: " + root + " has no train folder" + layout);
    }
    class_names_ = ClassFolders(dir);
    if (class_names_.empty()) throw std::runtime_error("image-folder: " + dir + " has no class subfolders" + layout);
    // The val split must use the train split's class indices, or labels would silently disagree.
    if (dir != train_dir && IsDirectory(train_dir)) {
      const std::vector<std::string> train_classes = ClassFolders(train_dir);
      if (train_classes != class_names_)
        throw std::runtime_error("image-folder: the classes of " + dir + " (" + Join(class_names_, ", ") +
                                 ") differ from those of " + train_dir + " (" + Join(train_classes, ", ") + ")");
    }
    std::vector<std::string> files;
    std::vector<int64_t> all_labels;
    std::vector<std::string> empty;
    // Folders no class walk may enter: the split folder and its ancestors, and the class folders.
    std::set<DirId> visited;
    std::error_code cec;
    const fs::path real = fs::canonical(dir, cec);
    if (cec) throw std::runtime_error("image-folder: cannot resolve " + dir + ": " + cec.message());
    for (fs::path p = real;; p = p.parent_path()) {
      DirId id;
      if (DirIdOf(p, id)) visited.insert(id);
      if (p == p.parent_path()) break;
    }
    for (const auto& name : class_names_) {
      DirId id;
      if (DirIdOf(fs::path(dir) / name, id)) visited.insert(id);
    }
    for (size_t c = 0; c < class_names_.size(); ++c) {
      const std::string class_dir = (fs::path(dir) / class_names_[c]).string();
      std::vector<std::string> images = ClassImages(class_dir, visited);
      if (images.empty()) empty.push_back(class_dir);
      for (auto& p : images) {
        files.push_back(std::move(p));
        all_labels.push_back(static_cast<int64_t>(c));
      }
    }
    if (!empty.empty())
      throw std::runtime_error("image-folder: no .jpg, .jpeg or .png images in class folder" +
                               std::string(empty.size() > 1 ? "s " : " ") + Join(empty, ", "));
    for (int64_t r : BalancedSubset(all_labels, num_classes(), spec_.limit)) {
      files_.push_back(files[r]);
      labels_.push_back(all_labels[r]);
    }
    channels_ = 3;
    const int64_t size = spec_.image_size > 0 ? spec_.image_size : 224;
    height_ = width_ = size;
    resize_ = spec_.resize > 0
                  ? spec_.resize
                  : (size == 224 ? 256 : static_cast<int64_t>(std::nearbyint(static_cast<double>(size) / 0.875)));
    augmenting_ = spec_.split == "train" && spec_.augment;
    hflip_ = spec_.hflip.value_or(d.hflip);
    norm_ = MakeNormalizer(spec_, d, channels_);
  }

  std::string source(int64_t i) const override { return files_.at(static_cast<size_t>(i)); }

  void Get(int64_t i, uint64_t seed, int64_t epoch, float* out) const override {
    Scratch& s = ThreadScratch();
    const std::string& path = files_.at(static_cast<size_t>(i));
    try {
      ReadFileInto(path, s.file);
      // A random crop needs only part of the image: JPEGs are decoded over that window (the same
      // pixels as a whole decode), and reduced as well with fastDecode.
      if ((augmenting_ || spec_.fast_decode) && IsJpeg(s.file.data(), s.file.size()) &&
          EndsWithEoi(s.file.data(), s.file.size()))
        return GetWindowed(i, seed, epoch, s, out);
      DecodeImage(s.file.data(), s.file.size(), s.image);
    } catch (const std::exception& e) {
      throw std::runtime_error("cannot decode image " + path + ": " + e.what());
    }
    const U8View image = U8View::Interleaved(s.image.pixels.data(), s.image.width, s.image.height, 3);
    if (augmenting_) {
      // RandomResizedCrop(size) then RandomHorizontalFlip().
      const SampleCrop c = DrawCrop(i, seed, epoch, image.width, image.height, false);
      const U8View resized =
          PillowBilinear::Resize(image.Crop(c.x, c.y, c.w, c.h), width_, height_, s.resize_tmp, s.resize_out);
      return EmitNormalized(resized, 0, 0, width_, height_, c.flip, norm_, out);
    }
    // Resize(resize) on the shorter side, then CenterCrop(size).
    int64_t rw = 0, rh = 0;
    ShorterSideSize(image.width, image.height, resize_, rw, rh);
    const U8View resized = PillowBilinear::Resize(image, rw, rh, s.resize_tmp, s.resize_out);
    EmitNormalized(resized, CenterCropOffset(rw, width_), CenterCropOffset(rh, height_), width_, height_, false, norm_,
                   out);
  }

 private:
  std::optional<SampleCrop> Crop(int64_t i, uint64_t seed, int64_t epoch) const override {
    if (!augmenting_) return std::nullopt;
    Scratch& s = ThreadScratch();
    const std::string& path = files_.at(static_cast<size_t>(i));
    int64_t w = 0, h = 0;
    bool reduced = false;
    try {
      ReadFileInto(path, s.file);
      if (IsJpeg(s.file.data(), s.file.size())) {
        JpegSize(s.file.data(), s.file.size(), w, h);
        reduced = spec_.fast_decode && EndsWithEoi(s.file.data(), s.file.size());
      } else {
        DecodeImage(s.file.data(), s.file.size(), s.image);
        w = s.image.width;
        h = s.image.height;
      }
    } catch (const std::exception& e) {
      throw std::runtime_error("cannot decode image " + path + ": " + e.what());
    }
    return DrawCrop(i, seed, epoch, w, h, reduced);
  }

  // RandomResizedCrop's box and RandomHorizontalFlip's coin for sample i of a w x h image, from the
  // sample's own generator; with `reduced`, the draft scale that keeps the crop >= the output.
  SampleCrop DrawCrop(int64_t i, uint64_t seed, int64_t epoch, int64_t w, int64_t h, bool reduced) const {
    Rng rng = SampleRng(seed, epoch, i);
    const CropBox box = RandomResizedCropBox(w, h, rng);
    SampleCrop crop{box.x, box.y, box.w, box.h, hflip_ && rng.Uniform() < 0.5, 1};
    if (reduced) crop.scale = DraftScale(box.w, box.h, width_, height_);
    return crop;
  }

  // A JPEG decoded only over the rows and columns the transform reads. Without fastDecode that is
  // the random crop at full scale, pixel for pixel what a whole decode gives. With fastDecode it is
  // what torchvision gives after PIL's Image.draft('RGB', size), with the same crop and flip as the
  // exact path (the same random numbers on the full-size image): the JPEG is decoded at the coarsest
  // DCT scale (1/2, 1/4, 1/8) that keeps the region the output is resampled from at least as large
  // as the output.
  void GetWindowed(int64_t i, uint64_t seed, int64_t epoch, Scratch& s, float* out) const {
    using Resampler = PillowBilinear;
    JpegWindow window;
    Resampler::Box box{};
    int64_t out_w = width_, out_h = height_, emit_x = 0, emit_y = 0, sw = 0, sh = 0;
    bool flip = false;
    // Everything below needs only the image's size, which the decoder reads first.
    auto plan = [&](int64_t w, int64_t h) {
      if (augmenting_) {
        // The crop is drawn on the full-size image, then mapped into the scaled one as a fractional
        // box: img.draft(...) then img.resize(size, box=crop / scale), as Pillow's own reduce path.
        const SampleCrop crop = DrawCrop(i, seed, epoch, w, h, spec_.fast_decode);
        flip = crop.flip;
        window.scale = crop.scale;
        const double d = window.scale;
        box = {crop.x / d, crop.y / d, (crop.x + crop.w) / d, (crop.y + crop.h) / d};
      } else {
        // Resize(resize) + CenterCrop(size) on the drafted image, sized from the drafted dimensions
        // as torchvision would see them.
        int64_t rw = 0, rh = 0;
        ShorterSideSize(w, h, resize_, rw, rh);
        window.scale = DraftScale(w, h, rw, rh);
        ShorterSideSize((w + window.scale - 1) / window.scale, (h + window.scale - 1) / window.scale, resize_, rw, rh);
        out_w = rw;
        out_h = rh;
        emit_x = CenterCropOffset(rw, width_);
        emit_y = CenterCropOffset(rh, height_);
      }
      sw = (w + window.scale - 1) / window.scale;
      sh = (h + window.scale - 1) / window.scale;
      if (!augmenting_) box = {0.0, 0.0, static_cast<double>(sw), static_cast<double>(sh)};
      // One pixel more on each side than the filter reads: libjpeg's fancy upsampling of a cropped
      // window treats the window's edge as the image's edge, which changes only the outermost pixels.
      int64_t fx0 = 0, fx1 = 0, fy0 = 0, fy1 = 0;
      if (augmenting_ && window.scale == 1) {  // the crop itself (see below)
        fx0 = static_cast<int64_t>(box.x0), fx1 = static_cast<int64_t>(box.x1);
        fy0 = static_cast<int64_t>(box.y0), fy1 = static_cast<int64_t>(box.y1);
      } else {
        Resampler::Footprint(sw, box.x0, box.x1, out_w, fx0, fx1);
        Resampler::Footprint(sh, box.y0, box.y1, out_h, fy0, fy1);
      }
      window.x0 = std::max<int64_t>(0, fx0 - 1);
      window.x1 = std::min(sw, fx1 + 1);
      window.y0 = std::max<int64_t>(0, fy0 - 1);
      window.y1 = std::min(sh, fy1 + 1);
      return std::optional<JpegWindow>(window);
    };
    JpegPlacement at;
    DecodeJpegPlanned(s.file.data(), s.file.size(), plan, &s.image, &at);
    if (at.scaled_w != sw || at.scaled_h != sh)
      throw std::logic_error("libjpeg scaled the image to " + std::to_string(at.scaled_w) + "x" +
                             std::to_string(at.scaled_h) + ", expected " + std::to_string(sw) + "x" +
                             std::to_string(sh));
    const U8View decoded = U8View::Interleaved(s.image.pixels.data(), s.image.width, s.image.height, 3);
    // At full scale the crop is whole pixels: crop, then resize, exactly as the exact path (a box
    // resize would let the filter read past the crop's edges).
    const U8View resized =
        augmenting_ && window.scale == 1
            ? Resampler::Resize(
                  decoded.Crop(static_cast<int64_t>(box.x0) - at.x0, static_cast<int64_t>(box.y0) - at.y0,
                               static_cast<int64_t>(box.x1 - box.x0), static_cast<int64_t>(box.y1 - box.y0)),
                  out_w, out_h, s.resize_tmp, s.resize_out)
            : Resampler::ResizeBox(decoded, {at.x0, at.y0, sw, sh}, box, out_w, out_h, s.resize_tmp, s.resize_out);
    EmitNormalized(resized, emit_x, emit_y, width_, height_, flip, norm_, out);
  }

  std::vector<std::string> files_;  // subset order
  int64_t resize_ = 256;
  bool hflip_ = true;
  Normalizer norm_;
};

// --- Synthetic: random images resident in memory (benchmarks) -----------------------------------

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

// --- Dataset -------------------------------------------------------------------------------------

std::shared_ptr<Dataset> Dataset::Open(const DataSpec& input) {
  DataSpec spec = input;
  if (spec.kind == "synthetic") {
    if (spec.limit < 0) throw RangeFailure("limit must be >= 0 (0 = all), got " + std::to_string(spec.limit));
    if (spec.image_size < 0)
      throw RangeFailure("image size must be >= 1 (0 = default), got " + std::to_string(spec.image_size));
    return std::make_shared<SyntheticDataset>(spec);
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
  return std::make_shared<FolderDataset>(spec, d);
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

std::vector<int64_t> ShardOf(const std::vector<int64_t>& order, const LoaderShard& s) {
  if (s.world <= 1) return order;
  const int64_t n = static_cast<int64_t>(order.size());
  const int64_t total = s.pad ? (n + s.world - 1) / s.world * s.world : n;
  std::vector<int64_t> out;
  out.reserve(static_cast<size_t>(total / s.world + 1));
  // Padding repeats the order from its start (DistributedSampler: indices += indices[:padding]).
  for (int64_t i = s.rank; i < total; i += s.world) out.push_back(order[static_cast<size_t>(n ? i % n : 0)]);
  return out;
}

// --- BatchLoader ---------------------------------------------------------------------------------

struct BatchLoader::Impl {
  std::string role = "training";
  std::shared_ptr<Dataset> dataset;
  int64_t batch_size = 1;
  bool shuffle = false, drop_last = false;
  uint64_t seed = 0;
  int workers = 1;
  int64_t prefetch = 4;
  int64_t per_epoch = 0;
  int64_t sample_floats = 0;
  bool pin_memory = false;
  LoaderShard shard;

  std::mutex mu;
  std::condition_variable work_cv;   // workers wait for a batch to claim
  std::condition_variable ready_cv;  // the consumer waits for its next batch
  bool closed = false, started = false;
  uint64_t generation = 0;                   // bumped by every StartEpoch; stale work is dropped
  std::atomic<uint64_t> live_generation{0};  // the same, for lock-free checks between samples
  std::atomic<bool> stopping{false};
  int64_t epoch = 0;
  std::shared_ptr<const std::vector<int64_t>> order;
  int64_t next_claim = 0, next_deliver = 0;
  struct Slot {
    Batch batch;
    std::exception_ptr error;
  };
  std::map<int64_t, Slot> ready;
  std::vector<std::thread> threads;

  // Image buffers handed out to batches, reused once every user of one has let go of it.
  std::mutex pool_mu;
  std::vector<torch::Tensor> pool;

  void StartLocked(int64_t e, int64_t start, std::shared_ptr<const std::vector<int64_t>> new_order) {
    ++generation;
    live_generation.store(generation);
    epoch = e;
    order = std::move(new_order);
    ready.clear();
    next_claim = next_deliver = start;
    started = true;
    work_cv.notify_all();
    ready_cv.notify_all();
  }

  std::shared_ptr<const std::vector<int64_t>> OrderFor(int64_t e) const {
    const int64_t n = dataset->size();
    std::vector<int64_t> order;
    if (shuffle) {
      order = EpochOrder(n, seed, e);
    } else {
      order.resize(static_cast<size_t>(n));
      std::iota(order.begin(), order.end(), int64_t{0});
    }
    return std::make_shared<const std::vector<int64_t>>(ShardOf(order, shard));
  }

  torch::Tensor AcquireImages(int64_t rows) {
    const auto full = std::vector<int64_t>{batch_size, dataset->channels(), dataset->height(), dataset->width()};
    if (pin_memory)
      return torch::empty({rows, full[1], full[2], full[3]}, torch::TensorOptions(torch::kFloat32).pinned_memory(true));
    if (!Levers().loader_buffer_pool.load(std::memory_order_relaxed))
      return torch::empty({rows, full[1], full[2], full[3]}, torch::kFloat32);
    torch::Tensor buffer;
    {
      std::lock_guard<std::mutex> lock(pool_mu);
      for (const auto& t : pool)
        // Free when the pool's handle is the only one on the tensor and its tensor the only one on
        // the storage (a consumer's view shares the storage, a copy of the handle the tensor).
        // Counts only drop while we look, and a release is an acq_rel decrement, so the last user's
        // accesses happen before our writes.
        if (t.use_count() == 1 && t.storage().use_count() == 1) {
          buffer = t;
          CountLeverUse(&LeverUses::loader_buffer_pool);
          break;
        }
      if (!buffer.defined()) {
        buffer = torch::empty(full, torch::kFloat32);
        // At most `prefetch` batches are in flight; +2 covers the batch the consumer holds and the one
        // it just released. Beyond that, buffers are not kept (their memory returns when released).
        if (static_cast<int64_t>(pool.size()) < prefetch + 2) pool.push_back(buffer);
      }
    }
    return rows == batch_size ? buffer : buffer.narrow(0, 0, rows);
  }

  // Fills batch b; false if it was abandoned (epoch restarted or loader closed) part way.
  bool Build(int64_t b, int64_t e, const std::vector<int64_t>& ord, uint64_t gen, Batch& out) {
    const int64_t begin = b * batch_size;
    const int64_t rows = std::min(batch_size, static_cast<int64_t>(ord.size()) - begin);
    torch::Tensor images = AcquireImages(rows);
    torch::Tensor labels = torch::empty({rows}, torch::TensorOptions(torch::kInt64).pinned_memory(pin_memory));
    float* pixels = images.data_ptr<float>();
    int64_t* label_data = labels.data_ptr<int64_t>();
    for (int64_t k = 0; k < rows; ++k) {
      if (stopping.load(std::memory_order_relaxed) || live_generation.load(std::memory_order_relaxed) != gen)
        return false;
      const int64_t index = ord[begin + k];
      dataset->Get(index, seed, e, pixels + k * sample_floats);
      label_data[k] = dataset->label(index);
    }
    out.images = std::move(images);
    out.labels = std::move(labels);
    out.index = b;
    return true;
  }

  void WorkerLoop() {
    std::unique_lock<std::mutex> lock(mu);
    for (;;) {
      work_cv.wait(
          lock, [&] { return closed || (started && next_claim < per_epoch && next_claim - next_deliver < prefetch); });
      if (closed) return;
      const int64_t b = next_claim++;
      const uint64_t gen = generation;
      const int64_t e = epoch;
      const auto ord = order;
      const std::string role_now = role;
      lock.unlock();
      Slot slot;
      bool complete = true;
      try {
        complete = Build(b, e, *ord, gen, slot.batch);
      } catch (const std::exception& err) {
        const std::string where = role_now == "training"
                                      ? "training batch " + std::to_string(b + 1) + " of epoch " + std::to_string(e + 1)
                                      : role_now + " batch " + std::to_string(b + 1);
        slot.error = std::make_exception_ptr(std::runtime_error(where + ": " + err.what()));
      } catch (...) {
        slot.error = std::current_exception();
      }
      lock.lock();
      if (complete && gen == generation && !closed) {
        ready.emplace(b, std::move(slot));
        ready_cv.notify_all();
      } else {
        lock.unlock();
        slot = Slot();  // drop tensors outside the lock
        lock.lock();
      }
    }
  }
};

void BatchLoader::SetRole(const std::string& role) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  impl_->role = role;
}

BatchLoader::BatchLoader(std::shared_ptr<Dataset> dataset, int64_t batch_size, bool shuffle, bool drop_last,
                         uint64_t seed, int workers, int prefetch, bool pin_memory, LoaderShard shard)
    : impl_(std::make_unique<Impl>()) {
  if (shard.world < 1 || shard.rank < 0 || shard.rank >= shard.world)
    throw RangeFailure("loader shard must have world >= 1 and rank in [0, world), got rank " +
                       std::to_string(shard.rank) + " of " + std::to_string(shard.world));
  if (!dataset) throw std::invalid_argument("BatchLoader needs a dataset");
  if (batch_size < 1) throw RangeFailure("batch size must be >= 1, got " + std::to_string(batch_size));
  if (workers < 0) throw RangeFailure("workers must be >= 0 (0 = automatic), got " + std::to_string(workers));
  if (prefetch < 1) throw RangeFailure("prefetch must be >= 1, got " + std::to_string(prefetch));
  Impl& s = *impl_;
  s.dataset = std::move(dataset);
  s.batch_size = batch_size;
  s.shuffle = shuffle;
  s.drop_last = drop_last;
  s.seed = seed;
  s.pin_memory = pin_memory;
  s.shard = shard;
  const int cores = std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
  // In-memory samples cost microseconds: one or two threads keep up with any model. Decoding files
  // is the expensive case and scales with threads.
  const bool decodes = s.dataset->spec().kind == "image-folder";
  s.workers = workers > 0 ? std::min(workers, 256) : (decodes ? std::min(cores, 8) : std::min(cores, 2));
  // Every worker may hold a batch in flight, so prefetch less than the workers would idle some.
  s.prefetch = std::max<int64_t>(prefetch, s.workers);
  // This rank's samples per epoch (all of them without a shard).
  const int64_t all = s.dataset->size(), w = shard.world;
  const int64_t n = w <= 1      ? all
                    : shard.pad ? (all + w - 1) / w
                                : (all > shard.rank ? (all - shard.rank + w - 1) / w : 0);
  s.per_epoch = drop_last ? n / batch_size : (n + batch_size - 1) / batch_size;
  s.sample_floats = s.dataset->channels() * s.dataset->height() * s.dataset->width();
  s.threads.reserve(static_cast<size_t>(s.workers));
  try {
    for (int i = 0; i < s.workers; ++i) s.threads.emplace_back([&s] { s.WorkerLoop(); });
  } catch (...) {
    Close();
    throw;
  }
}

BatchLoader::~BatchLoader() { Close(); }

int64_t BatchLoader::batches_per_epoch() const { return impl_->per_epoch; }
int64_t BatchLoader::batch_size() const { return impl_->batch_size; }
int BatchLoader::workers() const { return impl_->workers; }
const std::shared_ptr<Dataset>& BatchLoader::dataset() const { return impl_->dataset; }

void BatchLoader::StartEpoch(int64_t epoch, int64_t start_batch) {
  Impl& s = *impl_;
  if (epoch < 0) throw RangeFailure("epoch must be >= 0, got " + std::to_string(epoch));
  if (start_batch < 0 || start_batch > s.per_epoch)
    throw RangeFailure("start batch must be in [0, " + std::to_string(s.per_epoch) + "], got " +
                       std::to_string(start_batch));
  auto order = s.OrderFor(epoch);
  std::map<int64_t, Impl::Slot> stale;
  {
    std::lock_guard<std::mutex> lock(s.mu);
    if (s.closed) throw std::runtime_error("the data loader is closed");
    stale.swap(s.ready);  // freed after the lock is released
    s.StartLocked(epoch, start_batch, std::move(order));
  }
}

bool BatchLoader::Next(Batch& out) {
  Impl& s = *impl_;
  std::unique_lock<std::mutex> lock(s.mu);
  if (s.closed) throw std::runtime_error("the data loader is closed");
  if (!s.started) {
    lock.unlock();
    auto order = s.OrderFor(0);
    lock.lock();
    if (!s.started && !s.closed) s.StartLocked(0, 0, std::move(order));
  }
  s.ready_cv.wait(lock, [&] { return s.closed || s.next_deliver >= s.per_epoch || s.ready.count(s.next_deliver) > 0; });
  if (s.closed) throw std::runtime_error("the data loader is closed");
  if (s.next_deliver >= s.per_epoch) return false;
  auto node = s.ready.extract(s.next_deliver);
  ++s.next_deliver;
  s.work_cv.notify_all();
  lock.unlock();
  if (node.mapped().error) std::rethrow_exception(node.mapped().error);
  out = std::move(node.mapped().batch);
  return true;
}

void BatchLoader::Close() {
  Impl& s = *impl_;
  std::map<int64_t, Impl::Slot> stale;
  {
    std::lock_guard<std::mutex> lock(s.mu);
    s.closed = true;
    s.stopping.store(true);
    stale.swap(s.ready);
    s.work_cv.notify_all();
    s.ready_cv.notify_all();
  }
  for (auto& t : s.threads)
    if (t.joinable() && t.get_id() != std::this_thread::get_id()) t.join();
  s.threads.clear();
}

}  // namespace sgdr
