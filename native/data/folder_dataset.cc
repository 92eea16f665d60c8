// ImageNet-style image folders (root/train/<class>/*.jpg|jpeg|png and root/val/...): listed at open
// in torchvision's order, decoded per sample with torchvision's transforms (RandomResizedCrop + flip
// when augmenting, Resize + CenterCrop otherwise); JPEGs decoded only over the window a crop reads.
#include <algorithm>
#include <cctype>
#include <cmath>
#include <filesystem>
#include <optional>
#include <set>
#include <stdexcept>

#include <sys/stat.h>

#include "data/dataset_kinds.h"
#include "data/file_formats.h"

namespace sgdr {
namespace data_detail {

namespace {

namespace fs = std::filesystem;

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

}  // namespace

std::shared_ptr<Dataset> OpenFolder(const DataSpec& spec, const KindDefaults& d) {
  return std::make_shared<FolderDataset>(spec, d);
}

}  // namespace data_detail
}  // namespace sgdr
