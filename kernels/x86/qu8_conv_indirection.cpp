// Indirection table for the indirect-GEMM convolution kernels (x86.h):
// for every output pixel of one image and every tap, the byte offset of the
// input pixel the tap reads, relative to the image's first byte, or -1 for a
// padded tap (the kernel then reads the packed zero-point buffer).
// Scalar C++, no ISA flags: built once at prepare.
#include <limits>

#include "quanta/kernels/x86.h"

namespace quanta::kernels {

size_t qu8_conv_indirection_size(const Conv2DParams& p) {
  if (p.oh <= 0 || p.ow <= 0 || p.kh <= 0 || p.kw <= 0) return 0;
  return static_cast<size_t>(p.oh) * static_cast<size_t>(p.ow) * static_cast<size_t>(p.kh) *
         static_cast<size_t>(p.kw);
}

bool qu8_conv_indirection_build(const Conv2DParams& p, int32_t* table) {
  if (p.oh <= 0 || p.ow <= 0 || p.kh <= 0 || p.kw <= 0 || p.h <= 0 || p.w <= 0 || p.cin <= 0)
    return false;
  const int64_t image_bytes = int64_t{p.h} * p.w * p.cin;
  if (image_bytes > std::numeric_limits<int32_t>::max()) return false;
  int32_t* out = table;
  for (int64_t oy = 0; oy < p.oh; ++oy) {
    for (int64_t ox = 0; ox < p.ow; ++ox) {
      for (int64_t ky = 0; ky < p.kh; ++ky) {
        const int64_t iy = oy * p.stride_h - p.pad_top + ky * p.dil_h;
        for (int64_t kx = 0; kx < p.kw; ++kx) {
          const int64_t ix = ox * p.stride_w - p.pad_left + kx * p.dil_w;
          const bool inside = iy >= 0 && iy < p.h && ix >= 0 && ix < p.w;
          *out++ = inside ? static_cast<int32_t>((iy * p.w + ix) * p.cin) : int32_t{-1};
        }
      }
    }
  }
  return true;
}

}  // namespace quanta::kernels
