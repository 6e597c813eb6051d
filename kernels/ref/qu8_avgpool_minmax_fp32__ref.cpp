#include "quanta/kernels/ref.h"

namespace quanta::kernels {

// acc = sum of (x - zx) over the taps inside the input (padded taps add 0);
// count = kh * kw when count_include_pad, else the number of taps inside;
// y = requantize(acc, ratio / float(count), zy, r). A window with no counted
// tap (impossible with pads < kernel) uses count = 1, i.e. acc = 0 -> zy.
void qu8_avgpool_minmax_fp32__ref(const Pool2DParams& p, const uint8_t* x, int32_t zx, float ratio,
                                  int32_t zy, QRange r, uint8_t* y) {
  for (int64_t n = 0; n < p.n; ++n) {
    for (int64_t oy = 0; oy < p.oh; ++oy) {
      for (int64_t ox = 0; ox < p.ow; ++ox) {
        for (int64_t c = 0; c < p.c; ++c) {
          int32_t acc = 0;
          int64_t inside = 0;
          for (int64_t ky = 0; ky < p.kh; ++ky) {
            const int64_t iy = oy * p.stride_h - p.pad_top + ky * p.dil_h;
            if (iy < 0 || iy >= p.h) continue;
            for (int64_t kx = 0; kx < p.kw; ++kx) {
              const int64_t ix = ox * p.stride_w - p.pad_left + kx * p.dil_w;
              if (ix < 0 || ix >= p.w) continue;
              acc += x[((n * p.h + iy) * p.w + ix) * p.c + c] - zx;
              ++inside;
            }
          }
          int64_t count = p.count_include_pad ? int64_t{p.kh} * p.kw : inside;
          if (count == 0) count = 1;
          const float m = ratio / static_cast<float>(count);
          y[((n * p.oh + oy) * p.ow + ox) * p.c + c] = requantize(acc, m, zy, r.qmin, r.qmax);
        }
      }
    }
  }
}

}  // namespace quanta::kernels
