// fp32 depthwise Conv2D, AVX2 + FMA, vectorized over channels (NHWC).
// The contract of f32_conv2d__ref with groups == cin == cout (channel
// multiplier 1), any kh x kw, stride, dilation and padding; padded taps are
// skipped (they read 0). Per output value the taps are accumulated in the
// reference's (ky, kx) order but with fused multiply-adds, then the bias is
// added and the clamp applied (max(lo, v), min(hi, v): a NaN stays NaN).
//
// Structure: per output pixel the valid taps form a rectangle
// [ky0, ky1) x [kx0, kx1) (the input coordinate is monotone in the tap index),
// found once per row / pixel, so the inner loops have no bounds checks.
// Two horizontally adjacent output pixels with the same window (the interior)
// are computed together, channels 32, 16, 8 at a time (8, 4, 2 accumulators),
// sharing each weight load (+18% on 144 ch 56x56 over one pixel at a time).
// Other pixels: channels 64, 32, 16, 8 at a time. Then one masked vector for
// C % 8. Masked loads/stores keep
// every access of x and y inside x[0 .. n*h*w*C) and y[0 .. n*oh*ow*C);
// weights and bias are read as full vectors from the zero-padded packing.
#include <immintrin.h>

#include "quanta/kernels/x86.h"
#include "tap_window.h"

namespace quanta::kernels {

namespace {

alignas(64) constexpr int32_t kMaskTable[16] = {-1, -1, -1, -1, -1, -1, -1, -1,
                                                0,  0,  0,  0,  0,  0,  0,  0};

inline __m256i MaskFirst(int c) {
  return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(kMaskTable + 8 - c));
}

using Window = tap_window::Rect;
using tap_window::ValidRange;

struct Ctx {
  const float* x_img;    // x + image offset + channel offset c
  const float* w;        // packed weights (after bias) + c
  const float* bias;     // packed bias + c
  size_t row_stride;     // floats between input rows (w * C)
  size_t cp;             // padded channel count (tap stride in packed weights)
  int C, kw, iy0, ix0, dil_h, dil_w;
  __m256 lo, hi;
};

// V full vectors (8V channels) starting at the context's channel offset.
template <int V>
inline void Channels(const Ctx& c, const Window& win, float* y) {
  __m256 acc[V];
  for (int v = 0; v < V; ++v) acc[v] = _mm256_setzero_ps();
  for (int ky = win.ky0; ky < win.ky1; ++ky) {
    const float* xrow = c.x_img + static_cast<size_t>(c.iy0 + ky * c.dil_h) * c.row_stride;
    const float* wrow = c.w + static_cast<size_t>(ky) * static_cast<size_t>(c.kw) * c.cp;
    for (int kx = win.kx0; kx < win.kx1; ++kx) {
      const float* xp = xrow + static_cast<size_t>(c.ix0 + kx * c.dil_w) * static_cast<size_t>(c.C);
      const float* wp = wrow + static_cast<size_t>(kx) * c.cp;
      for (int v = 0; v < V; ++v) {
        acc[v] = _mm256_fmadd_ps(_mm256_loadu_ps(xp + 8 * v), _mm256_loadu_ps(wp + 8 * v), acc[v]);
      }
    }
  }
  for (int v = 0; v < V; ++v) {
    __m256 r = _mm256_add_ps(acc[v], _mm256_loadu_ps(c.bias + 8 * v));
    r = _mm256_max_ps(c.lo, r);
    r = _mm256_min_ps(c.hi, r);
    _mm256_storeu_ps(y + 8 * v, r);
  }
}

// Two horizontally adjacent output pixels with the same tap window (x2 is
// the second pixel's input, xs floats after the first's): V vectors each,
// 2V accumulators, every weight vector loaded once for both pixels.
template <int V>
inline void Channels2(const Ctx& c, const Window& win, size_t xs, float* y, float* y2) {
  __m256 acc[2][V];
  for (int v = 0; v < V; ++v) acc[0][v] = acc[1][v] = _mm256_setzero_ps();
  for (int ky = win.ky0; ky < win.ky1; ++ky) {
    const float* xrow = c.x_img + static_cast<size_t>(c.iy0 + ky * c.dil_h) * c.row_stride;
    const float* wrow = c.w + static_cast<size_t>(ky) * static_cast<size_t>(c.kw) * c.cp;
    for (int kx = win.kx0; kx < win.kx1; ++kx) {
      const float* xp = xrow + static_cast<size_t>(c.ix0 + kx * c.dil_w) * static_cast<size_t>(c.C);
      const float* wp = wrow + static_cast<size_t>(kx) * c.cp;
      for (int v = 0; v < V; ++v) {
        const __m256 wv = _mm256_loadu_ps(wp + 8 * v);
        acc[0][v] = _mm256_fmadd_ps(_mm256_loadu_ps(xp + 8 * v), wv, acc[0][v]);
        acc[1][v] = _mm256_fmadd_ps(_mm256_loadu_ps(xp + xs + 8 * v), wv, acc[1][v]);
      }
    }
  }
  for (int v = 0; v < V; ++v) {
    const __m256 b = _mm256_loadu_ps(c.bias + 8 * v);
    for (int q = 0; q < 2; ++q) {
      __m256 r = _mm256_add_ps(acc[q][v], b);
      r = _mm256_max_ps(c.lo, r);
      r = _mm256_min_ps(c.hi, r);
      _mm256_storeu_ps((q == 0 ? y : y2) + 8 * v, r);
    }
  }
}

// The last rem (1..7) channels: masked x loads and y store.
inline void ChannelsMasked(const Ctx& c, const Window& win, int rem, float* y) {
  const __m256i mask = MaskFirst(rem);
  __m256 acc = _mm256_setzero_ps();
  for (int ky = win.ky0; ky < win.ky1; ++ky) {
    const float* xrow = c.x_img + static_cast<size_t>(c.iy0 + ky * c.dil_h) * c.row_stride;
    const float* wrow = c.w + static_cast<size_t>(ky) * static_cast<size_t>(c.kw) * c.cp;
    for (int kx = win.kx0; kx < win.kx1; ++kx) {
      const float* xp = xrow + static_cast<size_t>(c.ix0 + kx * c.dil_w) * static_cast<size_t>(c.C);
      acc = _mm256_fmadd_ps(_mm256_maskload_ps(xp, mask),
                            _mm256_loadu_ps(wrow + static_cast<size_t>(kx) * c.cp), acc);
    }
  }
  __m256 r = _mm256_add_ps(acc, _mm256_loadu_ps(c.bias));
  r = _mm256_max_ps(c.lo, r);
  r = _mm256_min_ps(c.hi, r);
  _mm256_maskstore_ps(y, mask, r);
}

}  // namespace

void f32_dwconv_minmax__avx2_c16_rows(const Conv2DParams& p, int oy_begin, int oy_end,
                                      const float* x, const void* packed, FRange act, float* y) {
  const int C = p.cout;
  if (oy_begin < 0) oy_begin = 0;
  if (oy_end > p.oh) oy_end = p.oh;
  if (C <= 0 || p.n <= 0 || p.ow <= 0 || oy_begin >= oy_end) return;
  const size_t cp = (static_cast<size_t>(C) + 15) / 16 * 16;
  const auto* bias = static_cast<const float*>(packed);
  const float* wts = bias + cp;
  const size_t c_n = static_cast<size_t>(C);
  const size_t row_stride = static_cast<size_t>(p.w) * c_n;

  Ctx base;
  base.row_stride = row_stride;
  base.cp = cp;
  base.C = C;
  base.kw = p.kw;
  base.dil_h = p.dil_h;
  base.dil_w = p.dil_w;
  base.lo = _mm256_set1_ps(act.lo);
  base.hi = _mm256_set1_ps(act.hi);

  for (int n = 0; n < p.n; ++n) {
    const float* x_img = x + static_cast<size_t>(n) * static_cast<size_t>(p.h) * row_stride;
    for (int oy = oy_begin; oy < oy_end; ++oy) {
      Window win;
      const int iy0 = oy * p.stride_h - p.pad_top;
      ValidRange(iy0, p.dil_h, p.kh, p.h, win.ky0, win.ky1);
      float* y_row =
          y + ((static_cast<size_t>(n) * static_cast<size_t>(p.oh) + static_cast<size_t>(oy)) *
               static_cast<size_t>(p.ow)) * c_n;
      for (int ox = 0; ox < p.ow;) {
        const int ix0 = ox * p.stride_w - p.pad_left;
        ValidRange(ix0, p.dil_w, p.kw, p.w, win.kx0, win.kx1);
        float* yp = y_row + static_cast<size_t>(ox) * c_n;
        Ctx c = base;
        c.iy0 = iy0;
        c.ix0 = ix0;
        int ch = 0;
        // Pointers are formed only for valid taps (rows/columns inside the
        // image), so offsets from x_img are never negative.
        auto at = [&](int off) {
          c.x_img = x_img + off;
          c.w = wts + off;
          c.bias = bias + off;
        };
        // Pair with the next pixel when its tap window is the same (interior).
        bool pair = false;
        if (ox + 1 < p.ow) {
          int k0, k1;
          ValidRange(ix0 + p.stride_w, p.dil_w, p.kw, p.w, k0, k1);
          pair = k0 == win.kx0 && k1 == win.kx1;
        }
        if (pair) {
          const size_t xs = static_cast<size_t>(p.stride_w) * c_n;
          float* yp2 = yp + c_n;
          for (; ch + 32 <= C; ch += 32) {
            at(ch);
            Channels2<4>(c, win, xs, yp + ch, yp2 + ch);
          }
          if (C - ch >= 16) {
            at(ch);
            Channels2<2>(c, win, xs, yp + ch, yp2 + ch);
            ch += 16;
          }
          if (C - ch >= 8) {
            at(ch);
            Channels2<1>(c, win, xs, yp + ch, yp2 + ch);
            ch += 8;
          }
          if (C - ch > 0) {
            at(ch);
            ChannelsMasked(c, win, C - ch, yp + ch);
            Ctx c2 = c;
            c2.ix0 = ix0 + p.stride_w;
            ChannelsMasked(c2, win, C - ch, yp2 + ch);
          }
          ox += 2;
          continue;
        }
        for (; ch + 64 <= C; ch += 64) {
          at(ch);
          Channels<8>(c, win, yp + ch);
        }
        if (C - ch >= 32) {
          at(ch);
          Channels<4>(c, win, yp + ch);
          ch += 32;
        }
        if (C - ch >= 16) {
          at(ch);
          Channels<2>(c, win, yp + ch);
          ch += 16;
        }
        if (C - ch >= 8) {
          at(ch);
          Channels<1>(c, win, yp + ch);
          ch += 8;
        }
        if (C - ch > 0) {
          at(ch);
          ChannelsMasked(c, win, C - ch, yp + ch);
        }
        ++ox;
      }
    }
  }
}

void f32_dwconv_minmax__avx2_c16(const Conv2DParams& p, const float* x, const void* packed,
                                 FRange act, float* y) {
  f32_dwconv_minmax__avx2_c16_rows(p, 0, p.oh, x, packed, act, y);
}

}  // namespace quanta::kernels
