#include <cmath>

#include "internal.h"
#include "quanta/kernels/ref.h"

namespace quanta::kernels {

// Max over the taps inside the input; padded taps are ignored. The maximum
// starts at -inf (what an all-padding window would give; the loader rejects
// pads >= kernel). NaN taps are skipped by the comparison `v > best` (a window
// of only NaN gives -inf). The activation clamp is applied last.
void f32_maxpool__ref(const Pool2DParams& p, const float* x, FRange act, float* y) {
  for_each_pool_window(p, [&](const PoolWindow& win) {
    float best = -INFINITY;
    win.for_each_tap([&](int64_t xi) {
      const float v = x[xi];
      if (v > best) best = v;
    });
    y[win.out_index()] = std::min(std::max(best, act.lo), act.hi);
  });
}

}  // namespace quanta::kernels
