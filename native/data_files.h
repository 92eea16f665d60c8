// Reading the small datasets' files: whole files, gzip (zlib), IDX (MNIST/Fashion-MNIST) and CIFAR-10
// binary batches. Each check names the file and says what was expected. Included by data.cc only.
#pragma once

#include <zlib.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

namespace sgdr {
namespace data_detail {

// Reads a whole file into `out` (reused across calls by the loader threads).
inline void ReadFileInto(const std::string& path, std::vector<uint8_t>& out) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) throw std::runtime_error("cannot open " + path + ": " + std::strerror(errno));
  out.clear();
  uint8_t chunk[1 << 16];
  size_t n;
  while ((n = std::fread(chunk, 1, sizeof(chunk), f)) > 0) out.insert(out.end(), chunk, chunk + n);
  const bool failed = std::ferror(f) != 0;
  const int err = errno;
  std::fclose(f);
  if (failed) throw std::runtime_error("cannot read " + path + ": " + std::strerror(err));
}

inline std::vector<uint8_t> ReadFile(const std::string& path) {
  std::vector<uint8_t> out;
  ReadFileInto(path, out);
  return out;
}

inline bool IsGzip(const std::vector<uint8_t>& bytes) { return bytes.size() >= 2 && bytes[0] == 0x1f && bytes[1] == 0x8b; }

// Inflates a gzip file (concatenated members included); a truncated or corrupt stream is an error.
inline std::vector<uint8_t> Gunzip(const std::vector<uint8_t>& in, const std::string& path) {
  std::vector<uint8_t> out;
  // The trailer's ISIZE (size mod 2^32) is a good first guess for the output size.
  if (in.size() >= 18) {
    const size_t n = in.size();
    out.reserve(static_cast<size_t>(in[n - 4]) | static_cast<size_t>(in[n - 3]) << 8 |
                static_cast<size_t>(in[n - 2]) << 16 | static_cast<size_t>(in[n - 1]) << 24);
  }
  z_stream zs;
  std::memset(&zs, 0, sizeof(zs));
  if (inflateInit2(&zs, 15 + 16) != Z_OK) throw std::runtime_error("zlib: cannot initialize inflate for " + path);
  zs.next_in = const_cast<Bytef*>(in.data());
  zs.avail_in = static_cast<uInt>(in.size());
  uint8_t buffer[1 << 16];
  for (;;) {
    zs.next_out = buffer;
    zs.avail_out = sizeof(buffer);
    const int rc = inflate(&zs, Z_NO_FLUSH);
    out.insert(out.end(), buffer, buffer + (sizeof(buffer) - zs.avail_out));
    if (rc == Z_STREAM_END) {
      // Another gzip member may follow (gzip allows concatenation); trailing zeros are padding.
      size_t rest = zs.avail_in;
      const Bytef* p = zs.next_in;
      while (rest > 0 && *p == 0) ++p, --rest;
      if (rest == 0) break;
      inflateReset(&zs);
      zs.next_in = const_cast<Bytef*>(p);
      zs.avail_in = static_cast<uInt>(rest);
      continue;
    }
    if (rc == Z_OK) continue;
    if (rc == Z_BUF_ERROR && zs.avail_in == 0) {
      inflateEnd(&zs);
      throw std::runtime_error(path + " is a truncated gzip file (unexpected end of the compressed data after " +
                               std::to_string(out.size()) + " bytes)");
    }
    const std::string msg = zs.msg ? zs.msg : ("zlib error " + std::to_string(rc));
    inflateEnd(&zs);
    throw std::runtime_error(path + " is a corrupt gzip file (" + msg + ")");
  }
  inflateEnd(&zs);
  return out;
}

// The bytes of a file, gunzipped when it is gzip (detected by content, not by name).
inline std::vector<uint8_t> ReadMaybeGzip(const std::string& path) {
  std::vector<uint8_t> bytes = ReadFile(path);
  return IsGzip(bytes) ? Gunzip(bytes, path) : bytes;
}

// An IDX file of unsigned bytes: dims and data (header stripped).
struct IdxArray {
  std::vector<int64_t> dims;
  std::vector<uint8_t> data;
};

// Parses IDX (http://yann.lecun.com/exdb/mnist/): magic 0x00 0x00 0x08 <ndims>, big-endian int32
// dims, then the data. `ndims` is what the file must have (3 for images, 1 for labels).
inline IdxArray ParseIdx(std::vector<uint8_t> bytes, int ndims, const std::string& path) {
  const char* what = ndims == 3 ? "images" : "labels";
  char expected[16];
  std::snprintf(expected, sizeof(expected), "0x%08x", 0x800 + ndims);
  if (bytes.size() < 4) throw std::runtime_error(path + " is not an IDX file: only " + std::to_string(bytes.size()) + " bytes");
  const uint32_t magic = static_cast<uint32_t>(bytes[0]) << 24 | static_cast<uint32_t>(bytes[1]) << 16 |
                         static_cast<uint32_t>(bytes[2]) << 8 | bytes[3];
  if (magic != static_cast<uint32_t>(0x800 + ndims)) {
    char got[16];
    std::snprintf(got, sizeof(got), "0x%08x", magic);
    throw std::runtime_error(path + " is not an IDX " + what + " file: bad magic number " + got + " (expected " + expected + ")");
  }
  const size_t header = 4 + 4 * static_cast<size_t>(ndims);
  if (bytes.size() < header)
    throw std::runtime_error(path + " is truncated: " + std::to_string(bytes.size()) + " bytes, shorter than its " +
                             std::to_string(header) + "-byte IDX header");
  IdxArray out;
  int64_t count = 1;
  std::string shape;
  for (int d = 0; d < ndims; ++d) {
    const uint8_t* p = bytes.data() + 4 + 4 * d;
    const int64_t v = static_cast<int64_t>(static_cast<uint32_t>(p[0]) << 24 | static_cast<uint32_t>(p[1]) << 16 |
                                           static_cast<uint32_t>(p[2]) << 8 | p[3]);
    out.dims.push_back(v);
    count *= v;
    shape += (d ? "x" : "") + std::to_string(v);
  }
  if (static_cast<int64_t>(bytes.size() - header) != count)
    throw std::runtime_error(path + ": size mismatch: the IDX header says " + shape + " (" + std::to_string(count) +
                             " bytes of data) but the file has " + std::to_string(bytes.size() - header));
  bytes.erase(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(header));
  out.data = std::move(bytes);
  return out;
}

// CIFAR-10 binary batch: records of 1 label byte + 3072 pixel bytes (1024 R, 1024 G, 1024 B, rows of 32).
constexpr int64_t kCifarSide = 32;
constexpr int64_t kCifarPixels = 3 * kCifarSide * kCifarSide;
constexpr int64_t kCifarRecord = 1 + kCifarPixels;

// Appends a batch file's labels and planar images.
inline void ReadCifarBatch(const std::string& path, std::vector<int64_t>& labels, std::vector<uint8_t>& pixels) {
  const std::vector<uint8_t> bytes = ReadFile(path);
  if (bytes.empty() || bytes.size() % kCifarRecord != 0)
    throw std::runtime_error(path + " has " + std::to_string(bytes.size()) +
                             " bytes, not a positive multiple of 3073 (a CIFAR-10 record is 1 label byte + 3072 pixel "
                             "bytes; a full batch is 30730000 bytes)");
  const int64_t n = static_cast<int64_t>(bytes.size()) / kCifarRecord;
  pixels.reserve(pixels.size() + static_cast<size_t>(n * kCifarPixels));
  for (int64_t i = 0; i < n; ++i) {
    const uint8_t* rec = bytes.data() + i * kCifarRecord;
    labels.push_back(rec[0]);
    pixels.insert(pixels.end(), rec + 1, rec + kCifarRecord);
  }
}

}  // namespace data_detail
}  // namespace sgdr
