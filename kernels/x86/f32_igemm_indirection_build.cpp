// Indirection table for the fp32 implicit-GEMM convolution
// (f32_igemm_minmax__avx2_6x16). Scalar, runs on any CPU, at prepare.
//
// One int64 per (output pixel, tap): table[((n*oh + oy)*ow + ox) * kh*kw + ky*kw + kx]
// is the offset, in floats from the start of x, of the input pixel that tap
// reads (channel 0), i.e. ((n*h + iy)*w + ix) * cin, or -1 when the tap falls
// in the padding (the kernel then reads its zero buffer). Offsets instead of
// pointers so the table does not depend on where x lives at run time.
#include "quanta/kernels/x86.h"

namespace quanta::kernels {

size_t f32_igemm_indirection_count(const Conv2DParams& p) {
  if (p.n <= 0 || p.oh <= 0 || p.ow <= 0 || p.kh <= 0 || p.kw <= 0) return 0;
  return static_cast<size_t>(p.n) * static_cast<size_t>(p.oh) * static_cast<size_t>(p.ow) *
         static_cast<size_t>(p.kh) * static_cast<size_t>(p.kw);
}

void f32_igemm_indirection_build(const Conv2DParams& p, int64_t* table) {
  if (f32_igemm_indirection_count(p) == 0) return;
  int64_t* out = table;
  for (int64_t n = 0; n < p.n; ++n) {
    for (int64_t oy = 0; oy < p.oh; ++oy) {
      for (int64_t ox = 0; ox < p.ow; ++ox) {
        for (int64_t ky = 0; ky < p.kh; ++ky) {
          const int64_t iy = oy * p.stride_h - p.pad_top + ky * p.dil_h;
          for (int64_t kx = 0; kx < p.kw; ++kx) {
            const int64_t ix = ox * p.stride_w - p.pad_left + kx * p.dil_w;
            const bool inside = iy >= 0 && iy < p.h && ix >= 0 && ix < p.w;
            *out++ = inside ? ((n * p.h + iy) * p.w + ix) * p.cin : int64_t{-1};
          }
        }
      }
    }
  }
}

}  // namespace quanta::kernels
