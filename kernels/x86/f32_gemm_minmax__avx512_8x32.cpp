// fp32 GEMM, AVX-512 F + FMA, tiles of up to 8 rows x 32 output channels
// ("8x32"). y[i][j] = min(max(sum_kk x[i][kk] * w[j][kk] + bias[j], lo), hi),
// the contract of f32_fully_connected__ref up to rounding (fused multiply-adds;
// K split over 2 or 4 accumulator sets in 1- to 3-row tiles). Contract:
// x86_avx512.h. Packing: f32_gemm_16_pack (x86.h); a 32-channel tile reads two
// consecutive 16-channel blocks.
//
// Registers of the 8-row tile: 16 zmm accumulators (8 rows x 2 x 16
// channels), 2 weight vectors, 1 broadcast: 16 independent FMA chains cover
// the FMA latency at 2 FMA per cycle. Tiles of R = m % 8 rows (1..7) split K
// into U phases (U = 4 for 1 row, 2 for 2-3 rows, else 1) so that they still
// have >= 8 chains; the phases are added at the end ((a0 + a1) + (a2 + a3)).
// The arithmetic of a row therefore depends only on the height R of the tile
// holding it (8 for every full tile): splitting the rows at multiples of 8
// (kernel MR) across threads gives bit-identical results.
//
// Epilogue: + bias, max(lo, v), min(hi, v) with the operand order that keeps
// a NaN sum NaN (as the reference's std::min(std::max(v, lo), hi)); masked
// stores for the channel tail. Loads x[i][0..k) only, writes y[i][0..n) only.
#include "quanta/kernels/x86.h"
#include "quanta/kernels/x86_avx512.h"
#include "simd_x86.h"

namespace quanta::kernels {
QUANTA_SIMD_NS_BEGIN

namespace {

constexpr int kMR = 8;
constexpr int kBlock = 16;  // channels of one packed block

struct Epi {
  __m512 lo, hi;
};

inline __mmask16 MaskFirst(int n) {
  return n >= kBlock ? static_cast<__mmask16>(0xFFFF) : static_cast<__mmask16>((1u << n) - 1u);
}

inline void StoreRow(__m512 acc, const float* bias, const Epi& e, int valid, float* y) {
  __m512 v = _mm512_add_ps(acc, _mm512_loadu_ps(bias));
  v = _mm512_max_ps(e.lo, v);  // = std::max(v, lo): NaN stays v
  v = _mm512_min_ps(e.hi, v);  // = std::min(v, hi): NaN stays v
  if (valid >= kBlock) {
    _mm512_storeu_ps(y, v);
  } else {
    _mm512_mask_storeu_ps(y, MaskFirst(valid), v);
  }
}

constexpr int Phases(int rows) { return rows == 1 ? 4 : rows <= 3 ? 2 : 1; }

// R rows x NB blocks (1 or 2) starting at `blk`; nr valid channels.
template <int R, int NB>
inline void Tile(int k, const float* x, size_t x_stride, const float* blk, size_t block_floats,
                 int nr, const Epi& e, float* y, size_t y_stride) {
  constexpr int U = Phases(R);
  const float* w[NB];
  for (int j = 0; j < NB; ++j) w[j] = blk + j * block_floats + kBlock;
  __m512 acc[U][R][NB];
  for (int u = 0; u < U; ++u)
    for (int r = 0; r < R; ++r)
      for (int j = 0; j < NB; ++j) acc[u][r][j] = _mm512_setzero_ps();
  int kk = 0;
  for (; kk + U <= k; kk += U) {
    for (int u = 0; u < U; ++u) {
      __m512 wv[NB];
      for (int j = 0; j < NB; ++j) wv[j] = _mm512_loadu_ps(w[j] + static_cast<size_t>(kk + u) * kBlock);
      for (int r = 0; r < R; ++r) {
        const __m512 b = _mm512_set1_ps(x[static_cast<size_t>(r) * x_stride + kk + u]);
        for (int j = 0; j < NB; ++j) acc[u][r][j] = _mm512_fmadd_ps(b, wv[j], acc[u][r][j]);
      }
    }
  }
  if constexpr (U > 1) {
    for (; kk < k; ++kk) {  // K tail (k % U) into phase 0
      __m512 wv[NB];
      for (int j = 0; j < NB; ++j) wv[j] = _mm512_loadu_ps(w[j] + static_cast<size_t>(kk) * kBlock);
      for (int r = 0; r < R; ++r) {
        const __m512 b = _mm512_set1_ps(x[static_cast<size_t>(r) * x_stride + kk]);
        for (int j = 0; j < NB; ++j) acc[0][r][j] = _mm512_fmadd_ps(b, wv[j], acc[0][r][j]);
      }
    }
    for (int r = 0; r < R; ++r) {
      for (int j = 0; j < NB; ++j) {
        if constexpr (U == 4) {
          acc[0][r][j] = _mm512_add_ps(_mm512_add_ps(acc[0][r][j], acc[1][r][j]),
                                       _mm512_add_ps(acc[2][r][j], acc[3][r][j]));
        } else {
          acc[0][r][j] = _mm512_add_ps(acc[0][r][j], acc[1][r][j]);
        }
      }
    }
  }
  for (int j = 0; j < NB; ++j) {
    const float* bias = blk + j * block_floats;
    for (int r = 0; r < R; ++r)
      StoreRow(acc[0][r][j], bias, e, nr - kBlock * j, y + static_cast<size_t>(r) * y_stride + kBlock * j);
  }
}

// All channels of R rows, 32 at a time.
template <int R>
void Rows(int n, int k, const float* x, size_t x_stride, const float* base, size_t block_floats,
          const Epi& e, float* y, size_t y_stride) {
  for (int c = 0; c < n; c += 2 * kBlock) {
    const int nr = n - c < 2 * kBlock ? n - c : 2 * kBlock;
    const float* blk = base + static_cast<size_t>(c / kBlock) * block_floats;
    if (nr > kBlock) {
      Tile<R, 2>(k, x, x_stride, blk, block_floats, nr, e, y + c, y_stride);
    } else {
      Tile<R, 1>(k, x, x_stride, blk, block_floats, nr, e, y + c, y_stride);
    }
  }
}

using RowsFn = void (*)(int, int, const float*, size_t, const float*, size_t, const Epi&, float*,
                        size_t);
constexpr RowsFn kRest[kMR] = {nullptr, Rows<1>, Rows<2>, Rows<3>, Rows<4>, Rows<5>, Rows<6>,
                               Rows<7>};

}  // namespace

void f32_gemm_minmax__avx512_8x32(int m, int n, int k, const float* x, size_t x_stride,
                                  const void* packed, FRange act, float* y, size_t y_stride) {
  if (m <= 0 || n <= 0) return;
  if (k < 0) k = 0;
  Epi e;
  e.lo = _mm512_set1_ps(act.lo);
  e.hi = _mm512_set1_ps(act.hi);
  const size_t block_floats = static_cast<size_t>(kBlock) * (static_cast<size_t>(k) + 1);
  const auto* base = static_cast<const float*>(packed);
  const int m8 = m / kMR * kMR;
  // Pairs of blocks outside (their weights stay in L1/L2), 8-row tiles inside.
  for (int c = 0; c < n && m8 > 0; c += 2 * kBlock) {
    const int nr = n - c < 2 * kBlock ? n - c : 2 * kBlock;
    const float* blk = base + static_cast<size_t>(c / kBlock) * block_floats;
    for (int i = 0; i < m8; i += kMR) {
      const float* xi = x + static_cast<size_t>(i) * x_stride;
      float* yi = y + static_cast<size_t>(i) * y_stride + c;
      if (nr > kBlock) {
        Tile<kMR, 2>(k, xi, x_stride, blk, block_floats, nr, e, yi, y_stride);
      } else {
        Tile<kMR, 1>(k, xi, x_stride, blk, block_floats, nr, e, yi, y_stride);
      }
    }
  }
  if (m8 < m) {
    kRest[m - m8](n, k, x + static_cast<size_t>(m8) * x_stride, x_stride, base, block_floats, e,
                  y + static_cast<size_t>(m8) * y_stride, y_stride);
  }
}

QUANTA_SIMD_NS_END
}  // namespace quanta::kernels
