// qu8 GEMM, AVX2, tiles of 2 rows x 8 output channels, K consumed 8 at a time
// ("2x8c8"). Bit-exact with qu8_fully_connected_minmax_fp32__ref.
//
// Why int16 widening (and not vpmaddubsw): AVX2 has no exact u8 x s8 dot
// product. vpmaddubsw multiplies u8 by s8 and adds adjacent pairs with signed
// int16 SATURATION: 255*127 + 255*127 = 64770 > 32767, so ordinary inputs
// (x = 255, w = 127) already clip and the result is no longer the reference's.
// Instead the weights are sign-extended to int16 once, at packing time
// (qu8_gemm_8c8_pack), the activations are zero-extended u8 -> i16 here
// (vpmovzxbw), and vpmaddwd forms i16 x i16 products summed in pairs into
// int32: |pair| <= 2 * 255 * 128 < 2^31, exact. Accumulation is vpaddd (int32,
// wrapping), i.e. the reference's "int64 sum converted modulo 2^32".
//
// Accumulators: per row, 4 ymm; vector j holds 4 partial sums of channel j
// (128-bit lane 0) and of channel j+4 (lane 1). Three vphaddd fold them into
// the 8 channel sums in order. With 2 rows that is 8 independent accumulators
// (+ 4 weight and 2 input registers). A 3-row variant measured slower on this
// host (GCC spills its 12 accumulators; 46 vs 53 GMAC/s on 128x768x768): the
// loop is bound by vpmaddwd throughput (about 1 per cycle on Zen 3), which 2
// rows already saturate.
//
// Requantization (requantize.h, docs/design.md §1), in the same order as the reference:
//   f = cvtdq2ps(acc) * m          one vmulps (no FMA)
//   f = min(max(f, qmin - zy), qmax - zy)   vmaxps/vminps with the bound first,
//                                           so NaN propagates as in std::max/min
//   r = cvtps2dq(f)                half to even (default MXCSR) = lrintf
//   y = uint8(r + zy)              low byte (masked), as static_cast<uint8_t>
//
// Loads: x[i][0..k) only (the K tail goes through a small zeroed buffer);
// stores: y[i][0..n) only (the N tail goes through a small buffer).
//
// Fused residual Add (QResidual, x86.h): compile-time variant kRes of the tile,
// applied to the int32 lanes of the requantized bytes (qu8_residual_avx2.h).
#include <immintrin.h>

#include <cstring>

#include "qu8_residual_avx2.h"
#include "quanta/kernels/x86.h"

namespace quanta::kernels {

namespace {

constexpr int kMR = 2;  // rows per tile

// 8 bytes of x -> 16 words: x0..x7 in both 128-bit lanes.
inline __m256i LoadX8(const uint8_t* p) {
  const __m128i v = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(p));
  return _mm256_cvtepu8_epi16(_mm_unpacklo_epi64(v, v));
}

using residual_detail::Epilogue;

// Requantizes 8 int32 sums + bias (channels 0..7 in order) and writes nr <= 8
// bytes. kRes: the nr residual bytes at sr are read first (y may alias them).
template <bool kRes>
inline void Store8(__m256i sum, const int32_t* bias, const float* mul, const Epilogue& e, int nr,
                   uint8_t* y, const uint8_t* sr) {
  __m256i q = residual_detail::Requant8(
      _mm256_add_epi32(sum, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(bias))), mul, e);
  if constexpr (kRes) {
    q = residual_detail::AddResidual8(q, residual_detail::LoadResidual8(sr, nr), e.res);
  }
  const __m128i w16 = residual_detail::Pack8(q);
  const __m128i b8 = _mm_packus_epi16(w16, w16);
  if (nr == 8) {
    _mm_storel_epi64(reinterpret_cast<__m128i*>(y), b8);
  } else {
    alignas(16) uint8_t tmp[16];
    _mm_store_si128(reinterpret_cast<__m128i*>(tmp), b8);
    std::memcpy(y, tmp, static_cast<size_t>(nr));
  }
}

// The residual epilogue of a tile, out of line so that its constants do not
// compete with the accumulators for registers.
__attribute__((noinline)) void StoreRowsResidual(const __m256i* acc, int rows,
                                                 const int32_t* bias, const float* mul,
                                                 const Epilogue& e, int nr, uint8_t* y,
                                                 size_t y_stride, const uint8_t* sr) {
  for (int r = 0; r < rows; ++r) {
    Store8<true>(acc[r], bias, mul, e, nr, y + r * y_stride, sr + r * e.s_stride);
  }
}

// acc_j += madd(x, w_j) for the 4 weight vectors of one 8-deep K chunk.
#define QU8_GEMM_ROW_STEP(a0, a1, a2, a3, xv, w0, w1, w2, w3) \
  do {                                                        \
    a0 = _mm256_add_epi32(a0, _mm256_madd_epi16(xv, w0));     \
    a1 = _mm256_add_epi32(a1, _mm256_madd_epi16(xv, w1));     \
    a2 = _mm256_add_epi32(a2, _mm256_madd_epi16(xv, w2));     \
    a3 = _mm256_add_epi32(a3, _mm256_madd_epi16(xv, w3));     \
  } while (0)

// 4 accumulators of one row -> 8 channel sums in order.
inline __m256i Reduce(__m256i a0, __m256i a1, __m256i a2, __m256i a3) {
  const __m256i s01 = _mm256_hadd_epi32(a0, a1);  // c0 c0 c1 c1 | c4 c4 c5 c5
  const __m256i s23 = _mm256_hadd_epi32(a2, a3);  // c2 c2 c3 c3 | c6 c6 c7 c7
  return _mm256_hadd_epi32(s01, s23);             // c0 c1 c2 c3 | c4 c5 c6 c7
}

// R rows (1 or 2) x one block of 8 channels. Named accumulators (not an
// array) so that the compiler keeps them in registers.
template <int R, bool kRes>
inline void Tile(int k, const uint8_t* x, size_t x_stride, const unsigned char* block, int nr,
                 const Epilogue& e, uint8_t* y, size_t y_stride, const uint8_t* sr) {
  const auto* bias = reinterpret_cast<const int32_t*>(block);
  const auto* mul = reinterpret_cast<const float*>(block + 32);
  const auto* wp = reinterpret_cast<const __m256i*>(block + 64);
  const uint8_t* x0 = x;
  const uint8_t* x1 = R > 1 ? x + x_stride : x;

  __m256i a00 = _mm256_setzero_si256(), a01 = a00, a02 = a00, a03 = a00;
  __m256i a10 = a00, a11 = a00, a12 = a00, a13 = a00;

  const int k8 = k & ~7;
  for (int kk = 0; kk < k8; kk += 8) {
    const __m256i w0 = _mm256_loadu_si256(wp + 0);
    const __m256i w1 = _mm256_loadu_si256(wp + 1);
    const __m256i w2 = _mm256_loadu_si256(wp + 2);
    const __m256i w3 = _mm256_loadu_si256(wp + 3);
    wp += 4;
    const __m256i xv0 = LoadX8(x0 + kk);
    QU8_GEMM_ROW_STEP(a00, a01, a02, a03, xv0, w0, w1, w2, w3);
    if constexpr (R > 1) {
      const __m256i xv1 = LoadX8(x1 + kk);
      QU8_GEMM_ROW_STEP(a10, a11, a12, a13, xv1, w0, w1, w2, w3);
    }
  }
  if (k8 != k) {  // K tail: the packed weights past k are zero; x is read only to k
    const size_t kr = static_cast<size_t>(k - k8);
    const __m256i w0 = _mm256_loadu_si256(wp + 0);
    const __m256i w1 = _mm256_loadu_si256(wp + 1);
    const __m256i w2 = _mm256_loadu_si256(wp + 2);
    const __m256i w3 = _mm256_loadu_si256(wp + 3);
    alignas(8) uint8_t buf[2][8] = {};
    std::memcpy(buf[0], x0 + k8, kr);
    if constexpr (R > 1) std::memcpy(buf[1], x1 + k8, kr);
    const __m256i xv0 = LoadX8(buf[0]);
    QU8_GEMM_ROW_STEP(a00, a01, a02, a03, xv0, w0, w1, w2, w3);
    if constexpr (R > 1) {
      const __m256i xv1 = LoadX8(buf[1]);
      QU8_GEMM_ROW_STEP(a10, a11, a12, a13, xv1, w0, w1, w2, w3);
    }
  }
  if constexpr (kRes) {
    const __m256i acc[2] = {Reduce(a00, a01, a02, a03), Reduce(a10, a11, a12, a13)};
    StoreRowsResidual(acc, R, bias, mul, e, nr, y, y_stride, sr);
  } else {
    Store8<false>(Reduce(a00, a01, a02, a03), bias, mul, e, nr, y, nullptr);
    if constexpr (R > 1) {
      Store8<false>(Reduce(a10, a11, a12, a13), bias, mul, e, nr, y + y_stride, nullptr);
    }
  }
}

#undef QU8_GEMM_ROW_STEP

template <bool kRes>
void Run(int m, int n, int k, const uint8_t* x, size_t x_stride, const void* packed,
         const Epilogue& e, uint8_t* y, size_t y_stride) {
  const size_t kp = (static_cast<size_t>(k) + 7) / 8 * 8;
  const size_t block_bytes = 64 + 16 * kp;
  const auto* blocks = static_cast<const unsigned char*>(packed);

  // Blocks of 8 channels outside (that block's packed weights stay in L1),
  // rows inside, 2 at a time.
  for (int nb = 0; nb < n; nb += 8) {
    const int nr = n - nb < 8 ? n - nb : 8;
    const unsigned char* block = blocks + static_cast<size_t>(nb / 8) * block_bytes;
    uint8_t* yb = y + nb;
    const uint8_t* sb = kRes ? e.s + nb : nullptr;
    auto srow = [&](int i) { return kRes ? sb + static_cast<size_t>(i) * e.s_stride : nullptr; };
    int i = 0;
    for (; i + kMR <= m; i += kMR) {
      Tile<kMR, kRes>(k, x + static_cast<size_t>(i) * x_stride, x_stride, block, nr, e,
                      yb + static_cast<size_t>(i) * y_stride, y_stride, srow(i));
    }
    if (m - i == 1) {
      Tile<1, kRes>(k, x + static_cast<size_t>(i) * x_stride, x_stride, block, nr, e,
                    yb + static_cast<size_t>(i) * y_stride, y_stride, srow(i));
    }
  }
}

}  // namespace

void qu8_gemm_minmax_fp32__avx2_2x8c8(int m, int n, int k, const uint8_t* x, size_t x_stride,
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

void qu8_gemm_minmax_fp32__avx2_2x8c8(int m, int n, int k, const uint8_t* x, size_t x_stride,
                                      const void* packed, int32_t zy, QRange r, uint8_t* y,
                                      size_t y_stride) {
  qu8_gemm_minmax_fp32__avx2_2x8c8(m, n, k, x, x_stride, packed, zy, r, y, y_stride, nullptr);
}

}  // namespace quanta::kernels
