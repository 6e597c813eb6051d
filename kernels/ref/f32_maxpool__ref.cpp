#include <cmath>

#include "quanta/kernels/ref.h"

namespace quanta::kernels {

// Max over the taps inside the input; padded taps are ignored. The maximum
// starts at -inf (what an all-padding window would give; the loader rejects
// pads >= kernel). NaN taps are skipped by the comparison `v > best` (a window
// of only NaN gives -inf). The activation clamp is applied last.
void f32_maxpool__ref(const Pool2DParams& p, const float* x, FRange act, float* y) {
  for (int64_t n = 0; n < p.n; ++n) {
    for (int64_t oy = 0; oy < p.oh; ++oy) {
      for (int64_t ox = 0; ox < p.ow; ++ox) {
        for (int64_t c = 0; c < p.c; ++c) {
          float best = -INFINITY;
          for (int64_t ky = 0; ky < p.kh; ++ky) {
            const int64_t iy = oy * p.stride_h - p.pad_top + ky * p.dil_h;
            if (iy < 0 || iy >= p.h) continue;
            for (int64_t kx = 0; kx < p.kw; ++kx) {
              const int64_t ix = ox * p.stride_w - p.pad_left + kx * p.dil_w;
              if (ix < 0 || ix >= p.w) continue;
              const float v = x[((n * p.h + iy) * p.w + ix) * p.c + c];
              if (v > best) best = v;
            }
          }
          y[((n * p.oh + oy) * p.ow + ox) * p.c + c] = std::min(std::max(best, act.lo), act.hi);
        }
      }
    }
  }
}

}  // namespace quanta::kernels
