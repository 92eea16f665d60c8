// The non-template decoders of image_decode.h: whole JPEGs, JPEG sizes, PNG, and dispatch by content.
#include "data/image_decode.h"

#include <png.h>

namespace sgdr {
namespace data_detail {

// The whole image at full size.
void DecodeJpeg(const uint8_t* data, size_t size, RgbImage& out) {
  DecodeJpegPlanned(
      data, size, [](int64_t, int64_t) { return std::optional<JpegWindow>(JpegWindow{}); }, &out);
}

// The image's size from its header alone.
void JpegSize(const uint8_t* data, size_t size, int64_t& w, int64_t& h) {
  DecodeJpegPlanned(
      data, size,
      [&](int64_t width, int64_t height) {
        w = width;
        h = height;
        return std::optional<JpegWindow>();
      },
      nullptr);
}

struct PngReader {
  const uint8_t* data;
  size_t size;
  size_t pos;
  char message[256];
};

extern "C" {
inline void SgdrPngError(png_structp png, png_const_charp msg) {
  auto* reader = static_cast<PngReader*>(png_get_error_ptr(png));
  std::snprintf(reader->message, sizeof(reader->message), "%s", msg);
  png_longjmp(png, 1);
}

inline void SgdrPngWarning(png_structp, png_const_charp) {}

inline void SgdrPngRead(png_structp png, png_bytep out, png_size_t n) {
  auto* reader = static_cast<PngReader*>(png_get_io_ptr(png));
  if (reader->size - reader->pos < n) png_error(png, "premature end of file (truncated image)");
  std::memcpy(out, reader->data + reader->pos, n);
  reader->pos += n;
}
}

void DecodePng(const uint8_t* data, size_t size, RgbImage& out) {
  PngReader reader{data, size, 0, {0}};
  std::vector<png_bytep> rows;  // before setjmp: see the file comment
  png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &reader, SgdrPngError, SgdrPngWarning);
  if (!png) throw std::runtime_error("out of memory creating a PNG reader");
  png_infop info = png_create_info_struct(png);
  if (!info) {
    png_destroy_read_struct(&png, nullptr, nullptr);
    throw std::runtime_error("out of memory creating a PNG reader");
  }
  if (setjmp(png_jmpbuf(png))) {
    png_destroy_read_struct(&png, &info, nullptr);
    throw std::runtime_error(std::string("invalid PNG: ") + reader.message);
  }
  png_set_read_fn(png, &reader, SgdrPngRead);
  png_read_info(png, info);
  const int64_t w = png_get_image_width(png, info), h = png_get_image_height(png, info);
  if (w < 1 || h < 1 || w * h > kMaxPixels) {
    png_destroy_read_struct(&png, &info, nullptr);
    CheckDimensions(w, h);
  }
  const int color = png_get_color_type(png, info);
  const int depth = png_get_bit_depth(png, info);
  if (depth == 16) png_set_strip_16(png);                            // high byte, as PIL's RGB;16B / RGBA;16B raw modes
  if (color == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);  // tRNS is ignored: PIL's P->RGB
  if (color == PNG_COLOR_TYPE_GRAY && depth < 8) png_set_expand_gray_1_2_4_to_8(png);
  // Alpha is dropped, as PIL's convert('RGB') does; that includes the alpha channel that expanding
  // a palette adds for a tRNS chunk (palette images with transparency failed to decode before).
  if ((color & PNG_COLOR_MASK_ALPHA) || png_get_valid(png, info, PNG_INFO_tRNS)) png_set_strip_alpha(png);
  if (color == PNG_COLOR_TYPE_GRAY || color == PNG_COLOR_TYPE_GRAY_ALPHA) png_set_gray_to_rgb(png);
  png_set_interlace_handling(png);
  png_read_update_info(png, info);
  if (png_get_rowbytes(png, info) != static_cast<size_t>(w * 3))
    png_error(png, "unexpected row layout after conversion to RGB");
  out.width = w;
  out.height = h;
  out.pixels.resize(static_cast<size_t>(w * h * 3));
  rows.resize(static_cast<size_t>(h));
  for (int64_t y = 0; y < h; ++y) rows[y] = out.pixels.data() + y * w * 3;
  png_read_image(png, rows.data());
  png_read_end(png, nullptr);
  png_destroy_read_struct(&png, &info, nullptr);
}

void DecodeImage(const uint8_t* data, size_t size, RgbImage& out) {
  static const uint8_t kPng[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  if (IsJpeg(data, size)) return DecodeJpeg(data, size, out);
  if (size >= 8 && std::memcmp(data, kPng, 8) == 0) return DecodePng(data, size, out);
  if (size == 0) throw std::runtime_error("the file is empty");
  char head[64];
  std::snprintf(head, sizeof(head), "starts with 0x%02x 0x%02x", data[0], size > 1 ? data[1] : 0);
  throw std::runtime_error(std::string("not a JPEG or PNG image (") + head + ")");
}

}  // namespace data_detail
}  // namespace sgdr
