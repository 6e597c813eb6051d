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
//    512 bytes per pass) and reused by every channel block.
// Stores write exactly y[pixel][0 .. cout).
#include <immintrin.h>

#include <cstring>

#include "qu8_igemm_16c2_layout.h"
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

struct Epilogue {
  __m256 lo, hi;
  __m256i zy, mask;
};

inline __m128i Requant8(__m256i acc, const float* mul, const Epilogue& e) {
  __m256 f = _mm256_mul_ps(_mm256_cvtepi32_ps(acc), _mm256_loadu_ps(mul));
  f = _mm256_max_ps(e.lo, f);  // = std::max(f, lo): NaN stays f
  f = _mm256_min_ps(e.hi, f);  // = std::min(f, hi): NaN stays f
  __m256i q = _mm256_add_epi32(_mm256_cvtps_epi32(f), e.zy);
  q = _mm256_and_si256(q, e.mask);  // low byte: the packs below never saturate
  return _mm_packus_epi32(_mm256_castsi256_si128(q), _mm256_extracti128_si256(q, 1));
}

inline void Store16(__m256i s0, __m256i s1, const float* mul, const Epilogue& e, int nr,
                    uint8_t* y) {
  const __m128i b = _mm_packus_epi16(Requant8(s0, mul, e), Requant8(s1, mul + 8, e));
  if (nr == 16) {
    _mm_storeu_si128(reinterpret_cast<__m128i*>(y), b);
  } else {
    alignas(16) uint8_t tmp[16];
    _mm_store_si128(reinterpret_cast<__m128i*>(tmp), b);
    std::memcpy(y, tmp, static_cast<size_t>(nr));
  }
}

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

template <int R>
inline void StoreRows(const __m256i (&a)[R][2], const unsigned char* block, const Epilogue& e,
                      int nr, uint8_t* y, size_t y_stride) {
  const auto* mul = reinterpret_cast<const float*>(block + 64);
  for (int r = 0; r < R; ++r) Store16(a[r][0], a[r][1], mul, e, nr, y + r * y_stride);
}

struct Ctx {
  const Igemm16c2Header* h;
  const unsigned char* blocks;
  const uint8_t* zbuf;
  Epilogue e;
  int cout;
};

// ------------------------------------------------------------- tap mode
// Rows r < R are output pixels whose indirection rows start at ind + r*taps.
template <int R>
inline void TileTap(const Ctx& c, const uint8_t* x_img, const int32_t* ind,
                    const unsigned char* block, int nr, uint8_t* y) {
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
  StoreRows<R>(a, block, c.e, nr, y, static_cast<size_t>(c.cout));
}

// ---------------------------------------------------------- gather mode
template <int kCin>
inline void GatherTaps(const uint8_t* x_img, const int32_t* ind, int nt, const uint8_t* zbuf,
                       uint8_t* dst) {
  for (int t = 0; t < nt; ++t) {
    const int32_t off = ind[t];
    const uint8_t* src = off >= 0 ? x_img + off : zbuf;
    std::memcpy(dst + t * kCin, src, kCin);
  }
}

inline void Gather(int cin, const uint8_t* x_img, const int32_t* ind, int nt,
                   const uint8_t* zbuf, uint8_t* dst) {
  switch (cin) {
    case 1: GatherTaps<1>(x_img, ind, nt, zbuf, dst); break;
    case 2: GatherTaps<2>(x_img, ind, nt, zbuf, dst); break;
    case 3: GatherTaps<3>(x_img, ind, nt, zbuf, dst); break;
    case 4: GatherTaps<4>(x_img, ind, nt, zbuf, dst); break;
    case 5: GatherTaps<5>(x_img, ind, nt, zbuf, dst); break;
    case 6: GatherTaps<6>(x_img, ind, nt, zbuf, dst); break;
    default: GatherTaps<7>(x_img, ind, nt, zbuf, dst); break;
  }
  const int k = nt * cin;
  std::memset(dst + k, 0, static_cast<size_t>((k + 7) / 8 * 8 - k));
}

constexpr int kGatherRow = igemm_detail::kGatherPassBytes + 8;

// All channel blocks of R pixels. With one pass (K <= 512 bytes, the usual
// case) the pixels are gathered once for every block.
template <int R>
inline void TileGather(const Ctx& c, const uint8_t* x_img, const int32_t* ind, uint8_t* y) {
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
        for (int r = 0; r < R; ++r) Gather(cin, x_img, ind + r * taps + t0, nt, c.zbuf, buf[r]);
      }
      const int kp = (nt * cin + 7) / 8 * 8;
      for (int k = 0; k < kp; k += 8) {
        __m256i xw[R];
        for (int r = 0; r < R; ++r) xw[r] = LoadX8(buf[r] + k);
        Chunk<R>(xw, wp, a);
      }
    }
    StoreRows<R>(a, block, c.e, nr, y + nb, static_cast<size_t>(c.cout));
  }
}

// The last m % kMR pixels of an image (rest < kMR).
template <int R>
inline void TapRest(int rest, const Ctx& c, const uint8_t* x_img, const int32_t* ind,
                    const unsigned char* block, int nr, uint8_t* y) {
  if constexpr (R > 0) {
    if (rest == R) {
      TileTap<R>(c, x_img, ind, block, nr, y);
    } else {
      TapRest<R - 1>(rest, c, x_img, ind, block, nr, y);
    }
  }
}

template <int R>
inline void GatherRest(int rest, const Ctx& c, const uint8_t* x_img, const int32_t* ind,
                       uint8_t* y) {
  if constexpr (R > 0) {
    if (rest == R) {
      TileGather<R>(c, x_img, ind, y);
    } else {
      GatherRest<R - 1>(rest, c, x_img, ind, y);
    }
  }
}

}  // namespace

void qu8_igemm_minmax_fp32__avx2_4x16c2(const Conv2DParams& p, const uint8_t* x,
                                        const int32_t* indirection, const void* packed,
                                        int32_t zy, QRange r, uint8_t* y) {
  if (p.n <= 0 || p.oh <= 0 || p.ow <= 0 || p.cout <= 0) return;
  const auto* base = static_cast<const unsigned char*>(packed);
  Ctx c;
  c.h = reinterpret_cast<const Igemm16c2Header*>(base);
  c.blocks = base + sizeof(Igemm16c2Header);
  c.zbuf = base + c.h->zbuf_offset;
  c.cout = p.cout;
  c.e.lo = _mm256_set1_ps(static_cast<float>(r.qmin - zy));
  c.e.hi = _mm256_set1_ps(static_cast<float>(r.qmax - zy));
  c.e.zy = _mm256_set1_epi32(zy);
  c.e.mask = _mm256_set1_epi32(0xFF);
  const int taps = p.kh * p.kw;
  const int m = p.oh * p.ow;
  const size_t x_image = static_cast<size_t>(p.h) * p.w * p.cin;
  const size_t y_image = static_cast<size_t>(m) * p.cout;
  const size_t ystride = static_cast<size_t>(p.cout);
  for (int n = 0; n < p.n; ++n) {
    const uint8_t* x_img = x + n * x_image;
    uint8_t* y_img = y + n * y_image;
    if (c.h->mode == igemm_detail::kModeTap) {
      for (int nb = 0; nb < p.cout; nb += 16) {
        const int nr = p.cout - nb < 16 ? p.cout - nb : 16;
        const unsigned char* block = c.blocks + static_cast<size_t>(nb / 16) * c.h->block_bytes;
        uint8_t* yb = y_img + nb;
        int i = 0;
        for (; i + kMR <= m; i += kMR) {
          TileTap<kMR>(c, x_img, indirection + static_cast<size_t>(i) * taps, block, nr,
                       yb + i * ystride);
        }
        TapRest<kMR - 1>(m - i, c, x_img, indirection + static_cast<size_t>(i) * taps, block, nr,
                         yb + i * ystride);
      }
    } else {
      int i = 0;
      for (; i + kMR <= m; i += kMR) {
        TileGather<kMR>(c, x_img, indirection + static_cast<size_t>(i) * taps,
                        y_img + i * ystride);
      }
      GatherRest<kMR - 1>(m - i, c, x_img, indirection + static_cast<size_t>(i) * taps,
                          y_img + i * ystride);
    }
  }
}

}  // namespace quanta::kernels
