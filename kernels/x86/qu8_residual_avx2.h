// Internal to the AVX2 qu8 GEMM / igemm kernels: their requantizing store
// epilogue and its fused residual-Add variant (QResidual, x86.h). Include only
// from files compiled with the AVX2 flags (their names contain __avx2).
//
// Requantization, as requantize() lane by lane: f = float(acc) * mul,
// vmaxps(lo, f), vminps(hi, f) (NaN stays f), vcvtps2dq, + zy, then only the
// low byte of each lane is kept, so the unsigned packs to bytes never saturate.
//
// For 8 output channels whose conv bytes c (int32 lanes, each in [0, 255]) the
// kernel has just requantized, and the 8 matching residual bytes s:
//   f = float(c - zc) * mc + float(s - zs) * ms        two vmulps + one vaddps
//   y = requantize_f(f, zy, qmin, qmax)                 NaN -> 0 before the clamp
// (zc, mc) and (zs, ms) are the Add's (za, ma) / (zb, mb) in the order the
// QResidual names. Summing the two products in this fixed order is exact for
// both graph orders: IEEE addition is commutative (x + y == y + x bit for bit,
// and a NaN sum is NaN either way, mapped to the same byte), so
// float(a-za)*ma + float(b-zb)*mb of the reference is the same float whichever
// operand is the conv. No FMA (the project builds with -ffp-contract=off).
#pragma once

#include <immintrin.h>

#include <cstring>

#include "quanta/kernels/x86.h"

namespace quanta::kernels::residual_detail {

struct ResidualEpi {
  __m256i zc, zs, zy;
  __m256 mc, ms, lo, hi;
};

inline ResidualEpi MakeResidualEpi(const QResidual& res) {
  const QAddParams& a = res.add;
  const bool conv_a = res.order == AddOrder::kConvFirst;
  ResidualEpi e;
  e.zc = _mm256_set1_epi32(conv_a ? a.za : a.zb);
  e.zs = _mm256_set1_epi32(conv_a ? a.zb : a.za);
  e.mc = _mm256_set1_ps(conv_a ? a.ma : a.mb);
  e.ms = _mm256_set1_ps(conv_a ? a.mb : a.ma);
  e.zy = _mm256_set1_epi32(a.zy);
  e.lo = _mm256_set1_ps(static_cast<float>(a.r.qmin - a.zy));
  e.hi = _mm256_set1_ps(static_cast<float>(a.r.qmax - a.zy));
  return e;
}

// c: 8 conv bytes as int32 lanes; s8: 8 residual bytes in the low quadword.
// Returns the 8 Add results as int32 lanes, each in [qmin, qmax] c [0, 255].
inline __m256i AddResidual8(__m256i c, __m128i s8, const ResidualEpi& e) {
  const __m256i s = _mm256_cvtepu8_epi32(s8);
  const __m256 fc = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_sub_epi32(c, e.zc)), e.mc);
  const __m256 fs = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_sub_epi32(s, e.zs)), e.ms);
  __m256 f = _mm256_add_ps(fc, fs);
  f = _mm256_andnot_ps(_mm256_cmp_ps(f, f, _CMP_UNORD_Q), f);  // NaN -> +0
  f = _mm256_min_ps(_mm256_max_ps(f, e.lo), e.hi);
  return _mm256_add_epi32(_mm256_cvtps_epi32(f), e.zy);
}

// The residual bytes of one output row segment of nr <= 16 channels (16 read
// only when nr == 16: nothing past the segment is touched). Loaded before the
// row is stored, so y may alias the residual.
inline __m128i LoadResidual16(const uint8_t* s, int nr) {
  if (nr == 16) return _mm_loadu_si128(reinterpret_cast<const __m128i*>(s));
  alignas(16) uint8_t tmp[16] = {};
  std::memcpy(tmp, s, static_cast<size_t>(nr));
  return _mm_load_si128(reinterpret_cast<const __m128i*>(tmp));
}

inline __m128i LoadResidual8(const uint8_t* s, int nr) {
  if (nr == 8) return _mm_loadl_epi64(reinterpret_cast<const __m128i*>(s));
  alignas(16) uint8_t tmp[16] = {};
  std::memcpy(tmp, s, static_cast<size_t>(nr));
  return _mm_load_si128(reinterpret_cast<const __m128i*>(tmp));
}

// The constants of a kernel call's store epilogue. s / s_stride: the
// residual's row 0 and row stride (res != nullptr only).
struct Epilogue {
  __m256 lo, hi;
  __m256i zy, mask;
  ResidualEpi res;             // residual only
  const uint8_t* s = nullptr;  // residual only
  size_t s_stride = 0;         // residual only
};

inline Epilogue MakeEpilogue(int32_t zy, QRange r, const QResidual* res) {
  Epilogue e;
  e.lo = _mm256_set1_ps(static_cast<float>(r.qmin - zy));
  e.hi = _mm256_set1_ps(static_cast<float>(r.qmax - zy));
  e.zy = _mm256_set1_epi32(zy);
  e.mask = _mm256_set1_epi32(0xFF);
  if (res != nullptr) {
    e.res = MakeResidualEpi(*res);
    e.s = res->data;
    e.s_stride = res->stride;
  }
  return e;
}

// 8 int32 accumulators -> 8 requantized bytes as int32 lanes (each in [0, 255]).
inline __m256i Requant8(__m256i acc, const float* mul, const Epilogue& e) {
  __m256 f = _mm256_mul_ps(_mm256_cvtepi32_ps(acc), _mm256_loadu_ps(mul));
  f = _mm256_max_ps(e.lo, f);  // = std::max(f, lo): NaN stays f
  f = _mm256_min_ps(e.hi, f);  // = std::min(f, hi): NaN stays f
  const __m256i q = _mm256_add_epi32(_mm256_cvtps_epi32(f), e.zy);
  return _mm256_and_si256(q, e.mask);  // low byte, so the packs never saturate
}

// 8 int32 lanes in [0, 255] -> 8 words (low 128 bits).
inline __m128i Pack8(__m256i q) {
  return _mm_packus_epi32(_mm256_castsi256_si128(q), _mm256_extracti128_si256(q, 1));
}

// 16 accumulators (channels 0..7 in a0, 8..15 in a1) -> nr <= 16 bytes at y.
// kRes: the nr residual bytes at sr are read before y is written (y may
// alias them).
template <bool kRes>
inline void Store16(__m256i a0, __m256i a1, const float* mul, const Epilogue& e, int nr,
                    uint8_t* y, const uint8_t* sr) {
  __m256i q0 = Requant8(a0, mul, e);
  __m256i q1 = Requant8(a1, mul + 8, e);
  if constexpr (kRes) {
    const __m128i sv = LoadResidual16(sr, nr);
    q0 = AddResidual8(q0, sv, e.res);
    q1 = AddResidual8(q1, _mm_unpackhi_epi64(sv, sv), e.res);
  }
  const __m128i b = _mm_packus_epi16(Pack8(q0), Pack8(q1));
  if (nr == 16) {
    _mm_storeu_si128(reinterpret_cast<__m128i*>(y), b);
  } else {
    alignas(16) uint8_t tmp[16];
    _mm_store_si128(reinterpret_cast<__m128i*>(tmp), b);
    std::memcpy(y, tmp, static_cast<size_t>(nr));
  }
}

}  // namespace quanta::kernels::residual_detail
