#include "internal.h"
#include "quanta/kernels/ref.h"

namespace quanta::kernels {

// acc = sum of (x - zx) over the taps inside the input (padded taps add 0);
// count = kh * kw when count_include_pad, else the number of taps inside;
// y = requantize(acc, ratio / float(count), zy, r). A window with no counted
// tap (impossible with pads < kernel) uses count = 1, i.e. acc = 0 -> zy.
void qu8_avgpool_minmax_fp32__ref(const Pool2DParams& p, const uint8_t* x, int32_t zx, float ratio,
                                  int32_t zy, QRange r, uint8_t* y) {
  for_each_pool_window(p, [&](const PoolWindow& win) {
    int32_t acc = 0;
    int64_t inside = 0;
    win.for_each_tap([&](int64_t xi) {
      acc += x[xi] - zx;
      ++inside;
    });
    int64_t count = p.count_include_pad ? int64_t{p.kh} * p.kw : inside;
    if (count == 0) count = 1;
    const float m = ratio / static_cast<float>(count);
    y[win.out_index()] = requantize(acc, m, zy, r.qmin, r.qmax);
  });
}

}  // namespace quanta::kernels
