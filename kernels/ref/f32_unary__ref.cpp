#include "quanta/kernels/ref.h"

namespace quanta::kernels {

// y[i] = unary_f32(p, x[i])
void f32_unary__ref(const UnaryParams& p, int64_t n, const float* x, float* y) {
  for (int64_t i = 0; i < n; ++i) y[i] = unary_f32(p, x[i]);
}

}  // namespace quanta::kernels
