#include "internal.h"
#include "quanta/kernels/ref.h"

namespace quanta::kernels {

// Broadcast elementwise op: y is the dense output of shape s.out; a and b are
// read through their broadcast strides (the walk: for_each_broadcast, internal.h).
void f32_add__ref(const BroadcastShape& s, const float* a, const float* b, FRange act, float* y) {
  for_each_broadcast(s, [&](int64_t i, int64_t ia, int64_t ib) {
    y[i] = std::min(std::max(a[ia] + b[ib], act.lo), act.hi);
  });
}

}  // namespace quanta::kernels
