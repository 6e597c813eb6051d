// qu8 GEMM, AVX-512 VNNI: tiles of 8 rows x 32 output channels, K in groups of
// 4 bytes ("8x32c4"). Bit-exact with qu8_fully_connected_minmax_fp32__ref.
// Contract and packing: x86_avx512.h (qu8_gemm_16c4_pack).
//
// Inner step, per group of 4 K bytes: the 2 weight vectors (16 channels x 4
// bytes each) are loaded once; each row's 4 activation bytes are broadcast to
// every int32 lane (vpbroadcastd) and one vpdpbusd per 16 channels adds
// x[4g]*w[c][4g] + ... + x[4g+3]*w[c][4g+3] into the channel's int32 lane.
// vpdpbusd multiplies u8 by s8 and sums the 4 products in full precision (no
// int16 saturation as in vpmaddubsw), then adds with int32 wrap-around: the
// same integer as the reference. 8 x 2 = 16 independent accumulators hide
// the vpdpbusd latency (Zen 5: 2 per cycle).
//
// Fewer rows (the m % 8 rest, and batch-1 FullyConnected) use wider tiles to
// keep enough independent chains: 1 x 128, 2 x 64, 3 x 48, 4..7 x 32
// channels. Each 16-channel block is its own weight stream (block_bytes apart).
//
// Loop order for full 8-row tiles: pairs of channel blocks outside (their
// weights, 32 * Kp bytes, stay in L1 / L2), rows inside.
//
// The accumulators start at the folded bias. Epilogue: requantize() lane-wise
// (vcvtdq2ps, vmulps, vmaxps(lo, f), vminps(hi, f), vcvtps2dq, + zy) and a
// masked vpmovdb store of the valid channels.
// K tail (k % 4): the last 1..3 bytes of a row are copied into a zeroed int32
// (the packed weights there are zero too), so no byte past x[i][k) is read.
#include <cstring>

#include "qu8_requant_avx512.h"
#include "quanta/kernels/x86_avx512.h"
#include "simd_x86.h"

namespace quanta::kernels {
QUANTA_SIMD_NS_BEGIN

namespace {

constexpr int kMR = 8;

using requant512::BroadcastX4;
using requant512::Epilogue;
using requant512::StoreBlock;

inline __m512i BroadcastTail(const uint8_t* p, int kr) {
  int32_t v = 0;
  std::memcpy(&v, p, static_cast<size_t>(kr));
  return _mm512_set1_epi32(v);
}

// R rows x NB blocks of 16 channels starting at `blk`; nr = valid channels of
// this tile (16 * (NB - 1) < nr <= 16 * NB).
template <int R, int NB>
inline void Tile(int k, const uint8_t* x, size_t x_stride, const unsigned char* blk,
                 size_t block_bytes, int nr, const Epilogue& e, uint8_t* y, size_t y_stride) {
  __m512i acc[R][NB];
  for (int j = 0; j < NB; ++j) {
    const __m512i b = _mm512_loadu_si512(blk + j * block_bytes);
    for (int r = 0; r < R; ++r) acc[r][j] = b;
  }
  const unsigned char* w = blk + 128;
  const int k4 = k & ~3;
  for (int kk = 0; kk < k4; kk += 4) {
    __m512i wv[NB];
    for (int j = 0; j < NB; ++j) wv[j] = _mm512_loadu_si512(w + j * block_bytes);
    for (int r = 0; r < R; ++r) {
      const __m512i xb = BroadcastX4(x + r * x_stride + kk);
      for (int j = 0; j < NB; ++j) acc[r][j] = _mm512_dpbusd_epi32(acc[r][j], xb, wv[j]);
    }
    w += 64;
  }
  if (k4 != k) {
    __m512i wv[NB];
    for (int j = 0; j < NB; ++j) wv[j] = _mm512_loadu_si512(w + j * block_bytes);
    for (int r = 0; r < R; ++r) {
      const __m512i xb = BroadcastTail(x + r * x_stride + k4, k - k4);
      for (int j = 0; j < NB; ++j) acc[r][j] = _mm512_dpbusd_epi32(acc[r][j], xb, wv[j]);
    }
  }
  for (int j = 0; j < NB; ++j) {
    const auto* mul = reinterpret_cast<const float*>(blk + j * block_bytes + 64);
    const int valid = nr - 16 * j;
    for (int r = 0; r < R; ++r) StoreBlock(acc[r][j], mul, e, valid, y + r * y_stride + 16 * j);
  }
}

// Widest tile (in blocks of 16 channels) for R rows.
constexpr int MaxBlocks(int rows) { return rows == 1 ? 8 : rows == 2 ? 4 : rows == 3 ? 3 : 2; }

// Tile<R, nb> for a runtime nb in 1..NB.
template <int R, int NB>
inline void TileN(int nb, int k, const uint8_t* x, size_t x_stride, const unsigned char* blk,
                  size_t block_bytes, int nr, const Epilogue& e, uint8_t* y, size_t y_stride) {
  if constexpr (NB > 0) {
    if (nb == NB) {
      Tile<R, NB>(k, x, x_stride, blk, block_bytes, nr, e, y, y_stride);
    } else {
      TileN<R, NB - 1>(nb, k, x, x_stride, blk, block_bytes, nr, e, y, y_stride);
    }
  }
}

// All channels of R rows, MaxBlocks(R) blocks at a time.
template <int R>
inline void Rows(int n, int k, const uint8_t* x, size_t x_stride, const unsigned char* base,
                 size_t block_bytes, const Epilogue& e, uint8_t* y, size_t y_stride) {
  constexpr int kNB = MaxBlocks(R);
  for (int c = 0; c < n; c += 16 * kNB) {
    const int nr = n - c < 16 * kNB ? n - c : 16 * kNB;
    const int nb = (nr + 15) / 16;
    TileN<R, kNB>(nb, k, x, x_stride, base + static_cast<size_t>(c / 16) * block_bytes,
                  block_bytes, nr, e, y + c, y_stride);
  }
}

template <int R>
inline void RestRows(int rest, int n, int k, const uint8_t* x, size_t x_stride,
                     const unsigned char* base, size_t block_bytes, const Epilogue& e, uint8_t* y,
                     size_t y_stride) {
  if constexpr (R > 0) {
    if (rest == R) {
      Rows<R>(n, k, x, x_stride, base, block_bytes, e, y, y_stride);
    } else {
      RestRows<R - 1>(rest, n, k, x, x_stride, base, block_bytes, e, y, y_stride);
    }
  }
}

}  // namespace

void qu8_gemm_minmax_fp32__avx512vnni_8x32c4(int m, int n, int k, const uint8_t* x,
                                             size_t x_stride, const void* packed, int32_t zy,
                                             QRange r, uint8_t* y, size_t y_stride) {
  if (m <= 0 || n <= 0) return;
  if (k < 0) k = 0;
  const Epilogue e = requant512::MakeEpilogue(zy, r);
  const size_t kp = (static_cast<size_t>(k) + 3) / 4 * 4;
  const size_t block_bytes = 128 + 16 * kp;
  const auto* base = static_cast<const unsigned char*>(packed);

  const int m8 = m / kMR * kMR;
  for (int c = 0; c < n && m8 > 0; c += 32) {
    const int nr = n - c < 32 ? n - c : 32;
    const unsigned char* blk = base + static_cast<size_t>(c / 16) * block_bytes;
    for (int i = 0; i < m8; i += kMR) {
      const uint8_t* xi = x + static_cast<size_t>(i) * x_stride;
      uint8_t* yi = y + static_cast<size_t>(i) * y_stride + c;
      if (nr > 16) {
        Tile<kMR, 2>(k, xi, x_stride, blk, block_bytes, nr, e, yi, y_stride);
      } else {
        Tile<kMR, 1>(k, xi, x_stride, blk, block_bytes, nr, e, yi, y_stride);
      }
    }
  }
  if (m8 < m) {
    RestRows<kMR - 1>(m - m8, n, k, x + static_cast<size_t>(m8) * x_stride, x_stride, base,
                      block_bytes, e, y + static_cast<size_t>(m8) * y_stride, y_stride);
  }
}

QUANTA_SIMD_NS_END
}  // namespace quanta::kernels
