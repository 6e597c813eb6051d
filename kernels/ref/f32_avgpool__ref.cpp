#include "internal.h"
#include "quanta/kernels/ref.h"

namespace quanta::kernels {

// Sum of the taps inside the input, in (ky, kx) order, divided by the count:
// kh * kw when count_include_pad (padded taps add 0), otherwise the number of
// taps inside the input. A window with no counted tap gives 0 (never 0 / 0).
void f32_avgpool__ref(const Pool2DParams& p, const float* x, FRange act, float* y) {
  for_each_pool_window(p, [&](const PoolWindow& win) {
    float sum = 0.f;
    int64_t inside = 0;
    win.for_each_tap([&](int64_t xi) {
      sum += x[xi];
      ++inside;
    });
    const int64_t count = p.count_include_pad ? int64_t{p.kh} * p.kw : inside;
    const float avg = count > 0 ? sum / static_cast<float>(count) : 0.f;
    y[win.out_index()] = std::min(std::max(avg, act.lo), act.hi);
  });
}

}  // namespace quanta::kernels
