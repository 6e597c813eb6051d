// qu8 AveragePool, AVX2, NHWC, vectorized over channels. Byte-exact with
// qu8_avgpool_minmax_fp32__ref:
//   acc   = sum over inside taps of x  -  inside * zx       (int32, = sum (x - zx))
//   count = kh*kw if count_include_pad else inside          (0 -> 1)
//   m     = ratio / float(count)                            (the reference's division)
//   y     = requantize(acc, m, zy, r)                       (vmulps, clamp, cvtps2dq, + zy)
// The inside taps form a rectangle found once per pixel (no per-tap checks).
// Channels 32 per step (two uint16 accumulators when the window has at most
// 256 inside taps, else four int32 ones), then 8, then a remainder < 8
// gathered with byte copies.
#include <immintrin.h>

#include <cstring>

#include "quanta/kernels/x86_misc.h"
#include "tap_window.h"

namespace quanta::kernels {

namespace {

struct Epi {
  __m256 lo, hi, m;
  __m256i zy, bias;  // bias = -inside * zx
};

// 8 int32 sums -> 8 int32 requantized values (in [qmin, qmax]).
inline __m256i Requant8(__m256i sum, const Epi& e) {
  __m256 f = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_add_epi32(sum, e.bias)), e.m);
  f = _mm256_max_ps(e.lo, f);  // std::max(f, lo): a NaN stays f
  f = _mm256_min_ps(e.hi, f);
  return _mm256_add_epi32(_mm256_cvtps_epi32(f), e.zy);
}

inline __m128i Pack8(__m256i q) {
  // Only the low byte of each lane matters (static_cast<uint8_t> in the
  // reference); values are in [0, 255] except for a NaN input, so mask first.
  q = _mm256_and_si256(q, _mm256_set1_epi32(0xFF));
  const __m128i w = _mm_packus_epi32(_mm256_castsi256_si128(q), _mm256_extracti128_si256(q, 1));
  return _mm_packus_epi16(w, w);
}

inline __m256i Load8(const uint8_t* a) {
  return _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(a)));
}

inline __m256i Load16(const uint8_t* a) {
  return _mm256_cvtepu8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(a)));
}

}  // namespace

void qu8_avgpool_minmax_fp32__avx2_c32(const Pool2DParams& p, const uint8_t* x, int32_t zx,
                                       float ratio, int32_t zy, QRange r, uint8_t* y) {
  const int C = p.c;
  if (C <= 0 || p.n <= 0 || p.oh <= 0 || p.ow <= 0) return;
  Epi e;
  e.lo = _mm256_set1_ps(static_cast<float>(r.qmin - zy));
  e.hi = _mm256_set1_ps(static_cast<float>(r.qmax - zy));
  e.zy = _mm256_set1_epi32(zy);
  tap_window::ForEachPoolPixel(p, x, y, [&](const tap_window::PoolWindow& win, uint8_t* yp) {
    const int64_t inside = win.Inside();
    int64_t count = p.count_include_pad ? int64_t{p.kh} * p.kw : inside;
    if (count == 0) count = 1;
    const float m = ratio / static_cast<float>(count);
    e.m = _mm256_set1_ps(m);
    e.bias = _mm256_set1_epi32(static_cast<int32_t>(-inside * zx));
    int c = 0;
    for (; c + 32 <= C; c += 32) {
      __m256i s0 = _mm256_setzero_si256(), s1 = s0, s2 = s0, s3 = s0;
      if (inside <= 256) {
        // uint16 lanes hold up to 256 * 255: two vpmovzxbw + two vpaddw
        // per tap instead of four of each at int32.
        __m256i lo16 = _mm256_setzero_si256(), hi16 = lo16;
        win.ForTaps([&](const uint8_t* px) {
          lo16 = _mm256_add_epi16(lo16, Load16(px + c));
          hi16 = _mm256_add_epi16(hi16, Load16(px + c + 16));
        });
        s0 = _mm256_cvtepu16_epi32(_mm256_castsi256_si128(lo16));
        s1 = _mm256_cvtepu16_epi32(_mm256_extracti128_si256(lo16, 1));
        s2 = _mm256_cvtepu16_epi32(_mm256_castsi256_si128(hi16));
        s3 = _mm256_cvtepu16_epi32(_mm256_extracti128_si256(hi16, 1));
      } else {
        win.ForTaps([&](const uint8_t* px) {
          s0 = _mm256_add_epi32(s0, Load8(px + c));
          s1 = _mm256_add_epi32(s1, Load8(px + c + 8));
          s2 = _mm256_add_epi32(s2, Load8(px + c + 16));
          s3 = _mm256_add_epi32(s3, Load8(px + c + 24));
        });
      }
      const __m256i q0 = _mm256_and_si256(Requant8(s0, e), _mm256_set1_epi32(0xFF));
      const __m256i q1 = _mm256_and_si256(Requant8(s1, e), _mm256_set1_epi32(0xFF));
      const __m256i q2 = _mm256_and_si256(Requant8(s2, e), _mm256_set1_epi32(0xFF));
      const __m256i q3 = _mm256_and_si256(Requant8(s3, e), _mm256_set1_epi32(0xFF));
      // packus works per 128-bit lane; a final dword permute restores order.
      const __m256i w01 = _mm256_packus_epi32(q0, q1);
      const __m256i w23 = _mm256_packus_epi32(q2, q3);
      const __m256i b = _mm256_packus_epi16(w01, w23);
      const __m256i ordered =
          _mm256_permutevar8x32_epi32(b, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(yp + c), ordered);
    }
    for (; c + 8 <= C; c += 8) {
      __m256i s = _mm256_setzero_si256();
      win.ForTaps([&](const uint8_t* px) { s = _mm256_add_epi32(s, Load8(px + c)); });
      _mm_storel_epi64(reinterpret_cast<__m128i*>(yp + c), Pack8(Requant8(s, e)));
    }
    if (c < C) {
      const int rem = C - c;
      __m256i s = _mm256_setzero_si256();
      win.ForTaps([&](const uint8_t* px) {
        alignas(8) uint8_t tmp[8] = {};
        std::memcpy(tmp, px + c, static_cast<size_t>(rem));
        s = _mm256_add_epi32(s, Load8(tmp));
      });
      alignas(16) uint8_t out[16];
      _mm_store_si128(reinterpret_cast<__m128i*>(out), Pack8(Requant8(s, e)));
      std::memcpy(yp + c, out, static_cast<size_t>(rem));
    }
  });
}

}  // namespace quanta::kernels
