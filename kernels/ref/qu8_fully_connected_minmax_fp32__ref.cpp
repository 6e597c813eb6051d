#include "quanta/kernels/ref.h"

namespace quanta::kernels {

// acc[i, j] = sum_k x[i, k] * w[j, k] + bias_folded[j] (nullptr means 0);
// y[i, j] = requantize(acc, multiplier[j], zy, r). One multiplier per output
// channel. The sum is formed in int64 and converted to int32 modulo 2^32 (the
// bytes of a wrapping int32 accumulator; the caller keeps it in range).
void qu8_fully_connected_minmax_fp32__ref(int m, int k, int n, const uint8_t* x, const int8_t* w,
                                          const int32_t* bias_folded, const float* multiplier,
                                          int32_t zy, QRange r, uint8_t* y) {
  for (int64_t i = 0; i < m; ++i) {
    for (int64_t j = 0; j < n; ++j) {
      int64_t acc = bias_folded != nullptr ? bias_folded[j] : 0;
      for (int64_t kk = 0; kk < k; ++kk) {
        acc += static_cast<int64_t>(x[i * k + kk]) * w[j * k + kk];
      }
      y[i * n + j] = requantize(static_cast<int32_t>(acc), multiplier[j], zy, r.qmin, r.qmax);
    }
  }
}

}  // namespace quanta::kernels
