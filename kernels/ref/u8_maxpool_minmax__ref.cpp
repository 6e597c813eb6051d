#include "quanta/kernels/ref.h"

namespace quanta::kernels {

// Max over the taps inside the input (padded taps ignored), then clamped to
// [qmin, qmax]. The maximum starts at 0, so an all-padding window (rejected by
// the loader) would give qmin.
void u8_maxpool_minmax__ref(const Pool2DParams& p, const uint8_t* x, QRange r, uint8_t* y) {
  for (int64_t n = 0; n < p.n; ++n) {
    for (int64_t oy = 0; oy < p.oh; ++oy) {
      for (int64_t ox = 0; ox < p.ow; ++ox) {
        for (int64_t c = 0; c < p.c; ++c) {
          int32_t best = 0;
          for (int64_t ky = 0; ky < p.kh; ++ky) {
            const int64_t iy = oy * p.stride_h - p.pad_top + ky * p.dil_h;
            if (iy < 0 || iy >= p.h) continue;
            for (int64_t kx = 0; kx < p.kw; ++kx) {
              const int64_t ix = ox * p.stride_w - p.pad_left + kx * p.dil_w;
              if (ix < 0 || ix >= p.w) continue;
              best = std::max<int32_t>(best, x[((n * p.h + iy) * p.w + ix) * p.c + c]);
            }
          }
          const int32_t v = std::min(std::max(best, r.qmin), r.qmax);
          y[((n * p.oh + oy) * p.ow + ox) * p.c + c] = static_cast<uint8_t>(v);
        }
      }
    }
  }
}

}  // namespace quanta::kernels
