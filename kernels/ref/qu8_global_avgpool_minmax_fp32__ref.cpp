#include "quanta/kernels/ref.h"

namespace quanta::kernels {

// acc = sum (x - zx) over the hw positions; y = requantize(acc, ratio / float(hw), zy, r).
// The sum is formed in int64 and converted to int32 modulo 2^32 (hw * 255 must
// fit int32, about 8.4 million positions). hw == 0 gives acc = 0 -> zy.
void qu8_global_avgpool_minmax_fp32__ref(int n, int64_t hw, int c, const uint8_t* x, int32_t zx,
                                         float ratio, int32_t zy, QRange r, uint8_t* y) {
  const float m = ratio / static_cast<float>(hw > 0 ? hw : 1);
  for (int64_t b = 0; b < n; ++b) {
    for (int64_t ch = 0; ch < c; ++ch) {
      int64_t acc = 0;
      for (int64_t i = 0; i < hw; ++i) acc += x[(b * hw + i) * c + ch] - zx;
      y[b * c + ch] = requantize(static_cast<int32_t>(acc), m, zy, r.qmin, r.qmax);
    }
  }
}

}  // namespace quanta::kernels
