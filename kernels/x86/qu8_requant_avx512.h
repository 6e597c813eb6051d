// Internal to the AVX-512 qu8 kernels (files named `...__avx512...`, native
// or SIMDe-emulated, see simd_x86.h): the requantizing store of 16 int32
// accumulators, as requantize() (requantize.h) lane by lane:
//   f = float(acc) * mul                  vcvtdq2ps, one vmulps
//   f = min(max(f, qmin - zy), qmax - zy)  vmaxps(lo, f), vminps(hi, f): NaN stays f
//   y = int(f) + zy                        vcvtps2dq (nearest even), vpaddd
// stored as bytes with a masked vpmovdb (masked-off bytes are not touched).
// Also the VNNI GEMMs' activation broadcast (BroadcastX4).
// Include after simd_x86.h, outside QUANTA_SIMD_NS_BEGIN: the helpers land in
// the same namespace as the including kernel.
#pragma once

#include <cstdint>
#include <cstring>

#include "quanta/kernels/requantize.h"
#include "simd_x86.h"

namespace quanta::kernels {
QUANTA_SIMD_NS_BEGIN
namespace requant512 {

struct Epilogue {
  __m512 lo, hi;
  __m512i zy;
};

inline Epilogue MakeEpilogue(int32_t zy, QRange r) {
  Epilogue e;
  e.lo = _mm512_set1_ps(static_cast<float>(r.qmin - zy));
  e.hi = _mm512_set1_ps(static_cast<float>(r.qmax - zy));
  e.zy = _mm512_set1_epi32(zy);
  return e;
}

// Lanes 0 .. n-1 (all 16 when n >= 16).
inline __mmask16 MaskFirst(int n) {
  return n >= 16 ? static_cast<__mmask16>(0xFFFF) : static_cast<__mmask16>((1u << n) - 1u);
}

inline void StoreBlock(__m512i acc, const float* mul, const Epilogue& e, __mmask16 mask,
                       uint8_t* y) {
  __m512 f = _mm512_mul_ps(_mm512_cvtepi32_ps(acc), _mm512_loadu_ps(mul));
  f = _mm512_max_ps(e.lo, f);  // = std::max(f, lo): NaN stays f
  f = _mm512_min_ps(e.hi, f);  // = std::min(f, hi): NaN stays f
  const __m512i q = _mm512_add_epi32(_mm512_cvtps_epi32(f), e.zy);
  _mm512_mask_cvtepi32_storeu_epi8(y, mask, q);
}

// The first `valid` channels of the block (all 16 when valid >= 16).
inline void StoreBlock(__m512i acc, const float* mul, const Epilogue& e, int valid, uint8_t* y) {
  StoreBlock(acc, mul, e, MaskFirst(valid), y);
}

// 4 activation bytes at p (any alignment) in every int32 lane, for vpdpbusd.
inline __m512i BroadcastX4(const uint8_t* p) {
  int32_t v;
  std::memcpy(&v, p, sizeof(v));
  return _mm512_set1_epi32(v);
}

}  // namespace requant512
QUANTA_SIMD_NS_END
}  // namespace quanta::kernels
