// The dataset file readers declared in file_formats.h.
#include "data/file_formats.h"

#include <zlib.h>

#include <cerrno>
#include <cstdio>
#include <algorithm>
#include <cstring>
#include <memory>
#include <stdexcept>

namespace sgdr {
namespace data_detail {

void ReadFileInto(const std::string& path, std::vector<uint8_t>& out) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) throw std::runtime_error("cannot open " + path + ": " + std::strerror(errno));
  out.clear();
  // The size first when the file has one, so the buffer is allocated once (not grown to 2x).
  if (std::fseek(f, 0, SEEK_END) == 0) {
    const long size = std::ftell(f);
    if (size > 0) {
      try {
        out.reserve(static_cast<size_t>(size));
      } catch (const std::exception&) {
        std::fclose(f);
        throw std::runtime_error("cannot read " + path + ": no memory for its " + std::to_string(size) + " bytes");
      }
    }
    std::rewind(f);
  }
  uint8_t chunk[1 << 16];
  size_t n;
  while ((n = std::fread(chunk, 1, sizeof(chunk), f)) > 0) out.insert(out.end(), chunk, chunk + n);
  const bool failed = std::ferror(f) != 0;
  const int err = errno;
  std::fclose(f);
  if (failed) throw std::runtime_error("cannot read " + path + ": " + std::strerror(err));
}

std::vector<uint8_t> ReadFile(const std::string& path) {
  std::vector<uint8_t> out;
  ReadFileInto(path, out);
  return out;
}

namespace {

bool IsGzip(const std::vector<uint8_t>& bytes) { return bytes.size() >= 2 && bytes[0] == 0x1f && bytes[1] == 0x8b; }

// Inflates a gzip file (concatenated members included; zero padding after the last member is
// ignored) on demand, so a caller can read a header, check it, and then inflate only what the
// header declares. A truncated or corrupt stream is an error naming the file.
class GzipReader {
 public:
  GzipReader(const std::vector<uint8_t>& in, const std::string& path) : in_(in), path_(path) {
    std::memset(&zs_, 0, sizeof(zs_));
    if (inflateInit2(&zs_, 15 + 16) != Z_OK) throw std::runtime_error("zlib: cannot initialize inflate for " + path);
    Feed(0);
  }
  ~GzipReader() { inflateEnd(&zs_); }
  GzipReader(const GzipReader&) = delete;
  GzipReader& operator=(const GzipReader&) = delete;

  // Inflates up to n bytes into dst; returns fewer only at the end of the data.
  size_t Read(uint8_t* dst, size_t n) {
    size_t got = 0;
    while (got < n && !done_) {
      if (zs_.avail_in == 0 && fed_ < in_.size()) Feed(fed_);
      const size_t want = std::min<size_t>(n - got, size_t{1} << 30);
      zs_.next_out = dst + got;
      zs_.avail_out = static_cast<uInt>(want);
      const int rc = inflate(&zs_, Z_NO_FLUSH);
      const size_t made = want - zs_.avail_out;
      got += made;
      produced_ += made;
      if (rc == Z_STREAM_END) {
        NextMember();
        continue;
      }
      if (rc == Z_OK) continue;
      if (rc == Z_BUF_ERROR && zs_.avail_in == 0) {
        if (fed_ < in_.size()) continue;
        throw std::runtime_error(path_ + " is a truncated gzip file (unexpected end of the compressed data after " +
                                 std::to_string(produced_) + " bytes)");
      }
      throw std::runtime_error(path_ + " is a corrupt gzip file (" +
                               (zs_.msg ? std::string(zs_.msg) : "zlib error " + std::to_string(rc)) + ")");
    }
    return got;
  }

  uint64_t produced() const { return produced_; }

 private:
  // Hands zlib the input from byte `at` on, at most 1 GiB at a time (avail_in is 32-bit).
  void Feed(size_t at) {
    const size_t n = std::min<size_t>(in_.size() - at, size_t{1} << 30);
    zs_.next_in = const_cast<Bytef*>(in_.data() + at);
    zs_.avail_in = static_cast<uInt>(n);
    fed_ = at + n;
  }

  // After a member's end: another member may follow (gzip allows concatenation); zeros are padding.
  void NextMember() {
    size_t at = fed_ - zs_.avail_in;
    while (at < in_.size() && in_[at] == 0) ++at;
    if (at == in_.size()) {
      done_ = true;
      return;
    }
    inflateReset(&zs_);
    Feed(at);
  }

  const std::vector<uint8_t>& in_;
  const std::string& path_;
  z_stream zs_;
  size_t fed_ = 0;
  uint64_t produced_ = 0;
  bool done_ = false;
};

}  // namespace

IdxArray ReadIdx(const std::string& path, int ndims) {
  const char* what = ndims == 3 ? "images" : "labels";
  std::vector<uint8_t> file = ReadFile(path);
  const bool gz = IsGzip(file);
  std::unique_ptr<GzipReader> reader;
  if (gz) reader = std::make_unique<GzipReader>(file, path);
  // The header: straight from the file, or the first bytes inflated.
  const size_t header = 4 + 4 * static_cast<size_t>(ndims);
  uint8_t head[16] = {0};
  size_t have = gz ? reader->Read(head, 4) : std::min<size_t>(file.size(), 4);
  if (!gz) std::memcpy(head, file.data(), have);
  if (have < 4) throw std::runtime_error(path + " is not an IDX file: only " + std::to_string(have) + " bytes");
  const uint32_t magic = static_cast<uint32_t>(head[0]) << 24 | static_cast<uint32_t>(head[1]) << 16 |
                         static_cast<uint32_t>(head[2]) << 8 | head[3];
  if (magic != static_cast<uint32_t>(0x800 + ndims)) {
    char got[16], expected[16];
    std::snprintf(got, sizeof(got), "0x%08x", magic);
    std::snprintf(expected, sizeof(expected), "0x%08x", 0x800 + ndims);
    throw std::runtime_error(path + " is not an IDX " + what + " file: bad magic number " + got + " (expected " +
                             expected + ")");
  }
  if (gz) {
    have += reader->Read(head + 4, header - 4);
  } else {
    have = std::min(file.size(), header);
    std::memcpy(head, file.data(), have);
  }
  if (have < header)
    throw std::runtime_error(path + " is truncated: " + std::to_string(have) + " bytes, shorter than its " +
                             std::to_string(header) + "-byte IDX header");
  IdxArray out;
  std::string shape;
  for (int d = 0; d < ndims; ++d) {
    const uint8_t* p = head + 4 + 4 * d;
    const int64_t v = static_cast<int64_t>(static_cast<uint32_t>(p[0]) << 24 | static_cast<uint32_t>(p[1]) << 16 |
                                           static_cast<uint32_t>(p[2]) << 8 | p[3]);
    out.dims.push_back(v);
    shape += (d ? "x" : "") + std::to_string(v);
  }
  // Plausible before anything is multiplied: then the product cannot overflow.
  if (out.dims[0] > kIdxMaxItems)
    throw std::runtime_error(path + ": the IDX header says " + shape + ", " + std::to_string(out.dims[0]) + " " + what +
                             ", more than this loader holds (at most " + std::to_string(kIdxMaxItems) + ")");
  if (ndims == 3) {
    if (out.dims[1] != out.dims[2] || out.dims[1] < 1)
      throw std::runtime_error(path + ": images of " + std::to_string(out.dims[1]) + "x" + std::to_string(out.dims[2]) +
                               " are not square");
    if (out.dims[1] > kIdxMaxSide)
      throw std::runtime_error(path + ": the IDX header says images of " + std::to_string(out.dims[1]) + "x" +
                               std::to_string(out.dims[2]) + " pixels, more than this loader takes (at most " +
                               std::to_string(kIdxMaxSide) + "x" + std::to_string(kIdxMaxSide) + ")");
  }
  int64_t count = 1;
  for (int64_t v : out.dims) count *= v;
  const std::string declared = "the IDX header says " + shape + " (" + std::to_string(count) + " bytes of data)";
  if (!gz) {
    if (static_cast<int64_t>(file.size() - header) != count)
      throw std::runtime_error(path + ": size mismatch: " + declared + " but the file has " +
                               std::to_string(file.size() - header));
    file.erase(file.begin(), file.begin() + static_cast<std::ptrdiff_t>(header));
    out.data = std::move(file);
    return out;
  }
  const uint64_t limit = kGzipFloor + kGzipRatio * static_cast<uint64_t>(file.size());
  if (static_cast<uint64_t>(count) + header > limit)
    throw std::runtime_error(path + ": " + declared + ", more than a gzip file of " + std::to_string(file.size()) +
                             " bytes may inflate to here (" + std::to_string(kGzipRatio) + "x its size + " +
                             std::to_string(kGzipFloor >> 20) +
                             " MiB, a guard against decompression bombs; real IDX files "
                             "compress 2-5x)");
  try {
    out.data.resize(static_cast<size_t>(count));
  } catch (const std::exception&) {
    throw std::runtime_error(path + ": " + declared + ", and there is no memory for it");
  }
  const size_t got = reader->Read(out.data.data(), static_cast<size_t>(count));
  if (static_cast<int64_t>(got) != count)
    throw std::runtime_error(path + ": size mismatch: " + declared + " but the file has " + std::to_string(got));
  // One byte more: trailing data is an error, and reading on checks the gzip trailer (CRC, size).
  uint8_t extra;
  if (reader->Read(&extra, 1) > 0)
    throw std::runtime_error(path + ": size mismatch: " + declared + " but the file has more");
  return out;
}

void ReadCifarBatch(const std::string& path, std::vector<int64_t>& labels, std::vector<uint8_t>& pixels) {
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
