// u8 MaxPool, AVX2, NHWC, vectorized over channels (32 per step). Byte-exact
// with u8_maxpool_minmax__ref: per output value the max (vpmaxub) over the
// taps inside the input, starting from 0, then clamped to [qmin, qmax].
//
// Per output pixel the inside taps form a rectangle [ky0, ky1) x [kx0, kx1)
// (the input coordinate grows with the tap index), found once per row / pixel,
// so the tap loops have no bounds checks. The channel tail (< 16) is loaded as
// 16 bytes when they lie inside x, else through a copy of the bytes that
// exist; it is stored through a stack copy.
#include <immintrin.h>

#include <cstring>

#include "quanta/kernels/x86_misc.h"
#include "tap_window.h"

namespace quanta::kernels {

namespace {

inline __m128i LoadTail(const uint8_t* a, int rem, const uint8_t* x_end) {
  if (x_end - a >= 16) return _mm_loadu_si128(reinterpret_cast<const __m128i*>(a));
  alignas(16) uint8_t tmp[16] = {};
  std::memcpy(tmp, a, static_cast<size_t>(rem));
  return _mm_load_si128(reinterpret_cast<const __m128i*>(tmp));
}

}  // namespace

void u8_maxpool_minmax__avx2_c32(const Pool2DParams& p, const uint8_t* x, QRange r, uint8_t* y) {
  const int C = p.c;
  if (C <= 0 || p.n <= 0 || p.oh <= 0 || p.ow <= 0) return;
  const uint8_t* x_end = x + static_cast<int64_t>(p.n) * p.h * p.w * C;
  const __m256i lo = _mm256_set1_epi8(static_cast<char>(r.qmin));
  const __m256i hi = _mm256_set1_epi8(static_cast<char>(r.qmax));
  const __m128i lo16 = _mm256_castsi256_si128(lo);
  const __m128i hi16 = _mm256_castsi256_si128(hi);
  tap_window::ForEachPoolPixel(p, x, y, [&](const tap_window::PoolWindow& win, uint8_t* yp) {
    int c = 0;
    for (; c + 64 <= C; c += 64) {
      __m256i m0 = _mm256_setzero_si256();
      __m256i m1 = _mm256_setzero_si256();
      win.ForTaps([&](const uint8_t* px) {
        m0 = _mm256_max_epu8(m0, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(px + c)));
        m1 = _mm256_max_epu8(m1,
                             _mm256_loadu_si256(reinterpret_cast<const __m256i*>(px + c + 32)));
      });
      m0 = _mm256_min_epu8(_mm256_max_epu8(m0, lo), hi);
      m1 = _mm256_min_epu8(_mm256_max_epu8(m1, lo), hi);
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(yp + c), m0);
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(yp + c + 32), m1);
    }
    if (c + 32 <= C) {
      __m256i m = _mm256_setzero_si256();
      win.ForTaps([&](const uint8_t* px) {
        m = _mm256_max_epu8(m, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(px + c)));
      });
      m = _mm256_min_epu8(_mm256_max_epu8(m, lo), hi);
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(yp + c), m);
      c += 32;
    }
    if (c + 16 <= C) {
      __m128i m = _mm_setzero_si128();
      win.ForTaps([&](const uint8_t* px) {
        m = _mm_max_epu8(m, _mm_loadu_si128(reinterpret_cast<const __m128i*>(px + c)));
      });
      m = _mm_min_epu8(_mm_max_epu8(m, lo16), hi16);
      _mm_storeu_si128(reinterpret_cast<__m128i*>(yp + c), m);
      c += 16;
    }
    if (c < C) {
      const int rem = C - c;
      __m128i m = _mm_setzero_si128();
      win.ForTaps([&](const uint8_t* px) { m = _mm_max_epu8(m, LoadTail(px + c, rem, x_end)); });
      m = _mm_min_epu8(_mm_max_epu8(m, lo16), hi16);
      alignas(16) uint8_t tmp[16];
      _mm_store_si128(reinterpret_cast<__m128i*>(tmp), m);
      std::memcpy(yp + c, tmp, static_cast<size_t>(rem));
    }
  });
}

}  // namespace quanta::kernels
