#include <cmath>

#include "quanta/kernels/ref.h"

namespace quanta::kernels {

// For each (outer, inner) line along the axis: max (first pass); sum of
// exp(x - max) in index order (second pass); y = (x - max) - log(sum) (third
// pass). Each pass reads x[a] before writing y[a], so x == y is safe.
void f32_log_softmax__ref(int64_t outer, int64_t axis_len, int64_t inner, const float* x,
                          float* y) {
  for (int64_t o = 0; o < outer; ++o) {
    for (int64_t i = 0; i < inner; ++i) {
      const float* xl = x + o * axis_len * inner + i;
      float* yl = y + o * axis_len * inner + i;
      float mx = -INFINITY;
      for (int64_t a = 0; a < axis_len; ++a) mx = std::max(mx, xl[a * inner]);
      float sum = 0.f;
      for (int64_t a = 0; a < axis_len; ++a) sum += std::exp(xl[a * inner] - mx);
      const float log_sum = static_cast<float>(std::log(static_cast<double>(sum)));
      for (int64_t a = 0; a < axis_len; ++a) yl[a * inner] = (xl[a * inner] - mx) - log_sum;
    }
  }
}

}  // namespace quanta::kernels
