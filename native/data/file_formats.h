// Reading the small datasets' files: whole files, gzip (zlib), IDX (MNIST/Fashion-MNIST) and CIFAR-10
// binary batches. Each check names the file and says what was expected (file_formats.cc).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace sgdr {
namespace data_detail {

// Reads a whole file into `out` (reused across calls by the loader threads).
void ReadFileInto(const std::string& path, std::vector<uint8_t>& out);

// The whole file.
std::vector<uint8_t> ReadFile(const std::string& path);

// An IDX file of unsigned bytes: dims and data (header stripped).
struct IdxArray {
  std::vector<int64_t> dims;
  std::vector<uint8_t> data;
};

// What an IDX file may declare. The loader holds a data set in memory (plus 24 bytes of indices
// per example), so the header is checked before anything is inflated or allocated:
//   - at most kIdxMaxItems examples (MNIST has 70,000; MNIST8M 8.1 million) of at most
//     kIdxMaxSide x kIdxMaxSide pixels;
//   - a raw file must be exactly its header plus the data the header declares;
//   - a gzipped one may inflate to at most kGzipFloor + kGzipRatio x its own size. A decompression
//     bomb declares its size honestly (4 MB of gzip can hold 4 GiB of zeros), so the size alone is
//     no bound; real IDX files compress 2-5x.
constexpr int64_t kIdxMaxItems = int64_t{1} << 24;
constexpr int64_t kIdxMaxSide = 1024;
constexpr uint64_t kGzipFloor = uint64_t{64} << 20;
constexpr uint64_t kGzipRatio = 16;

// Reads an IDX file (http://yann.lecun.com/exdb/mnist/), raw or gzipped (by content): magic
// 0x00 0x00 0x08 <ndims>, big-endian int32 dims, then the data. `ndims` is what the file must have
// (3 for images, 1 for labels). Every error names the file.
IdxArray ReadIdx(const std::string& path, int ndims);

// CIFAR-10 binary batch: records of 1 label byte + 3072 pixel bytes (1024 R, 1024 G, 1024 B, rows of 32).
constexpr int64_t kCifarSide = 32;
constexpr int64_t kCifarPixels = 3 * kCifarSide * kCifarSide;
constexpr int64_t kCifarRecord = 1 + kCifarPixels;

// Appends a batch file's labels and planar images.
void ReadCifarBatch(const std::string& path, std::vector<int64_t>& labels, std::vector<uint8_t>& pixels);

}  // namespace data_detail
}  // namespace sgdr
