#include "quanta/kernels/ref.h"

namespace quanta::kernels {

// Direct convolution, NHWC input, OHWI filter. For each output value the taps
// are summed in (ky, kx, ci) order starting from 0; the bias is added after the
// sum, then the activation clamp min(max(v, lo), hi) (NaN propagates).
void f32_conv2d__ref(const Conv2DParams& p, const float* x, const float* w, const float* bias,
                     FRange act, float* y) {
  const int64_t cin_g = p.cin / p.groups;
  const int64_t cout_g = p.cout / p.groups;
  for (int64_t n = 0; n < p.n; ++n) {
    for (int64_t oy = 0; oy < p.oh; ++oy) {
      for (int64_t ox = 0; ox < p.ow; ++ox) {
        float* y_pixel = y + ((n * p.oh + oy) * p.ow + ox) * p.cout;
        for (int64_t co = 0; co < p.cout; ++co) {
          const int64_t g = co / cout_g;
          float sum = 0.f;
          for (int64_t ky = 0; ky < p.kh; ++ky) {
            const int64_t iy = oy * p.stride_h - p.pad_top + ky * p.dil_h;
            if (iy < 0 || iy >= p.h) continue;  // padded tap reads 0
            for (int64_t kx = 0; kx < p.kw; ++kx) {
              const int64_t ix = ox * p.stride_w - p.pad_left + kx * p.dil_w;
              if (ix < 0 || ix >= p.w) continue;
              const float* x_tap = x + ((n * p.h + iy) * p.w + ix) * p.cin + g * cin_g;
              const float* w_tap = w + ((co * p.kh + ky) * p.kw + kx) * cin_g;
              for (int64_t ci = 0; ci < cin_g; ++ci) sum += x_tap[ci] * w_tap[ci];
            }
          }
          if (bias != nullptr) sum += bias[co];
          y_pixel[co] = std::min(std::max(sum, act.lo), act.hi);
        }
      }
    }
  }
}

}  // namespace quanta::kernels
