// Intrinsics for the AVX-512 kernels (files named `...__avx512...`), native or
// emulated.
//
// Native build (the default): <immintrin.h>; the file is compiled with the
// AVX-512 F/BW/VL/DQ/VNNI flags (CMakeLists.txt) and its functions live in
// quanta::kernels. They may only run when cpu_supports(Tier::kAvx512Vnni).
//
// Emulated build (QUANTA_SIMD_EMULATE defined, target quanta_kernels_emu): the
// same source is compiled without ISA flags against SIMDe, which implements
// the intrinsics in portable C; the functions land in quanta::kernels::emu.
// They run on any x86-64 CPU (slowly) and exist so that the AVX-512 kernels can
// be tested bit-exact on machines without AVX-512.
//
// A kernel source looks like:
//   #include "simd_x86.h"
//   namespace quanta::kernels {
//   QUANTA_SIMD_NS_BEGIN
//   ... kernels ...
//   QUANTA_SIMD_NS_END
//   }
//
// SIMDe 0.7.4 (Debian 12) lacks a few AVX-512 intrinsics the kernels use; they
// are supplied below for the emulated build only, lane by lane, with the
// instruction's exact semantics (in particular cvtps2dq: round half to even
// under the default MXCSR, NaN and out-of-range give INT32_MIN, and masked
// loads/stores never touch the masked-off bytes). A newer SIMDe that defines
// one of them as a macro takes precedence (#ifndef guards).
#pragma once

#if defined(QUANTA_SIMD_EMULATE)

#define SIMDE_ENABLE_NATIVE_ALIASES
#include <simde/x86/avx512.h>

#include <cmath>
#include <cstdint>
#include <cstring>

#define QUANTA_SIMD_NS_BEGIN namespace emu {
#define QUANTA_SIMD_NS_END }

namespace quanta::kernels::emu {

// SIMDe 0.7.4 has simde__mmask16 but no native alias for it.
#if !defined(__mmask16)
using __mmask16 = simde__mmask16;
#endif

#if !defined(_mm512_cvtepi32_ps)
inline __m512 _mm512_cvtepi32_ps(__m512i a) {
  int32_t in[16];
  float out[16];
  std::memcpy(in, &a, sizeof(in));
  for (int i = 0; i < 16; ++i) out[i] = static_cast<float>(in[i]);
  __m512 r;
  std::memcpy(&r, out, sizeof(r));
  return r;
}
#endif

#if !defined(_mm512_cvtps_epi32)
// cvtps2dq under the default rounding mode (nearest, ties to even).
inline __m512i _mm512_cvtps_epi32(__m512 a) {
  float in[16];
  int32_t out[16];
  std::memcpy(in, &a, sizeof(in));
  for (int i = 0; i < 16; ++i) {
    const float f = in[i];
    // [-2^31, 2^31) is representable; NaN fails both comparisons.
    if (f >= -2147483648.0f && f < 2147483648.0f) {
      out[i] = static_cast<int32_t>(std::nearbyint(f));
    } else {
      out[i] = INT32_MIN;  // the "integer indefinite" value
    }
  }
  __m512i r;
  std::memcpy(&r, out, sizeof(r));
  return r;
}
#endif

#if !defined(_mm512_mask_cvtepi32_storeu_epi8)
// vpmovdb with a store mask: the low byte of each selected lane.
inline void _mm512_mask_cvtepi32_storeu_epi8(void* p, __mmask16 k, __m512i a) {
  int32_t in[16];
  std::memcpy(in, &a, sizeof(in));
  auto* out = static_cast<unsigned char*>(p);
  for (int i = 0; i < 16; ++i)
    if ((static_cast<unsigned>(k) >> i) & 1u) out[i] = static_cast<unsigned char>(in[i] & 0xFF);
}
#endif

#if !defined(_mm512_maskz_loadu_ps)
inline __m512 _mm512_maskz_loadu_ps(__mmask16 k, const void* p) {
  float out[16] = {};
  const auto* in = static_cast<const unsigned char*>(p);
  for (int i = 0; i < 16; ++i)
    if ((static_cast<unsigned>(k) >> i) & 1u) std::memcpy(&out[i], in + 4 * i, 4);
  __m512 r;
  std::memcpy(&r, out, sizeof(r));
  return r;
}
#endif

#if !defined(_mm512_mask_storeu_ps)
inline void _mm512_mask_storeu_ps(void* p, __mmask16 k, __m512 a) {
  float in[16];
  std::memcpy(in, &a, sizeof(in));
  auto* out = static_cast<unsigned char*>(p);
  for (int i = 0; i < 16; ++i)
    if ((static_cast<unsigned>(k) >> i) & 1u) std::memcpy(out + 4 * i, &in[i], 4);
}
#endif

#if !defined(_mm512_cvtepu8_epi32)
// vpmovzxbd: 16 bytes zero-extended to 16 int32 lanes.
inline __m512i _mm512_cvtepu8_epi32(__m128i a) {
  unsigned char in[16];
  int32_t out[16];
  std::memcpy(in, &a, sizeof(in));
  for (int i = 0; i < 16; ++i) out[i] = in[i];
  __m512i r;
  std::memcpy(&r, out, sizeof(r));
  return r;
}
#endif

#if !defined(_mm_maskz_loadu_epi8)
// vmovdqu8 with a zeroing mask: masked-off bytes are neither read nor kept.
inline __m128i _mm_maskz_loadu_epi8(__mmask16 k, const void* p) {
  unsigned char out[16] = {};
  const auto* in = static_cast<const unsigned char*>(p);
  for (int i = 0; i < 16; ++i)
    if ((static_cast<unsigned>(k) >> i) & 1u) out[i] = in[i];
  __m128i r;
  std::memcpy(&r, out, sizeof(r));
  return r;
}
#endif

}  // namespace quanta::kernels::emu

#else  // native

#include <immintrin.h>

// GCC 12's avx512fintrin.h builds results from _mm512_undefined_*() and then
// reports them as "may be used uninitialized" once inlined (GCC PR 105593,
// fixed in GCC 13), and for the vmaxps/vminps builtins as "used
// uninitialized": both silenced for the rest of this (kernel) translation unit.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif

#define QUANTA_SIMD_NS_BEGIN
#define QUANTA_SIMD_NS_END

#endif
