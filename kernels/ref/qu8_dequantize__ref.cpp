#include "quanta/kernels/ref.h"

namespace quanta::kernels {

// y[i] = s * (x[i] - z)
void qu8_dequantize__ref(int64_t n, const uint8_t* x, float s, int32_t z, float* y) {
  for (int64_t i = 0; i < n; ++i) y[i] = dequantize(x[i], s, z);
}

}  // namespace quanta::kernels
