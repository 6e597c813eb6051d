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
// Two modes (chosen by the packing from cin, qu8_igemm_16c2_layout.h):
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
    RunImage<kRes>(c, x + static_cast<size_t>(img) * x_image, indirection, b, e,
                   y + first * static_cast<size_t>(p.cout),
                   kRes ? s + first * c.e.s_stride : nullptr);
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
