// Optimized x86 kernels (kernels/x86). Each must give the same bytes as its
// reference in ref.h. A function whose name contains __avx2 / __avx512 may only
// be called when cpu_supports() reports that tier (isa.h).
#pragma once

#include <cstddef>
#include <cstdint>

#include "quanta/kernels/ref.h"
#include "quanta/kernels/requantize.h"

namespace quanta::kernels {

// ------------------------------------------------------------ qu8 GEMM (8c8)
// y[i, j] = requantize(sum_k x[i, k] * w[j, k] + bias_folded[j], multiplier[j], zy, r)
// for i < m, j < n: the bytes of qu8_fully_connected_minmax_fp32__ref, and of
// qu8_conv2d_minmax_fp32__ref for a 1x1, stride-1, unpadded, ungrouped conv in
// NHWC (m = N*H*W pixels, k = Cin, n = Cout, w = the OHWI filter as [Cout, Cin]).
//
// Packing (once, at prepare; scalar code, runs on any CPU): w [n, k] int8 row
// major, bias_folded [n] (nullptr means 0, as from fold_bias_qs8), multiplier [n].
// `packed` must hold qu8_gemm_8c8_packed_size(n, k) bytes; 32-byte alignment
// is recommended (not required).
size_t qu8_gemm_8c8_packed_size(int n, int k);
void qu8_gemm_8c8_pack(int n, int k, const int8_t* w, const int32_t* bias_folded,
                       const float* multiplier, void* packed);

// AVX2 kernel: 2 rows x 8 channels per tile, K in steps of 8. x rows are
// x_stride bytes apart (x_stride >= k), y rows y_stride bytes apart
// (y_stride >= n). Reads exactly x[i][0..k) and writes exactly y[i][0..n).
// `n` and `k` must be the values given to the packing. Needs 0 <= qmin <= qmax
// <= 255 and zy in [0, 255] (as requantize()).
void qu8_gemm_minmax_fp32__avx2_2x8c8(int m, int n, int k, const uint8_t* x, size_t x_stride,
                                      const void* packed, int32_t zy, QRange r, uint8_t* y,
                                      size_t y_stride);

// ----------------------------------------------------------- qu8 GEMM (16c2)
// Same contract and arguments as the 8c8 pair above, with its own packing
// (blocks of 16 channels, no horizontal reduction in the epilogue). Same bytes.
// Choice (measured on the Zen 3 dev host, bench/bench_x86_gemm.cpp): 3x16c2 is
// as fast or faster everywhere (small k much faster: 1x1 conv 16->96 31 vs 19
// GMAC/s, 24->144 37 vs 24; GEMV 47 vs 40) except when n % 16 is in 1..8 with a
// small n (e.g. n = 24: 37 vs 43 GMAC/s, the 16-wide block wastes a third).
// Suggested rule: 2x8c8 if (n % 16 != 0 && n % 16 <= 8 && n < 64), else 3x16c2.
size_t qu8_gemm_16c2_packed_size(int n, int k);
void qu8_gemm_16c2_pack(int n, int k, const int8_t* w, const int32_t* bias_folded,
                        const float* multiplier, void* packed);
// AVX2 kernel: 3 rows x 16 channels per tile, K in pairs, 8 at a time.
void qu8_gemm_minmax_fp32__avx2_3x16c2(int m, int n, int k, const uint8_t* x, size_t x_stride,
                                       const void* packed, int32_t zy, QRange r, uint8_t* y,
                                       size_t y_stride);

// -------------------------------------------------- qu8 depthwise conv (c16)
// Depthwise Conv2D (groups == cin == cout = C, channel multiplier 1), NHWC:
// the bytes of qu8_conv2d_minmax_fp32__ref for such a Conv2DParams, any
// kh x kw, stride, dilation and padding (padded taps read x_q = zx).
//
// Packing (once, at prepare; scalar code, runs on any CPU): w is the filter
// [C, kh, kw, 1] int8 (values in [-127, 127]), bias_folded [C] from
// fold_bias_qs8 over kh*kw taps (nullptr means 0), multiplier [C]. Layout: per
// block of 16 channels, int32 bias[16], float multiplier[16], then the taps in
// pairs, each pair 32 int16 (channel-major, the two taps interleaved); the
// channel tail and an odd last tap are zero-padded. `packed` must hold
// qu8_dwconv_c16_packed_size(C, kh, kw) bytes (32-byte alignment recommended,
// not required).
size_t qu8_dwconv_c16_packed_size(int channels, int kh, int kw);
void qu8_dwconv_c16_pack(int channels, int kh, int kw, const int8_t* w,
                         const int32_t* bias_folded, const float* multiplier, void* packed);

// AVX2 kernel, 16 channels per step, exact int32 accumulation (u8 -> i16
// zero-extension and vpmaddwd over pairs of taps; never vpmaddubsw).
// Preconditions: p.groups == p.cin == p.cout, and p.cout, p.kh, p.kw equal the
// values given to the packing; p.oh/p.ow as window_out_dim; 0 <= qmin <= qmax
// <= 255, zx and zy in [0, 255]. Reads only x[0 .. n*h*w*C) and writes only
// y[0 .. n*oh*ow*C). No allocation.
void qu8_dwconv_minmax_fp32__avx2_c16(const Conv2DParams& p, const uint8_t* x, int32_t zx,
                                      const void* packed, int32_t zy, QRange r, uint8_t* y);

}  // namespace quanta::kernels
