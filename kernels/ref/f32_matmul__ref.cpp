#include "quanta/kernels/ref.h"

namespace quanta::kernels {

// y[i, j] = act(sum_k a[i, k] * b[k, j]), summed over k in order from 0.
void f32_matmul__ref(int m, int k, int n, const float* a, const float* b, FRange act, float* y) {
  for (int64_t i = 0; i < m; ++i) {
    for (int64_t j = 0; j < n; ++j) {
      float sum = 0.f;
      for (int64_t kk = 0; kk < k; ++kk) sum += a[i * k + kk] * b[kk * n + j];
      y[i * n + j] = std::min(std::max(sum, act.lo), act.hi);
    }
  }
}

}  // namespace quanta::kernels
