#include "quanta/kernels/ref.h"

namespace quanta::kernels {

// Sum of the taps inside the input, in (ky, kx) order, divided by the count:
// kh * kw when count_include_pad (padded taps add 0), otherwise the number of
// taps inside the input. A window with no counted tap gives 0 (never 0 / 0).
void f32_avgpool__ref(const Pool2DParams& p, const float* x, FRange act, float* y) {
  for (int64_t n = 0; n < p.n; ++n) {
    for (int64_t oy = 0; oy < p.oh; ++oy) {
      for (int64_t ox = 0; ox < p.ow; ++ox) {
        for (int64_t c = 0; c < p.c; ++c) {
          float sum = 0.f;
          int64_t inside = 0;
          for (int64_t ky = 0; ky < p.kh; ++ky) {
            const int64_t iy = oy * p.stride_h - p.pad_top + ky * p.dil_h;
            if (iy < 0 || iy >= p.h) continue;
            for (int64_t kx = 0; kx < p.kw; ++kx) {
              const int64_t ix = ox * p.stride_w - p.pad_left + kx * p.dil_w;
              if (ix < 0 || ix >= p.w) continue;
              sum += x[((n * p.h + iy) * p.w + ix) * p.c + c];
              ++inside;
            }
          }
          const int64_t count = p.count_include_pad ? int64_t{p.kh} * p.kw : inside;
          const float avg = count > 0 ? sum / static_cast<float>(count) : 0.f;
          y[((n * p.oh + oy) * p.ow + ox) * p.c + c] = std::min(std::max(avg, act.lo), act.hi);
        }
      }
    }
  }
}

}  // namespace quanta::kernels
