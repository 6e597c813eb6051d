#include "quanta/kernels/ref.h"

namespace quanta::kernels {

// Broadcast elementwise op: y is the dense output of shape s.out; a and b are
// read through their broadcast strides (0 on broadcast axes). The output index
// runs in row-major order; (ia, ib) follow it like an odometer.
void f32_add__ref(const BroadcastShape& s, const float* a, const float* b, FRange act, float* y) {
  const int64_t total = s.num_elements();
  int64_t index[kMaxRank] = {};
  int64_t ia = 0;
  int64_t ib = 0;
  for (int64_t i = 0; i < total; ++i) {
    y[i] = std::min(std::max(a[ia] + b[ib], act.lo), act.hi);
    for (int d = s.rank - 1; d >= 0; --d) {  // advance to the next output index
      ++index[d];
      ia += s.a_stride[d];
      ib += s.b_stride[d];
      if (index[d] < s.out[d]) break;
      ia -= s.a_stride[d] * s.out[d];
      ib -= s.b_stride[d] * s.out[d];
      index[d] = 0;
    }
  }
}

}  // namespace quanta::kernels
