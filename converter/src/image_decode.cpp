// Calibration image decoding (image_decode.hpp). Every image is untrusted:
//   - PNG through libpng's simplified API and JPEG through libjpeg-turbo's
//     TurboJPEG API: both are maintained decoders fuzzed continuously
//     upstream. (Debian's stb_image 2.27 writes past a Huffman table on a
//     JPEG whose DHT segment declares more than 256 symbols, and lets a
//     170-byte PNG grow a zlib buffer to 2 GiB: both found by
//     fuzz_calib_image once stb was built with the sanitizers.)
//   - BMP through stb_image with only its BMP decoder compiled in, every
//     allocation it makes bounded by the declared picture, and every stbi_*
//     symbol kept inside this file (STB_IMAGE_STATIC), so it cannot clash with
//     libstb.so, which the tests link for stb_image_write.
// The file is read whole (at most kMaxFileBytes), its format recognized by its
// first bytes whatever its name, its size checked against the caller's limit
// before any pixel buffer exists, and the picture decoded to 8-bit RGB, then
// converted to the channels asked for.
// This file includes stb_image's implementation, so it is compiled without
// warnings (CMakeLists.txt); keep Quanta's own code here small.
#include "image_decode.hpp"

#include <png.h>
#include <sys/stat.h>
#include <turbojpeg.h>

#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>

namespace {

// The largest block stb's BMP decoder may allocate for the current image (0:
// no decode in progress). thread_local: calibration may decode on any thread.
thread_local size_t t_budget = 0;

void* bounded_malloc(size_t n) { return n <= t_budget ? std::malloc(n) : nullptr; }
void* bounded_realloc(void* p, size_t n) { return n <= t_budget ? std::realloc(p, n) : nullptr; }

}  // namespace

#define STB_IMAGE_STATIC
#define STB_IMAGE_IMPLEMENTATION
#define STBI_ONLY_BMP
#define STBI_NO_STDIO
#define STBI_MALLOC(n) bounded_malloc(n)
#define STBI_REALLOC(p, n) bounded_realloc(p, n)
#define STBI_FREE(p) std::free(p)
#include <stb_image.h>

namespace quanta::convert::detail {

namespace {

// An image file larger than this is refused before it is read: 256 MiB is far
// beyond an 8192 x 8192 picture in any of the three formats.
constexpr long long kMaxFileBytes = 256LL << 20;

enum class Format { kPng, kJpeg, kBmp, kOther };

Format sniff(const std::vector<uint8_t>& b) {
  static const uint8_t png[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  if (b.size() >= 8 && std::memcmp(b.data(), png, 8) == 0) return Format::kPng;
  if (b.size() >= 3 && b[0] == 0xFF && b[1] == 0xD8 && b[2] == 0xFF) return Format::kJpeg;
  if (b.size() >= 2 && b[0] == 'B' && b[1] == 'M') return Format::kBmp;
  return Format::kOther;
}

bool read_file(const std::string& path, std::vector<uint8_t>* bytes, std::string* why) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) {
    *why = "cannot read the file";
    return false;
  }
  if (st.st_size > kMaxFileBytes) {
    *why = "the file is larger than 256 MiB";
    return false;
  }
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> f(std::fopen(path.c_str(), "rb"), std::fclose);
  if (!f) {
    *why = "cannot open the file";
    return false;
  }
  bytes->resize(static_cast<size_t>(st.st_size));
  if (!bytes->empty() && std::fread(bytes->data(), 1, bytes->size(), f.get()) != bytes->size()) {
    *why = "cannot read the file";
    return false;
  }
  return true;
}

// ---- PNG (libpng simplified API)

struct PngImage {
  png_image img{};
  PngImage() { img.version = PNG_IMAGE_VERSION; }
  ~PngImage() { png_image_free(&img); }
  PngImage(const PngImage&) = delete;
  PngImage& operator=(const PngImage&) = delete;
};

bool png_begin(const std::vector<uint8_t>& b, PngImage* p, std::string* why) {
  if (png_image_begin_read_from_memory(&p->img, b.data(), b.size()) == 0) {
    *why = std::string("PNG: ") + p->img.message;
    return false;
  }
  return true;
}

// 8-bit files decode as 8-bit RGBA (alpha then dropped); 16-bit files as
// 16-bit linear RGB (libpng composites any alpha on black), then keep their
// high byte, so no gamma conversion changes their values.
bool png_decode(const std::vector<uint8_t>& b, int64_t max_pixels, int* w, int* h,
                std::vector<uint8_t>* rgb, std::string* why) {
  PngImage p;
  if (!png_begin(b, &p, why)) return false;
  *w = static_cast<int>(p.img.width);
  *h = static_cast<int>(p.img.height);
  const int64_t n = int64_t{p.img.width} * int64_t{p.img.height};
  if (n < 1 || n > max_pixels) return true;  // the caller reports the size
  const bool sixteen = (p.img.format & PNG_FORMAT_FLAG_LINEAR) != 0;
  p.img.format = sixteen ? PNG_FORMAT_LINEAR_RGB : PNG_FORMAT_RGBA;
  std::vector<uint8_t> buf(PNG_IMAGE_SIZE(p.img));
  if (png_image_finish_read(&p.img, nullptr, buf.data(), 0, nullptr) == 0) {
    *why = std::string("PNG: ") + p.img.message;
    return false;
  }
  rgb->resize(static_cast<size_t>(n) * 3);
  for (int64_t i = 0; i < n; ++i) {
    for (int c = 0; c < 3; ++c) {
      (*rgb)[static_cast<size_t>(i * 3 + c)] =
          sixteen ? static_cast<uint8_t>(reinterpret_cast<const uint16_t*>(buf.data())[i * 3 + c] >> 8)
                  : buf[static_cast<size_t>(i * 4 + c)];
    }
  }
  return true;
}

// ---- JPEG (TurboJPEG)

using TjHandle = std::unique_ptr<void, int (*)(tjhandle)>;

bool jpeg_header(const std::vector<uint8_t>& b, TjHandle* tj, int* w, int* h, std::string* why) {
  *tj = TjHandle(tjInitDecompress(), tjDestroy);
  if (!*tj) {
    *why = "JPEG: cannot start the decoder";
    return false;
  }
  int subsamp = 0, colorspace = 0;
  if (tjDecompressHeader3(tj->get(), b.data(), static_cast<unsigned long>(b.size()), w, h, &subsamp,
                          &colorspace) != 0) {
    *why = std::string("JPEG: ") + tjGetErrorStr2(tj->get());
    return false;
  }
  return true;
}

// Warnings (corrupt data the decoder would paper over) are errors, and a
// progressive file may have at most 500 scans.
bool jpeg_decode(const std::vector<uint8_t>& b, int64_t max_pixels, int* w, int* h,
                 std::vector<uint8_t>* rgb, std::string* why) {
  TjHandle tj(nullptr, tjDestroy);
  if (!jpeg_header(b, &tj, w, h, why)) return false;
  const int64_t n = int64_t{*w} * int64_t{*h};
  if (n < 1 || n > max_pixels) return true;
  rgb->resize(static_cast<size_t>(n) * 3);
  if (tjDecompress2(tj.get(), b.data(), static_cast<unsigned long>(b.size()), rgb->data(), *w, 0, *h,
                    TJPF_RGB, TJFLAG_STOPONWARNING | TJFLAG_LIMITSCANS) != 0) {
    *why = std::string("JPEG: ") + tjGetErrorStr2(tj.get());
    return false;
  }
  return true;
}

// ---- BMP (stb_image, BMP only)

// 1 MiB + 32 bytes per pixel: room for stb's palette and row buffers, and
// far below what a hostile header could otherwise ask for.
size_t bmp_budget(int w, int h) {
  return (size_t{1} << 20) + size_t{32} * static_cast<size_t>(w) * static_cast<size_t>(h);
}

struct Budget {
  explicit Budget(size_t n) { t_budget = n; }
  ~Budget() { t_budget = 0; }
  Budget(const Budget&) = delete;
  Budget& operator=(const Budget&) = delete;
};

std::string stb_reason() {
  const char* r = stbi_failure_reason();
  return std::string("BMP: ") + (r != nullptr ? r : "cannot decode");
}

bool bmp_header(const std::vector<uint8_t>& b, int* w, int* h, std::string* why) {
  Budget budget(size_t{1} << 20);
  int c = 0;
  if (b.size() > static_cast<size_t>(INT32_MAX) ||
      stbi_info_from_memory(b.data(), static_cast<int>(b.size()), w, h, &c) == 0) {
    *why = stb_reason();
    return false;
  }
  return true;
}

bool bmp_decode(const std::vector<uint8_t>& b, int64_t max_pixels, int* w, int* h,
                std::vector<uint8_t>* rgb, std::string* why) {
  if (!bmp_header(b, w, h, why)) return false;
  const int64_t n = int64_t{*w} * int64_t{*h};
  if (n < 1 || n > max_pixels) return true;
  Budget budget(bmp_budget(*w, *h));
  int in_file = 0;
  std::unique_ptr<stbi_uc, void (*)(void*)> px(
      stbi_load_from_memory(b.data(), static_cast<int>(b.size()), w, h, &in_file, 3), stbi_image_free);
  if (!px) {
    *why = stb_reason();
    return false;
  }
  rgb->assign(px.get(), px.get() + static_cast<size_t>(*w) * static_cast<size_t>(*h) * 3);
  return true;
}

bool load(const std::string& path, std::vector<uint8_t>* bytes, Format* format, std::string* why) {
  if (!read_file(path, bytes, why)) return false;
  *format = sniff(*bytes);
  if (*format == Format::kOther) {
    *why = "not a PNG, JPEG or BMP file";
    return false;
  }
  return true;
}

}  // namespace

bool read_image_header(const std::string& path, int* width, int* height, std::string* why) {
  std::vector<uint8_t> b;
  Format f = Format::kOther;
  if (!load(path, &b, &f, why)) return false;
  switch (f) {
    case Format::kPng: {
      PngImage p;
      if (!png_begin(b, &p, why)) return false;
      *width = static_cast<int>(p.img.width);
      *height = static_cast<int>(p.img.height);
      return true;
    }
    case Format::kJpeg: {
      TjHandle tj(nullptr, tjDestroy);
      return jpeg_header(b, &tj, width, height, why);
    }
    case Format::kBmp: return bmp_header(b, width, height, why);
    case Format::kOther: break;
  }
  return false;
}

bool decode_image(const std::string& path, int channels, int64_t max_pixels, int* width,
                  int* height, std::vector<uint8_t>* pixels, std::string* why) {
  std::vector<uint8_t> b;
  Format f = Format::kOther;
  if (!load(path, &b, &f, why)) return false;
  std::vector<uint8_t> rgb;
  *width = *height = 0;
  const bool ok = f == Format::kPng    ? png_decode(b, max_pixels, width, height, &rgb, why)
                  : f == Format::kJpeg ? jpeg_decode(b, max_pixels, width, height, &rgb, why)
                                       : bmp_decode(b, max_pixels, width, height, &rgb, why);
  if (!ok) return false;
  if (rgb.empty()) return true;  // the size is outside [1, max_pixels]: nothing decoded
  if (channels == 3) {
    *pixels = std::move(rgb);
    return true;
  }
  // Luma with stb_image's integer weights (they sum to 256, so gray stays gray).
  const size_t n = rgb.size() / 3;
  pixels->resize(n);
  for (size_t i = 0; i < n; ++i) {
    const unsigned r = rgb[i * 3], g = rgb[i * 3 + 1], bl = rgb[i * 3 + 2];
    (*pixels)[i] = static_cast<uint8_t>((r * 77 + g * 150 + bl * 29) >> 8);
  }
  return true;
}

}  // namespace quanta::convert::detail
