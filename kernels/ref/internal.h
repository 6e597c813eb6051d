// Loop skeletons shared by several reference kernels (internal to kernels/ref;
// not part of the public interface). Each kernel keeps its own arithmetic; only
// the index walks live here, written exactly once.
#pragma once

#include <cstdint>

#include "quanta/kernels/ref.h"

namespace quanta::kernels {

// Broadcast elementwise walk: calls f(i, ia, ib) for every element i of the
// dense output of shape s.out, in row-major order, with ia and ib the offsets
// of the matching elements of a and b (read through their broadcast strides,
// 0 on broadcast axes). (ia, ib) follow the output index like an odometer.
template <typename F>
void for_each_broadcast(const BroadcastShape& s, F&& f) {
  const int64_t total = s.num_elements();
  int64_t index[kMaxRank] = {};
  int64_t ia = 0;
  int64_t ib = 0;
  for (int64_t i = 0; i < total; ++i) {
    f(i, ia, ib);
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

// One output element of a 2-D pooling (NHWC): output position (n, oy, ox) and
// channel c.
struct PoolWindow {
  const Pool2DParams& p;
  int64_t n, oy, ox, c;

  // Index of this output element in y ([n, oh, ow, c]).
  int64_t out_index() const { return ((n * p.oh + oy) * p.ow + ox) * p.c + c; }

  // Calls tap(xi) for every tap of the window that lies inside the input, in
  // (ky, kx) order, with xi the index in x ([n, h, w, c]). Padded taps are
  // skipped.
  template <typename F>
  void for_each_tap(F&& tap) const {
    for (int64_t ky = 0; ky < p.kh; ++ky) {
      const int64_t iy = oy * p.stride_h - p.pad_top + ky * p.dil_h;
      if (iy < 0 || iy >= p.h) continue;
      for (int64_t kx = 0; kx < p.kw; ++kx) {
        const int64_t ix = ox * p.stride_w - p.pad_left + kx * p.dil_w;
        if (ix < 0 || ix >= p.w) continue;
        tap(((n * p.h + iy) * p.w + ix) * p.c + c);
      }
    }
  }
};

// Calls f(window) for every output element of a 2-D pooling, in output order.
template <typename F>
void for_each_pool_window(const Pool2DParams& p, F&& f) {
  for (int64_t n = 0; n < p.n; ++n) {
    for (int64_t oy = 0; oy < p.oh; ++oy) {
      for (int64_t ox = 0; ox < p.ow; ++ox) {
        for (int64_t c = 0; c < p.c; ++c) f(PoolWindow{p, n, oy, ox, c});
      }
    }
  }
}

}  // namespace quanta::kernels
