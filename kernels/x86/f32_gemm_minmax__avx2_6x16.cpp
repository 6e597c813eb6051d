// fp32 GEMM, AVX2 + FMA, tiles of up to 6 rows x 16 output channels ("6x16").
// y[i][j] = min(max(sum_kk x[i][kk] * w[j][kk] + bias[j], lo), hi), the
// contract of f32_fully_connected__ref (and of f32_conv2d__ref for a 1x1,
// stride-1, unpadded, ungrouped NHWC conv), up to rounding: products are fused
// (vfmadd231ps) and, for 1- and 2-row tiles, K is split over several
// accumulators that are added at the end, so the summation order differs from
// the reference's sequential one.
//
// Register use of the 6-row tile: 12 accumulators (6 rows x 2 ymm of 8
// channels), 2 weight vectors, 1 broadcast = 15 of the 16 ymm registers.
// Rows are few in FullyConnected (often m = 1), where a 1x16 tile would be
// bound by the FMA latency (2 dependent chains); the 1-row tile therefore keeps
// 4 K-phases x 2 = 8 chains, the 2-row tile 2 x 4 = 8.
//
// Epilogue: + bias, then max(lo, v), min(hi, v) in the operand order that
// keeps a NaN sum NaN (as std::min(std::max(v, lo), hi) in the reference).
// Loads x[i][0..k) only; stores y[i][0..n) only (masked store for a channel
// tail). No allocation.
#include <immintrin.h>

#include "quanta/kernels/x86.h"

namespace quanta::kernels {

namespace {

constexpr int kMR = 6;
constexpr int kNR = 16;

// loadu(kMaskTable + 8 - c) has lanes j < c set (c in 0..8).
alignas(64) constexpr int32_t kMaskTable[16] = {-1, -1, -1, -1, -1, -1, -1, -1,
                                                0,  0,  0,  0,  0,  0,  0,  0};

inline __m256i MaskFirst(int c) {
  return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(kMaskTable + 8 - c));
}

struct Epilogue {
  __m256 lo, hi;
};

inline __m256 Finish(__m256 acc, __m256 bias, const Epilogue& e) {
  __m256 v = _mm256_add_ps(acc, bias);
  v = _mm256_max_ps(e.lo, v);  // = std::max(v, lo): NaN stays v
  return _mm256_min_ps(e.hi, v);  // = std::min(v, hi): NaN stays v
}

inline void Store16(__m256 a0, __m256 a1, const float* bias, const Epilogue& e, int nr,
                    float* y) {
  const __m256 v0 = Finish(a0, _mm256_loadu_ps(bias), e);
  const __m256 v1 = Finish(a1, _mm256_loadu_ps(bias + 8), e);
  if (nr == kNR) {
    _mm256_storeu_ps(y, v0);
    _mm256_storeu_ps(y + 8, v1);
  } else if (nr > 8) {
    _mm256_storeu_ps(y, v0);
    _mm256_maskstore_ps(y + 8, MaskFirst(nr - 8), v1);
  } else {
    _mm256_maskstore_ps(y, MaskFirst(nr), v0);
  }
}

// R rows (1..6) x 16 channels of one packed block. U independent K-phases
// (accumulator sets) keep at least 8 FMA chains in flight for small R.
template <int R>
inline void Tile(int k, const float* x, size_t x_stride, const float* block, int nr,
                 const Epilogue& e, float* y, size_t y_stride) {
  constexpr int U = R == 1 ? 4 : (R == 2 ? 2 : 1);
  const float* bias = block;
  const float* w = block + kNR;
  const float* xr[R];
  for (int r = 0; r < R; ++r) xr[r] = x + static_cast<size_t>(r) * x_stride;

  __m256 acc[U][R][2];
  for (int u = 0; u < U; ++u) {
    for (int r = 0; r < R; ++r) {
      acc[u][r][0] = _mm256_setzero_ps();
      acc[u][r][1] = _mm256_setzero_ps();
    }
  }

  int kk = 0;
  for (; kk + U <= k; kk += U) {
    for (int u = 0; u < U; ++u) {
      const __m256 w0 = _mm256_loadu_ps(w);
      const __m256 w1 = _mm256_loadu_ps(w + 8);
      w += kNR;
      for (int r = 0; r < R; ++r) {
        const __m256 b = _mm256_broadcast_ss(xr[r] + kk + u);
        acc[u][r][0] = _mm256_fmadd_ps(b, w0, acc[u][r][0]);
        acc[u][r][1] = _mm256_fmadd_ps(b, w1, acc[u][r][1]);
      }
    }
  }
  if constexpr (U > 1) {
    for (; kk < k; ++kk) {  // K tail (k % U) into phase 0
      const __m256 w0 = _mm256_loadu_ps(w);
      const __m256 w1 = _mm256_loadu_ps(w + 8);
      w += kNR;
      for (int r = 0; r < R; ++r) {
        const __m256 b = _mm256_broadcast_ss(xr[r] + kk);
        acc[0][r][0] = _mm256_fmadd_ps(b, w0, acc[0][r][0]);
        acc[0][r][1] = _mm256_fmadd_ps(b, w1, acc[0][r][1]);
      }
    }
    for (int r = 0; r < R; ++r) {
      for (int h = 0; h < 2; ++h) {
        if constexpr (U == 4) {
          acc[0][r][h] = _mm256_add_ps(_mm256_add_ps(acc[0][r][h], acc[1][r][h]),
                                       _mm256_add_ps(acc[2][r][h], acc[3][r][h]));
        } else {
          acc[0][r][h] = _mm256_add_ps(acc[0][r][h], acc[1][r][h]);
        }
      }
    }
  }
  for (int r = 0; r < R; ++r) {
    Store16(acc[0][r][0], acc[0][r][1], bias, e, nr, y + static_cast<size_t>(r) * y_stride);
  }
}

using TileFn = void (*)(int, const float*, size_t, const float*, int, const Epilogue&, float*,
                        size_t);
constexpr TileFn kTails[kMR] = {nullptr, Tile<1>, Tile<2>, Tile<3>, Tile<4>, Tile<5>};

}  // namespace

void f32_gemm_minmax__avx2_6x16(int m, int n, int k, const float* x, size_t x_stride,
                                const void* packed, FRange act, float* y, size_t y_stride) {
  if (m <= 0 || n <= 0) return;
  if (k < 0) k = 0;
  Epilogue e;
  e.lo = _mm256_set1_ps(act.lo);
  e.hi = _mm256_set1_ps(act.hi);
  const size_t block_floats = static_cast<size_t>(kNR) * (static_cast<size_t>(k) + 1);
  const auto* blocks = static_cast<const float*>(packed);

  // Blocks of 16 channels outside, rows inside kMR at a time: one block's
  // weights are reused by every row tile while they are in L1/L2.
  for (int nb = 0; nb < n; nb += kNR) {
    const int nr = n - nb < kNR ? n - nb : kNR;
    const float* block = blocks + static_cast<size_t>(nb / kNR) * block_floats;
    float* yb = y + nb;
    int i = 0;
    for (; i + kMR <= m; i += kMR) {
      Tile<kMR>(k, x + static_cast<size_t>(i) * x_stride, x_stride, block, nr, e,
                yb + static_cast<size_t>(i) * y_stride, y_stride);
    }
    if (i < m) {
      kTails[m - i](k, x + static_cast<size_t>(i) * x_stride, x_stride, block, nr, e,
                    yb + static_cast<size_t>(i) * y_stride, y_stride);
    }
  }
}

}  // namespace quanta::kernels
