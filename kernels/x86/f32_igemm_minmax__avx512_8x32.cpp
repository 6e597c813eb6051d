// fp32 implicit-GEMM convolution, AVX-512 F + FMA, tiles of up to 8 output
// pixels x 32 output channels ("8x32"). Same contract as
// f32_igemm_minmax__avx2_6x16 (x86.h): general ungrouped NHWC Conv2D without
// im2col; the int64 table of f32_igemm_indirection_build gives per output
// pixel and tap the float offset of the input pixel, or -1 for padding, which
// reads the caller's zero row. Weights: f32_gemm_16_pack of the OHWI filter
// viewed as [Cout, kh*kw*Cin] (K index = tap * Cin + ci); a 32-channel tile
// reads two consecutive 16-channel blocks.
//
// Summation: per output the K terms in (tap, ci) order, one FMA chain per
// output element starting at 0 (no K split in any tile height), then + bias
// and the clamp max(lo, v), min(hi, v) (NaN stays NaN). A pixel's result is
// thus independent of the tiling and of the pixel sub-range it is computed in.
// Padded taps add 0 * w (the reference skips them: equal unless a weight is
// inf/NaN). 8 x 2 = 16 zmm accumulators. Reads x only at [off, off + cin) for
// the table's offsets and zero[0 .. cin); writes exactly y[i][0..n).
#include "quanta/kernels/x86.h"
#include "quanta/kernels/x86_avx512.h"
#include "simd_x86.h"

namespace quanta::kernels {
QUANTA_SIMD_NS_BEGIN

namespace {

constexpr int kMR = 8;
constexpr int kBlock = 16;

struct Args {
  int taps, cin;
  const float* x;
  const int64_t* table;
  const float* zero;
  size_t block_floats;
  __m512 lo, hi;
};

inline void StoreRow(__m512 acc, const float* bias, const Args& a, int valid, float* y) {
  __m512 v = _mm512_add_ps(acc, _mm512_loadu_ps(bias));
  v = _mm512_max_ps(a.lo, v);
  v = _mm512_min_ps(a.hi, v);
  if (valid >= kBlock) {
    _mm512_storeu_ps(y, v);
  } else {
    _mm512_mask_storeu_ps(y, static_cast<__mmask16>((1u << valid) - 1u), v);
  }
}

template <int R, int NB>
inline void Tile(const Args& a, int64_t i0, const float* blk, int nr, float* y, size_t y_stride) {
  const float* w[NB];
  for (int j = 0; j < NB; ++j) w[j] = blk + j * a.block_floats + kBlock;
  __m512 acc[R][NB];
  for (int r = 0; r < R; ++r)
    for (int j = 0; j < NB; ++j) acc[r][j] = _mm512_setzero_ps();
  const int64_t* rows = a.table + static_cast<size_t>(i0) * static_cast<size_t>(a.taps);
  size_t kk = 0;
  for (int t = 0; t < a.taps; ++t) {
    const float* xr[R];
    for (int r = 0; r < R; ++r) {
      const int64_t off =
          rows[static_cast<size_t>(r) * static_cast<size_t>(a.taps) + static_cast<size_t>(t)];
      xr[r] = off < 0 ? a.zero : a.x + off;
    }
    for (int ci = 0; ci < a.cin; ++ci, ++kk) {
      __m512 wv[NB];
      for (int j = 0; j < NB; ++j) wv[j] = _mm512_loadu_ps(w[j] + kk * kBlock);
      for (int r = 0; r < R; ++r) {
        const __m512 b = _mm512_set1_ps(xr[r][ci]);
        for (int j = 0; j < NB; ++j) acc[r][j] = _mm512_fmadd_ps(b, wv[j], acc[r][j]);
      }
    }
  }
  for (int j = 0; j < NB; ++j)
    for (int r = 0; r < R; ++r)
      StoreRow(acc[r][j], blk + j * a.block_floats, a, nr - kBlock * j,
               y + static_cast<size_t>(r) * y_stride + kBlock * j);
}

template <int R>
void Pixels(const Args& a, int64_t i0, int n, const float* base, float* y, size_t y_stride) {
  for (int c = 0; c < n; c += 2 * kBlock) {
    const int nr = n - c < 2 * kBlock ? n - c : 2 * kBlock;
    const float* blk = base + static_cast<size_t>(c / kBlock) * a.block_floats;
    if (nr > kBlock) {
      Tile<R, 2>(a, i0, blk, nr, y + c, y_stride);
    } else {
      Tile<R, 1>(a, i0, blk, nr, y + c, y_stride);
    }
  }
}

using PixelsFn = void (*)(const Args&, int64_t, int, const float*, float*, size_t);
constexpr PixelsFn kRest[kMR] = {nullptr,   Pixels<1>, Pixels<2>, Pixels<3>,
                                 Pixels<4>, Pixels<5>, Pixels<6>, Pixels<7>};

}  // namespace

void f32_igemm_minmax__avx512_8x32(int m, int n, int taps, int cin, const float* x,
                                   const int64_t* indirection, const float* zero,
                                   const void* packed, FRange act, float* y, size_t y_stride) {
  if (m <= 0 || n <= 0) return;
  Args a;
  a.taps = taps < 0 ? 0 : taps;
  a.cin = cin < 0 ? 0 : cin;
  a.x = x;
  a.table = indirection;
  a.zero = zero;
  a.lo = _mm512_set1_ps(act.lo);
  a.hi = _mm512_set1_ps(act.hi);
  const size_t k = static_cast<size_t>(a.taps) * static_cast<size_t>(a.cin);
  a.block_floats = static_cast<size_t>(kBlock) * (k + 1);
  const auto* base = static_cast<const float*>(packed);
  const int m8 = m / kMR * kMR;
  for (int c = 0; c < n && m8 > 0; c += 2 * kBlock) {
    const int nr = n - c < 2 * kBlock ? n - c : 2 * kBlock;
    const float* blk = base + static_cast<size_t>(c / kBlock) * a.block_floats;
    for (int i = 0; i < m8; i += kMR) {
      float* yi = y + static_cast<size_t>(i) * y_stride + c;
      if (nr > kBlock) {
        Tile<kMR, 2>(a, i, blk, nr, yi, y_stride);
      } else {
        Tile<kMR, 1>(a, i, blk, nr, yi, y_stride);
      }
    }
  }
  if (m8 < m) kRest[m - m8](a, m8, n, base, y + static_cast<size_t>(m8) * y_stride, y_stride);
}

QUANTA_SIMD_NS_END
}  // namespace quanta::kernels
