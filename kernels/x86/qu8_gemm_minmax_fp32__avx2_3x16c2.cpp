// qu8 GEMM, AVX2, tiles of 3 rows x 16 output channels, K consumed in pairs
// ("3x16c2"), 8 at a time. Bit-exact with qu8_fully_connected_minmax_fp32__ref.
//
// Exactness: as qu8_gemm_minmax_fp32__avx2_2x8c8 (see there): no vpmaddubsw
// (its int16 pair sums saturate: 255*127*2 > 32767); weights pre-widened to
// int16 by qu8_gemm_16c2_pack, activations zero-extended u8 -> i16
// (vpmovzxbw), products summed in pairs by vpmaddwd into exact int32, int32
// accumulation wrapping like the reference's modulo-2^32 conversion.
//
// Layout difference with 8c8: here each accumulator lane is one output channel
// (a "vertical" sum), so the epilogue needs no horizontal reduction. The price
// is one vpshufd per K pair and row to broadcast the pair (x[k], x[k+1]); the
// shuffles run beside vpmaddwd. This suits small K (1x1 convolutions with
// few input channels), where 8c8's reduction epilogue dominates.
//
// Requantization: identical sequence to 2x8c8 (vmulps, max/min in NaN-faithful
// operand order, cvtps2dq, + zy, low byte).
// Loads x[i][0..k) only (K tail through a small zeroed buffer); stores
// y[i][0..n) only.
//
// Fused residual Add (QResidual, x86.h): a compile-time variant of the tile
// (kRes), so the plain kernel's code is unchanged; the Add runs on the int32
// lanes of the requantized bytes before the packs (qu8_residual_avx2.h).
#include <immintrin.h>

#include <cstring>

#include "qu8_residual_avx2.h"
#include "quanta/kernels/x86.h"

namespace quanta::kernels {

namespace {

constexpr int kMR = 3;

// 8 bytes of x -> 16 words: x0..x7 in both 128-bit lanes.
inline __m256i LoadX8(const uint8_t* p) {
  const __m128i v = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(p));
  return _mm256_cvtepu8_epi16(_mm_unpacklo_epi64(v, v));
}

using residual_detail::Epilogue;

// 16 sums (channels 0..7 in s0, 8..15 in s1) + bias -> nr <= 16 bytes. kRes:
// the residual bytes at `sr` are read before y is written (y may alias them).
template <bool kRes>
inline void Store16(__m256i s0, __m256i s1, const int32_t* bias, const float* mul,
                    const Epilogue& e, int nr, uint8_t* y, const uint8_t* sr) {
  residual_detail::Store16<kRes>(
      _mm256_add_epi32(s0, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(bias))),
      _mm256_add_epi32(s1, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(bias + 8))), mul,
      e, nr, y, sr);
}

// The residual epilogue of a tile, out of line so that its constants do not
// compete with the tile's accumulators for registers (inlined, GCC spilled the
// accumulators inside the K loop).
__attribute__((noinline)) void StoreRowsResidual(const __m256i* acc, int rows,
                                                 const int32_t* bias, const float* mul,
                                                 const Epilogue& e, int nr, uint8_t* y,
                                                 size_t y_stride, const uint8_t* sr) {
  for (int r = 0; r < rows; ++r) {
    Store16<true>(acc[2 * r], acc[2 * r + 1], bias, mul, e, nr, y + r * y_stride,
                  sr + r * e.s_stride);
  }
}

// One 8-deep K chunk for one row: 4 pairs, each broadcast and multiplied with
// the 2 weight vectors of that pair.
inline void Chunk(__m256i xw, const __m256i* wp, __m256i& a0, __m256i& a1) {
  __m256i b = _mm256_shuffle_epi32(xw, 0x00);
  a0 = _mm256_add_epi32(a0, _mm256_madd_epi16(b, _mm256_loadu_si256(wp + 0)));
  a1 = _mm256_add_epi32(a1, _mm256_madd_epi16(b, _mm256_loadu_si256(wp + 1)));
  b = _mm256_shuffle_epi32(xw, 0x55);
  a0 = _mm256_add_epi32(a0, _mm256_madd_epi16(b, _mm256_loadu_si256(wp + 2)));
  a1 = _mm256_add_epi32(a1, _mm256_madd_epi16(b, _mm256_loadu_si256(wp + 3)));
  b = _mm256_shuffle_epi32(xw, 0xAA);
  a0 = _mm256_add_epi32(a0, _mm256_madd_epi16(b, _mm256_loadu_si256(wp + 4)));
  a1 = _mm256_add_epi32(a1, _mm256_madd_epi16(b, _mm256_loadu_si256(wp + 5)));
  b = _mm256_shuffle_epi32(xw, 0xFF);
  a0 = _mm256_add_epi32(a0, _mm256_madd_epi16(b, _mm256_loadu_si256(wp + 6)));
  a1 = _mm256_add_epi32(a1, _mm256_madd_epi16(b, _mm256_loadu_si256(wp + 7)));
}

// sr: residual of row 0 of the tile at this block's first channel (kRes).
template <int R, bool kRes>
inline void Tile(int k, const uint8_t* x, size_t x_stride, const unsigned char* block, int nr,
                 const Epilogue& e, uint8_t* y, size_t y_stride, const uint8_t* sr) {
  const auto* bias = reinterpret_cast<const int32_t*>(block);
  const auto* mul = reinterpret_cast<const float*>(block + 64);
  const auto* wp = reinterpret_cast<const __m256i*>(block + 128);
  const uint8_t* x0 = x;
  const uint8_t* x1 = R > 1 ? x + x_stride : x;
  const uint8_t* x2 = R > 2 ? x + 2 * x_stride : x;
  __m256i a00 = _mm256_setzero_si256(), a01 = a00, a10 = a00, a11 = a00, a20 = a00, a21 = a00;

  const int k8 = k & ~7;
  for (int kk = 0; kk < k8; kk += 8) {
    Chunk(LoadX8(x0 + kk), wp, a00, a01);
    if constexpr (R > 1) Chunk(LoadX8(x1 + kk), wp, a10, a11);
    if constexpr (R > 2) Chunk(LoadX8(x2 + kk), wp, a20, a21);
    wp += 8;
  }
  if (k8 != k) {  // K tail: packed weights past k are zero; x is read only to k
    const size_t kr = static_cast<size_t>(k - k8);
    alignas(8) uint8_t buf[3][8] = {};
    std::memcpy(buf[0], x0 + k8, kr);
    if constexpr (R > 1) std::memcpy(buf[1], x1 + k8, kr);
    if constexpr (R > 2) std::memcpy(buf[2], x2 + k8, kr);
    Chunk(LoadX8(buf[0]), wp, a00, a01);
    if constexpr (R > 1) Chunk(LoadX8(buf[1]), wp, a10, a11);
    if constexpr (R > 2) Chunk(LoadX8(buf[2]), wp, a20, a21);
  }
  if constexpr (kRes) {
    const __m256i acc[6] = {a00, a01, a10, a11, a20, a21};
    StoreRowsResidual(acc, R, bias, mul, e, nr, y, y_stride, sr);
  } else {
    Store16<false>(a00, a01, bias, mul, e, nr, y, nullptr);
    if constexpr (R > 1) Store16<false>(a10, a11, bias, mul, e, nr, y + y_stride, nullptr);
    if constexpr (R > 2) Store16<false>(a20, a21, bias, mul, e, nr, y + 2 * y_stride, nullptr);
  }
}

template <bool kRes>
void Run(int m, int n, int k, const uint8_t* x, size_t x_stride, const void* packed,
         const Epilogue& e, uint8_t* y, size_t y_stride) {
  const size_t kp = (static_cast<size_t>(k) + 7) / 8 * 8;
  const size_t block_bytes = 128 + 32 * kp;
  const auto* blocks = static_cast<const unsigned char*>(packed);

  // Blocks of 16 channels outside (their packed weights stay in L1), rows
  // inside, kMR at a time.
  for (int nb = 0; nb < n; nb += 16) {
    const int nr = n - nb < 16 ? n - nb : 16;
    const unsigned char* block = blocks + static_cast<size_t>(nb / 16) * block_bytes;
    uint8_t* yb = y + nb;
    const uint8_t* sb = kRes ? e.s + nb : nullptr;
    auto srow = [&](int i) { return kRes ? sb + static_cast<size_t>(i) * e.s_stride : nullptr; };
    int i = 0;
    for (; i + kMR <= m; i += kMR) {
      Tile<kMR, kRes>(k, x + static_cast<size_t>(i) * x_stride, x_stride, block, nr, e,
                      yb + static_cast<size_t>(i) * y_stride, y_stride, srow(i));
    }
    if (m - i == 2) {
      Tile<2, kRes>(k, x + static_cast<size_t>(i) * x_stride, x_stride, block, nr, e,
                    yb + static_cast<size_t>(i) * y_stride, y_stride, srow(i));
    } else if (m - i == 1) {
      Tile<1, kRes>(k, x + static_cast<size_t>(i) * x_stride, x_stride, block, nr, e,
                    yb + static_cast<size_t>(i) * y_stride, y_stride, srow(i));
    }
  }
}

}  // namespace

void qu8_gemm_minmax_fp32__avx2_3x16c2(int m, int n, int k, const uint8_t* x, size_t x_stride,
                                       const void* packed, int32_t zy, QRange r, uint8_t* y,
                                       size_t y_stride, const QResidual* res) {
  if (m <= 0 || n <= 0) return;
  if (k < 0) k = 0;
  const Epilogue e = residual_detail::MakeEpilogue(zy, r, res);
  if (res == nullptr) {
    Run<false>(m, n, k, x, x_stride, packed, e, y, y_stride);
  } else {
    Run<true>(m, n, k, x, x_stride, packed, e, y, y_stride);
  }
}

void qu8_gemm_minmax_fp32__avx2_3x16c2(int m, int n, int k, const uint8_t* x, size_t x_stride,
                                       const void* packed, int32_t zy, QRange r, uint8_t* y,
                                       size_t y_stride) {
  qu8_gemm_minmax_fp32__avx2_3x16c2(m, n, k, x, x_stride, packed, zy, r, y, y_stride, nullptr);
}

}  // namespace quanta::kernels
