// qu8 GlobalAveragePool, AVX2: x [n, hw, c] -> y [n, c]. Byte-exact with
// qu8_global_avgpool_minmax_fp32__ref:
//   acc = (sum over hw of x) - hw * zx      modulo 2^32, as the reference's
//                                           int64 sum converted to int32
//   y   = requantize(acc, ratio / float(hw > 0 ? hw : 1), zy, r)
// 32 channels per step: the bytes are summed in uint16 lanes (at most 256
// rows at a time, 256 * 255 < 2^16) and flushed into uint32 lanes; then 8
// channels per step the same way, then a remainder < 8 through byte copies.
#include <immintrin.h>

#include <cstring>

#include "quanta/kernels/x86_misc.h"

namespace quanta::kernels {

namespace {

constexpr int64_t kFlush = 256;

struct Epi {
  __m256 lo, hi, m;
  __m256i zy, bias;
};

inline __m256i Requant8(__m256i sum, const Epi& e) {
  __m256 f = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_add_epi32(sum, e.bias)), e.m);
  f = _mm256_max_ps(e.lo, f);
  f = _mm256_min_ps(e.hi, f);
  const __m256i q = _mm256_add_epi32(_mm256_cvtps_epi32(f), e.zy);
  return _mm256_and_si256(q, _mm256_set1_epi32(0xFF));  // static_cast<uint8_t>
}

inline __m128i Pack8(__m256i q) {
  const __m128i w = _mm_packus_epi32(_mm256_castsi256_si128(q), _mm256_extracti128_si256(q, 1));
  return _mm_packus_epi16(w, w);
}

// Adds the 16 uint16 lanes of v into two vectors of 8 uint32 lanes.
inline void Widen(__m256i v, __m256i& a, __m256i& b) {
  a = _mm256_add_epi32(a, _mm256_cvtepu16_epi32(_mm256_castsi256_si128(v)));
  b = _mm256_add_epi32(b, _mm256_cvtepu16_epi32(_mm256_extracti128_si256(v, 1)));
}

}  // namespace

void qu8_global_avgpool_minmax_fp32__avx2_c32(int n, int64_t hw, int c, const uint8_t* x,
                                              int32_t zx, float ratio, int32_t zy, QRange r,
                                              uint8_t* y) {
  if (n <= 0 || c <= 0) return;
  const int64_t cs = c;
  const float m = ratio / static_cast<float>(hw > 0 ? hw : 1);
  const int64_t h = hw > 0 ? hw : 0;
  Epi e;
  e.lo = _mm256_set1_ps(static_cast<float>(r.qmin - zy));
  e.hi = _mm256_set1_ps(static_cast<float>(r.qmax - zy));
  e.m = _mm256_set1_ps(m);
  e.zy = _mm256_set1_epi32(zy);
  // -hw * zx modulo 2^32 (unsigned arithmetic: no overflow).
  const uint32_t corr = 0u - static_cast<uint32_t>(static_cast<uint64_t>(h) * static_cast<uint32_t>(zx));
  e.bias = _mm256_set1_epi32(static_cast<int32_t>(corr));
  for (int64_t b = 0; b < n; ++b) {
    const uint8_t* xb = x + b * h * cs;
    uint8_t* yb = y + b * cs;
    int64_t ch = 0;
    for (; ch + 32 <= cs; ch += 32) {
      __m256i s0 = _mm256_setzero_si256(), s1 = s0, s2 = s0, s3 = s0;
      for (int64_t i0 = 0; i0 < h; i0 += kFlush) {
        const int64_t i1 = h - i0 < kFlush ? h : i0 + kFlush;
        __m256i lo16 = _mm256_setzero_si256(), hi16 = lo16;
        for (int64_t i = i0; i < i1; ++i) {
          const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xb + i * cs + ch));
          lo16 = _mm256_add_epi16(lo16, _mm256_cvtepu8_epi16(_mm256_castsi256_si128(v)));
          hi16 = _mm256_add_epi16(hi16, _mm256_cvtepu8_epi16(_mm256_extracti128_si256(v, 1)));
        }
        Widen(lo16, s0, s1);
        Widen(hi16, s2, s3);
      }
      const __m128i b0 = Pack8(Requant8(s0, e));
      const __m128i b1 = Pack8(Requant8(s1, e));
      const __m128i b2 = Pack8(Requant8(s2, e));
      const __m128i b3 = Pack8(Requant8(s3, e));
      _mm_storeu_si128(reinterpret_cast<__m128i*>(yb + ch), _mm_unpacklo_epi64(b0, b1));
      _mm_storeu_si128(reinterpret_cast<__m128i*>(yb + ch + 16), _mm_unpacklo_epi64(b2, b3));
    }
    for (; ch < cs; ch += 8) {
      const int rem = cs - ch < 8 ? static_cast<int>(cs - ch) : 8;
      __m256i s = _mm256_setzero_si256();
      for (int64_t i0 = 0; i0 < h; i0 += kFlush) {
        const int64_t i1 = h - i0 < kFlush ? h : i0 + kFlush;
        __m128i acc16 = _mm_setzero_si128();
        for (int64_t i = i0; i < i1; ++i) {
          __m128i v;
          if (rem == 8) {
            v = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(xb + i * cs + ch));
          } else {
            alignas(8) uint8_t tmp[8] = {};
            std::memcpy(tmp, xb + i * cs + ch, static_cast<size_t>(rem));
            v = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(tmp));
          }
          acc16 = _mm_add_epi16(acc16, _mm_cvtepu8_epi16(v));
        }
        s = _mm256_add_epi32(s, _mm256_cvtepu16_epi32(acc16));
      }
      const __m128i q = Pack8(Requant8(s, e));
      if (rem == 8) {
        _mm_storel_epi64(reinterpret_cast<__m128i*>(yb + ch), q);
      } else {
        alignas(16) uint8_t out[16];
        _mm_store_si128(reinterpret_cast<__m128i*>(out), q);
        std::memcpy(yb + ch, out, static_cast<size_t>(rem));
      }
    }
  }
}

}  // namespace quanta::kernels
