#include "quanta/kernels/ref.h"

namespace quanta::kernels {

// y[i] = quantize_u8(x[i], s, z): NaN -> z, +inf -> 255, -inf -> 0.
void qu8_quantize__ref(int64_t n, const float* x, float s, int32_t z, uint8_t* y) {
  for (int64_t i = 0; i < n; ++i) y[i] = quantize_u8(x[i], s, z);
}

}  // namespace quanta::kernels
