// JPEG (libjpeg-turbo) and PNG (libpng) decoding to 8-bit RGB, the way torchvision's ImageFolder
// loader sees images (PIL's Image.open(...).convert('RGB')): grayscale is replicated, alpha and
// palette transparency are dropped (not composited), 16-bit samples keep their high byte, CMYK is
// converted the way PIL does (image_decode.cc). The JPEG decoder is a template over the caller's
// plan (a random crop drawn once the size is known), so it stays in this header.
//
// Both libraries report fatal errors through longjmp. Every object with a destructor that the
// decoders use is created before setjmp and lives in the same frame, so a longjmp never skips a
// destructor; the error then leaves as a C++ exception.
#pragma once

#include <cstdio>  // jpeglib.h needs FILE
#include <algorithm>
#include <csetjmp>
#include <cstdint>
#include <cstring>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <jerror.h>
#include <jpeglib.h>

namespace sgdr {
namespace data_detail {

// An interleaved 8-bit RGB image.
struct RgbImage {
  int64_t width = 0, height = 0;
  std::vector<uint8_t> pixels;  // [height][width][3]
};

// Decoded images larger than this are refused rather than exhausting memory: a header can claim
// 65535 x 65535, and a PNG of 16384 x 16384 zeros is under a megabyte. 2^26 pixels (8192 x 8192,
// 192 MiB of RGB; a 50-megapixel photo fits) per image, decoded by several loader threads at once.
constexpr int64_t kMaxPixels = int64_t{1} << 26;
// libjpeg's whole-image buffers (a progressive JPEG's coefficients: up to 6 bytes a pixel) are
// capped too; past this it fails cleanly ("backing store not supported") instead of allocating.
constexpr long kJpegMaxMemory = 512L << 20;

inline void CheckDimensions(int64_t w, int64_t h) {
  if (w < 1 || h < 1)
    throw std::runtime_error("image has no pixels (" + std::to_string(w) + "x" + std::to_string(h) + ")");
  if (w * h > kMaxPixels)
    throw std::runtime_error("image of " + std::to_string(w) + "x" + std::to_string(h) +
                             " pixels is too large (at most " + std::to_string(kMaxPixels) + " pixels)");
}

struct JpegErrorManager {
  jpeg_error_mgr mgr;
  jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
  bool truncated;
};

extern "C" {
inline void SgdrJpegErrorExit(j_common_ptr cinfo) {
  auto* err = reinterpret_cast<JpegErrorManager*>(cinfo->err);
  (*cinfo->err->format_message)(cinfo, err->message);
  longjmp(err->jump, 1);
}

// Warnings are not printed to stderr. Most (e.g. extraneous bytes before a marker) leave a usable
// image and PIL accepts them; a premature end of file leaves gray rows, which PIL refuses as a
// truncated image, so that one fails the decode.
inline void SgdrJpegMessage(j_common_ptr cinfo, int level) {
  if (level < 0) {
    auto* err = reinterpret_cast<JpegErrorManager*>(cinfo->err);
    if (cinfo->err->msg_code == JWRN_JPEG_EOF) err->truncated = true;
    cinfo->err->num_warnings++;
  }
}
}

// What part of a JPEG to decode, and at which scale. The default is the whole image at full size.
// A reduced decode (PIL's Image.draft) uses libjpeg's DCT scaling: the image comes out as
// ceil(w / scale) x ceil(h / scale), scale in {1, 2, 4, 8}, for a fraction of the IDCT and colour
// work. Only rows [y0, y1) and columns [x0, x1) of that scaled image are needed; libjpeg-turbo then
// skips the IDCT of the other columns and stops after the last row (the entropy data of skipped rows
// above the window must still be read).
struct JpegWindow {
  int scale = 1;
  int64_t x0 = 0, x1 = -1, y0 = 0, y1 = -1;  // -1: to the edge
};

// Where the decoded pixels sit in the scaled image: `out` holds columns [x0, x0 + out.width) and rows
// [y0, y0 + out.height) of a scaled image of scaled_w x scaled_h. x0 may be left of the requested
// x0 (libjpeg-turbo widens the window to whole iMCUs).
struct JpegPlacement {
  int64_t x0 = 0, y0 = 0, scaled_w = 0, scaled_h = 0;
};

inline bool IsJpeg(const uint8_t* data, size_t size) {
  return size >= 3 && data[0] == 0xff && data[1] == 0xd8 && data[2] == 0xff;
}

// Whether the file ends with the end-of-image marker (trailing zero padding allowed). Only such files
// take a windowed decode: a decode that stops early would not notice a truncated file, which PIL
// refuses, so the others are decoded whole and fail the way they do without the window.
inline bool EndsWithEoi(const uint8_t* data, size_t size) {
  while (size > 2 && data[size - 1] == 0) --size;
  return size >= 4 && data[size - 2] == 0xff && data[size - 1] == 0xd9;
}

// Reads the header, asks plan(width, height) for the window to decode (std::nullopt: nothing, the
// header was all the caller wanted), then decodes that window into *out. The plan runs once the size
// is known, so a random crop can be drawn and the window fitted to it with one header parse.
template <class Plan>
void DecodeJpegPlanned(const uint8_t* data, size_t size, Plan&& plan, RgbImage* out,
                       JpegPlacement* placement = nullptr) {
  jpeg_decompress_struct cinfo;
  JpegErrorManager err;
  std::vector<uint8_t> cmyk_row;  // before setjmp: see the file comment
  std::optional<JpegWindow> planned;
  std::memset(&err, 0, sizeof(err));
  cinfo.err = jpeg_std_error(&err.mgr);
  err.mgr.error_exit = SgdrJpegErrorExit;
  err.mgr.emit_message = SgdrJpegMessage;
  if (setjmp(err.jump)) {
    jpeg_destroy_decompress(&cinfo);
    throw std::runtime_error(std::string("invalid JPEG: ") + err.message);
  }
  jpeg_create_decompress(&cinfo);
  cinfo.mem->max_memory_to_use = kJpegMaxMemory;
  jpeg_mem_src(&cinfo, const_cast<unsigned char*>(data), static_cast<unsigned long>(size));
  jpeg_read_header(&cinfo, TRUE);
  if (cinfo.image_width < 1 || cinfo.image_height < 1 ||
      int64_t{cinfo.image_width} * int64_t{cinfo.image_height} > kMaxPixels) {
    const int64_t w = cinfo.image_width, h = cinfo.image_height;
    jpeg_destroy_decompress(&cinfo);
    CheckDimensions(w, h);
  }
  try {
    planned = plan(static_cast<int64_t>(cinfo.image_width), static_cast<int64_t>(cinfo.image_height));
  } catch (...) {
    jpeg_destroy_decompress(&cinfo);
    throw;
  }
  if (!planned) {
    jpeg_destroy_decompress(&cinfo);
    return;
  }
  const JpegWindow& window = *planned;
  const bool cmyk = cinfo.jpeg_color_space == JCS_CMYK || cinfo.jpeg_color_space == JCS_YCCK;
  cinfo.out_color_space = cmyk ? JCS_CMYK : JCS_RGB;
  // PIL's defaults: accurate integer IDCT, fancy upsampling (libjpeg's own defaults as well). PIL's
  // draft() sets scale_num 1 / scale_denom N and keeps both.
  cinfo.dct_method = JDCT_ISLOW;
  cinfo.scale_num = 1;
  cinfo.scale_denom = static_cast<unsigned int>(window.scale);
  jpeg_start_decompress(&cinfo);
  const int64_t sw = cinfo.output_width, sh = cinfo.output_height;
  const int64_t want_x0 = std::max<int64_t>(0, window.x0), want_y0 = std::max<int64_t>(0, window.y0);
  const int64_t want_x1 = window.x1 < 0 ? sw : std::min(window.x1, sw);
  const int64_t want_y1 = window.y1 < 0 ? sh : std::min(window.y1, sh);
  if (want_x1 <= want_x0 || want_y1 <= want_y0) {
    jpeg_destroy_decompress(&cinfo);
    throw std::runtime_error("empty decode window [" + std::to_string(want_x0) + ", " + std::to_string(want_x1) +
                             ") x [" + std::to_string(want_y0) + ", " + std::to_string(want_y1) + ") of a " +
                             std::to_string(sw) + "x" + std::to_string(sh) + " image");
  }
#ifdef LIBJPEG_TURBO_VERSION  // libjpeg-turbo >= 1.5 (every current distribution and conda)
  JDIMENSION x0 = static_cast<JDIMENSION>(want_x0), width = static_cast<JDIMENSION>(want_x1 - want_x0);
  if (x0 > 0 || width < sw) jpeg_crop_scanline(&cinfo, &x0, &width);
  if (want_y0 > 0) jpeg_skip_scanlines(&cinfo, static_cast<JDIMENSION>(want_y0));
#else  // IJG's libjpeg has neither call: whole rows, decoded from the top; the same pixels, slower
  const JDIMENSION x0 = 0;
  cmyk_row.resize(static_cast<size_t>(sw * cinfo.output_components));
  for (int64_t y = 0; y < want_y0; ++y) {
    JSAMPROW row = cmyk_row.data();
    jpeg_read_scanlines(&cinfo, &row, 1);
  }
#endif
  const int64_t w = cinfo.output_width;  // the cropped width
  const int64_t h = want_y1 - want_y0;
  out->width = w;
  out->height = h;
  out->pixels.resize(static_cast<size_t>(w * h * 3));
  if (cmyk) cmyk_row.resize(static_cast<size_t>(w * 4));
  for (int64_t y = 0; y < h; ++y) {
    uint8_t* dst = out->pixels.data() + y * w * 3;
    JSAMPROW row = cmyk ? cmyk_row.data() : dst;
    jpeg_read_scanlines(&cinfo, &row, 1);
    if (cmyk) {
      // Adobe writes inverted CMYK (PIL reads it as "CMYK;I"); PIL's CMYK->RGB is then
      // R = (255 - K) - (C * (255 - K)) / 255 with its rounded MULDIV255.
      const bool inverted = cinfo.saw_Adobe_marker;
      for (int64_t x = 0; x < w; ++x) {
        const uint8_t* s = cmyk_row.data() + x * 4;
        const int k = inverted ? 255 - s[3] : s[3];
        const int nk = 255 - k;
        for (int ch = 0; ch < 3; ++ch) {
          const int v = inverted ? 255 - s[ch] : s[ch];
          const int t = v * nk + 128;
          const int r = nk - (((t >> 8) + t) >> 8);
          dst[x * 3 + ch] = static_cast<uint8_t>(r < 0 ? 0 : r > 255 ? 255 : r);
        }
      }
    }
  }
  // A window that ends above the last row stops there (jpeg_finish_decompress would insist on the
  // rest); the whole image is finished so a truncated file is noticed.
  if (cinfo.output_scanline < cinfo.output_height) {
    jpeg_abort_decompress(&cinfo);
  } else {
    jpeg_finish_decompress(&cinfo);
  }
  const bool truncated = err.truncated;
  jpeg_destroy_decompress(&cinfo);
  if (truncated) throw std::runtime_error("invalid JPEG: premature end of file (truncated image)");
  if (placement) *placement = {static_cast<int64_t>(x0), want_y0, sw, sh};
}

// The whole image at full size.
void DecodeJpeg(const uint8_t* data, size_t size, RgbImage& out);

// The image's size from its header alone.
void JpegSize(const uint8_t* data, size_t size, int64_t& w, int64_t& h);

// PIL's Image.draft scale for a region of w x h that must stay at least need_w x need_h: the largest
// of 8, 4, 2, 1 not above min(w // need_w, h // need_h).
inline int DraftScale(int64_t w, int64_t h, int64_t need_w, int64_t need_h) {
  const int64_t room = std::min(w / std::max<int64_t>(1, need_w), h / std::max<int64_t>(1, need_h));
  for (int s : {8, 4, 2})
    if (room >= s) return s;
  return 1;
}

// A PNG, converted to RGB as PIL's convert('RGB') does.
void DecodePng(const uint8_t* data, size_t size, RgbImage& out);

// Decodes by content (ImageNet has PNGs named .JPEG), not by file name.
void DecodeImage(const uint8_t* data, size_t size, RgbImage& out);

}  // namespace data_detail
}  // namespace sgdr
