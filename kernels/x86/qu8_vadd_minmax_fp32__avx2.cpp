// AVX2 elementwise Add of two dense uint8 tensors of the same shape:
// f = float(a - za) * ma + float(b - zb) * mb, then requantize_f (requantize.h):
// NaN -> 0 (so the result is zy clamped), clamp to [qmin - zy, qmax - zy] in
// float (max, then min), round half to even (cvtps2dq), + zy. Two separate
// multiplies and an add, as the reference computes them (no FMA: this file
// is compiled with -ffp-contract=off like every other).
#include <immintrin.h>

#include "quanta/kernels/requantize.h"
#include "quanta/kernels/x86.h"

namespace quanta::kernels {

void qu8_vadd_minmax_fp32__avx2(int64_t n, const uint8_t* a, const uint8_t* b,
                                const QAddParams& p, uint8_t* y) {
  const __m256i za = _mm256_set1_epi32(p.za);
  const __m256i zb = _mm256_set1_epi32(p.zb);
  const __m256 ma = _mm256_set1_ps(p.ma);
  const __m256 mb = _mm256_set1_ps(p.mb);
  const __m256 lo = _mm256_set1_ps(static_cast<float>(p.r.qmin - p.zy));
  const __m256 hi = _mm256_set1_ps(static_cast<float>(p.r.qmax - p.zy));
  const __m256i zy = _mm256_set1_epi32(p.zy);
  const __m256 zero = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256i av = _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(a + i)));
    const __m256i bv = _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(b + i)));
    const __m256 fa = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_sub_epi32(av, za)), ma);
    const __m256 fb = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_sub_epi32(bv, zb)), mb);
    __m256 f = _mm256_add_ps(fa, fb);
    f = _mm256_blendv_ps(f, zero, _mm256_cmp_ps(f, f, _CMP_UNORD_Q));
    f = _mm256_min_ps(_mm256_max_ps(f, lo), hi);
    const __m256i q = _mm256_add_epi32(_mm256_cvtps_epi32(f), zy);
    // q is inside [qmin, qmax] c [0, 255]: the saturating packs are exact.
    const __m128i q16 = _mm_packs_epi32(_mm256_castsi256_si128(q), _mm256_extracti128_si256(q, 1));
    _mm_storel_epi64(reinterpret_cast<__m128i*>(y + i), _mm_packus_epi16(q16, q16));
  }
  for (; i < n; ++i) {
    const float f = static_cast<float>(a[i] - p.za) * p.ma + static_cast<float>(b[i] - p.zb) * p.mb;
    y[i] = requantize_f(f, p.zy, p.r.qmin, p.r.qmax);
  }
}

}  // namespace quanta::kernels
