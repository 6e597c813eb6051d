#include "quanta/kernels/ref.h"

namespace quanta::kernels {

// For each (outer, inner) line along the axis: max_q; e_a = table[max_q - x_a];
// sum of e in index order (fp32); y_a = quantize_u8(e_a / sum, sy, zy).
// The input scale and beta live in the table (build_softmax_exp_table).
void qu8_softmax__ref(int64_t outer, int64_t axis_len, int64_t inner, const uint8_t* x,
                      const float* table, float sy, int32_t zy, uint8_t* y) {
  for (int64_t o = 0; o < outer; ++o) {
    for (int64_t i = 0; i < inner; ++i) {
      const uint8_t* xl = x + o * axis_len * inner + i;
      uint8_t* yl = y + o * axis_len * inner + i;
      int32_t mx = 0;
      for (int64_t a = 0; a < axis_len; ++a) mx = std::max<int32_t>(mx, xl[a * inner]);
      float sum = 0.f;
      for (int64_t a = 0; a < axis_len; ++a) sum += table[mx - xl[a * inner]];
      for (int64_t a = 0; a < axis_len; ++a) {
        yl[a * inner] = quantize_u8(table[mx - xl[a * inner]] / sum, sy, zy);
      }
    }
  }
}

}  // namespace quanta::kernels
