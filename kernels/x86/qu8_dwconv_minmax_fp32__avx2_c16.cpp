// qu8 depthwise convolution, AVX2, 16 channels per step ("c16"), any kernel
// size, stride, dilation and padding. Bit-exact with qu8_conv2d_minmax_fp32__ref
// for groups == cin == cout (channel multiplier 1), NHWC.
//
// Two paths: 3x3 with dilation 1 and stride_w 1|2 converts input rows once
// into int16 pair entries (see "3x3, dilation 1" below); every other geometry
// takes the generic path described here.
//
// Generic: per output pixel the kernel first resolves the address of every tap (at most
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
// reference's "int64 sum converted modulo 2^32"); docs/design.md §1's bound keeps them
// exact in practice.
//
// Requantization (requantize.h, docs/design.md §1), in the reference's order:
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

// Any geometry: per output pixel, tap pointers resolved on the stack.
void GenericRows(const Conv2DParams& p, int oy_begin, int oy_end, const uint8_t* x, int32_t zx,
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
    for (int oy = oy_begin; oy < oy_end; ++oy) {
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


// ------------------------------------------------ 3x3, dilation 1, stride_w 1|2
// Per block of 16 channels and segment of up to kSeg output columns, each
// input row the segment needs is converted ONCE into int16 "pair entries":
// entry i = the bytes of columns (ix, ix+1), ix = ix_first + S*i (S = the
// horizontal stride), interleaved and zero-extended (two ymm: channels 0-7 and
// 8-15), ready for vpmaddwd. Columns or rows outside the image hold zx (the
// reference's padded taps). A ring of 3 converted rows follows the output
// rows, so every input row is converted once per (block, segment) instead of
// once per tap. Output pixel j of the segment, kernel row ky:
//   acc += vpmaddwd(entry[j],     (w[ky][0], w[ky][1]))
//   acc += vpmaddwd(entry[j + D], (w[ky][2], 0))      D = 2 / S (column +2)
// No bounds checks and no shuffles in the inner loop; 4 pixels share the
// weight registers and (stride 1) most entry loads. The sixth vpmaddwd per
// row pair wastes a zero weight, the price of needing no vertical pairs.
// Measured (Zen 3 dev host, bench/bench_x86_dwconv, per-pixel tap pointers
// before -> this path): 144 ch 56x56 s1 12 -> 17-18 GMAC/s; DS-CNN 64 ch 25x5
// 8.5 -> 14; 144 ch 56x56 s2 11.7 -> 13.4. The loop is then bound by the FP
// pipes (one vpaddd per vpmaddwd plus the requantization epilogue). Moving
// 2 or 4 blocks together (one ring each, sharing input cache lines) measured
// slower: the rings then crowd L1.

constexpr int kSeg = 32;                        // output columns per segment
constexpr int kMaxEntries = kSeg + 2;

struct W3x3 {
  // [ky][0 = taps (ky,0),(ky,1) | 1 = tap (ky,2) and 0][half][8 ch x 2]
  alignas(32) int16_t w[3][2][2][16];
};

// From the packed pairs (0,1) (2,3) (4,5) (6,7) (8,-) (per channel one
// dword: low word = even tap, high word = odd tap) to the row pairs (0,1),
// (3,4), (6,7) and the singles (2,0), (5,0), (8,0).
inline void Extract3x3(const unsigned char* blk, W3x3* out) {
  const auto* wp = reinterpret_cast<const __m256i*>(blk + 128);
  const __m256i low = _mm256_set1_epi32(0xFFFF);
  for (int h = 0; h < 2; ++h) {
    const __m256i p0 = _mm256_loadu_si256(wp + 0 + h);
    const __m256i p1 = _mm256_loadu_si256(wp + 2 + h);
    const __m256i p2 = _mm256_loadu_si256(wp + 4 + h);
    const __m256i p3 = _mm256_loadu_si256(wp + 6 + h);
    const __m256i p4 = _mm256_loadu_si256(wp + 8 + h);
    auto put = [&](int ky, int kind, __m256i v) {
      _mm256_store_si256(reinterpret_cast<__m256i*>(out->w[ky][kind][h]), v);
    };
    put(0, 0, p0);
    put(1, 0, _mm256_or_si256(_mm256_srli_epi32(p1, 16), _mm256_slli_epi32(p2, 16)));
    put(2, 0, p3);
    put(0, 1, _mm256_and_si256(p1, low));
    put(1, 1, _mm256_srli_epi32(p2, 16));
    put(2, 1, p4);  // the packing pads tap 9 with zero
  }
}

struct RowSrc {
  const uint8_t* x_img;  // image start + channel offset of the block
  const uint8_t* x_end;  // end of the whole input
  int64_t row_bytes;     // w * C
  int64_t C;
  int h, w;
  bool tail;             // block narrower than 16 channels
  __m128i zxv;
};

inline __m128i LoadPixel(const RowSrc& s, const uint8_t* row, int ix) {
  if (ix < 0 || ix >= s.w) return s.zxv;
  const uint8_t* a = row + ix * s.C;
  if (s.tail) {
    const uintptr_t have = reinterpret_cast<uintptr_t>(s.x_end) - reinterpret_cast<uintptr_t>(a);
    if (have < 16) {
      alignas(16) uint8_t tmp[16] = {};
      std::memcpy(tmp, a, static_cast<size_t>(have));
      return _mm_load_si128(reinterpret_cast<const __m128i*>(tmp));
    }
  }
  return _mm_loadu_si128(reinterpret_cast<const __m128i*>(a));
}

// Entries [0, count) of input row iy: entry i holds columns (ix, ix + 1),
// ix = ix_first + S * i (stride 2 needs only the even-offset pairs).
template <int S>
inline void BuildRow(const RowSrc& s, int iy, int ix_first, int count, __m256i* out) {
  if (iy < 0 || iy >= s.h) {
    const __m256i z = _mm256_cvtepu8_epi16(_mm_unpacklo_epi8(s.zxv, s.zxv));
    for (int i = 0; i < 2 * count; ++i) _mm256_store_si256(out + i, z);
    return;
  }
  const uint8_t* row = s.x_img + iy * s.row_bytes;
  __m128i a = LoadPixel(s, row, ix_first);
  for (int i = 0; i < count; ++i) {
    const int ix = ix_first + S * i;
    const __m128i b = LoadPixel(s, row, ix + 1);
    _mm256_store_si256(out + 2 * i, _mm256_cvtepu8_epi16(_mm_unpacklo_epi8(a, b)));
    _mm256_store_si256(out + 2 * i + 1, _mm256_cvtepu8_epi16(_mm_unpackhi_epi8(a, b)));
    a = S == 1 ? b : LoadPixel(s, row, ix + S);
  }
}

// NPX output pixels of one block; rows[ky] points at the entry of the first
// pixel's window column.
template <int NPX, int S, bool kFull>
inline void Compute3x3(const __m256i* const* rows, const W3x3& wb, const unsigned char* blk,
                       const Epilogue& e, int nc, int64_t C, uint8_t* y) {
  const auto* bias = reinterpret_cast<const __m256i*>(blk);
  const auto* mul = reinterpret_cast<const float*>(blk + 64);
  // 2*NPX accumulators + 4 weight registers (<= 12 ymm for NPX = 4).
  __m256i acc0[NPX], acc1[NPX];
  {
    const __m256i b0 = _mm256_loadu_si256(bias);
    const __m256i b1 = _mm256_loadu_si256(bias + 1);
#pragma GCC unroll 4
    for (int j = 0; j < NPX; ++j) {
      acc0[j] = b0;
      acc1[j] = b1;
    }
  }
#pragma GCC unroll 3
  for (int ky = 0; ky < 3; ++ky) {
    const __m256i wp0 = _mm256_load_si256(reinterpret_cast<const __m256i*>(wb.w[ky][0][0]));
    const __m256i wp1 = _mm256_load_si256(reinterpret_cast<const __m256i*>(wb.w[ky][0][1]));
    const __m256i ws0 = _mm256_load_si256(reinterpret_cast<const __m256i*>(wb.w[ky][1][0]));
    const __m256i ws1 = _mm256_load_si256(reinterpret_cast<const __m256i*>(wb.w[ky][1][1]));
    const __m256i* r = rows[ky];
#pragma GCC unroll 4
    for (int j = 0; j < NPX; ++j) {
      // Pair (ky,0),(ky,1) at entry j; tap (ky,2) is column 2 to the right:
      // entry j + 2 (stride 1) or j + 1 (stride 2, entries 2 columns apart).
      const __m256i* ep = r + 2 * j;
      const __m256i* es = r + 2 * (j + (S == 1 ? 2 : 1));
      acc0[j] = _mm256_add_epi32(acc0[j], _mm256_madd_epi16(_mm256_load_si256(ep), wp0));
      acc1[j] = _mm256_add_epi32(acc1[j], _mm256_madd_epi16(_mm256_load_si256(ep + 1), wp1));
      acc0[j] = _mm256_add_epi32(acc0[j], _mm256_madd_epi16(_mm256_load_si256(es), ws0));
      acc1[j] = _mm256_add_epi32(acc1[j], _mm256_madd_epi16(_mm256_load_si256(es + 1), ws1));
      // Keeps the accumulators in registers: without this GCC reassociates
      // the int32 sums into one tree per output and spills every product.
      __asm__("" : "+x"(acc0[j]), "+x"(acc1[j]));
    }
  }
#pragma GCC unroll 4
  for (int j = 0; j < NPX; ++j) Store16(acc0[j], acc1[j], mul, e, kFull ? kC : nc, y + j * C);
}

// One output row of a segment (npx pixels) for one block.
template <int S, bool kFull>
inline void Row3x3(const __m256i* const* rows, int npx, const W3x3& wb, const unsigned char* blk,
                   const Epilogue& e, int nc, int64_t C, uint8_t* y_pix) {
  int j = 0;
  for (; j + 4 <= npx; j += 4) {
    const __m256i* rj[3] = {rows[0] + 2 * j, rows[1] + 2 * j, rows[2] + 2 * j};
    Compute3x3<4, S, kFull>(rj, wb, blk, e, nc, C, y_pix + j * C);
  }
  for (; j < npx; ++j) {
    const __m256i* rj[3] = {rows[0] + 2 * j, rows[1] + 2 * j, rows[2] + 2 * j};
    Compute3x3<1, S, kFull>(rj, wb, blk, e, nc, C, y_pix + j * C);
  }
}

template <int S>
void Rows3x3(const Conv2DParams& p, int oy_begin, int oy_end, const uint8_t* x, int32_t zx,
             const void* packed, int32_t zy, QRange r, uint8_t* y) {
  const int64_t C = p.cout;
  const int full_blocks = p.cout / kC;
  const int nblocks = full_blocks + (p.cout % kC != 0 ? 1 : 0);
  const size_t block_bytes = 128 + 32 * 10;  // 9 taps padded to 10
  const auto* blocks = static_cast<const unsigned char*>(packed);
  const int64_t in_image = static_cast<int64_t>(p.h) * p.w * C;

  Epilogue e;
  e.lo = _mm256_set1_ps(static_cast<float>(r.qmin - zy));
  e.hi = _mm256_set1_ps(static_cast<float>(r.qmax - zy));
  e.zy = _mm256_set1_epi32(zy);
  e.low_byte = _mm256_set1_epi32(0xFF);

  RowSrc src;
  src.x_end = x + static_cast<int64_t>(p.n) * in_image;
  src.row_bytes = static_cast<int64_t>(p.w) * C;
  src.C = C;
  src.h = p.h;
  src.w = p.w;
  src.zxv = _mm_set1_epi8(static_cast<char>(zx));

  alignas(32) __m256i ring[3][2 * kMaxEntries];
  W3x3 wb;
  for (int n = 0; n < p.n; ++n) {
    for (int b = 0; b < nblocks; ++b) {
      const unsigned char* blk = blocks + static_cast<size_t>(b) * block_bytes;
      Extract3x3(blk, &wb);
      const int nc = b < full_blocks ? kC : p.cout % kC;
      src.tail = nc != kC;
      src.x_img = x + n * in_image + static_cast<int64_t>(b) * kC;
      for (int ox0 = 0; ox0 < p.ow; ox0 += kSeg) {
        const int npx = p.ow - ox0 < kSeg ? p.ow - ox0 : kSeg;
        const int ix_first = ox0 * S - p.pad_left;
        const int count = npx + (S == 1 ? 2 : 1);
        int tag[3] = {INT32_MIN, INT32_MIN, INT32_MIN};
        for (int oy = oy_begin; oy < oy_end; ++oy) {
          const __m256i* rows[3];
          for (int k = 0; k < 3; ++k) {
            const int iy = oy * p.stride_h - p.pad_top + k;
            const int slot = ((iy % 3) + 3) % 3;
            if (tag[slot] != iy) {
              BuildRow<S>(src, iy, ix_first, count, ring[slot]);
              tag[slot] = iy;
            }
            rows[k] = ring[slot];
          }
          uint8_t* y_pix = y + ((static_cast<int64_t>(n) * p.oh + oy) * p.ow + ox0) * C +
                           static_cast<int64_t>(b) * kC;
          if (nc == kC) {
            Row3x3<S, true>(rows, npx, wb, blk, e, nc, C, y_pix);
          } else {
            Row3x3<S, false>(rows, npx, wb, blk, e, nc, C, y_pix);
          }
        }
      }
    }
  }
}

}  // namespace

void qu8_dwconv_minmax_fp32__avx2_c16_rows(const Conv2DParams& p, int oy_begin, int oy_end,
                                           const uint8_t* x, int32_t zx, const void* packed,
                                           int32_t zy, QRange r, uint8_t* y) {
  if (oy_begin < 0) oy_begin = 0;
  if (oy_end > p.oh) oy_end = p.oh;
  if (oy_begin >= oy_end || p.n <= 0 || p.ow <= 0 || p.cout <= 0) return;
  if (p.kh == 3 && p.kw == 3 && p.dil_h == 1 && p.dil_w == 1 && p.stride_h >= 1) {
    if (p.stride_w == 1) return Rows3x3<1>(p, oy_begin, oy_end, x, zx, packed, zy, r, y);
    if (p.stride_w == 2) return Rows3x3<2>(p, oy_begin, oy_end, x, zx, packed, zy, r, y);
  }
  GenericRows(p, oy_begin, oy_end, x, zx, packed, zy, r, y);
}

void qu8_dwconv_minmax_fp32__avx2_c16(const Conv2DParams& p, const uint8_t* x, int32_t zx,
                                      const void* packed, int32_t zy, QRange r, uint8_t* y) {
  qu8_dwconv_minmax_fp32__avx2_c16_rows(p, 0, p.oh, x, zx, packed, zy, r, y);
}

}  // namespace quanta::kernels
