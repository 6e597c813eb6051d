#include "quanta/kernels/ref.h"

namespace quanta::kernels {

// Like concat__ref with inner sizes in elements; every input value is
// requantized to the output: y = requantize_f(float(x - zx[i]) * m[i], zy, 0, 255).
void qu8_concat__ref(int64_t outer, int n_inputs, const uint8_t* const* x, const int64_t* inner,
                     const int32_t* zx, const float* m, int32_t zy, uint8_t* y) {
  uint8_t* out = y;
  for (int64_t o = 0; o < outer; ++o) {
    for (int i = 0; i < n_inputs; ++i) {
      const uint8_t* src = x[i] + o * inner[i];
      for (int64_t e = 0; e < inner[i]; ++e) {
        out[e] = requantize_f(static_cast<float>(src[e] - zx[i]) * m[i], zy, 0, 255);
      }
      out += inner[i];
    }
  }
}

}  // namespace quanta::kernels
