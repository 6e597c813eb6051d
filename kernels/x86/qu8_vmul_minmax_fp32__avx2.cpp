// AVX2 elementwise Mul of two dense uint8 tensors of the same shape.
// Byte-exact with qu8_mul_minmax_fp32__ref:
//   f = float((a - za) * (b - zb)) * m     exact int32 product, one vmulps
//   y = requantize_f(f, zy, r)             NaN -> 0 (so zy clamped), clamp
//                                          to [qmin - zy, qmax - zy], round
//                                          half to even (cvtps2dq), + zy
// 8 values per step, then a scalar tail with the reference rule.
#include <immintrin.h>

#include "quanta/kernels/requantize.h"
#include "quanta/kernels/x86_misc.h"

namespace quanta::kernels {

void qu8_vmul_minmax_fp32__avx2(int64_t n, const uint8_t* a, const uint8_t* b,
                                const QMulParams& p, uint8_t* y) {
  const __m256i za = _mm256_set1_epi32(p.za);
  const __m256i zb = _mm256_set1_epi32(p.zb);
  const __m256 m = _mm256_set1_ps(p.m);
  const __m256 lo = _mm256_set1_ps(static_cast<float>(p.r.qmin - p.zy));
  const __m256 hi = _mm256_set1_ps(static_cast<float>(p.r.qmax - p.zy));
  const __m256i zy = _mm256_set1_epi32(p.zy);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256i av =
        _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(a + i)));
    const __m256i bv =
        _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(b + i)));
    const __m256i prod = _mm256_mullo_epi32(_mm256_sub_epi32(av, za), _mm256_sub_epi32(bv, zb));
    __m256 f = _mm256_mul_ps(_mm256_cvtepi32_ps(prod), m);
    f = _mm256_andnot_ps(_mm256_cmp_ps(f, f, _CMP_UNORD_Q), f);  // NaN -> 0
    f = _mm256_min_ps(_mm256_max_ps(f, lo), hi);
    const __m256i q = _mm256_add_epi32(_mm256_cvtps_epi32(f), zy);  // in [qmin, qmax]
    const __m128i q16 = _mm_packs_epi32(_mm256_castsi256_si128(q), _mm256_extracti128_si256(q, 1));
    _mm_storel_epi64(reinterpret_cast<__m128i*>(y + i), _mm_packus_epi16(q16, q16));
  }
  for (; i < n; ++i) {
    const float f = static_cast<float>((a[i] - p.za) * (b[i] - p.zb)) * p.m;
    y[i] = requantize_f(f, p.zy, p.r.qmin, p.r.qmax);
  }
}

}  // namespace quanta::kernels
