#include "internal.h"
#include "quanta/kernels/ref.h"

namespace quanta::kernels {

// Max over the taps inside the input (padded taps ignored), then clamped to
// [qmin, qmax]. The maximum starts at 0, so an all-padding window (rejected by
// the loader) would give qmin.
void u8_maxpool_minmax__ref(const Pool2DParams& p, const uint8_t* x, QRange r, uint8_t* y) {
  for_each_pool_window(p, [&](const PoolWindow& win) {
    int32_t best = 0;
    win.for_each_tap([&](int64_t xi) { best = std::max<int32_t>(best, x[xi]); });
    const int32_t v = std::min(std::max(best, r.qmin), r.qmax);
    y[win.out_index()] = static_cast<uint8_t>(v);
  });
}

}  // namespace quanta::kernels
