// Internal, scalar: the rectangle of kernel taps that fall inside the input,
// shared by the x86 pooling and depthwise kernels (any ISA: the helpers are
// static, so each kernel file keeps its own copy compiled with its own flags).
//
// For an output coordinate whose first tap reads input coordinate `base`, tap
// t reads base + t * dil, which grows with t: the taps inside [0, extent) are
// one range [t0, t1), found once per output row / pixel, so the tap loops need
// no bounds checks.
#pragma once

#include <cstdint>

#include "quanta/kernels/ref.h"

namespace quanta::kernels::tap_window {

// First and one-past-last tap index t with 0 <= base + t * dil < extent.
static inline void ValidRange(int base, int dil, int taps, int extent, int& t0, int& t1) {
  t0 = 0;
  while (t0 < taps && base + t0 * dil < 0) ++t0;
  t1 = taps;
  while (t1 > t0 && base + (t1 - 1) * dil >= extent) --t1;
}

// The inside taps [ky0, ky1) x [kx0, kx1) of one output pixel.
struct Rect {
  int ky0, ky1, kx0, kx1;
};

// The Rect of one output pixel of a NHWC u8 pool, with what it takes to visit
// its taps through their pixel pointers (channel 0).
struct PoolWindow : Rect {
  const uint8_t* x_img;  // the pixel's image
  int64_t row, cs;       // bytes per input row (w * c) and per pixel (c)
  int dil_h, dil_w;
  int iy0, ix0;          // input coordinates of tap (0, 0)

  int64_t Inside() const { return static_cast<int64_t>(ky1 - ky0) * (kx1 - kx0); }

  template <typename F>
  inline void ForTaps(F&& f) const {
    for (int ky = ky0; ky < ky1; ++ky) {
      const uint8_t* xr = x_img + static_cast<int64_t>(iy0 + ky * dil_h) * row;
      for (int kx = kx0; kx < kx1; ++kx) f(xr + static_cast<int64_t>(ix0 + kx * dil_w) * cs);
    }
  }
};

// Calls pixel(win, yp) for every output pixel of the pool, yp = its C output
// bytes, in NHWC order. The caller has checked that the shape is not empty.
template <typename F>
static inline void ForEachPoolPixel(const Pool2DParams& p, const uint8_t* x, uint8_t* y,
                                    F&& pixel) {
  const int64_t cs = p.c;
  PoolWindow win;
  win.row = static_cast<int64_t>(p.w) * cs;
  win.cs = cs;
  win.dil_h = p.dil_h;
  win.dil_w = p.dil_w;
  const int64_t image = static_cast<int64_t>(p.h) * win.row;
  for (int n = 0; n < p.n; ++n) {
    win.x_img = x + n * image;
    for (int oy = 0; oy < p.oh; ++oy) {
      win.iy0 = oy * p.stride_h - p.pad_top;
      ValidRange(win.iy0, p.dil_h, p.kh, p.h, win.ky0, win.ky1);
      for (int ox = 0; ox < p.ow; ++ox) {
        win.ix0 = ox * p.stride_w - p.pad_left;
        ValidRange(win.ix0, p.dil_w, p.kw, p.w, win.kx0, win.kx1);
        pixel(static_cast<const PoolWindow&>(win),
              y + ((static_cast<int64_t>(n) * p.oh + oy) * p.ow + ox) * cs);
      }
    }
  }
}

}  // namespace quanta::kernels::tap_window
