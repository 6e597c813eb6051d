#include "quanta/kernels/ref.h"

namespace quanta::kernels {

// y[i] = requantize_f(float(x[i] - zx) * m, zy, r)
void qu8_requantize__ref(int64_t n, const uint8_t* x, int32_t zx, float m, int32_t zy, QRange r,
                         uint8_t* y) {
  for (int64_t i = 0; i < n; ++i) {
    y[i] = requantize_f(static_cast<float>(x[i] - zx) * m, zy, r.qmin, r.qmax);
  }
}

}  // namespace quanta::kernels
