// stb_image (Debian's libstb-dev header, v2.27), compiled here rather than
// taken from libstb.so so that Quanta chooses its allocator and its formats:
//   - STBI_MALLOC / STBI_REALLOC refuse any block beyond the budget of the
//     image being decoded (fuzz_calib_image found a 170-byte PNG whose zlib
//     stream makes libstb grow its output buffer to 2 GiB);
//   - only PNG, JPEG and BMP are compiled in (the formats the converter
//     documents), whatever a file's extension says;
//   - STB_IMAGE_STATIC keeps every stbi_* symbol inside this file, so it
//     cannot clash with libstb.so, which tests link for stb_image_write.
// Third-party code: this file is compiled without warnings (CMakeLists.txt).
#include "image_decode.hpp"

#include <cstddef>
#include <cstdlib>
#include <memory>

namespace {

// The largest block the decoder may allocate for the current image (0: no
// decode in progress). thread_local: calibration may decode on any thread.
thread_local size_t t_budget = 0;

void* bounded_malloc(size_t n) { return n <= t_budget ? std::malloc(n) : nullptr; }
void* bounded_realloc(void* p, size_t n) { return n <= t_budget ? std::realloc(p, n) : nullptr; }

}  // namespace

#define STB_IMAGE_STATIC
#define STB_IMAGE_IMPLEMENTATION
#define STBI_ONLY_PNG
#define STBI_ONLY_JPEG
#define STBI_ONLY_BMP
#define STBI_MALLOC(n) bounded_malloc(n)
#define STBI_REALLOC(p, n) bounded_realloc(p, n)
#define STBI_FREE(p) std::free(p)
#include <stb_image.h>

namespace quanta::convert::detail {

namespace {

// Every block a legitimate decode of a w x h image needs, with room: 8 bytes
// per pixel and channel (16-bit samples, up to 4 channels in the file, and
// the doubling of stb's inflate buffer), plus 1 MiB for tables and headers.
size_t budget_for(int w, int h) {
  return (size_t{1} << 20) + size_t{8} * 4 * static_cast<size_t>(w) * static_cast<size_t>(h);
}

// Sets the budget for the duration of one call.
struct Budget {
  explicit Budget(size_t n) { t_budget = n; }
  ~Budget() { t_budget = 0; }
  Budget(const Budget&) = delete;
  Budget& operator=(const Budget&) = delete;
};

std::string reason() {
  const char* r = stbi_failure_reason();
  return r != nullptr ? r : "unknown error";
}

}  // namespace

bool read_image_header(const std::string& path, int* width, int* height, std::string* why) {
  Budget budget(size_t{1} << 20);  // headers only
  int c = 0;
  if (stbi_info(path.c_str(), width, height, &c) == 0) {
    *why = reason();
    return false;
  }
  return true;
}

bool decode_image(const std::string& path, int channels, int* width, int* height,
                  std::vector<uint8_t>* pixels, std::string* why) {
  int w = 0, h = 0;
  if (!read_image_header(path, &w, &h, why)) return false;
  Budget budget(budget_for(w, h));
  int in_file = 0;
  std::unique_ptr<stbi_uc, void (*)(void*)> px(stbi_load(path.c_str(), &w, &h, &in_file, channels),
                                              stbi_image_free);
  if (!px) {
    *why = reason();
    if (*why == "outofmem") *why = "out of memory: its data inflates past the picture its header declares";
    return false;
  }
  *width = w;
  *height = h;
  const size_t n = static_cast<size_t>(w) * static_cast<size_t>(h) * static_cast<size_t>(channels);
  pixels->assign(px.get(), px.get() + n);
  return true;
}

}  // namespace quanta::convert::detail
