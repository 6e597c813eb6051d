#include "quanta/kernels/ref.h"

namespace quanta::kernels {

// acc[i, j] = sum_k (a[i, k] - za) * (b[k, j] - zb); y = requantize(acc, multiplier, zy, r).
// Summed in int64, converted to int32 modulo 2^32 (caller guarantees no wrap).
void qu8_matmul_minmax_fp32__ref(int m, int k, int n, const uint8_t* a, int32_t za,
                                 const uint8_t* b, int32_t zb, float multiplier, int32_t zy,
                                 QRange r, uint8_t* y) {
  for (int64_t i = 0; i < m; ++i) {
    for (int64_t j = 0; j < n; ++j) {
      int64_t acc = 0;
      for (int64_t kk = 0; kk < k; ++kk) {
        acc += static_cast<int64_t>(a[i * k + kk] - za) * (b[kk * n + j] - zb);
      }
      y[i * n + j] = requantize(static_cast<int32_t>(acc), multiplier, zy, r.qmin, r.qmax);
    }
  }
}

}  // namespace quanta::kernels
