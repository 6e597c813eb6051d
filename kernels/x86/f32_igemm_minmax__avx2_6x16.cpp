// fp32 implicit-GEMM convolution, AVX2 + FMA, tiles of up to 6 output pixels x
// 16 output channels ("6x16"). General (ungrouped) NHWC Conv2D without im2col:
// an indirection table (f32_igemm_indirection_build) gives, per output pixel
// and tap, the offset of the input pixel it reads or -1 for padding, which
// reads a caller-provided zero row instead. The packed weights are the GEMM
// packing (f32_gemm_16_pack) of the OHWI filter viewed as [Cout, kh*kw*Cin]:
// the K index is tap * Cin + ci, matching the table's order.
//
// Summation: per output the taps are accumulated in (ky, kx, ci) order with
// FMA; padded taps add 0 * w (the reference skips them: identical unless a
// weight is inf/NaN). Epilogue as the GEMM: + bias, max(lo, v), min(hi, v).
// Reads x only at table offsets [off, off + cin); writes exactly y[i][0..n).
#include <immintrin.h>

#include "quanta/kernels/x86.h"

namespace quanta::kernels {

namespace {

constexpr int kMR = 6;
constexpr int kNR = 16;

alignas(64) constexpr int32_t kMaskTable[16] = {-1, -1, -1, -1, -1, -1, -1, -1,
                                                0,  0,  0,  0,  0,  0,  0,  0};

inline __m256i MaskFirst(int c) {
  return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(kMaskTable + 8 - c));
}

struct Args {
  int taps, cin;
  const float* x;
  const int64_t* table;
  const float* zero;
  __m256 lo, hi;
};

inline __m256 Finish(__m256 acc, __m256 bias, const Args& a) {
  __m256 v = _mm256_add_ps(acc, bias);
  v = _mm256_max_ps(a.lo, v);
  return _mm256_min_ps(a.hi, v);
}

template <int R>
inline void Tile(const Args& a, int i0, const float* block, int nr, float* y, size_t y_stride) {
  const float* bias = block;
  const float* w = block + kNR;
  __m256 acc[R][2];
  for (int r = 0; r < R; ++r) acc[r][0] = acc[r][1] = _mm256_setzero_ps();
  const int64_t* rows = a.table + static_cast<size_t>(i0) * static_cast<size_t>(a.taps);
  for (int t = 0; t < a.taps; ++t) {
    const float* xr[R];
    for (int r = 0; r < R; ++r) {
      const int64_t off = rows[static_cast<size_t>(r) * static_cast<size_t>(a.taps) +
                               static_cast<size_t>(t)];
      xr[r] = off < 0 ? a.zero : a.x + off;
    }
    for (int ci = 0; ci < a.cin; ++ci) {
      const __m256 w0 = _mm256_loadu_ps(w);
      const __m256 w1 = _mm256_loadu_ps(w + 8);
      w += kNR;
      for (int r = 0; r < R; ++r) {
        const __m256 b = _mm256_broadcast_ss(xr[r] + ci);
        acc[r][0] = _mm256_fmadd_ps(b, w0, acc[r][0]);
        acc[r][1] = _mm256_fmadd_ps(b, w1, acc[r][1]);
      }
    }
  }
  const __m256 b0 = _mm256_loadu_ps(bias), b1 = _mm256_loadu_ps(bias + 8);
  for (int r = 0; r < R; ++r) {
    float* yr = y + static_cast<size_t>(r) * y_stride;
    const __m256 v0 = Finish(acc[r][0], b0, a), v1 = Finish(acc[r][1], b1, a);
    if (nr == kNR) {
      _mm256_storeu_ps(yr, v0);
      _mm256_storeu_ps(yr + 8, v1);
    } else if (nr > 8) {
      _mm256_storeu_ps(yr, v0);
      _mm256_maskstore_ps(yr + 8, MaskFirst(nr - 8), v1);
    } else {
      _mm256_maskstore_ps(yr, MaskFirst(nr), v0);
    }
  }
}

using TileFn = void (*)(const Args&, int, const float*, int, float*, size_t);
constexpr TileFn kTails[kMR] = {nullptr, Tile<1>, Tile<2>, Tile<3>, Tile<4>, Tile<5>};

}  // namespace

void f32_igemm_minmax__avx2_6x16(int m, int n, int taps, int cin, const float* x,
                                 const int64_t* indirection, const float* zero,
                                 const void* packed, FRange act, float* y, size_t y_stride) {
  if (m <= 0 || n <= 0) return;
  if (taps < 0) taps = 0;
  if (cin < 0) cin = 0;
  Args a;
  a.taps = taps;
  a.cin = cin;
  a.x = x;
  a.table = indirection;
  a.zero = zero;
  a.lo = _mm256_set1_ps(act.lo);
  a.hi = _mm256_set1_ps(act.hi);
  const size_t k = static_cast<size_t>(taps) * static_cast<size_t>(cin);
  const size_t block_floats = static_cast<size_t>(kNR) * (k + 1);
  const auto* blocks = static_cast<const float*>(packed);
  for (int nb = 0; nb < n; nb += kNR) {
    const int nr = n - nb < kNR ? n - nb : kNR;
    const float* block = blocks + static_cast<size_t>(nb / kNR) * block_floats;
    float* yb = y + nb;
    int i = 0;
    for (; i + kMR <= m; i += kMR) {
      Tile<kMR>(a, i, block, nr, yb + static_cast<size_t>(i) * y_stride, y_stride);
    }
    if (i < m) kTails[m - i](a, i, block, nr, yb + static_cast<size_t>(i) * y_stride, y_stride);
  }
}

}  // namespace quanta::kernels
