// Fashion-MNIST and MNIST: the four IDX files (optionally gzipped) in the folder or in torchvision's
// download layout, read whole into memory.
#include <filesystem>
#include <stdexcept>

#include "data/dataset_kinds.h"
#include "data/file_formats.h"

namespace sgdr {
namespace data_detail {

namespace {

namespace fs = std::filesystem;

const char* const kFashionClasses[] = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                       "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};
const char* const kMnistClasses[] = {"0 - zero", "1 - one", "2 - two",   "3 - three", "4 - four",
                                     "5 - five", "6 - six", "7 - seven", "8 - eight", "9 - nine"};

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

}  // namespace

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
  return InMemoryDataset(spec, d, std::move(images.data), std::move(all_labels), 1, images.dims[1], std::move(names),
                         std::vector<SourceFile>{{0, images_path}}, std::vector<SourceFile>{{0, labels_path}});
}

}  // namespace data_detail
}  // namespace sgdr
