#include "quanta/kernels/ref.h"

namespace quanta::kernels {

// y[b, c] = (sum over i in order of x[b, i, c]) / float(hw); hw == 0 gives 0.
void f32_global_avgpool__ref(int n, int64_t hw, int c, const float* x, float* y) {
  for (int64_t b = 0; b < n; ++b) {
    for (int64_t ch = 0; ch < c; ++ch) {
      float sum = 0.f;
      for (int64_t i = 0; i < hw; ++i) sum += x[(b * hw + i) * c + ch];
      y[b * c + ch] = hw > 0 ? sum / static_cast<float>(hw) : 0.f;
    }
  }
}

}  // namespace quanta::kernels
