// The torchvision transforms the data layer needs, on 8-bit images with plain loops (no LibTorch ops,
// so loader threads never compete with LibTorch's compute threads): Resize (Pillow's exact bilinear
// resampling), CenterCrop, RandomResizedCrop's parameters, padded RandomCrop, horizontal flip, and
// ToTensor+Normalize into float32 CHW. Included by data.cc only.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <vector>

#include "data/random.h"

namespace sgdr {
namespace data_detail {

// A read-only 8-bit image with arbitrary strides: pixel (x, y) channel c is at
// data[y * ys + x * xs + c * cs]. Covers interleaved HWC (decoded files) and planar CHW (IDX/CIFAR).
struct U8View {
  const uint8_t* data = nullptr;
  int64_t width = 0, height = 0, channels = 0;
  int64_t xs = 0, ys = 0, cs = 0;

  static U8View Interleaved(const uint8_t* data, int64_t w, int64_t h, int64_t c) {
    return {data, w, h, c, c, w * c, 1};
  }
  static U8View Planar(const uint8_t* data, int64_t w, int64_t h, int64_t c) { return {data, w, h, c, 1, w, w * h}; }
  U8View Crop(int64_t x0, int64_t y0, int64_t w, int64_t h) const {
    return {data + y0 * ys + x0 * xs, w, h, channels, xs, ys, cs};
  }
  uint8_t at(int64_t x, int64_t y, int64_t c) const { return data[y * ys + x * xs + c * cs]; }
};

// Pillow's resampling (libImaging/Resample.c, 8 bits per channel), reproduced exactly so a resized
// image matches torchvision's Resize on a PIL image: a triangle filter widened by the downscale
// factor (antialiasing), coefficients normalized then fixed-point with 22 fraction bits, a
// horizontal pass rounded to 8 bits, then a vertical pass.
class PillowBilinear {
 public:
  static constexpr int kPrecisionBits = 32 - 8 - 2;

  // Resizes `src` to out_w x out_h; the result is interleaved and lives in `out` unless no pass was
  // needed (then it is `src` itself). `tmp` holds the horizontal pass. Both buffers are reused.
  static U8View Resize(const U8View& src, int64_t out_w, int64_t out_h, std::vector<uint8_t>& tmp,
                       std::vector<uint8_t>& out) {
    return ResizeBox(src, {0, 0, src.width, src.height},
                     {0.0, 0.0, static_cast<double>(src.width), static_cast<double>(src.height)}, out_w, out_h, tmp,
                     out);
  }

  // Where `src` sits: it holds columns [x0, x0 + src.width) and rows [y0, y0 + src.height) of a
  // full_w x full_h image (a decoded window of it).
  struct Window {
    int64_t x0, y0, full_w, full_h;
  };
  struct Box {
    double x0, y0, x1, y1;
  };

  // Pillow's image.resize((out_w, out_h), BILINEAR, box=box) of the full image, computed from the
  // window `src` of it, which must hold every pixel the filter reads (std::logic_error otherwise).
  static U8View ResizeBox(const U8View& src, const Window& at, const Box& box, int64_t out_w, int64_t out_h,
                          std::vector<uint8_t>& tmp, std::vector<uint8_t>& out) {
    // Pillow skips a pass only when it would be the identity: same size and the box the whole axis.
    const bool horizontal = out_w != at.full_w || box.x0 != 0.0 || box.x1 != static_cast<double>(at.full_w);
    const bool vertical = out_h != at.full_h || box.y0 != 0.0 || box.y1 != static_cast<double>(at.full_h);
    U8View cur = src;
    const int64_t c = src.channels;
    if (horizontal) {
      const Coefficients k = Precompute(at.full_w, box.x0, box.x1, out_w, at.x0, src.width);
      tmp.resize(static_cast<size_t>(out_w * src.height * c));
      const bool rgb = c == 3 && src.xs == 3 && src.cs == 1;
      for (int64_t y = 0; y < src.height; ++y) {
        const uint8_t* row = src.data + y * src.ys;
        uint8_t* dst = tmp.data() + y * out_w * c;
        if (rgb) {
          // Interleaved RGB (decoded files, the hot case): the three channels' sums advance together.
          // Integer sums do not depend on their order, so this equals Pillow's loop bit for bit.
          for (int64_t x = 0; x < out_w; ++x) {
            const int32_t* w = &k.weights[x * k.ksize];
            const uint8_t* p = row + k.first[x] * 3;
            int32_t s0 = int32_t{1} << (kPrecisionBits - 1), s1 = s0, s2 = s0;
            for (int64_t i = 0, n = k.count[x]; i < n; ++i, p += 3) {
              const int32_t wi = w[i];
              s0 += static_cast<int32_t>(p[0]) * wi;
              s1 += static_cast<int32_t>(p[1]) * wi;
              s2 += static_cast<int32_t>(p[2]) * wi;
            }
            dst[x * 3] = Clip8(s0);
            dst[x * 3 + 1] = Clip8(s1);
            dst[x * 3 + 2] = Clip8(s2);
          }
          continue;
        }
        for (int64_t x = 0; x < out_w; ++x) {
          const int32_t* w = &k.weights[x * k.ksize];
          const int64_t n = k.count[x];
          const uint8_t* first = row + k.first[x] * src.xs;
          for (int64_t ch = 0; ch < c; ++ch) {
            const uint8_t* p = first + ch * src.cs;
            int32_t ss = int32_t{1} << (kPrecisionBits - 1);  // int32 as Pillow: taps sum to ~2^22
            for (int64_t i = 0; i < n; ++i) ss += static_cast<int32_t>(p[i * src.xs]) * w[i];
            dst[x * c + ch] = Clip8(ss);
          }
        }
      }
      cur = U8View::Interleaved(tmp.data(), out_w, src.height, c);
    } else if (at.x0 != 0 || src.width != at.full_w) {
      throw std::logic_error("resize window lacks columns the box needs");
    }
    if (vertical) {
      const Coefficients k = Precompute(at.full_h, box.y0, box.y1, out_h, at.y0, src.height);
      out.resize(static_cast<size_t>(out_w * out_h * c));
      std::vector<int32_t>& acc = Accumulator();
      acc.resize(static_cast<size_t>(out_w * c));
      const bool interleaved = cur.xs == c && cur.cs == 1;
      for (int64_t y = 0; y < out_h; ++y) {
        // Row by row: the same sums as Pillow's per-pixel loop, in a cache-friendly order.
        std::fill(acc.begin(), acc.end(), int32_t{1} << (kPrecisionBits - 1));
        const int32_t* w = &k.weights[y * k.ksize];
        for (int64_t i = 0; i < k.count[y]; ++i) {
          const uint8_t* row = cur.data + (k.first[y] + i) * cur.ys;
          const int32_t wi = w[i];
          if (interleaved) {
            for (int64_t j = 0; j < out_w * c; ++j) acc[j] += static_cast<int32_t>(row[j]) * wi;
          } else {
            for (int64_t x = 0; x < out_w; ++x)
              for (int64_t ch = 0; ch < c; ++ch)
                acc[x * c + ch] += static_cast<int32_t>(row[x * cur.xs + ch * cur.cs]) * wi;
          }
        }
        uint8_t* dst = out.data() + y * out_w * c;
        for (int64_t j = 0; j < out_w * c; ++j) dst[j] = Clip8(acc[j]);
      }
      return U8View::Interleaved(out.data(), out_w, out_h, c);
    }
    if (at.y0 != 0 || src.height != at.full_h) throw std::logic_error("resize window lacks rows the box needs");
    return cur;
  }

  // The source pixels [first, last) along one axis that resizing box [in0, in1) of an axis of in_size
  // to out_size reads, so a decoder can produce just those.
  static void Footprint(int64_t in_size, double in0, double in1, int64_t out_size, int64_t& first, int64_t& last) {
    const Coefficients k = Precompute(in_size, in0, in1, out_size, 0, in_size);
    first = in_size;
    last = 0;
    for (int64_t i = 0; i < out_size; ++i) {
      if (k.count[i] == 0) continue;
      first = std::min(first, k.first[i]);
      last = std::max(last, k.first[i] + k.count[i]);
    }
    if (last <= first) first = last = 0;
  }

 private:
  struct Coefficients {
    int64_t ksize = 0;
    std::vector<int64_t> first, count;
    std::vector<int32_t> weights;  // [out_size][ksize]
  };

  static std::vector<int32_t>& Accumulator() {
    thread_local std::vector<int32_t> acc;
    return acc;
  }

  static uint8_t Clip8(int32_t ss) {
    const int32_t v = ss >> kPrecisionBits;  // arithmetic shift, as Pillow's clip8 table lookup
    return static_cast<uint8_t>(v < 0 ? 0 : v > 255 ? 255 : v);
  }

  static double Triangle(double x) {
    x = std::fabs(x);
    return x < 1.0 ? 1.0 - x : 0.0;
  }

  // precompute_coeffs() + normalize_coeffs_8bpc() for box [in0, in1) of an axis of in_size; `first`
  // is then shifted by -offset into a window of `window` pixels, which must hold every tap.
  static Coefficients Precompute(int64_t in_size, double in0, double in1, int64_t out_size, int64_t offset,
                                 int64_t window) {
    Coefficients k;
    const double scale = (in1 - in0) / static_cast<double>(out_size);
    const double filterscale = scale < 1.0 ? 1.0 : scale;
    const double support = 1.0 * filterscale;
    k.ksize = static_cast<int64_t>(std::ceil(support)) * 2 + 1;
    k.first.resize(out_size);
    k.count.resize(out_size);
    k.weights.assign(static_cast<size_t>(out_size * k.ksize), 0);
    std::vector<double> w(static_cast<size_t>(k.ksize));
    for (int64_t xx = 0; xx < out_size; ++xx) {
      const double center = in0 + (static_cast<double>(xx) + 0.5) * scale;
      const double ss = 1.0 / filterscale;
      int64_t xmin = static_cast<int64_t>(center - support + 0.5);  // C's truncating cast, as Pillow
      if (xmin < 0) xmin = 0;
      int64_t xmax = static_cast<int64_t>(center + support + 0.5);
      if (xmax > in_size) xmax = in_size;
      xmax -= xmin;
      double ww = 0.0;
      for (int64_t x = 0; x < xmax; ++x) {
        w[x] = Triangle((static_cast<double>(x + xmin) - center + 0.5) * ss);
        ww += w[x];
      }
      for (int64_t x = 0; x < xmax; ++x) {
        const double v = ww != 0.0 ? w[x] / ww : w[x];
        const double scaled = v * static_cast<double>(int64_t{1} << kPrecisionBits);
        k.weights[xx * k.ksize + x] = static_cast<int32_t>(v < 0 ? -0.5 + scaled : 0.5 + scaled);
      }
      k.first[xx] = xmin - offset;
      k.count[xx] = xmax;
      if (xmax > 0 && (xmin < offset || xmin + xmax > offset + window))
        throw std::logic_error("resize window lacks pixels the filter reads");
    }
    return k;
  }
};

// ToTensor + Normalize as lookup tables: value v of channel c becomes (v / 255 - mean) / std, computed
// in float32 in the same order as torchvision, so results are bit-identical to it.
class Normalizer {
 public:
  Normalizer() = default;
  Normalizer(const std::vector<float>& mean, const std::vector<float>& std, int64_t channels) {
    lut_.resize(static_cast<size_t>(channels * 256));
    for (int64_t c = 0; c < channels; ++c) {
      const float m = mean.size() == 1 ? mean[0] : mean[c];
      const float s = std.size() == 1 ? std[0] : std[c];
      for (int v = 0; v < 256; ++v) lut_[c * 256 + v] = (static_cast<float>(v) / 255.0f - m) / s;
    }
  }
  const float* channel(int64_t c) const { return lut_.data() + c * 256; }

 private:
  std::vector<float> lut_;
};

// Writes out[c][y][x] = normalized src(x0 + x', y0 + y, c) for an out_w x out_h window, where
// x' = out_w - 1 - x when flipped (the window is flipped after cropping, as torchvision's
// crop-then-flip). Pixels outside the source are zero padding (value 0 before normalization).
inline void EmitNormalized(const U8View& src, int64_t x0, int64_t y0, int64_t out_w, int64_t out_h, bool flip,
                           const Normalizer& norm, float* out) {
  for (int64_t c = 0; c < src.channels; ++c) {
    const float* lut = norm.channel(c);
    for (int64_t y = 0; y < out_h; ++y) {
      float* row = out + (c * out_h + y) * out_w;
      const int64_t sy = y0 + y;
      if (sy < 0 || sy >= src.height) {
        std::fill(row, row + out_w, lut[0]);
        continue;
      }
      const uint8_t* srow = src.data + sy * src.ys + c * src.cs;
      for (int64_t x = 0; x < out_w; ++x) {
        const int64_t sx = x0 + (flip ? out_w - 1 - x : x);
        row[x] = (sx < 0 || sx >= src.width) ? lut[0] : lut[srow[sx * src.xs]];
      }
    }
  }
}

// Python's round() of d / 2 (halves to even), as torchvision's center crop offset.
inline int64_t HalfRoundEven(int64_t d) {
  const int64_t q = d / 2;
  return (d % 2 == 0 || q % 2 == 0) ? q : q + 1;
}

// torchvision CenterCrop's offset along one axis: zero padding splits (crop - size) // 2 before when
// the image is smaller, else round((size - crop) / 2).
inline int64_t CenterCropOffset(int64_t size, int64_t crop) {
  return crop > size ? -((crop - size) / 2) : HalfRoundEven(size - crop);
}

// torchvision Resize(int): the shorter side becomes `target`, the longer int(target * long / short).
inline void ShorterSideSize(int64_t w, int64_t h, int64_t target, int64_t& out_w, int64_t& out_h) {
  const int64_t shorter = std::min(w, h), longer = std::max(w, h);
  const int64_t other = static_cast<int64_t>(static_cast<double>(target * longer) / static_cast<double>(shorter));
  if (w <= h) {
    out_w = target;
    out_h = other;
  } else {
    out_h = target;
    out_w = other;
  }
}

struct CropBox {
  int64_t x = 0, y = 0, w = 0, h = 0;
};

// RandomResizedCrop.get_params (torchvision), with our generator: up to 10 tries of an area fraction
// uniform in [scale_lo, scale_hi] and a log-uniform aspect ratio, then the central-crop fallback.
inline CropBox RandomResizedCropBox(int64_t width, int64_t height, Rng& rng, double scale_lo = 0.08,
                                    double scale_hi = 1.0, double ratio_lo = 3.0 / 4.0, double ratio_hi = 4.0 / 3.0) {
  const double area = static_cast<double>(width) * static_cast<double>(height);
  const double log_lo = std::log(ratio_lo), log_hi = std::log(ratio_hi);
  for (int attempt = 0; attempt < 10; ++attempt) {
    const double target_area = area * rng.Uniform(scale_lo, scale_hi);
    const double aspect = std::exp(rng.Uniform(log_lo, log_hi));
    const int64_t w = static_cast<int64_t>(std::nearbyint(std::sqrt(target_area * aspect)));
    const int64_t h = static_cast<int64_t>(std::nearbyint(std::sqrt(target_area / aspect)));
    if (w > 0 && w <= width && h > 0 && h <= height) {
      const int64_t y = static_cast<int64_t>(rng.Below(static_cast<uint64_t>(height - h + 1)));
      const int64_t x = static_cast<int64_t>(rng.Below(static_cast<uint64_t>(width - w + 1)));
      return {x, y, w, h};
    }
  }
  const double in_ratio = static_cast<double>(width) / static_cast<double>(height);
  int64_t w = width, h = height;
  if (in_ratio < ratio_lo) {
    h = static_cast<int64_t>(std::nearbyint(static_cast<double>(w) / ratio_lo));
  } else if (in_ratio > ratio_hi) {
    w = static_cast<int64_t>(std::nearbyint(static_cast<double>(h) * ratio_hi));
  }
  return {(width - w) / 2, (height - h) / 2, w, h};
}

}  // namespace data_detail
}  // namespace sgdr
