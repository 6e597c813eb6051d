// qu8 depthwise convolution, AVX2, 16 channels per step ("c16"), any kernel
// size, stride, dilation and padding. Bit-exact with qu8_conv2d_minmax_fp32__ref
// for groups == cin == cout (channel multiplier 1), NHWC.
//
// Per output pixel the kernel first resolves the address of every tap (at most
// kMaxTaps at a time, on the stack): an inside tap points at its input pixel,
// a padded tap points at a 16-byte buffer filled with zx (the reference's
// "padded taps read x_q = zx"). The channel offset is added through a mask
// (c & mask, mask = 0 for padded taps), so the inner loop has no branch.
//
// Exact accumulation (no vpmaddubsw: its signed int16 saturation clips
// 255*127 + 255*127): the bytes of two taps are interleaved (vpunpck{l,h}bw),
// zero-extended to int16 (vpmovzxbw) and multiplied by the packed int16
// weights with vpmaddwd, which gives x[t]*w[t] + x[t+1]*w[t+1] per channel in
// int32 exactly (|.| <= 2 * 255 * 127). Sums are vpaddd (int32, wrapping: the
// reference's "int64 sum converted modulo 2^32"); DESIGN §1's bound keeps them
// exact in practice.
//
// Requantization (requantize.h, DESIGN §1), in the reference's order:
//   f = cvtdq2ps(acc) * m                   one vmulps, no FMA
//   f = min(max(f, qmin - zy), qmax - zy)   operands ordered so NaN behaves as
//                                           std::max / std::min
//   y = uint8(cvtps2dq(f) + zy)             cvtps2dq = lrintf (half to even)
//
// Memory: reads only x[0 .. n*h*w*C) (the channel tail of the last pixel goes
// through a small stack copy), writes only y[0 .. n*oh*ow*C) (the channel tail
// of each pixel is stored through a stack buffer).
#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "quanta/kernels/x86.h"

namespace quanta::kernels {

namespace {

constexpr int kC = 16;         // channels per block
constexpr int kMaxTaps = 64;   // taps resolved per pass (even)

struct Epilogue {
  __m256 lo, hi;
  __m256i zy, low_byte;
};

struct Taps {
  const uint8_t* ptr[kMaxTaps];
  uintptr_t mask[kMaxTaps];  // ~0 for an inside tap, 0 for a padded one
};

// Resolves taps [t0, t0 + count) (count even; a tap index >= kh*kw is a dummy
// with zero weights and reads the zx buffer).
inline void ResolveTaps(const Conv2DParams& p, const uint8_t* x_img, int oy, int ox, int t0,
                        int count, const uint8_t* zbuf, Taps* taps) {
  const int total = p.kh * p.kw;
  const int64_t c = p.cout;
  int ky = t0 / p.kw;
  int kx = t0 % p.kw;
  for (int i = 0; i < count; ++i) {
    const uint8_t* ptr = zbuf;
    uintptr_t mask = 0;
    if (t0 + i < total) {
      const int iy = oy * p.stride_h - p.pad_top + ky * p.dil_h;
      const int ix = ox * p.stride_w - p.pad_left + kx * p.dil_w;
      if (iy >= 0 && iy < p.h && ix >= 0 && ix < p.w) {
        ptr = x_img + (static_cast<int64_t>(iy) * p.w + ix) * c;
        mask = ~uintptr_t{0};
      }
      if (++kx == p.kw) {
        kx = 0;
        ++ky;
      }
    }
    taps->ptr[i] = ptr;
    taps->mask[i] = mask;
  }
}

// 16 bytes at a. kTail: the block is the channel tail, so an inside tap may
// end past the input; such loads go through a copy of the bytes that exist.
template <bool kTail>
inline __m128i Load16(const uint8_t* a, uintptr_t mask, const uint8_t* x_end) {
  if constexpr (kTail) {
    if (mask != 0) {
      const uintptr_t have = reinterpret_cast<uintptr_t>(x_end) - reinterpret_cast<uintptr_t>(a);
      if (have < 16) {
        alignas(16) uint8_t tmp[16] = {};
        std::memcpy(tmp, a, static_cast<size_t>(have));
        return _mm_load_si128(reinterpret_cast<const __m128i*>(tmp));
      }
    }
  }
  return _mm_loadu_si128(reinterpret_cast<const __m128i*>(a));
}

// acc{0,1} += taps [0, count) of channels c .. c+15; wp points at the first
// pair's weights and is advanced.
template <bool kTail>
inline void Accumulate(const Taps& taps, int count, uintptr_t c, const __m256i*& wp,
                       const uint8_t* x_end, __m256i& acc0, __m256i& acc1) {
  for (int t = 0; t < count; t += 2) {
    const uintptr_t ma = taps.mask[t];
    const uintptr_t mb = taps.mask[t + 1];
    const __m128i xa = Load16<kTail>(taps.ptr[t] + (c & ma), ma, x_end);
    const __m128i xb = Load16<kTail>(taps.ptr[t + 1] + (c & mb), mb, x_end);
    const __m256i lo = _mm256_cvtepu8_epi16(_mm_unpacklo_epi8(xa, xb));
    const __m256i hi = _mm256_cvtepu8_epi16(_mm_unpackhi_epi8(xa, xb));
    acc0 = _mm256_add_epi32(acc0, _mm256_madd_epi16(lo, _mm256_loadu_si256(wp)));
    acc1 = _mm256_add_epi32(acc1, _mm256_madd_epi16(hi, _mm256_loadu_si256(wp + 1)));
    wp += 2;
  }
}

inline __m256i Requant8(__m256i acc, const float* mul, const Epilogue& e) {
  __m256 f = _mm256_mul_ps(_mm256_cvtepi32_ps(acc), _mm256_loadu_ps(mul));
  f = _mm256_max_ps(e.lo, f);  // = std::max(f, lo): NaN stays f
  f = _mm256_min_ps(e.hi, f);  // = std::min(f, hi): NaN stays f
  const __m256i q = _mm256_add_epi32(_mm256_cvtps_epi32(f), e.zy);
  return _mm256_and_si256(q, e.low_byte);  // static_cast<uint8_t>; packs never saturate
}

// Requantizes channels 0..15 of a block and stores nc <= 16 bytes.
inline void Store16(__m256i acc0, __m256i acc1, const float* mul, const Epilogue& e, int nc,
                    uint8_t* y) {
  const __m256i q0 = Requant8(acc0, mul, e);
  const __m256i q1 = Requant8(acc1, mul + 8, e);
  // packus_epi32 works per 128-bit lane: [q0 0-3, q1 0-3 | q0 4-7, q1 4-7].
  const __m256i w16 = _mm256_permute4x64_epi64(_mm256_packus_epi32(q0, q1), 0xD8);
  const __m128i b8 =
      _mm_packus_epi16(_mm256_castsi256_si128(w16), _mm256_extracti128_si256(w16, 1));
  if (nc == kC) {
    _mm_storeu_si128(reinterpret_cast<__m128i*>(y), b8);
  } else {
    alignas(16) uint8_t tmp[16];
    _mm_store_si128(reinterpret_cast<__m128i*>(tmp), b8);
    std::memcpy(y, tmp, static_cast<size_t>(nc));
  }
}

template <bool kTail>
inline void BlockAllTaps(const Taps& taps, int count, uintptr_t c, const unsigned char* blk,
                         const uint8_t* x_end, const Epilogue& e, int nc, uint8_t* y) {
  const auto* bias = reinterpret_cast<const __m256i*>(blk);
  const auto* mul = reinterpret_cast<const float*>(blk + 64);
  const auto* wp = reinterpret_cast<const __m256i*>(blk + 128);
  __m256i acc0 = _mm256_loadu_si256(bias);
  __m256i acc1 = _mm256_loadu_si256(bias + 1);
  Accumulate<kTail>(taps, count, c, wp, x_end, acc0, acc1);
  Store16(acc0, acc1, mul, e, nc, y);
}


// Two output pixels (taps a and b) of one full block: the weights are loaded
// once for both, and four independent accumulator chains hide latency.
inline void BlockAllTaps2(const Taps& ta, const Taps& tb, int count, uintptr_t c,
                          const unsigned char* blk, const Epilogue& e, uint8_t* ya,
                          uint8_t* yb) {
  const auto* bias = reinterpret_cast<const __m256i*>(blk);
  const auto* mul = reinterpret_cast<const float*>(blk + 64);
  const auto* wp = reinterpret_cast<const __m256i*>(blk + 128);
  __m256i a0 = _mm256_loadu_si256(bias);
  __m256i a1 = _mm256_loadu_si256(bias + 1);
  __m256i b0 = a0;
  __m256i b1 = a1;
  for (int t = 0; t < count; t += 2) {
    const __m256i w0 = _mm256_loadu_si256(wp);
    const __m256i w1 = _mm256_loadu_si256(wp + 1);
    wp += 2;
    const __m128i xa0 = _mm_loadu_si128(
        reinterpret_cast<const __m128i*>(ta.ptr[t] + (c & ta.mask[t])));
    const __m128i xa1 = _mm_loadu_si128(
        reinterpret_cast<const __m128i*>(ta.ptr[t + 1] + (c & ta.mask[t + 1])));
    const __m128i xb0 = _mm_loadu_si128(
        reinterpret_cast<const __m128i*>(tb.ptr[t] + (c & tb.mask[t])));
    const __m128i xb1 = _mm_loadu_si128(
        reinterpret_cast<const __m128i*>(tb.ptr[t + 1] + (c & tb.mask[t + 1])));
    const __m256i alo = _mm256_cvtepu8_epi16(_mm_unpacklo_epi8(xa0, xa1));
    const __m256i ahi = _mm256_cvtepu8_epi16(_mm_unpackhi_epi8(xa0, xa1));
    const __m256i blo = _mm256_cvtepu8_epi16(_mm_unpacklo_epi8(xb0, xb1));
    const __m256i bhi = _mm256_cvtepu8_epi16(_mm_unpackhi_epi8(xb0, xb1));
    a0 = _mm256_add_epi32(a0, _mm256_madd_epi16(alo, w0));
    a1 = _mm256_add_epi32(a1, _mm256_madd_epi16(ahi, w1));
    b0 = _mm256_add_epi32(b0, _mm256_madd_epi16(blo, w0));
    b1 = _mm256_add_epi32(b1, _mm256_madd_epi16(bhi, w1));
  }
  Store16(a0, a1, mul, e, kC, ya);
  Store16(b0, b1, mul, e, kC, yb);
}

// Interior pixel (every tap inside the image): q[t] = the tap's input pixel
// (q[T] = q[0] for an odd T: its weights are zero), full block at channel c.
// kPairs > 0 fixes the number of tap pairs at compile time (fully unrolled);
// 0 takes it from `pairs`.
template <int kPairs>
inline void InteriorBlock(const uint8_t* const* q, int pairs, size_t c, const unsigned char* blk,
                          const Epilogue& e, uint8_t* y) {
  const auto* bias = reinterpret_cast<const __m256i*>(blk);
  const auto* mul = reinterpret_cast<const float*>(blk + 64);
  const auto* wp = reinterpret_cast<const __m256i*>(blk + 128);
  __m256i acc0 = _mm256_loadu_si256(bias);
  __m256i acc1 = _mm256_loadu_si256(bias + 1);
  const int n = kPairs > 0 ? kPairs : pairs;
  for (int i = 0; i < n; ++i) {
    const __m128i xa = _mm_loadu_si128(reinterpret_cast<const __m128i*>(q[2 * i] + c));
    const __m128i xb = _mm_loadu_si128(reinterpret_cast<const __m128i*>(q[2 * i + 1] + c));
    const __m256i lo = _mm256_cvtepu8_epi16(_mm_unpacklo_epi8(xa, xb));
    const __m256i hi = _mm256_cvtepu8_epi16(_mm_unpackhi_epi8(xa, xb));
    acc0 = _mm256_add_epi32(acc0, _mm256_madd_epi16(lo, _mm256_loadu_si256(wp + 2 * i)));
    acc1 = _mm256_add_epi32(acc1, _mm256_madd_epi16(hi, _mm256_loadu_si256(wp + 2 * i + 1)));
  }
  Store16(acc0, acc1, mul, e, kC, y);
}

}  // namespace

void qu8_dwconv_minmax_fp32__avx2_c16(const Conv2DParams& p, const uint8_t* x, int32_t zx,
                                      const void* packed, int32_t zy, QRange r, uint8_t* y) {
  const int channels = p.cout;
  const int total_taps = p.kh * p.kw;
  const int padded_taps = total_taps + (total_taps & 1);
  const int full_blocks = channels / kC;
  const int tail = channels % kC;
  const size_t block_bytes = 128 + 32 * static_cast<size_t>(padded_taps);
  const auto* blocks = static_cast<const unsigned char*>(packed);
  const int64_t in_image = static_cast<int64_t>(p.h) * p.w * channels;
  const uint8_t* x_end = x + static_cast<int64_t>(p.n) * in_image;

  alignas(16) uint8_t zbuf[16];
  std::memset(zbuf, zx, sizeof(zbuf));
  Epilogue e;
  e.lo = _mm256_set1_ps(static_cast<float>(r.qmin - zy));
  e.hi = _mm256_set1_ps(static_cast<float>(r.qmax - zy));
  e.zy = _mm256_set1_epi32(zy);
  e.low_byte = _mm256_set1_epi32(0xFF);

  Taps taps;
  Taps taps2;
  // Interior pixels: tap offsets from the window's top-left input pixel.
  const int span_h = (p.kh - 1) * p.dil_h;
  const int span_w = (p.kw - 1) * p.dil_w;
  int64_t tap_off[kMaxTaps];
  const uint8_t* q[kMaxTaps + 1];
  if (padded_taps <= kMaxTaps) {
    for (int ky = 0; ky < p.kh; ++ky)
      for (int kx = 0; kx < p.kw; ++kx)
        tap_off[ky * p.kw + kx] =
            (static_cast<int64_t>(ky) * p.dil_h * p.w + static_cast<int64_t>(kx) * p.dil_w) *
            channels;
  }
  for (int n = 0; n < p.n; ++n) {
    const uint8_t* x_img = x + n * in_image;
    for (int oy = 0; oy < p.oh; ++oy) {
      for (int ox = 0; ox < p.ow; ++ox) {
        uint8_t* y_pix = y + ((static_cast<int64_t>(n) * p.oh + oy) * p.ow + ox) * channels;
        const int iy0 = oy * p.stride_h - p.pad_top;
        const int ix0 = ox * p.stride_w - p.pad_left;
        const bool interior = padded_taps <= kMaxTaps && iy0 >= 0 && iy0 + span_h < p.h &&
                              ix0 >= 0 && ix0 + span_w < p.w;
        if (interior) {
          const uint8_t* x_pix = x_img + (static_cast<int64_t>(iy0) * p.w + ix0) * channels;
          for (int t = 0; t < total_taps; ++t) q[t] = x_pix + tap_off[t];
          q[total_taps] = q[0];
          const int pairs = padded_taps / 2;
          for (int b = 0; b < full_blocks; ++b) {
            const size_t c = static_cast<size_t>(b) * kC;
            const unsigned char* blk = blocks + static_cast<size_t>(b) * block_bytes;
            if (pairs == 5) {
              InteriorBlock<5>(q, pairs, c, blk, e, y_pix + c);  // 3x3
            } else if (pairs == 13) {
              InteriorBlock<13>(q, pairs, c, blk, e, y_pix + c);  // 5x5
            } else {
              InteriorBlock<0>(q, pairs, c, blk, e, y_pix + c);
            }
          }
          if (tail != 0) {
            ResolveTaps(p, x_img, oy, ox, 0, padded_taps, zbuf, &taps);
            BlockAllTaps<true>(taps, padded_taps, static_cast<uintptr_t>(full_blocks) * kC,
                               blocks + static_cast<size_t>(full_blocks) * block_bytes, x_end, e,
                               tail, y_pix + full_blocks * kC);
          }
        } else if (padded_taps <= kMaxTaps && ox + 1 < p.ow) {
          // Two pixels at a time.
          uint8_t* y_next = y_pix + channels;
          ResolveTaps(p, x_img, oy, ox, 0, padded_taps, zbuf, &taps);
          ResolveTaps(p, x_img, oy, ox + 1, 0, padded_taps, zbuf, &taps2);
          for (int b = 0; b < full_blocks; ++b) {
            BlockAllTaps2(taps, taps2, padded_taps, static_cast<uintptr_t>(b) * kC,
                          blocks + static_cast<size_t>(b) * block_bytes, e, y_pix + b * kC,
                          y_next + b * kC);
          }
          if (tail != 0) {
            const unsigned char* blk = blocks + static_cast<size_t>(full_blocks) * block_bytes;
            const uintptr_t c = static_cast<uintptr_t>(full_blocks) * kC;
            BlockAllTaps<true>(taps, padded_taps, c, blk, x_end, e, tail, y_pix + c);
            BlockAllTaps<true>(taps2, padded_taps, c, blk, x_end, e, tail, y_next + c);
          }
          ++ox;
        } else if (padded_taps <= kMaxTaps) {
          ResolveTaps(p, x_img, oy, ox, 0, padded_taps, zbuf, &taps);
          for (int b = 0; b < full_blocks; ++b) {
            BlockAllTaps<false>(taps, padded_taps, static_cast<uintptr_t>(b) * kC,
                                blocks + static_cast<size_t>(b) * block_bytes, x_end, e, kC,
                                y_pix + b * kC);
          }
          if (tail != 0) {
            BlockAllTaps<true>(taps, padded_taps, static_cast<uintptr_t>(full_blocks) * kC,
                               blocks + static_cast<size_t>(full_blocks) * block_bytes, x_end, e,
                               tail, y_pix + full_blocks * kC);
          }
        } else {
          // Large kernels: taps in passes of kMaxTaps, accumulators kept in
          // registers across passes (the taps are re-resolved per block).
          const int nblocks = full_blocks + (tail != 0 ? 1 : 0);
          for (int b = 0; b < nblocks; ++b) {
            const unsigned char* blk = blocks + static_cast<size_t>(b) * block_bytes;
            const auto* bias = reinterpret_cast<const __m256i*>(blk);
            const auto* mul = reinterpret_cast<const float*>(blk + 64);
            const auto* wp = reinterpret_cast<const __m256i*>(blk + 128);
            __m256i acc0 = _mm256_loadu_si256(bias);
            __m256i acc1 = _mm256_loadu_si256(bias + 1);
            const uintptr_t c = static_cast<uintptr_t>(b) * kC;
            for (int t0 = 0; t0 < padded_taps; t0 += kMaxTaps) {
              const int count = padded_taps - t0 < kMaxTaps ? padded_taps - t0 : kMaxTaps;
              ResolveTaps(p, x_img, oy, ox, t0, count, zbuf, &taps);
              if (b < full_blocks) {
                Accumulate<false>(taps, count, c, wp, x_end, acc0, acc1);
              } else {
                Accumulate<true>(taps, count, c, wp, x_end, acc0, acc1);
              }
            }
            Store16(acc0, acc1, mul, e, b < full_blocks ? kC : tail, y_pix + c);
          }
        }
      }
    }
  }
}

}  // namespace quanta::kernels
