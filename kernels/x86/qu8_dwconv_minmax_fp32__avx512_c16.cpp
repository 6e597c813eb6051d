// qu8 depthwise convolution, AVX-512 (F/BW/VL + VNNI), channels in blocks of
// 16 (one zmm of int32 lanes per block), any kernel size, stride, dilation
// and padding. Bit-exact with qu8_conv2d_minmax_fp32__ref for groups == cin
// == cout (channel multiplier 1), NHWC. Contract: x86_avx512.h.
//
// Why 16-channel blocks ("c16") and not 32: a block is one zmm of int32
// accumulators, which is exactly the layout of the existing c16 packing
// (x86.h, qu8_dwconv_c16_pack: per tap pair one dword per channel holding the
// two int16 weights). The same prepared blob therefore serves the AVX2 and
// the AVX-512 kernel. Register reuse comes from several output pixels per
// step sharing each weight vector (4 in the generic path, 8 in the 3x3 path)
// rather than from wider channel steps.
//
// Exact products without vpmaddubsw (whose int16 saturation clips): vpdpbusd
// multiplies 4 unsigned bytes of x by 4 signed bytes of w per int32 lane and
// adds the sum to the lane with no intermediate saturation (int32 wrap, like
// the reference's conversion of the exact sum modulo 2^32).
//  * Generic path: per tap pair (t, t+1) the x dword of a channel is
//    [x_t, 0, x_t+1, 0] (vpmovzxbd of each tap's 16 bytes, the second shifted
//    left by 16, or-ed); the packed weight dword is the int16 pair (w_t,
//    w_t+1) = bytes [w_t, sign, w_t+1, sign]. The sign bytes meet zero x
//    bytes, so the lane gains exactly x_t*w_t + x_t+1*w_t+1.
//  * 3x3, dilation 1, stride_w 1 or 2 (any stride_h, padding, channels):
//    per 16-channel block and segment of up to 64 output columns, every input
//    row the segment needs is converted once into "entries": entry i holds,
//    per channel, the bytes [x(ix), x(ix+1), x(ix+2), 0] of the three columns
//    ix = ix_first + stride_w * i .. +2 that output column i reads (padding =
//    zx). A ring of 3 converted rows follows the output rows. One vpdpbusd
//    per kernel row then adds a whole 3-tap row: 3 vpdpbusd per output pixel
//    and block, 8 pixels per step sharing the 3 weight registers, no bounds
//    checks and no shuffles in the inner loop. The row weights [w(ky,0),
//    w(ky,1), w(ky,2), 0] are taken from the packed int16 pairs per block.
//
// Requantization (requantize.h, docs/design.md §1), in the reference's order:
//   f = cvtdq2ps(acc) * m                   one vmulps, no FMA
//   f = min(max(f, qmin - zy), qmax - zy)   operands ordered so NaN behaves as
//                                           std::max / std::min
//   y = uint8(cvtps2dq(f) + zy)             cvtps2dq = lrintf (half to even)
// and a masked vpmovdb store of the block's valid channels.
//
// Memory: every x load of a block is a byte-masked load of its valid
// channels (never past x[0 .. n*h*w*C)); stores are masked to the valid
// channels of the output pixel. No allocation; stack < 13 KB.
#include <cstring>

#include "qu8_requant_avx512.h"
#include "quanta/kernels/x86.h"
#include "quanta/kernels/x86_avx512.h"
#include "simd_x86.h"

namespace quanta::kernels {
QUANTA_SIMD_NS_BEGIN

namespace {

constexpr int kC = 16;                  // channels per block (int32 lanes of a zmm)
constexpr int kMaxInteriorTaps = 256;   // tap offsets kept on the stack
constexpr int kSeg = 64;                // output columns per 3x3 segment

using requant512::Epilogue;
using requant512::MakeEpilogue;
using requant512::MaskFirst;
using requant512::StoreBlock;

// 16 channel bytes at a; a channel-tail block loads only its valid bytes.
template <bool kTail>
inline __m128i Load16(const uint8_t* a, __mmask16 mask) {
  if constexpr (kTail) {
    return _mm_maskz_loadu_epi8(mask, a);
  } else {
    (void)mask;
    return _mm_loadu_si128(reinterpret_cast<const __m128i*>(a));
  }
}

// Per channel dword [a, 0, b, 0]: the x operand of a packed tap pair.
inline __m512i PairX(__m128i a, __m128i b) {
  return _mm512_or_si512(_mm512_cvtepu8_epi32(a),
                         _mm512_slli_epi32(_mm512_cvtepu8_epi32(b), 16));
}

// ------------------------------------------------------------ generic path

struct Geo {
  const Conv2DParams* p;
  int64_t C;
  int taps;
  size_t block_bytes;
  const unsigned char* blocks;
  int nblocks, full_blocks, tail;
  __m128i zxv;
  Epilogue e;
};

// NPX horizontally consecutive interior output pixels (every tap inside the
// image) of block b: x0 = the first pixel's window origin, step = bytes
// between the windows of consecutive pixels.
template <int NPX, bool kTail>
inline void InteriorBlock(const Geo& g, const uint8_t* x0, int64_t step, const int64_t* tap_off,
                          int b, uint8_t* y0) {
  const unsigned char* blk = g.blocks + static_cast<size_t>(b) * g.block_bytes;
  const size_t c = static_cast<size_t>(b) * kC;
  const __mmask16 mask = MaskFirst(kTail ? g.tail : kC);
  const __m512i bias = _mm512_loadu_si512(blk);
  __m512i acc[NPX];
  for (int j = 0; j < NPX; ++j) acc[j] = bias;
  const unsigned char* wp = blk + 128;
  const uint8_t* xc = x0 + c;
  int t = 0;
  for (; t + 2 <= g.taps; t += 2, wp += 64) {
    const __m512i w = _mm512_loadu_si512(wp);
    const int64_t oa = tap_off[t], ob = tap_off[t + 1];
    for (int j = 0; j < NPX; ++j) {
      const uint8_t* xj = xc + j * step;
      const __m512i xv = PairX(Load16<kTail>(xj + oa, mask), Load16<kTail>(xj + ob, mask));
      acc[j] = _mm512_dpbusd_epi32(acc[j], xv, w);
    }
  }
  if (t < g.taps) {  // odd last tap: its pair's second weight is zero
    const __m512i w = _mm512_loadu_si512(wp);
    const int64_t oa = tap_off[t];
    for (int j = 0; j < NPX; ++j) {
      const __m512i xv = _mm512_cvtepu8_epi32(Load16<kTail>(xc + j * step + oa, mask));
      acc[j] = _mm512_dpbusd_epi32(acc[j], xv, w);
    }
  }
  const auto* mul = reinterpret_cast<const float*>(blk + 64);
  for (int j = 0; j < NPX; ++j) StoreBlock(acc[j], mul, g.e, mask, y0 + j * g.C + c);
}

template <int NPX>
inline void InteriorPixels(const Geo& g, const uint8_t* x0, int64_t step, const int64_t* tap_off,
                           uint8_t* y0) {
  for (int b = 0; b < g.full_blocks; ++b) InteriorBlock<NPX, false>(g, x0, step, tap_off, b, y0);
  if (g.tail != 0) InteriorBlock<NPX, true>(g, x0, step, tap_off, g.full_blocks, y0);
}

// One output pixel with per-tap bounds checks (padded taps read zx); any
// number of taps.
template <bool kTail>
inline void BorderBlock(const Geo& g, const uint8_t* x_img, int iy0, int ix0, int b,
                        uint8_t* y_pix) {
  const Conv2DParams& p = *g.p;
  const unsigned char* blk = g.blocks + static_cast<size_t>(b) * g.block_bytes;
  const size_t c = static_cast<size_t>(b) * kC;
  const __mmask16 mask = MaskFirst(kTail ? g.tail : kC);
  auto tap = [&](int ky, int kx) -> __m128i {
    const int iy = iy0 + ky * p.dil_h;
    const int ix = ix0 + kx * p.dil_w;
    if (iy < 0 || iy >= p.h || ix < 0 || ix >= p.w) return g.zxv;
    return Load16<kTail>(x_img + (static_cast<int64_t>(iy) * p.w + ix) * g.C + c, mask);
  };
  __m512i acc = _mm512_loadu_si512(blk);
  const unsigned char* wp = blk + 128;
  int ky = 0, kx = 0;
  for (int t = 0; t < g.taps; t += 2, wp += 64) {
    const __m128i a = tap(ky, kx);
    if (++kx == p.kw) {
      kx = 0;
      ++ky;
    }
    __m512i xv;
    if (t + 1 < g.taps) {
      xv = PairX(a, tap(ky, kx));
      if (++kx == p.kw) {
        kx = 0;
        ++ky;
      }
    } else {
      xv = _mm512_cvtepu8_epi32(a);
    }
    acc = _mm512_dpbusd_epi32(acc, xv, _mm512_loadu_si512(wp));
  }
  StoreBlock(acc, reinterpret_cast<const float*>(blk + 64), g.e, mask, y_pix + c);
}

void GenericRows(const Conv2DParams& p, int oy_begin, int oy_end, const uint8_t* x, int32_t zx,
                 const void* packed, int32_t zy, QRange r, uint8_t* y) {
  Geo g;
  g.p = &p;
  g.C = p.cout;
  g.taps = p.kh * p.kw;
  g.block_bytes = 128 + 64 * static_cast<size_t>((g.taps + 1) / 2);
  g.blocks = static_cast<const unsigned char*>(packed);
  g.full_blocks = p.cout / kC;
  g.tail = p.cout % kC;
  g.nblocks = g.full_blocks + (g.tail != 0 ? 1 : 0);
  g.zxv = _mm_set1_epi8(static_cast<char>(zx));
  g.e = MakeEpilogue(zy, r);

  const int span_h = (p.kh - 1) * p.dil_h;
  const int span_w = (p.kw - 1) * p.dil_w;
  const bool table = g.taps <= kMaxInteriorTaps;
  int64_t tap_off[kMaxInteriorTaps];
  if (table) {
    for (int ky = 0; ky < p.kh; ++ky)
      for (int kx = 0; kx < p.kw; ++kx)
        tap_off[ky * p.kw + kx] =
            (static_cast<int64_t>(ky) * p.dil_h * p.w + static_cast<int64_t>(kx) * p.dil_w) *
            g.C;
  }
  // Output columns whose window lies inside the image horizontally.
  int ox_lo = p.pad_left > 0 ? (p.pad_left + p.stride_w - 1) / p.stride_w : 0;
  const int64_t last = static_cast<int64_t>(p.w) - 1 - span_w + p.pad_left;
  int ox_hi = last >= 0 ? static_cast<int>(last / p.stride_w) + 1 : 0;
  if (ox_hi > p.ow) ox_hi = p.ow;
  if (ox_lo > ox_hi) ox_lo = ox_hi;

  const int64_t in_image = static_cast<int64_t>(p.h) * p.w * g.C;
  const int64_t step = static_cast<int64_t>(p.stride_w) * g.C;
  for (int n = 0; n < p.n; ++n) {
    const uint8_t* x_img = x + n * in_image;
    for (int oy = oy_begin; oy < oy_end; ++oy) {
      uint8_t* y_row = y + (static_cast<int64_t>(n) * p.oh + oy) * p.ow * g.C;
      const int iy0 = oy * p.stride_h - p.pad_top;
      const bool row_in = table && iy0 >= 0 && iy0 + span_h < p.h;
      const int lo = row_in ? ox_lo : p.ow;
      const int hi = row_in ? ox_hi : p.ow;
      auto border = [&](int ox) {
        const int ix0 = ox * p.stride_w - p.pad_left;
        uint8_t* y_pix = y_row + ox * g.C;
        for (int b = 0; b < g.full_blocks; ++b) BorderBlock<false>(g, x_img, iy0, ix0, b, y_pix);
        if (g.tail != 0) BorderBlock<true>(g, x_img, iy0, ix0, g.full_blocks, y_pix);
      };
      for (int ox = 0; ox < lo; ++ox) border(ox);
      int ox = lo;
      const uint8_t* x_row = x_img + static_cast<int64_t>(iy0) * p.w * g.C;
      for (; ox + 4 <= hi; ox += 4) {
        const uint8_t* x0 = x_row + static_cast<int64_t>(ox * p.stride_w - p.pad_left) * g.C;
        InteriorPixels<4>(g, x0, step, tap_off, y_row + ox * g.C);
      }
      for (; ox < hi; ++ox) {
        const uint8_t* x0 = x_row + static_cast<int64_t>(ox * p.stride_w - p.pad_left) * g.C;
        InteriorPixels<1>(g, x0, step, tap_off, y_row + ox * g.C);
      }
      for (ox = hi > lo ? hi : lo; ox < p.ow; ++ox) border(ox);
    }
  }
}

// ------------------------------------------------ 3x3, dilation 1, stride_w 1|2

struct RowSrc {
  const uint8_t* x_img;  // image start + channel offset of the block
  int64_t row_bytes;     // w * C
  int64_t C;
  int h, w;
  __mmask16 mask;
  __m512i zx1;  // zx zero-extended per lane
  __m512i zx3;  // [zx, zx, zx, 0] per lane
};

template <bool kTail>
inline __m512i Column(const RowSrc& s, const uint8_t* row, int ix) {
  if (ix < 0 || ix >= s.w) return s.zx1;
  return _mm512_cvtepu8_epi32(Load16<kTail>(row + ix * s.C, s.mask));
}

inline __m512i Quad(__m512i a, __m512i b, __m512i c) {
  return _mm512_or_si512(_mm512_or_si512(a, _mm512_slli_epi32(b, 8)), _mm512_slli_epi32(c, 16));
}

// Entries [0, count) of input row iy: entry i = columns ix_first + S*i + {0,1,2}.
template <int S, bool kTail>
inline void BuildRow(const RowSrc& s, int iy, int ix_first, int count, __m512i* out) {
  if (iy < 0 || iy >= s.h) {
    for (int i = 0; i < count; ++i) _mm512_store_si512(out + i, s.zx3);
    return;
  }
  const uint8_t* row = s.x_img + iy * s.row_bytes;
  __m512i z0 = Column<kTail>(s, row, ix_first);
  __m512i z1 = Column<kTail>(s, row, ix_first + 1);
  for (int i = 0; i < count; ++i) {
    const int ix = ix_first + S * i;
    const __m512i z2 = Column<kTail>(s, row, ix + 2);
    _mm512_store_si512(out + i, Quad(z0, z1, z2));
    if constexpr (S == 1) {
      z0 = z1;
      z1 = z2;
    } else {
      z0 = z2;
      if (i + 1 < count) z1 = Column<kTail>(s, row, ix + 3);
    }
  }
}

template <int NPX>
inline void Pixels3x3(const __m512i* r0, const __m512i* r1, const __m512i* r2, __m512i w0,
                      __m512i w1, __m512i w2, __m512i bias, const float* mul, const Epilogue& e,
                      __mmask16 mask, int64_t C, uint8_t* y) {
  __m512i acc[NPX];
  for (int j = 0; j < NPX; ++j) acc[j] = _mm512_dpbusd_epi32(bias, _mm512_load_si512(r0 + j), w0);
  for (int j = 0; j < NPX; ++j) acc[j] = _mm512_dpbusd_epi32(acc[j], _mm512_load_si512(r1 + j), w1);
  for (int j = 0; j < NPX; ++j) acc[j] = _mm512_dpbusd_epi32(acc[j], _mm512_load_si512(r2 + j), w2);
  for (int j = 0; j < NPX; ++j) StoreBlock(acc[j], mul, e, mask, y + j * C);
}

// Weights of block `blk` (c16 packing, 9 taps in 5 int16 pairs) as the row
// dwords [w(ky,0), w(ky,1), w(ky,2), 0] per channel.
inline void RowWeights(const unsigned char* blk, __m512i w[3]) {
  alignas(64) int8_t rw[3][kC][4];
  const unsigned char* wp = blk + 128;
  for (int ky = 0; ky < 3; ++ky) {
    for (int ch = 0; ch < kC; ++ch) {
      for (int kx = 0; kx < 4; ++kx) {
        int16_t v = 0;
        if (kx < 3) {
          const int t = ky * 3 + kx;
          std::memcpy(&v, wp + (t / 2) * 64 + ch * 4 + (t & 1) * 2, sizeof(v));
        }
        rw[ky][ch][kx] = static_cast<int8_t>(v);
      }
    }
  }
  for (int ky = 0; ky < 3; ++ky) w[ky] = _mm512_load_si512(rw[ky]);
}

template <int S, bool kTail>
void Block3x3(const Conv2DParams& p, int oy_begin, int oy_end, const RowSrc& src,
              const unsigned char* blk, const Epilogue& e, uint8_t* y_img_block,
              __m512i (*ring)[kSeg]) {
  __m512i w[3];
  RowWeights(blk, w);
  const __m512i bias = _mm512_loadu_si512(blk);
  const auto* mul = reinterpret_cast<const float*>(blk + 64);
  const int64_t C = src.C;
  for (int ox0 = 0; ox0 < p.ow; ox0 += kSeg) {
    const int npx = p.ow - ox0 < kSeg ? p.ow - ox0 : kSeg;
    const int ix_first = ox0 * S - p.pad_left;
    int tag[3] = {INT32_MIN, INT32_MIN, INT32_MIN};
    for (int oy = oy_begin; oy < oy_end; ++oy) {
      const __m512i* rows[3];
      for (int k = 0; k < 3; ++k) {
        const int iy = oy * p.stride_h - p.pad_top + k;
        const int slot = ((iy % 3) + 3) % 3;
        if (tag[slot] != iy) {
          BuildRow<S, kTail>(src, iy, ix_first, npx, ring[slot]);
          tag[slot] = iy;
        }
        rows[k] = ring[slot];
      }
      uint8_t* y_pix = y_img_block + (static_cast<int64_t>(oy) * p.ow + ox0) * C;
      int j = 0;
      for (; j + 8 <= npx; j += 8)
        Pixels3x3<8>(rows[0] + j, rows[1] + j, rows[2] + j, w[0], w[1], w[2], bias, mul, e,
                     src.mask, C, y_pix + j * C);
      if (j + 4 <= npx) {
        Pixels3x3<4>(rows[0] + j, rows[1] + j, rows[2] + j, w[0], w[1], w[2], bias, mul, e,
                     src.mask, C, y_pix + j * C);
        j += 4;
      }
      for (; j < npx; ++j)
        Pixels3x3<1>(rows[0] + j, rows[1] + j, rows[2] + j, w[0], w[1], w[2], bias, mul, e,
                     src.mask, C, y_pix + j * C);
    }
  }
}

template <int S>
void Rows3x3(const Conv2DParams& p, int oy_begin, int oy_end, const uint8_t* x, int32_t zx,
             const void* packed, int32_t zy, QRange r, uint8_t* y) {
  const int64_t C = p.cout;
  const int full_blocks = p.cout / kC;
  const int tail = p.cout % kC;
  const size_t block_bytes = 128 + 64 * 5;  // 9 taps in 5 pairs
  const auto* blocks = static_cast<const unsigned char*>(packed);
  const int64_t in_image = static_cast<int64_t>(p.h) * p.w * C;
  const Epilogue e = MakeEpilogue(zy, r);

  RowSrc src;
  src.row_bytes = static_cast<int64_t>(p.w) * C;
  src.C = C;
  src.h = p.h;
  src.w = p.w;
  src.zx1 = _mm512_set1_epi32(zx);
  src.zx3 = _mm512_set1_epi32(zx | (zx << 8) | (zx << 16));

  alignas(64) __m512i ring[3][kSeg];
  for (int n = 0; n < p.n; ++n) {
    uint8_t* y_img = y + static_cast<int64_t>(n) * p.oh * p.ow * C;
    for (int b = 0; b < full_blocks + (tail != 0 ? 1 : 0); ++b) {
      const unsigned char* blk = blocks + static_cast<size_t>(b) * block_bytes;
      src.x_img = x + n * in_image + static_cast<int64_t>(b) * kC;
      if (b < full_blocks) {
        src.mask = MaskFirst(kC);
        Block3x3<S, false>(p, oy_begin, oy_end, src, blk, e, y_img + b * kC, ring);
      } else {
        src.mask = MaskFirst(tail);
        Block3x3<S, true>(p, oy_begin, oy_end, src, blk, e, y_img + b * kC, ring);
      }
    }
  }
}

void RowsImpl(const Conv2DParams& p, int oy_begin, int oy_end, const uint8_t* x, int32_t zx,
              const void* packed, int32_t zy, QRange r, uint8_t* y) {
  if (oy_begin < 0) oy_begin = 0;
  if (oy_end > p.oh) oy_end = p.oh;
  if (oy_begin >= oy_end || p.n <= 0 || p.ow <= 0 || p.cout <= 0 || p.kh <= 0 || p.kw <= 0)
    return;
  if (p.kh == 3 && p.kw == 3 && p.dil_h == 1 && p.dil_w == 1 && p.stride_h >= 1) {
    if (p.stride_w == 1) return Rows3x3<1>(p, oy_begin, oy_end, x, zx, packed, zy, r, y);
    if (p.stride_w == 2) return Rows3x3<2>(p, oy_begin, oy_end, x, zx, packed, zy, r, y);
  }
  GenericRows(p, oy_begin, oy_end, x, zx, packed, zy, r, y);
}

}  // namespace

// (Both entry points call RowsImpl: an unqualified call would also find the
// other namespace's declaration through argument-dependent lookup.)
void qu8_dwconv_minmax_fp32__avx512_c16_rows(const Conv2DParams& p, int oy_begin, int oy_end,
                                             const uint8_t* x, int32_t zx, const void* packed,
                                             int32_t zy, QRange r, uint8_t* y) {
  RowsImpl(p, oy_begin, oy_end, x, zx, packed, zy, r, y);
}

void qu8_dwconv_minmax_fp32__avx512_c16(const Conv2DParams& p, const uint8_t* x, int32_t zx,
                                        const void* packed, int32_t zy, QRange r, uint8_t* y) {
  RowsImpl(p, 0, p.oh, x, zx, packed, zy, r, y);
}

QUANTA_SIMD_NS_END
}  // namespace quanta::kernels
