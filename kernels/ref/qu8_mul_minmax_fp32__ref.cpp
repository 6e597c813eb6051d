#include "internal.h"
#include "quanta/kernels/ref.h"

namespace quanta::kernels {

// Broadcast elementwise op: y is the dense output of shape s.out; a and b are
// read through their broadcast strides (the walk: for_each_broadcast, internal.h).
void qu8_mul_minmax_fp32__ref(const BroadcastShape& s, const uint8_t* a, const uint8_t* b,
                              const QMulParams& p, uint8_t* y) {
  for_each_broadcast(s, [&](int64_t i, int64_t ia, int64_t ib) {
    const float f = static_cast<float>((a[ia] - p.za) * (b[ib] - p.zb)) * p.m;
    y[i] = requantize_f(f, p.zy, p.r.qmin, p.r.qmax);
  });
}

}  // namespace quanta::kernels
