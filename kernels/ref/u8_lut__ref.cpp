#include "quanta/kernels/ref.h"

namespace quanta::kernels {

// y[i] = lut[x[i]]
void u8_lut__ref(int64_t n, const uint8_t* x, const uint8_t* lut, uint8_t* y) {
  for (int64_t i = 0; i < n; ++i) y[i] = lut[x[i]];
}

}  // namespace quanta::kernels
