// qu8 convolution by indirect GEMM, AVX2: tiles of 4 output pixels x 16 output
// channels, K consumed in pairs ("4x16c2"). Bit-exact with
// qu8_conv2d_minmax_fp32__ref for groups == 1, NHWC, OHWI filters, any kernel
// size, stride, dilation and padding. No im2col: every tap of every output
// pixel is found through the indirection table built at prepare
// (qu8_conv_indirection_build: offsets into the image, -1 = padded tap, which
// reads the packed buffer of cin bytes equal to zx).
//
// Exactness (as qu8_gemm_minmax_fp32__avx2_3x16c2): activations zero-extended
// u8 -> i16, weights pre-widened to int16 at packing, vpmaddwd
// gives x[k]*w[k] + x[k+1]*w[k+1] exactly in int32; never vpmaddubsw (its
// int16 pair sums saturate). int32 sums wrap like the reference's modulo-2^32
// conversion. Requantization: one vmulps (no FMA), max/min in NaN-faithful
// operand order, cvtps2dq (half to even), + zy, low byte.
//
// Inner step: 8 input bytes of a pixel are broadcast to all quadwords
// (vpbroadcastq, a load); for each K pair q one vpshufb, whose control has
// 0x80 in every high byte, yields (x[2q], x[2q+1]) zero-extended to int16 in
// every 32-bit lane: the widening and the broadcast cost one shuffle per pair
// and row, and each pair feeds 2 vpmaddwd (16 channels) per row.
// 4 rows x 2 = 8 accumulators. An empty asm barrier per pair stops GCC from
// reassociating the int32 sums into extra temporaries (they spilled: 43 ->
// 53 GMAC/s on the ResNet-8 layer once removed).
//
// Three modes (chosen by the packing from the shape, qu8_igemm_16c2_layout.h):
//  - tap (cin >= 8): for each tap, the row of cin bytes is read in chunks of 8
//    straight from the input; a cin % 8 tail is read as the last 8 bytes of
//    the row (weights of the overlap are zero), so no byte past the row is read.
//    Loop order: block of 16 channels outside (its weights stay in L1), pixel
//    tiles inside.
//  - gather (cin < 8, first layers): the (tap, ci) pairs of a pixel form one K
//    axis; each tile's K bytes are gathered once into a stack buffer (at most
//    512 bytes per pass) and reused by every channel block. A filter row whose
//    kw taps are all inside the image is one run of kw*cin input bytes, copied
//    with a few overlapping moves (kw*cin >= 8); with one pass the next tile
//    is gathered before the current one is computed (double buffer).
//  - row (cin < 8 with 8 <= kw*cin <= 32, kh <= 16: MobileNet / ResNet-8
//    style 3x3x3 first layers): no gather. Each filter row is kw*cin
//    contiguous bytes of the input for a pixel whose window is inside the
//    image, read in place with 8-byte broadcast loads (the row's tail by one
//    load ending at its last byte); only windows touching the padding build
//    their cut rows on the stack. cout <= 8 uses 8-channel blocks (no padded
//    half) and 6-pixel tiles. See "row mode" below for figures.
// Stores write exactly y[pixel][0 .. cout).
//
// Pixel ranges: the driver walks the images that meet [pixel_begin,
// pixel_end) and, inside each, the local sub-range in tiles of 4 from its first
// pixel (a tile never spans two images, so the tail tile of each piece may be
// shorter). A pixel's accumulators are its own whatever tile it lands in (the
// same sums in the same order), so every split gives the same bytes.
// Fused residual Add (QResidual, x86.h): compile-time variant kRes of the
// store, on the int32 lanes of the requantized bytes (qu8_residual_avx2.h).
#include <immintrin.h>

#include <cstring>

#include "qu8_igemm_16c2_layout.h"
#include "qu8_residual_avx2.h"
#include "quanta/kernels/x86.h"

namespace quanta::kernels {

namespace {

using igemm_detail::Igemm16c2Header;

constexpr int kMR = 4;

// 8 bytes of x broadcast to the 4 quadwords (vpbroadcastq: a load, no shuffle).
inline __m256i LoadX8(const uint8_t* p) {
  int64_t v;
  std::memcpy(&v, p, sizeof(v));
  return _mm256_set1_epi64x(v);
}

// vpshufb control that turns the broadcast bytes into the int16 pair
// (x[2q], x[2q+1]) zero-extended in every 32-bit lane (0x80 gives a zero byte).
template <int kQ>
inline __m256i PairMask() {
  constexpr char lo = static_cast<char>(2 * kQ), hi = static_cast<char>(2 * kQ + 1);
  constexpr char z = static_cast<char>(0x80);
  return _mm256_setr_epi8(lo, z, hi, z, lo, z, hi, z, lo, z, hi, z, lo, z, hi, z, lo, z, hi, z,
                          lo, z, hi, z, lo, z, hi, z, lo, z, hi, z);
}

using residual_detail::Epilogue;
using residual_detail::Store16;

template <int R, int kQ>
inline void Pair(const __m256i (&xw)[R], __m256i w0, __m256i w1, __m256i (&a)[R][2]) {
  const __m256i mask = PairMask<kQ>();
  for (int r = 0; r < R; ++r) {
    const __m256i b = _mm256_shuffle_epi8(xw[r], mask);
    a[r][0] = _mm256_add_epi32(a[r][0], _mm256_madd_epi16(b, w0));
    a[r][1] = _mm256_add_epi32(a[r][1], _mm256_madd_epi16(b, w1));
  }
  // Keep every accumulator in its register here: without this barrier GCC
  // reassociates the int32 sums across pairs (legal, integer adds) and the
  // extra live temporaries spill to the stack.
  for (int r = 0; r < R; ++r) __asm__("" : "+x"(a[r][0]), "+x"(a[r][1]));
}

// One chunk of 8 K positions for R rows; wp advanced by 8 ymm.
template <int R>
inline void Chunk(const __m256i (&xw)[R], const __m256i*& wp, __m256i (&a)[R][2]) {
  Pair<R, 0>(xw, _mm256_loadu_si256(wp + 0), _mm256_loadu_si256(wp + 1), a);
  Pair<R, 1>(xw, _mm256_loadu_si256(wp + 2), _mm256_loadu_si256(wp + 3), a);
  Pair<R, 2>(xw, _mm256_loadu_si256(wp + 4), _mm256_loadu_si256(wp + 5), a);
  Pair<R, 3>(xw, _mm256_loadu_si256(wp + 6), _mm256_loadu_si256(wp + 7), a);
  wp += 8;
}

template <int R>
inline void InitAcc(const unsigned char* block, __m256i (&a)[R][2]) {
  const auto* bias = reinterpret_cast<const __m256i*>(block);
  const __m256i b0 = _mm256_loadu_si256(bias);
  const __m256i b1 = _mm256_loadu_si256(bias + 1);
  for (int r = 0; r < R; ++r) {
    a[r][0] = b0;
    a[r][1] = b1;
  }
}

struct Ctx {
  const Igemm16c2Header* h;
  const unsigned char* blocks;
  const uint8_t* zbuf;
  int cout;
  size_t row_step;  // row mode: input bytes between filter rows (0: dilation_w != 1)
  Epilogue e;  // kRes: e.s_stride = residual bytes between pixels
};

// The residual epilogue, out of line: inlined into the tile, its constants
// competed with the accumulators for registers and GCC spilled the
// accumulators inside the tap loop (fused ResNet-8 block 47 -> 59 GMAC/s).
__attribute__((noinline)) void StoreRowsResidual(const __m256i* a, int rows,
                                                 const unsigned char* block, const Ctx& c,
                                                 int nr, uint8_t* y, const uint8_t* sr) {
  const auto* mul = reinterpret_cast<const float*>(block + 64);
  const size_t y_stride = static_cast<size_t>(c.cout);
  for (int r = 0; r < rows; ++r) {
    Store16<true>(a[2 * r], a[2 * r + 1], mul, c.e, nr, y + r * y_stride, sr + r * c.e.s_stride);
  }
}

// sr: residual of the tile's first pixel at the block's first channel (kRes).
template <int R, bool kRes>
inline void StoreRows(const __m256i (&a)[R][2], const unsigned char* block, const Ctx& c,
                      int nr, uint8_t* y, const uint8_t* sr) {
  if constexpr (kRes) {
    // a copy: taking the address of `a` itself would keep it in memory
    __m256i spill[2 * R];
    for (int r = 0; r < R; ++r) {
      spill[2 * r] = a[r][0];
      spill[2 * r + 1] = a[r][1];
    }
    StoreRowsResidual(spill, R, block, c, nr, y, sr);
  } else {
    const auto* mul = reinterpret_cast<const float*>(block + 64);
    const size_t y_stride = static_cast<size_t>(c.cout);
    for (int r = 0; r < R; ++r) {
      Store16<false>(a[r][0], a[r][1], mul, c.e, nr, y + r * y_stride, nullptr);
    }
  }
}

// ------------------------------------------------------------- tap mode
// Rows r < R are output pixels whose indirection rows start at ind + r*taps.
// Forced inline: as a separate function GCC kept the accumulator array on the
// stack across taps (about 10% slower on the ResNet-8 layer).
#define QUANTA_IGEMM_INLINE inline __attribute__((always_inline))

template <int R, bool kRes>
QUANTA_IGEMM_INLINE void TileTap(const Ctx& c, const uint8_t* x_img, const int32_t* ind,
                    const unsigned char* block, int nr, uint8_t* y, const uint8_t* sr) {
  const int taps = c.h->kh * c.h->kw;
  const int cin = c.h->cin;
  const int nfull = cin / 8;
  const bool tail = (cin & 7) != 0;
  __m256i a[R][2];
  InitAcc<R>(block, a);
  const auto* wp = reinterpret_cast<const __m256i*>(block + 128);
  for (int t = 0; t < taps; ++t) {
    const uint8_t* ptr[R];
    for (int r = 0; r < R; ++r) {
      const int32_t off = ind[r * taps + t];
      ptr[r] = off >= 0 ? x_img + off : c.zbuf;
    }
    for (int j = 0; j < nfull; ++j) {
      __m256i xw[R];
      for (int r = 0; r < R; ++r) xw[r] = LoadX8(ptr[r] + 8 * j);
      Chunk<R>(xw, wp, a);
    }
    if (tail) {
      __m256i xw[R];
      for (int r = 0; r < R; ++r) xw[r] = LoadX8(ptr[r] + cin - 8);
      Chunk<R>(xw, wp, a);
    }
  }
  StoreRows<R, kRes>(a, block, c, nr, y, sr);
}

// ---------------------------------------------------------- gather mode
constexpr int kGatherRow = igemm_detail::kGatherPassBytes + 8;

// Copies n bytes (n >= 1) with a few overlapping fixed-size moves: reads
// exactly src[0 .. n) and writes exactly dst[0 .. n). n is the same for every
// call of one conv, so the branches are predicted.
inline void CopyShort(uint8_t* dst, const uint8_t* src, int n) {
  // SSE moves, not memcpy: GCC turns a loop of fixed memcpy into a libc call.
  if (n >= 16) {
    int i = 0;
    for (; i + 16 < n; i += 16) {
      _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + i),
                       _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i)));
    }
    _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + n - 16),
                     _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + n - 16)));
  } else if (n >= 8) {
    const __m128i a = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(src));
    const __m128i b = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(src + n - 8));
    _mm_storel_epi64(reinterpret_cast<__m128i*>(dst), a);
    _mm_storel_epi64(reinterpret_cast<__m128i*>(dst + n - 8), b);
  } else if (n >= 4) {
    uint32_t a, b;
    std::memcpy(&a, src, 4);
    std::memcpy(&b, src + n - 4, 4);
    std::memcpy(dst, &a, 4);
    std::memcpy(dst + n - 4, &b, 4);
  } else if (n >= 2) {
    uint16_t a, b;
    std::memcpy(&a, src, 2);
    std::memcpy(&b, src + n - 2, 2);
    std::memcpy(dst, &a, 2);
    std::memcpy(dst + n - 2, &b, 2);
  } else {
    dst[0] = src[0];
  }
}

template <int kCin>
inline void CopyTap(const uint8_t* x_img, int32_t off, const uint8_t* zbuf, uint8_t* dst) {
  std::memcpy(dst, off >= 0 ? x_img + off : zbuf, kCin);
}

// Taps [t0, t0 + nt) of one pixel (ind = its row of the table, from tap t0)
// -> dst, kCin bytes per tap. A filter row (kw taps of one ky) whose first and
// last taps are inside the image and kw - 1 pixels apart is one contiguous run
// of kw*kCin input bytes (dilation 1, no padding inside): copied in one go.
// Other taps (padded, dilated, or a row cut by the pass) one by one.
// lead = taps before the first whole filter row ((kw - t0 % kw) % kw).
template <int kCin>
inline void GatherTaps(const uint8_t* x_img, const int32_t* ind, int lead, int nt, int kw,
                       const uint8_t* zbuf, uint8_t* dst) {
  int t = 0;
  if (kw * kCin < 8) {  // short rows: per tap measured faster (DS-CNN 10x4x1: 35 vs 32 GMAC/s)
    for (; t < nt; ++t) CopyTap<kCin>(x_img, ind[t], zbuf, dst + t * kCin);
    return;
  }
  for (; t < lead && t < nt; ++t) CopyTap<kCin>(x_img, ind[t], zbuf, dst + t * kCin);
  const int32_t span = (kw - 1) * kCin;
  for (; t + kw <= nt; t += kw) {
    const int32_t first = ind[t];
    if (first >= 0 && ind[t + kw - 1] - first == span) {
      CopyShort(dst + t * kCin, x_img + first, kw * kCin);
    } else {
      for (int u = t; u < t + kw; ++u) CopyTap<kCin>(x_img, ind[u], zbuf, dst + u * kCin);
    }
  }
  for (; t < nt; ++t) CopyTap<kCin>(x_img, ind[t], zbuf, dst + t * kCin);
}

// R pixels (table rows taps apart). dst rows hold at least nt*cin + 8 bytes:
// the K tail up to the next multiple of 8 is zeroed by one 8-byte store.
template <int R>
inline void GatherRows(int cin, const uint8_t* x_img, const int32_t* ind, int taps, int lead,
                       int nt, int kw, const uint8_t* zbuf, uint8_t (*dst)[kGatherRow]) {
  switch (cin) {
#define QUANTA_GATHER_CASE(C)                                                           \
  case C:                                                                               \
    for (int r = 0; r < R; ++r) GatherTaps<C>(x_img, ind + r * taps, lead, nt, kw, zbuf, dst[r]); \
    break;
    QUANTA_GATHER_CASE(1)
    QUANTA_GATHER_CASE(2)
    QUANTA_GATHER_CASE(3)
    QUANTA_GATHER_CASE(4)
    QUANTA_GATHER_CASE(5)
    QUANTA_GATHER_CASE(6)
    default:
    QUANTA_GATHER_CASE(7)
#undef QUANTA_GATHER_CASE
  }
  const int k = nt * cin;
  if ((k & 7) != 0) {
    const uint64_t zero = 0;
    for (int r = 0; r < R; ++r) std::memcpy(dst[r] + k, &zero, 8);
  }
}


// All channel blocks of R pixels. With one pass (K <= 512 bytes, the usual
// case) the pixels are gathered once for every block.
template <int R, bool kRes>
QUANTA_IGEMM_INLINE void TileGather(const Ctx& c, const uint8_t* x_img, const int32_t* ind, uint8_t* y,
                       const uint8_t* sr) {
  const Igemm16c2Header& h = *c.h;
  const int taps = h.kh * h.kw;
  const int cin = h.cin;
  alignas(32) uint8_t buf[R][kGatherRow];
  for (int nb = 0; nb < c.cout; nb += 16) {
    const int nr = c.cout - nb < 16 ? c.cout - nb : 16;
    const unsigned char* block = c.blocks + static_cast<size_t>(nb / 16) * h.block_bytes;
    __m256i a[R][2];
    InitAcc<R>(block, a);
    const auto* wp = reinterpret_cast<const __m256i*>(block + 128);
    for (int t0 = 0; t0 < taps; t0 += h.pass_taps) {
      const int nt = taps - t0 < h.pass_taps ? taps - t0 : h.pass_taps;
      if (nb == 0 || h.passes > 1) {
        const int lead = t0 == 0 ? 0 : (h.kw - t0 % h.kw) % h.kw;  // no idiv in one pass
        GatherRows<R>(cin, x_img, ind + t0, taps, lead, nt, h.kw, c.zbuf, buf);
      }
      const int kp = (nt * cin + 7) / 8 * 8;
      for (int k = 0; k < kp; k += 8) {
        __m256i xw[R];
        for (int r = 0; r < R; ++r) xw[r] = LoadX8(buf[r] + k);
        Chunk<R>(xw, wp, a);
      }
    }
    StoreRows<R, kRes>(a, block, c, nr, y + nb, kRes ? sr + nb : nullptr);
  }
}

// One pass (K <= 512 bytes), kMR pixels already gathered into buf: every
// channel block. Used by the software-pipelined loop in RunImage.
template <bool kRes>
QUANTA_IGEMM_INLINE void TileFromBuffer(const Ctx& c, const uint8_t (*buf)[kGatherRow], int kp,
                                        uint8_t* y, const uint8_t* sr) {
  constexpr int R = kMR;
  for (int nb = 0; nb < c.cout; nb += 16) {
    const int nr = c.cout - nb < 16 ? c.cout - nb : 16;
    const unsigned char* block = c.blocks + static_cast<size_t>(nb / 16) * c.h->block_bytes;
    __m256i a[R][2];
    InitAcc<R>(block, a);
    const auto* wp = reinterpret_cast<const __m256i*>(block + 128);
    for (int k = 0; k < kp; k += 8) {
      __m256i xw[R];
      for (int r = 0; r < R; ++r) xw[r] = LoadX8(buf[r] + k);
      Chunk<R>(xw, wp, a);
    }
    StoreRows<R, kRes>(a, block, c, nr, y + nb, kRes ? sr + nb : nullptr);
  }
}

// The last (< kMR) pixels of a piece.
template <int R, bool kRes>
inline void TapRest(int rest, const Ctx& c, const uint8_t* x_img, const int32_t* ind,
                    const unsigned char* block, int nr, uint8_t* y, const uint8_t* sr) {
  if constexpr (R > 0) {
    if (rest == R) {
      TileTap<R, kRes>(c, x_img, ind, block, nr, y, sr);
    } else {
      TapRest<R - 1, kRes>(rest, c, x_img, ind, block, nr, y, sr);
    }
  }
}

template <int R, bool kRes>
inline void GatherRest(int rest, const Ctx& c, const uint8_t* x_img, const int32_t* ind,
                       uint8_t* y, const uint8_t* sr) {
  if constexpr (R > 0) {
    if (rest == R) {
      TileGather<R, kRes>(c, x_img, ind, y, sr);
    } else {
      GatherRest<R - 1, kRes>(rest, c, x_img, ind, y, sr);
    }
  }
}

// ------------------------------------------------------------- row mode
// cin < 8 with short filter rows (qu8_igemm_16c2_layout.h, kRow): a filter row
// of an interior pixel is kw*cin contiguous input bytes, read in place with
// broadcast loads of W bytes; the per-pair vpshufb widens and broadcasts as in
// the other modes. No gather buffer and no store-to-load traffic, except for
// the rows that touch the padding (or are dilated): those are assembled into a
// small stack row once per tile. Tiles of kRowR pixels (a short tail tile
// repeats its last pixel and stores only its own rows); all channel blocks of
// a tile reuse its row pointers.
// Pixels per tile: 4 with 16 channels (8 accumulators), 6 with 8 (measured on
// the MobileNetV1 layer: 4 -> 22.8, 6 -> 23.6, 8 -> 22.0 GMAC/s).
template <int BW>
constexpr int kRowR = BW == 8 ? 6 : 4;
constexpr int kRowMaxKh = igemm_detail::kRowMaxKh;
constexpr int kRowMaxBytes = igemm_detail::kRowMaxBytes;

struct alignas(32) MaskTable {
  uint8_t b[4][32];
};

constexpr MaskTable MakeMaskTable() {
  MaskTable t{};
  for (int q = 0; q < 4; ++q) {
    for (int i = 0; i < 32; ++i) {
      t.b[q][i] = (i & 1) != 0 ? 0x80 : static_cast<uint8_t>(2 * q + ((i & 2) != 0 ? 1 : 0));
    }
  }
  return t;
}

constexpr MaskTable kPairMasks = MakeMaskTable();

QUANTA_IGEMM_INLINE __m256i RowMask(int q) {
  return _mm256_load_si256(reinterpret_cast<const __m256i*>(kPairMasks.b[q]));
}

// W bytes at p broadcast so that byte i of every quadword is p[i % W].
template <int W>
QUANTA_IGEMM_INLINE __m256i LoadW(const uint8_t* p) {
  if constexpr (W == 8) {
    return LoadX8(p);
  } else if constexpr (W == 4) {
    int32_t v;
    std::memcpy(&v, p, sizeof(v));
    return _mm256_set1_epi32(v);
  } else if constexpr (W == 2) {
    int16_t v;
    std::memcpy(&v, p, sizeof(v));
    return _mm256_set1_epi16(v);
  } else {
    return _mm256_set1_epi8(static_cast<char>(*p));
  }
}

// One K pair for R rows of BW (8 or 16) channels; wp advanced by BW / 8 ymm.
template <int BW, int R>
QUANTA_IGEMM_INLINE void RowPair(const __m256i (&xw)[R], __m256i mask, const __m256i*& wp,
                    __m256i (&a)[R][BW / 8]) {
  const __m256i w0 = _mm256_loadu_si256(wp);
  if constexpr (BW == 16) {
    const __m256i w1 = _mm256_loadu_si256(wp + 1);
    for (int r = 0; r < R; ++r) {
      const __m256i bx = _mm256_shuffle_epi8(xw[r], mask);
      a[r][0] = _mm256_add_epi32(a[r][0], _mm256_madd_epi16(bx, w0));
      a[r][1] = _mm256_add_epi32(a[r][1], _mm256_madd_epi16(bx, w1));
    }
    for (int r = 0; r < R; ++r) __asm__("" : "+x"(a[r][0]), "+x"(a[r][1]));
  } else {
    for (int r = 0; r < R; ++r) {
      const __m256i bx = _mm256_shuffle_epi8(xw[r], mask);
      a[r][0] = _mm256_add_epi32(a[r][0], _mm256_madd_epi16(bx, w0));
    }
    for (int r = 0; r < R; ++r) __asm__("" : "+x"(a[r][0]));
  }
  wp += BW / 8;
}

// Pairs Q .. QE-1 of one load (compile-time masks).
template <int Q, int QE, int BW, int R>
QUANTA_IGEMM_INLINE void RowPairs(const __m256i (&xw)[R], const __m256i*& wp,
                                  __m256i (&a)[R][BW / 8]) {
  if constexpr (Q < QE) {
    RowPair<BW, R>(xw, RowMask(Q), wp, a);
    RowPairs<Q + 1, QE, BW, R>(xw, wp, a);
  }
}

// N full loads of W bytes at row offsets 0, W, ..
template <int W, int QP, int N, int BW, int R>
QUANTA_IGEMM_INLINE void RowLoads(const uint8_t* const (&p)[R], const __m256i*& wp,
                                  __m256i (&a)[R][BW / 8]) {
  for (int j = 0; j < N; ++j) {
    __m256i xw[R];
    for (int r = 0; r < R; ++r) xw[r] = LoadW<W>(p[r] + j * W);
    RowPairs<0, QP, BW, R>(xw, wp, a);
  }
}

// 8 accumulators -> nr <= 8 bytes at y (kRes: plus the residual at sr, read
// before y is written).
template <bool kRes>
inline void Store8(__m256i a0, const float* mul, const Epilogue& e, int nr, uint8_t* y,
                   const uint8_t* sr) {
  __m256i q0 = residual_detail::Requant8(a0, mul, e);
  if constexpr (kRes) q0 = residual_detail::AddResidual8(q0, residual_detail::LoadResidual8(sr, nr), e.res);
  const __m128i w = residual_detail::Pack8(q0);
  const __m128i b = _mm_packus_epi16(w, w);
  if (nr == 8) {
    _mm_storel_epi64(reinterpret_cast<__m128i*>(y), b);
  } else {
    alignas(16) uint8_t tmp[16];
    _mm_store_si128(reinterpret_cast<__m128i*>(tmp), b);
    std::memcpy(y, tmp, static_cast<size_t>(nr));
  }
}

// Out of line (as StoreRowsResidual): rows x BW accumulators, a[r * BW/8 + j].
template <int BW, bool kRes>
__attribute__((noinline)) void RowStoreOutOfLine(const __m256i* a, int rows,
                                                 const unsigned char* block, const Ctx& c,
                                                 int nr, uint8_t* y, const uint8_t* sr) {
  const auto* mul = reinterpret_cast<const float*>(block + 4 * BW);
  const size_t ys = static_cast<size_t>(c.cout);
  for (int r = 0; r < rows; ++r) {
    const uint8_t* s = kRes ? sr + r * c.e.s_stride : nullptr;
    if constexpr (BW == 16) {
      Store16<kRes>(a[2 * r], a[2 * r + 1], mul, c.e, nr, y + r * ys, s);
    } else {
      Store8<kRes>(a[r], mul, c.e, nr, y + r * ys, s);
    }
  }
}

// No-residual store of one row mode tile (Store16 / Store8 inline: called out
// of line, Store16 cost 15% of the ResNet-8 first layer).
template <int BW, int R>
QUANTA_IGEMM_INLINE void RowStorePlain(const __m256i (&a)[R][BW / 8], int rows,
                                       const unsigned char* block, const Ctx& c, int nr,
                                       uint8_t* y) {
  const auto* mul = reinterpret_cast<const float*>(block + 4 * BW);
  const size_t ys = static_cast<size_t>(c.cout);
  for (int r = 0; r < rows; ++r) {
    const __m256i q0 = residual_detail::Requant8(a[r][0], mul, c.e);
    __m128i bytes;
    if constexpr (BW == 16) {
      const __m256i q1 = residual_detail::Requant8(a[r][1], mul + 8, c.e);
      bytes = _mm_packus_epi16(residual_detail::Pack8(q0), residual_detail::Pack8(q1));
    } else {
      const __m128i w = residual_detail::Pack8(q0);
      bytes = _mm_packus_epi16(w, w);
    }
    uint8_t* yr = y + r * ys;
    if (nr == BW) {
      if constexpr (BW == 16) {
        _mm_storeu_si128(reinterpret_cast<__m128i*>(yr), bytes);
      } else {
        _mm_storel_epi64(reinterpret_cast<__m128i*>(yr), bytes);
      }
    } else {
      alignas(16) uint8_t tmp[16];
      _mm_store_si128(reinterpret_cast<__m128i*>(tmp), bytes);
      for (int j = 0; j < nr; ++j) yr[j] = tmp[j];
    }
  }
}

// Every channel block of one tile. kDense: row ky of pixel r starts at
// base[r] + ky * rs (all taps inside the image, dilation_w 1); otherwise at
// rowp[ky][r], either a contiguous row of the input or a slot row built by
// AssembleRow, with its tail load at rowt[ky][r].
template <int KROW, int BW, bool kRes, bool kDense, int R = kRowR<BW>>
QUANTA_IGEMM_INLINE void RowTile(const Ctx& c, const uint8_t* const (&base)[R], size_t rs,
                                 const uint8_t* const (*rowp)[R],
                                 const uint8_t* const (*rowt)[R], int rows, uint8_t* y,
                                 const uint8_t* sr) {
  constexpr igemm_detail::RowPlan rp = igemm_detail::MakeRowPlan(KROW);
  constexpr int W = rp.w, QP = rp.qp;
  constexpr int NA = BW / 8;
  const Igemm16c2Header& h = *c.h;
  const int kh = h.kh;
  for (int nb = 0; nb < c.cout; nb += BW) {
    const int nr = c.cout - nb < BW ? c.cout - nb : BW;
    const unsigned char* block = c.blocks + static_cast<size_t>(nb / BW) * h.block_bytes;
    __m256i a[R][NA];
    for (int j = 0; j < NA; ++j) {
      const __m256i bias = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(block) + j);
      for (int r = 0; r < R; ++r) a[r][j] = bias;
    }
    const auto* wp = reinterpret_cast<const __m256i*>(block + 8 * BW);
    const uint8_t* p[R];
    for (int r = 0; r < R; ++r) p[r] = kDense ? base[r] : rowp[0][r];
    for (int ky = 0;;) {
      RowLoads<W, QP, rp.nfull, BW, R>(p, wp, a);
      if constexpr (rp.tail_q0 < QP) {
        __m256i xw[R];
        for (int r = 0; r < R; ++r) {
          xw[r] = LoadW<W>(kDense ? p[r] + (KROW - W) : rowt[ky][r]);
        }
        RowPairs<rp.tail_q0, QP, BW, R>(xw, wp, a);
      }
      if (++ky == kh) break;
      for (int r = 0; r < R; ++r) p[r] = kDense ? p[r] + rs : rowp[ky][r];
    }
    if constexpr (kRes) {
      __m256i spill[R * NA];
      for (int r = 0; r < R; ++r) {
        for (int j = 0; j < NA; ++j) spill[r * NA + j] = a[r][j];
      }
      RowStoreOutOfLine<BW, kRes>(spill, rows, block, c, nr, y + nb, sr + nb);
    } else {
      RowStorePlain<BW, R>(a, rows, block, c, nr, y + nb);
    }
  }
}

template <int W>
struct UintOf;
template <> struct UintOf<1> { using T = uint8_t; };
template <> struct UintOf<2> { using T = uint16_t; };
template <> struct UintOf<4> { using T = uint32_t; };
template <> struct UintOf<8> { using T = uint64_t; };

// A filter row that is not one run of the input (it touches the padding, or
// dilation_w > 1): its kw taps (t = their table entries) are assembled into
// the W-byte slots its loads read: slot j < nfull = row bytes [jW, jW + W),
// then (when there is a tail) slot nfull = bytes [KROW - W, KROW). Each slot
// is built in a register (kx_of / ci_of: row byte -> tap, channel) and
// stored once, so the kernel's W-byte load of it is store-forwarded (a load
// over several narrower stores stalls: DS-CNN's padded layer ran 2x slower
// with a byte-wise row copy; building the slots by read-modify-writes in
// memory cost the ResNet-8 layer 30% in its border tiles).
template <int KROW>
inline void AssembleRow(uint8_t* dst, const int32_t* t, int kw, const uint8_t* x_img,
                        const uint8_t* zbuf, const uint8_t* kx_of, const uint8_t* ci_of) {
  constexpr igemm_detail::RowPlan rp = igemm_detail::MakeRowPlan(KROW);
  constexpr int W = rp.w;
  constexpr bool kTail = rp.tail_q0 < rp.qp;
  using U = typename UintOf<W>::T;
  const uint8_t* src[kRowMaxBytes];
  for (int kx = 0; kx < kw; ++kx) src[kx] = t[kx] >= 0 ? x_img + t[kx] : zbuf;
  auto slot = [&](int start, uint8_t* out) {
    uint64_t v = 0;
    for (int b = 0; b < W; ++b) {
      const int pos = start + b;
      v |= uint64_t{src[kx_of[pos]][ci_of[pos]]} << (8 * b);
      // scalar: GCC otherwise SLP-vectorizes the byte inserts through the
      // stack (2x slower ResNet-8 layer)
      __asm__("" : "+r"(v));
    }
    const U u = static_cast<U>(v);
    std::memcpy(out, &u, sizeof(u));
  };
  for (int j = 0; j < rp.nfull; ++j) slot(j * W, dst + j * W);
  if constexpr (kTail) slot(KROW - W, dst + rp.nfull * W);
}

// One instantiation per row length (kw*cin = KROW, 1 .. kRowMaxBytes): with
// the loads and pairs of a row known at compile time the row body is straight
// code and the accumulators stay in registers across rows (with a runtime
// load count GCC kept them on the stack: 2x slower).
template <int KROW, int BW, bool kRes>
__attribute__((noinline)) void RunRow(const Ctx& c, const uint8_t* x_img,
                                      const int32_t* indirection, int64_t b, int64_t e,
                                      uint8_t* y_img, const uint8_t* s_img) {
  constexpr int R = kRowR<BW>;
  const Igemm16c2Header& h = *c.h;
  const int kh = h.kh, kw = h.kw, cin = h.cin;
  const int taps = kh * kw;
  const int32_t span = (kw - 1) * cin;
  const size_t ys = static_cast<size_t>(c.cout);
  alignas(32) uint8_t tmp[R][kRowMaxKh][kRowMaxBytes + 8];
  const uint8_t* rowp[kRowMaxKh][R];
  const uint8_t* rowt[kRowMaxKh][R];
  constexpr igemm_detail::RowPlan rp = igemm_detail::MakeRowPlan(KROW);
  uint8_t kx_of[KROW], ci_of[KROW];
  for (int pos = 0; pos < KROW; ++pos) {
    kx_of[pos] = static_cast<uint8_t>(pos / cin);
    ci_of[pos] = static_cast<uint8_t>(pos % cin);
  }
  for (int64_t i = b; i < e; i += R) {
    const int rows = e - i < R ? static_cast<int>(e - i) : R;
    uint8_t* y = y_img + static_cast<size_t>(i) * ys;
    const uint8_t* sr = kRes ? s_img + static_cast<size_t>(i) * c.e.s_stride : nullptr;
    // Dense tile: every pixel's first and last taps inside the image (then
    // all are, the window being a rectangle) and dilation_w 1.
    const uint8_t* base[R];
    bool dense = c.row_step != 0;
    for (int r = 0; r < R; ++r) {
      const int32_t* t = indirection + static_cast<size_t>(i + (r < rows ? r : rows - 1)) * taps;
      dense &= (t[0] | t[taps - 1]) >= 0;
      base[r] = x_img + t[0];
    }
    if (dense) {
      RowTile<KROW, BW, kRes, true>(c, base, c.row_step, rowp, rowt, rows, y, sr);
      continue;
    }
    for (int r = 0; r < R; ++r) {
      if (r >= rows) {
        for (int ky = 0; ky < kh; ++ky) {
          rowp[ky][r] = rowp[ky][rows - 1];
          rowt[ky][r] = rowt[ky][rows - 1];
        }
        continue;
      }
      const int32_t* t = indirection + static_cast<size_t>(i + r) * taps;
      for (int ky = 0; ky < kh; ++ky, t += kw) {
        const int32_t first = t[0];
        if (first >= 0 && t[kw - 1] - first == span) {
          rowp[ky][r] = x_img + first;
          rowt[ky][r] = x_img + first + (KROW - rp.w);
        } else {
          bool padded = true;  // a row above or below the image: all zx
          for (int kx = 0; kx < kw; ++kx) padded &= t[kx] < 0;
          if (padded) {
            // the padding buffer holds >= 32 bytes of zx, and every load of
            // the row lies in its first nfull*W <= KROW <= 32 bytes
            rowp[ky][r] = c.zbuf;
            rowt[ky][r] = c.zbuf;
          } else {
            uint8_t* dst = tmp[r][ky];
            AssembleRow<KROW>(dst, t, kw, x_img, c.zbuf, kx_of, ci_of);
            rowp[ky][r] = dst;
            rowt[ky][r] = dst + rp.nfull * rp.w;
          }
        }
      }
    }
    RowTile<KROW, BW, kRes, false>(c, base, 0, rowp, rowt, rows, y, sr);
  }
}

template <int KROW, bool kRes>
void RunRowBw(const Ctx& c, const uint8_t* x_img, const int32_t* indirection, int64_t b,
              int64_t e, uint8_t* y_img, const uint8_t* s_img) {
  if (c.h->reserved == 8) {
    RunRow<KROW, 8, kRes>(c, x_img, indirection, b, e, y_img, s_img);
  } else {
    RunRow<KROW, 16, kRes>(c, x_img, indirection, b, e, y_img, s_img);
  }
}

// krow = kw*cin in [8, kRowMaxBytes] (RowModeFits).
template <int KROW, bool kRes>
void RunRowMode(int krow, const Ctx& c, const uint8_t* x_img, const int32_t* indirection,
                int64_t b, int64_t e, uint8_t* y_img, const uint8_t* s_img) {
  if constexpr (KROW < kRowMaxBytes) {
    if (krow != KROW) {
      RunRowMode<KROW + 1, kRes>(krow, c, x_img, indirection, b, e, y_img, s_img);
      return;
    }
  }
  RunRowBw<KROW, kRes>(c, x_img, indirection, b, e, y_img, s_img);
}

// Pixels [b, e) of one image (local indices). y_img / s_img: pixel 0 of the
// image in y / the residual (s_img unused without kRes).
template <bool kRes>
__attribute__((noinline)) void RunImage(const Ctx& c, const uint8_t* x_img, const int32_t* indirection, int64_t b,
              int64_t e, uint8_t* y_img, const uint8_t* s_img) {
  const int taps = c.h->kh * c.h->kw;
  const size_t ystride = static_cast<size_t>(c.cout);
  auto ind_at = [&](int64_t i) { return indirection + static_cast<size_t>(i) * taps; };
  auto y_at = [&](int64_t i) { return y_img + static_cast<size_t>(i) * ystride; };
  auto s_at = [&](int64_t i) {
    return kRes ? s_img + static_cast<size_t>(i) * c.e.s_stride : nullptr;
  };
  if (c.h->mode == igemm_detail::kModeTap) {
    for (int nb = 0; nb < c.cout; nb += 16) {
      const int nr = c.cout - nb < 16 ? c.cout - nb : 16;
      const unsigned char* block = c.blocks + static_cast<size_t>(nb / 16) * c.h->block_bytes;
      int64_t i = b;
      for (; i + kMR <= e; i += kMR) {
        TileTap<kMR, kRes>(c, x_img, ind_at(i), block, nr, y_at(i) + nb,
                           kRes ? s_at(i) + nb : nullptr);
      }
      TapRest<kMR - 1, kRes>(static_cast<int>(e - i), c, x_img, ind_at(i), block, nr,
                             y_at(i) + nb, kRes ? s_at(i) + nb : nullptr);
    }
  } else {
    int64_t i = b;
    if (c.h->passes == 1 && i + kMR <= e) {
      // Software pipelined: the next tile is gathered before this one is
      // computed, so the 8-byte loads of a tile never wait on the many small
      // gather stores still in flight (a failed store-to-load forward each).
      // Measured (bench_x86_conv, Zen 3): ResNet-8 3->16 21.0 -> 23.0 GMAC/s,
      // MobileNetV1 3->8 s2 9.9 -> 11.1; DS-CNN 1->64 unchanged (35).
      const int taps = c.h->kh * c.h->kw;
      const int nt = taps, kp = (nt * c.h->cin + 7) / 8 * 8;
      alignas(32) uint8_t bufs[2][kMR][kGatherRow];
      GatherRows<kMR>(c.h->cin, x_img, ind_at(i), taps, 0, nt, c.h->kw, c.zbuf, bufs[0]);
      int cur = 0;
      for (; i + kMR <= e; i += kMR) {
        if (i + 2 * kMR <= e) {
          GatherRows<kMR>(c.h->cin, x_img, ind_at(i + kMR), taps, 0, nt, c.h->kw, c.zbuf,
                          bufs[cur ^ 1]);
        }
        TileFromBuffer<kRes>(c, bufs[cur], kp, y_at(i), s_at(i));
        cur ^= 1;
      }
    }
    for (; i + kMR <= e; i += kMR) TileGather<kMR, kRes>(c, x_img, ind_at(i), y_at(i), s_at(i));
    GatherRest<kMR - 1, kRes>(static_cast<int>(e - i), c, x_img, ind_at(i), y_at(i), s_at(i));
  }
}

template <bool kRes>
void Run(const Conv2DParams& p, const uint8_t* x, const int32_t* indirection, const Ctx& c,
         uint8_t* y, int64_t begin, int64_t end, const uint8_t* s) {
  const int64_t m = int64_t{p.oh} * p.ow;
  const size_t x_image = static_cast<size_t>(p.h) * p.w * p.cin;
  for (int64_t img = begin / m; img * m < end; ++img) {
    const int64_t b = begin > img * m ? begin - img * m : 0;
    const int64_t e = end < (img + 1) * m ? end - img * m : m;
    const size_t first = static_cast<size_t>(img * m);
    const uint8_t* x_img = x + static_cast<size_t>(img) * x_image;
    uint8_t* y_img = y + first * static_cast<size_t>(p.cout);
    const uint8_t* s_img = kRes ? s + first * c.e.s_stride : nullptr;
    if (c.h->mode == igemm_detail::kModeRow) {  // not under RunImage's gather buffers
      RunRowMode<8, kRes>(c.h->kw * c.h->cin, c, x_img, indirection, b, e, y_img, s_img);
    } else {
      RunImage<kRes>(c, x_img, indirection, b, e, y_img, s_img);
    }
  }
}

#undef QUANTA_IGEMM_INLINE

}  // namespace

void qu8_igemm_minmax_fp32__avx2_4x16c2(const Conv2DParams& p, const uint8_t* x,
                                        const int32_t* indirection, const void* packed,
                                        int32_t zy, QRange r, uint8_t* y, int64_t pixel_begin,
                                        int64_t pixel_end, const QResidual* res) {
  if (p.n <= 0 || p.oh <= 0 || p.ow <= 0 || p.cout <= 0) return;
  const int64_t total = int64_t{p.n} * p.oh * p.ow;
  if (pixel_begin < 0) pixel_begin = 0;
  if (pixel_end > total) pixel_end = total;
  if (pixel_begin >= pixel_end) return;
  const auto* base = static_cast<const unsigned char*>(packed);
  Ctx c;
  c.h = reinterpret_cast<const Igemm16c2Header*>(base);
  c.blocks = base + sizeof(Igemm16c2Header);
  c.zbuf = base + c.h->zbuf_offset;
  c.cout = p.cout;
  c.row_step = p.dil_w == 1 ? static_cast<size_t>(p.dil_h) * p.w * p.cin : 0;
  c.e = residual_detail::MakeEpilogue(zy, r, res);
  if (res == nullptr) {
    Run<false>(p, x, indirection, c, y, pixel_begin, pixel_end, nullptr);
  } else {
    Run<true>(p, x, indirection, c, y, pixel_begin, pixel_end, res->data);
  }
}

void qu8_igemm_minmax_fp32__avx2_4x16c2(const Conv2DParams& p, const uint8_t* x,
                                        const int32_t* indirection, const void* packed,
                                        int32_t zy, QRange r, uint8_t* y) {
  qu8_igemm_minmax_fp32__avx2_4x16c2(p, x, indirection, packed, zy, r, y, 0,
                                     int64_t{p.n} * p.oh * p.ow, nullptr);
}

}  // namespace quanta::kernels
