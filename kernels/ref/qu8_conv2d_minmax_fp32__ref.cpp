#include "quanta/kernels/ref.h"

namespace quanta::kernels {

// Direct convolution, NHWC input, OHWI filter, one multiplier per output
// channel (multiplier[cout]). Padded taps read x_q = zx. bias_folded == nullptr
// means 0. The sum is formed in int64 and converted to int32 (modulo 2^32, the
// same bytes as an int32 accumulator that wraps); the caller guarantees the
// bound of docs/design.md §1 so that no wrap happens in practice.
void qu8_conv2d_minmax_fp32__ref(const Conv2DParams& p, const uint8_t* x, int32_t zx,
                                 const int8_t* w, const int32_t* bias_folded,
                                 const float* multiplier, int32_t zy, QRange r, uint8_t* y) {
  const int64_t cin_g = p.cin / p.groups;
  const int64_t cout_g = p.cout / p.groups;
  for (int64_t n = 0; n < p.n; ++n) {
    for (int64_t oy = 0; oy < p.oh; ++oy) {
      for (int64_t ox = 0; ox < p.ow; ++ox) {
        uint8_t* y_pixel = y + ((n * p.oh + oy) * p.ow + ox) * p.cout;
        for (int64_t co = 0; co < p.cout; ++co) {
          const int64_t g = co / cout_g;
          int64_t acc = bias_folded != nullptr ? bias_folded[co] : 0;
          for (int64_t ky = 0; ky < p.kh; ++ky) {
            const int64_t iy = oy * p.stride_h - p.pad_top + ky * p.dil_h;
            const bool row_inside = iy >= 0 && iy < p.h;
            for (int64_t kx = 0; kx < p.kw; ++kx) {
              const int64_t ix = ox * p.stride_w - p.pad_left + kx * p.dil_w;
              const bool inside = row_inside && ix >= 0 && ix < p.w;
              const int8_t* w_tap = w + ((co * p.kh + ky) * p.kw + kx) * cin_g;
              if (inside) {
                const uint8_t* x_tap = x + ((n * p.h + iy) * p.w + ix) * p.cin + g * cin_g;
                for (int64_t ci = 0; ci < cin_g; ++ci) {
                  acc += static_cast<int64_t>(x_tap[ci]) * w_tap[ci];
                }
              } else {
                for (int64_t ci = 0; ci < cin_g; ++ci) acc += static_cast<int64_t>(zx) * w_tap[ci];
              }
            }
          }
          y_pixel[co] = requantize(static_cast<int32_t>(acc), multiplier[co], zy, r.qmin, r.qmax);
        }
      }
    }
  }
}

}  // namespace quanta::kernels
