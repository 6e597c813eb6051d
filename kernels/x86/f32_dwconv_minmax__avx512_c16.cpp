// fp32 depthwise Conv2D, AVX-512 F + FMA, vectorized over channels (NHWC),
// 16 channels per zmm. Same contract as f32_dwconv_minmax__avx2_c16 (x86.h):
// f32_conv2d__ref with groups == cin == cout, any kh x kw, stride, dilation
// and padding; padded taps are skipped. Per output value the valid taps are
// accumulated in the reference's (ky, kx) order with fused multiply-adds from
// 0, then + bias and the clamp max(lo, v), min(hi, v) (NaN stays NaN). Every
// output value has this one arithmetic whatever the grouping of pixels or
// channels below, so any split of the output rows gives identical results.
// Packing: f32_dwconv_c16_pack (bias[Cp], then w[kh*kw][Cp], Cp = C rounded
// up to 16: a zmm of weights is always a full, zero-padded load).
//
// Structure: per output row the valid kernel rows [ky0, ky1) are found once,
// per pixel the valid kernel columns [kx0, kx1) (the input coordinate is
// monotone in the tap index), so the inner loops have no bounds checks. Runs
// of 4 horizontally consecutive pixels with the same window (the interior)
// share every weight load: 32 channels x 4 pixels = 8 accumulators, then 16
// channels x 4 pixels. Other pixels: 64 channels (4 accumulators), 16. The
// last C % 16 channels use byte-masked x loads and y stores, so every access
// stays inside x[0 .. n*h*w*C) and y[0 .. n*oh*ow*C). No allocation.
#include "quanta/kernels/x86.h"
#include "quanta/kernels/x86_avx512.h"
#include "simd_x86.h"
#include "tap_window.h"

namespace quanta::kernels {
QUANTA_SIMD_NS_BEGIN

namespace {

using Window = tap_window::Rect;
using tap_window::ValidRange;

struct Ctx {
  const float* x_img;  // image start
  const float* w;      // packed weights (after bias)
  const float* bias;   // packed bias
  size_t row_stride;   // floats between input rows (w * C)
  size_t cp;           // padded channel count
  size_t C;
  size_t px_step;      // floats between the windows of consecutive pixels
  int kw, dil_h, dil_w;
  __m512 lo, hi;
};

// P pixels (same window, px_step apart) x V vectors of 16 channels at ch;
// kMasked: V == 1 and only the first `rem` channels exist.
template <int P, int V, bool kMasked>
inline void Chunk(const Ctx& c, const Window& win, int iy0, int ix0, size_t ch, int rem,
                  float* y) {
  const __mmask16 mask =
      kMasked ? static_cast<__mmask16>((1u << rem) - 1u) : static_cast<__mmask16>(0xFFFF);
  __m512 acc[P][V];
  for (int q = 0; q < P; ++q)
    for (int v = 0; v < V; ++v) acc[q][v] = _mm512_setzero_ps();
  for (int ky = win.ky0; ky < win.ky1; ++ky) {
    const float* xrow = c.x_img + static_cast<size_t>(iy0 + ky * c.dil_h) * c.row_stride + ch;
    const float* wrow = c.w + static_cast<size_t>(ky) * static_cast<size_t>(c.kw) * c.cp + ch;
    for (int kx = win.kx0; kx < win.kx1; ++kx) {
      const float* xp = xrow + static_cast<size_t>(ix0 + kx * c.dil_w) * c.C;
      const float* wp = wrow + static_cast<size_t>(kx) * c.cp;
      for (int v = 0; v < V; ++v) {
        const __m512 wv = _mm512_loadu_ps(wp + 16 * v);
        for (int q = 0; q < P; ++q) {
          const float* a = xp + q * c.px_step + 16 * v;
          const __m512 xv = kMasked ? _mm512_maskz_loadu_ps(mask, a) : _mm512_loadu_ps(a);
          acc[q][v] = _mm512_fmadd_ps(xv, wv, acc[q][v]);
        }
      }
    }
  }
  for (int v = 0; v < V; ++v) {
    const __m512 b = _mm512_loadu_ps(c.bias + ch + 16 * v);
    for (int q = 0; q < P; ++q) {
      __m512 r = _mm512_add_ps(acc[q][v], b);
      r = _mm512_max_ps(c.lo, r);  // = std::max(r, lo): NaN stays r
      r = _mm512_min_ps(c.hi, r);  // = std::min(r, hi): NaN stays r
      float* yq = y + q * c.C + ch + 16 * v;
      if (kMasked) {
        _mm512_mask_storeu_ps(yq, mask, r);
      } else {
        _mm512_storeu_ps(yq, r);
      }
    }
  }
}

// All channels of P pixels sharing one window.
template <int P>
inline void Pixels(const Ctx& c, const Window& win, int iy0, int ix0, float* y) {
  const int C = static_cast<int>(c.C);
  int ch = 0;
  if constexpr (P == 1) {
    for (; ch + 64 <= C; ch += 64) Chunk<1, 4, false>(c, win, iy0, ix0, ch, 0, y);
  } else {
    for (; ch + 32 <= C; ch += 32) Chunk<P, 2, false>(c, win, iy0, ix0, ch, 0, y);
  }
  for (; ch + 16 <= C; ch += 16) Chunk<P, 1, false>(c, win, iy0, ix0, ch, 0, y);
  if (ch < C) Chunk<P, 1, true>(c, win, iy0, ix0, ch, C - ch, y);
}

void RowsImpl(const Conv2DParams& p, int oy_begin, int oy_end, const float* x,
              const void* packed, FRange act, float* y) {
  const int C = p.cout;
  if (oy_begin < 0) oy_begin = 0;
  if (oy_end > p.oh) oy_end = p.oh;
  if (C <= 0 || p.n <= 0 || p.ow <= 0 || oy_begin >= oy_end) return;
  const size_t cp = (static_cast<size_t>(C) + 15) / 16 * 16;
  const size_t c_n = static_cast<size_t>(C);
  Ctx c;
  c.bias = static_cast<const float*>(packed);
  c.w = c.bias + cp;
  c.row_stride = static_cast<size_t>(p.w) * c_n;
  c.cp = cp;
  c.C = c_n;
  c.px_step = static_cast<size_t>(p.stride_w) * c_n;
  c.kw = p.kw;
  c.dil_h = p.dil_h;
  c.dil_w = p.dil_w;
  c.lo = _mm512_set1_ps(act.lo);
  c.hi = _mm512_set1_ps(act.hi);
  for (int n = 0; n < p.n; ++n) {
    c.x_img = x + static_cast<size_t>(n) * static_cast<size_t>(p.h) * c.row_stride;
    for (int oy = oy_begin; oy < oy_end; ++oy) {
      Window win;
      const int iy0 = oy * p.stride_h - p.pad_top;
      ValidRange(iy0, p.dil_h, p.kh, p.h, win.ky0, win.ky1);
      float* y_row = y + ((static_cast<size_t>(n) * static_cast<size_t>(p.oh) +
                           static_cast<size_t>(oy)) * static_cast<size_t>(p.ow)) * c_n;
      for (int ox = 0; ox < p.ow;) {
        const int ix0 = ox * p.stride_w - p.pad_left;
        ValidRange(ix0, p.dil_w, p.kw, p.w, win.kx0, win.kx1);
        float* yp = y_row + static_cast<size_t>(ox) * c_n;
        // 4 pixels together when the next three have the same window.
        bool four = ox + 3 < p.ow;
        for (int q = 1; q < 4 && four; ++q) {
          int k0, k1;
          ValidRange(ix0 + q * p.stride_w, p.dil_w, p.kw, p.w, k0, k1);
          four = k0 == win.kx0 && k1 == win.kx1;
        }
        if (four) {
          Pixels<4>(c, win, iy0, ix0, yp);
          ox += 4;
        } else {
          Pixels<1>(c, win, iy0, ix0, yp);
          ++ox;
        }
      }
    }
  }
}

}  // namespace

// (Both entry points call RowsImpl: an unqualified call would also find the
// other namespace's declaration through argument-dependent lookup.)
void f32_dwconv_minmax__avx512_c16_rows(const Conv2DParams& p, int oy_begin, int oy_end,
                                        const float* x, const void* packed, FRange act,
                                        float* y) {
  RowsImpl(p, oy_begin, oy_end, x, packed, act, y);
}

void f32_dwconv_minmax__avx512_c16(const Conv2DParams& p, const float* x, const void* packed,
                                   FRange act, float* y) {
  RowsImpl(p, 0, p.oh, x, packed, act, y);
}

QUANTA_SIMD_NS_END
}  // namespace quanta::kernels
