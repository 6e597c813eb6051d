// u8 -> f32 Dequantize (ONNX DequantizeLinear), AVX2. The same floats as
// qu8_dequantize__ref: y = s * float(x - z), one multiply (x - z is exact in
// int32 and in float). 32 values per step, then 8, then a scalar tail.
#include <immintrin.h>

#include "quanta/kernels/requantize.h"
#include "quanta/kernels/x86_misc.h"

namespace quanta::kernels {

namespace {

inline __m256 Deq8(const uint8_t* x, __m256i z, __m256 s) {
  const __m256i v = _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(x)));
  return _mm256_mul_ps(s, _mm256_cvtepi32_ps(_mm256_sub_epi32(v, z)));
}

}  // namespace

void qu8_dequantize__avx2(int64_t n, const uint8_t* x, float s, int32_t z, float* y) {
  const __m256 sv = _mm256_set1_ps(s);
  const __m256i zv = _mm256_set1_epi32(z);
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    _mm256_storeu_ps(y + i, Deq8(x + i, zv, sv));
    _mm256_storeu_ps(y + i + 8, Deq8(x + i + 8, zv, sv));
    _mm256_storeu_ps(y + i + 16, Deq8(x + i + 16, zv, sv));
    _mm256_storeu_ps(y + i + 24, Deq8(x + i + 24, zv, sv));
  }
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, Deq8(x + i, zv, sv));
  for (; i < n; ++i) y[i] = dequantize(x[i], s, z);
}

}  // namespace quanta::kernels
