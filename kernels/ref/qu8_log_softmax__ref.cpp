#include <cmath>

#include "quanta/kernels/ref.h"

namespace quanta::kernels {

// For each (outer, inner) line along the axis: max_q; d_a = max_q - x_a;
// sum of table[d_a] in index order (fp32; table[0] = 1, so sum >= 1 and its
// log is finite and >= 0); l = log(sum) in double rounded to float;
// y_a = quantize_u8(-(sx * d_a) - l, sy, zy). The input zero point cancels in
// x - max, and the input scale is applied to the exact integer difference.
void qu8_log_softmax__ref(int64_t outer, int64_t axis_len, int64_t inner, const uint8_t* x,
                          const float* table, float sx, float sy, int32_t zy, uint8_t* y) {
  for (int64_t o = 0; o < outer; ++o) {
    for (int64_t i = 0; i < inner; ++i) {
      const uint8_t* xl = x + o * axis_len * inner + i;
      uint8_t* yl = y + o * axis_len * inner + i;
      int32_t mx = 0;
      for (int64_t a = 0; a < axis_len; ++a) mx = std::max<int32_t>(mx, xl[a * inner]);
      float sum = 0.f;
      for (int64_t a = 0; a < axis_len; ++a) sum += table[mx - xl[a * inner]];
      const float log_sum = static_cast<float>(std::log(static_cast<double>(sum)));
      for (int64_t a = 0; a < axis_len; ++a) {
        const float shifted = -(sx * static_cast<float>(mx - xl[a * inner]));
        yl[a * inner] = quantize_u8(shifted - log_sum, sy, zy);
      }
    }
  }
}

}  // namespace quanta::kernels
