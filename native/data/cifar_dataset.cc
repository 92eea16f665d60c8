// CIFAR-10's binary version: data_batch_1..5.bin (train) and test_batch.bin (val), in the folder or
// its cifar-10-batches-bin subfolder, read whole into memory; class names from batches.meta.txt.
#include <filesystem>
#include <iterator>
#include <stdexcept>

#include "data/dataset_kinds.h"
#include "data/file_formats.h"

namespace sgdr {
namespace data_detail {

namespace {

const char* const kCifarClasses[] = {"airplane", "automobile", "bird",  "cat",  "deer",
                                     "dog",      "frog",       "horse", "ship", "truck"};

}  // namespace

namespace fs = std::filesystem;

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
  return InMemoryDataset(spec, d, std::move(pixels), std::move(labels), 3, kCifarSide, std::move(names),
                         std::move(sources));
}

}  // namespace data_detail
}  // namespace sgdr
