// f32 -> u8 Quantize (ONNX QuantizeLinear), AVX2. Byte-exact with
// qu8_quantize__ref / quantize_u8 (requantize.h):
//   NaN            -> z
//   f = x / s      (vdivps: the same IEEE division as the reference)
//   f = min(max(f, -z), 255 - z)   (+-inf saturate)
//   y = cvtps2dq(f) + z            (round half to even, default MXCSR)
// 32 values per step, then 8, then a scalar tail with the reference rule.
#include <immintrin.h>

#include "quanta/kernels/requantize.h"
#include "quanta/kernels/x86_misc.h"

namespace quanta::kernels {

namespace {

struct Q {
  __m256 s, lo, hi;
  __m256i z;
};

inline __m256i Quant8(const float* x, const Q& q) {
  const __m256 v = _mm256_loadu_ps(x);
  __m256 f = _mm256_div_ps(v, q.s);
  // NaN (only from a NaN x for a finite s > 0) -> 0, i.e. y = z.
  f = _mm256_andnot_ps(_mm256_cmp_ps(v, v, _CMP_UNORD_Q), f);
  f = _mm256_min_ps(_mm256_max_ps(f, q.lo), q.hi);
  return _mm256_add_epi32(_mm256_cvtps_epi32(f), q.z);  // in [0, 255]
}

}  // namespace

void qu8_quantize__avx2(int64_t n, const float* x, float s, int32_t z, uint8_t* y) {
  Q q;
  q.s = _mm256_set1_ps(s);
  q.lo = _mm256_set1_ps(static_cast<float>(-z));
  q.hi = _mm256_set1_ps(static_cast<float>(255 - z));
  q.z = _mm256_set1_epi32(z);
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    const __m256i a = Quant8(x + i, q);
    const __m256i b = Quant8(x + i + 8, q);
    const __m256i c = Quant8(x + i + 16, q);
    const __m256i d = Quant8(x + i + 24, q);
    const __m256i ab = _mm256_packs_epi32(a, b);  // per lane: a0-3 b0-3 | a4-7 b4-7
    const __m256i cd = _mm256_packs_epi32(c, d);
    const __m256i bytes = _mm256_packus_epi16(ab, cd);
    const __m256i ordered =
        _mm256_permutevar8x32_epi32(bytes, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(y + i), ordered);
  }
  for (; i + 8 <= n; i += 8) {
    const __m256i a = Quant8(x + i, q);
    const __m128i w = _mm_packs_epi32(_mm256_castsi256_si128(a), _mm256_extracti128_si256(a, 1));
    _mm_storel_epi64(reinterpret_cast<__m128i*>(y + i), _mm_packus_epi16(w, w));
  }
  for (; i < n; ++i) y[i] = quantize_u8(x[i], s, z);
}

}  // namespace quanta::kernels
