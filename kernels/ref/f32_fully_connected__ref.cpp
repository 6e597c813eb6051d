#include "quanta/kernels/ref.h"

namespace quanta::kernels {

// y[i, j] = act(sum_k x[i, k] * w[j, k] + bias[j]); the sum starts at 0 and runs
// over k in order, the bias is added after it.
void f32_fully_connected__ref(int m, int k, int n, const float* x, const float* w,
                              const float* bias, FRange act, float* y) {
  for (int64_t i = 0; i < m; ++i) {
    for (int64_t j = 0; j < n; ++j) {
      float sum = 0.f;
      for (int64_t kk = 0; kk < k; ++kk) sum += x[i * k + kk] * w[j * k + kk];
      if (bias != nullptr) sum += bias[j];
      y[i * n + j] = std::min(std::max(sum, act.lo), act.hi);
    }
  }
}

}  // namespace quanta::kernels
