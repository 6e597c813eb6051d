// qu8 convolution by indirect GEMM, AVX-512 VNNI: tiles of 8 output pixels x
// 32 output channels, K in groups of 4 bytes ("8x32c4"). Bit-exact with
// qu8_conv2d_minmax_fp32__ref for groups == 1 (NHWC, OHWI), any kernel size,
// stride, dilation and padding. Contract: x86_avx512.h; packing:
// qu8_igemm_16c4_layout.h. Taps come from the indirection table of
// qu8_conv_indirection_build (offsets in the image, -1 = padded tap, which
// reads the blob's row of zx bytes).
//
// Exactness: vpdpbusd (u8 activations x s8 weights, 4 products summed without
// saturation, int32 wrap-around add), never vpmaddubsw. Requantization as
// requantize(): vcvtdq2ps, one vmulps, vmaxps(lo, f), vminps(hi, f),
// vcvtps2dq, + zy, masked vpmovdb store.
//
// Inner step: per group of 4 K bytes, the (1 or 2) weight vectors are loaded
// once, each pixel's 4 bytes broadcast (vpbroadcastd from memory), one
// vpdpbusd per pixel and block: 8 x 2 = 16 independent accumulators (8 x 1
// when cout <= 16 or for the last odd block).
//
// Two modes (chosen by the packing from cin):
//  - tap (cin >= 4): each tap's pixel row is read in place, 4 bytes at a time;
//    a cin % 4 tail is the last 4 bytes of the row (the overlap has zero
//    weights). Loop order: pairs of channel blocks outside (weights in L1/L2),
//    pixel tiles inside.
//  - gather (cin 1..3, first layers): a tile's (tap, ci) bytes are gathered
//    once per pass into a stack buffer (<= 256 bytes per pixel), zero-padded to
//    4, and reused by every channel block: no per-tap padding waste.
// The pixel range [pixel_begin, pixel_end) is over the flattened n*oh*ow
// output; tiles may straddle images (each pixel carries its own image base).
#include <cstring>

#include "qu8_igemm_16c4_layout.h"
#include "qu8_requant_avx512.h"
#include "quanta/kernels/x86_avx512.h"
#include "simd_x86.h"

namespace quanta::kernels {
QUANTA_SIMD_NS_BEGIN

namespace {

using igemm16c4_detail::Igemm16c4Header;

constexpr int kMR = 8;
constexpr int kGatherRow = igemm16c4_detail::kGatherPassBytes + 4;

using requant512::BroadcastX4;
using requant512::Epilogue;
using requant512::StoreBlock;

struct Ctx {
  const Igemm16c4Header* h;
  const unsigned char* blocks;
  const uint8_t* zbuf;
  const uint8_t* x;
  const int32_t* ind;
  uint8_t* y;
  size_t x_image;
  int64_t m_image;  // oh * ow
  int taps, cin, cout;
  size_t block_bytes;
  Epilogue e;
};

// Per-pixel pointers of a tile of R pixels starting at global pixel g0.
template <int R>
struct Rows {
  const uint8_t* img[R];
  const int32_t* ind[R];
};

template <int R>
inline Rows<R> MakeRows(const Ctx& c, int64_t g0) {
  Rows<R> rows;
  int64_t img = g0 / c.m_image;
  int64_t loc = g0 - img * c.m_image;
  for (int r = 0; r < R; ++r) {
    rows.img[r] = c.x + static_cast<size_t>(img) * c.x_image;
    rows.ind[r] = c.ind + static_cast<size_t>(loc) * static_cast<size_t>(c.taps);
    if (++loc == c.m_image) {
      loc = 0;
      ++img;
    }
  }
  return rows;
}

template <int R, int NB>
inline void InitAcc(const unsigned char* blk, size_t block_bytes, __m512i (&acc)[R][NB]) {
  for (int j = 0; j < NB; ++j) {
    const __m512i b = _mm512_loadu_si512(blk + j * block_bytes);
    for (int r = 0; r < R; ++r) acc[r][j] = b;
  }
}

template <int R, int NB>
inline void Group(const __m512i (&xb)[R], const unsigned char* w, size_t block_bytes,
                  __m512i (&acc)[R][NB]) {
  __m512i wv[NB];
  for (int j = 0; j < NB; ++j) wv[j] = _mm512_loadu_si512(w + j * block_bytes);
  for (int r = 0; r < R; ++r)
    for (int j = 0; j < NB; ++j) acc[r][j] = _mm512_dpbusd_epi32(acc[r][j], xb[r], wv[j]);
}

template <int R, int NB>
inline void StoreTile(const Ctx& c, const __m512i (&acc)[R][NB], const unsigned char* blk,
                      int nr, uint8_t* y) {
  for (int j = 0; j < NB; ++j) {
    const auto* mul = reinterpret_cast<const float*>(blk + j * c.block_bytes + 64);
    for (int r = 0; r < R; ++r)
      StoreBlock(acc[r][j], mul, c.e, nr - 16 * j, y + static_cast<size_t>(r) * c.cout + 16 * j);
  }
}

// ------------------------------------------------------------- tap mode
template <int R, int NB>
inline void TileTap(const Ctx& c, const Rows<R>& rows, const unsigned char* blk, int nr,
                    uint8_t* y) {
  const int cin = c.cin;
  const int nfull = cin / 4;
  const bool tail = (cin & 3) != 0;
  __m512i acc[R][NB];
  InitAcc<R, NB>(blk, c.block_bytes, acc);
  const unsigned char* w = blk + 128;
  for (int t = 0; t < c.taps; ++t) {
    const uint8_t* ptr[R];
    for (int r = 0; r < R; ++r) {
      const int32_t off = rows.ind[r][t];
      ptr[r] = off >= 0 ? rows.img[r] + off : c.zbuf;
    }
    for (int g = 0; g < nfull; ++g) {
      __m512i xb[R];
      for (int r = 0; r < R; ++r) xb[r] = BroadcastX4(ptr[r] + 4 * g);
      Group<R, NB>(xb, w, c.block_bytes, acc);
      w += 64;
    }
    if (tail) {
      __m512i xb[R];
      for (int r = 0; r < R; ++r) xb[r] = BroadcastX4(ptr[r] + cin - 4);
      Group<R, NB>(xb, w, c.block_bytes, acc);
      w += 64;
    }
  }
  StoreTile<R, NB>(c, acc, blk, nr, y);
}

template <int R>
inline void TapTile(const Ctx& c, int64_t g0, const unsigned char* blk, int nr) {
  const Rows<R> rows = MakeRows<R>(c, g0);
  uint8_t* y = c.y + static_cast<size_t>(g0) * c.cout + (blk - c.blocks) / c.block_bytes * 16;
  if (nr > 16) {
    TileTap<R, 2>(c, rows, blk, nr, y);
  } else {
    TileTap<R, 1>(c, rows, blk, nr, y);
  }
}

template <int R>
inline void TapRest(int rest, const Ctx& c, int64_t g0, const unsigned char* blk, int nr) {
  if constexpr (R > 0) {
    if (rest == R) {
      TapTile<R>(c, g0, blk, nr);
    } else {
      TapRest<R - 1>(rest, c, g0, blk, nr);
    }
  }
}

// ---------------------------------------------------------- gather mode
template <int kCin>
inline void GatherTaps(const uint8_t* img, const int32_t* ind, int nt, const uint8_t* zbuf,
                       uint8_t* dst) {
  for (int t = 0; t < nt; ++t) {
    const int32_t off = ind[t];
    std::memcpy(dst + t * kCin, off >= 0 ? img + off : zbuf, kCin);
  }
}

inline void Gather(int cin, const uint8_t* img, const int32_t* ind, int nt, const uint8_t* zbuf,
                   uint8_t* dst) {
  switch (cin) {
    case 1: GatherTaps<1>(img, ind, nt, zbuf, dst); break;
    case 2: GatherTaps<2>(img, ind, nt, zbuf, dst); break;
    default: GatherTaps<3>(img, ind, nt, zbuf, dst); break;
  }
  const int k = nt * cin;
  std::memset(dst + k, 0, static_cast<size_t>((k + 3) / 4 * 4 - k));
}

// One or two channel blocks (NB) of R gathered pixels; block index b.
template <int R, int NB>
inline void GatherBlocks(const Ctx& c, const Rows<R>& rows, uint8_t (&buf)[R][kGatherRow], int b,
                         int nr, uint8_t* y) {
  const Igemm16c4Header& h = *c.h;
  const unsigned char* blk = c.blocks + static_cast<size_t>(b) * c.block_bytes;
  __m512i acc[R][NB];
  InitAcc<R, NB>(blk, c.block_bytes, acc);
  const unsigned char* w = blk + 128;
  for (int t0 = 0; t0 < c.taps; t0 += h.pass_taps) {
    const int nt = c.taps - t0 < h.pass_taps ? c.taps - t0 : h.pass_taps;
    if (b == 0 || h.passes > 1) {
      for (int r = 0; r < R; ++r) Gather(c.cin, rows.img[r], rows.ind[r] + t0, nt, c.zbuf, buf[r]);
    }
    const int kp = (nt * c.cin + 3) / 4 * 4;
    for (int k = 0; k < kp; k += 4) {
      __m512i xb[R];
      for (int r = 0; r < R; ++r) xb[r] = BroadcastX4(buf[r] + k);
      Group<R, NB>(xb, w, c.block_bytes, acc);
      w += 64;
    }
  }
  StoreTile<R, NB>(c, acc, blk, nr, y + 16 * b);
}

// Every channel block of R pixels starting at g0. With one pass (K <= 256
// bytes: up to 85 taps at cin 3) the pixels are gathered once for all blocks.
template <int R>
inline void GatherTile(const Ctx& c, int64_t g0) {
  const Rows<R> rows = MakeRows<R>(c, g0);
  alignas(64) uint8_t buf[R][kGatherRow];
  uint8_t* y = c.y + static_cast<size_t>(g0) * c.cout;
  const int nblocks = (c.cout + 15) / 16;
  for (int b = 0; b < nblocks; b += 2) {
    const int nr = c.cout - 16 * b < 32 ? c.cout - 16 * b : 32;
    if (nr > 16) {
      GatherBlocks<R, 2>(c, rows, buf, b, nr, y);
    } else {
      GatherBlocks<R, 1>(c, rows, buf, b, nr, y);
    }
  }
}

template <int R>
inline void GatherRest(int rest, const Ctx& c, int64_t g0) {
  if constexpr (R > 0) {
    if (rest == R) {
      GatherTile<R>(c, g0);
    } else {
      GatherRest<R - 1>(rest, c, g0);
    }
  }
}

}  // namespace

void qu8_igemm_minmax_fp32__avx512vnni_8x32c4(const Conv2DParams& p, const uint8_t* x,
                                              const int32_t* indirection, const void* packed,
                                              int32_t zy, QRange r, uint8_t* y,
                                              int64_t pixel_begin, int64_t pixel_end) {
  if (p.n <= 0 || p.oh <= 0 || p.ow <= 0 || p.cout <= 0) return;
  const int64_t total = int64_t{p.n} * p.oh * p.ow;
  if (pixel_begin < 0) pixel_begin = 0;
  if (pixel_end > total) pixel_end = total;
  if (pixel_begin >= pixel_end) return;
  const auto* base = static_cast<const unsigned char*>(packed);
  Ctx c;
  c.h = reinterpret_cast<const Igemm16c4Header*>(base);
  c.blocks = base + sizeof(Igemm16c4Header);
  c.zbuf = base + c.h->zbuf_offset;
  c.x = x;
  c.ind = indirection;
  c.y = y;
  c.x_image = static_cast<size_t>(p.h) * static_cast<size_t>(p.w) * static_cast<size_t>(p.cin);
  c.m_image = int64_t{p.oh} * p.ow;
  c.taps = p.kh * p.kw;
  c.cin = p.cin;
  c.cout = p.cout;
  c.block_bytes = static_cast<size_t>(c.h->block_bytes);
  c.e = requant512::MakeEpilogue(zy, r);

  if (c.h->mode == igemm16c4_detail::kModeTap) {
    for (int c0 = 0; c0 < p.cout; c0 += 32) {
      const int nr = p.cout - c0 < 32 ? p.cout - c0 : 32;
      const unsigned char* blk = c.blocks + static_cast<size_t>(c0 / 16) * c.block_bytes;
      int64_t g = pixel_begin;
      for (; g + kMR <= pixel_end; g += kMR) TapTile<kMR>(c, g, blk, nr);
      TapRest<kMR - 1>(static_cast<int>(pixel_end - g), c, g, blk, nr);
    }
  } else {
    int64_t g = pixel_begin;
    for (; g + kMR <= pixel_end; g += kMR) GatherTile<kMR>(c, g);
    GatherRest<kMR - 1>(static_cast<int>(pixel_end - g), c, g);
  }
}

QUANTA_SIMD_NS_END
}  // namespace quanta::kernels
