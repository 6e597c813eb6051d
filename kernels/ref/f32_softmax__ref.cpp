#include <cmath>

#include "quanta/kernels/ref.h"

namespace quanta::kernels {

// For each (outer, inner) line along the axis: max (first pass), e = exp(beta *
// (x - max)) written to y and summed in index order (second pass), y = e / sum
// (third pass). NaN inputs propagate.
void f32_softmax__ref(int64_t outer, int64_t axis_len, int64_t inner, float beta, const float* x,
                      float* y) {
  for (int64_t o = 0; o < outer; ++o) {
    for (int64_t i = 0; i < inner; ++i) {
      const float* xl = x + o * axis_len * inner + i;
      float* yl = y + o * axis_len * inner + i;
      float mx = -INFINITY;
      for (int64_t a = 0; a < axis_len; ++a) mx = std::max(mx, xl[a * inner]);
      float sum = 0.f;
      for (int64_t a = 0; a < axis_len; ++a) {
        const float e = std::exp(beta * (xl[a * inner] - mx));
        yl[a * inner] = e;
        sum += e;
      }
      for (int64_t a = 0; a < axis_len; ++a) yl[a * inner] = yl[a * inner] / sum;
    }
  }
}

}  // namespace quanta::kernels
