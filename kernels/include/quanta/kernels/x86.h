// Optimized x86 kernels (kernels/x86). Each must give the same bytes as its
// reference in ref.h. A function whose name contains __avx2 / __avx512 may only
// be called when cpu_supports() reports that tier (tier.h).
#pragma once

#include <cstddef>
#include <cstdint>

#include "quanta/kernels/ref.h"
#include "quanta/kernels/requantize.h"

namespace quanta::kernels {

// ------------------------------------ fused residual Add (qu8 GEMM / igemm)
// Optional epilogue of the qu8 GEMM and igemm kernels below (docs/design.md §5.2): the
// graph's Add(conv, skip) or Add(skip, conv) done while the conv tile is in
// registers. For each output element (i, j) the kernel computes its usual byte
//   c = requantize(acc[i][j], multiplier[j], zy, r)        (not written anywhere)
// and writes instead the bytes of qu8_add_minmax_fp32__ref for that one
// element, with the Add's own parameters `add`:
//   kConvFirst:     a = c, b = s      (Add(conv, skip))
//   kResidualFirst: a = s, b = c      (Add(skip, conv))
//   f = float(a - add.za) * add.ma + float(b - add.zb) * add.mb
//   y[i][j] = requantize_f(f, add.zy, add.r.qmin, add.r.qmax)
// where s = data[i * stride + j] (row i = GEMM row, or output pixel for the
// igemm). This equals the unfused pair "kernel into a temporary, then
// qu8_add_minmax_fp32__ref / qu8_vadd_minmax_fp32__avx2" byte for byte; the
// conv operand's zero point is the Add's (za or zb: normally equal to the
// kernel's zy), as the unfused Add would read it. The float expression is
// symmetric (IEEE addition commutes), so `order` only says which of the Add's
// (z, m) pairs belongs to the conv: pass the Add node's parameters unchanged.
// Needs 0 <= add.r.qmin <= add.r.qmax <= 255, add.zy in [0, 255], za, zb in
// [0, 255]; `r`/`zy` of the kernel stay the conv's own (fused activation).
//
// Memory: reads exactly data[i * stride + j] for the elements written (each
// output element reads only its own residual element, before its row is
// written). y may alias the residual exactly (in-place Add: data == y and
// stride == the kernel's y row stride); any other overlap with y is not
// allowed. y never aliases the kernel's input x.
enum class AddOrder : uint8_t { kConvFirst = 0, kResidualFirst = 1 };

struct QResidual {
  const uint8_t* data = nullptr;  // residual row 0 (GEMM row 0 / output pixel 0)
  size_t stride = 0;              // bytes between rows / pixels (>= n or cout)
  QAddParams add;                 // the Add node's parameters, as for the reference
  AddOrder order = AddOrder::kConvFirst;
};

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
// Same, with the fused residual Add (QResidual above) when res != nullptr
// (res == nullptr: exactly the function above). res->data is row 0 of these m
// rows, res->stride bytes apart.
void qu8_gemm_minmax_fp32__avx2_2x8c8(int m, int n, int k, const uint8_t* x, size_t x_stride,
                                      const void* packed, int32_t zy, QRange r, uint8_t* y,
                                      size_t y_stride, const QResidual* res);

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
// The same layout for a MatMul whose B is an activation (qu8 x qu8, both with
// zero points): run at run time, once per batch, into a buffer of
// qu8_gemm_16c2_packed_size(n, k) bytes; no allocation. b is [k, n] u8 with
// rows ldb bytes apart. The packed weight of (channel j, position kk) is
// b[kk][j] - zb (int16 in [-255, 255]; vpmaddwd stays exact), the folded bias
// of j is -za * sum_kk (b[kk][j] - zb), the multiplier m for every channel.
// With it, the 3x16c2 kernel on a [m, k] gives the bytes of
// qu8_matmul_minmax_fp32__ref as long as 2 * k * 255 * 255 < 2^31, i.e.
// k <= kQu8GemmActMaxK (the caller checks; beyond, int32 could overflow).
constexpr int kQu8GemmActMaxK = 16000;
void qu8_gemm_16c2_pack_act(int n, int k, const uint8_t* b, size_t ldb, int32_t zb, int32_t za,
                            float m, void* packed);
// AVX2 kernel: 3 rows x 16 channels per tile, K in pairs, 8 at a time.
void qu8_gemm_minmax_fp32__avx2_3x16c2(int m, int n, int k, const uint8_t* x, size_t x_stride,
                                       const void* packed, int32_t zy, QRange r, uint8_t* y,
                                       size_t y_stride);
// Same, with the fused residual Add when res != nullptr (as for 2x8c8).
void qu8_gemm_minmax_fp32__avx2_3x16c2(int m, int n, int k, const uint8_t* x, size_t x_stride,
                                       const void* packed, int32_t zy, QRange r, uint8_t* y,
                                       size_t y_stride, const QResidual* res);

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
//
// 3x3 kernels with dilation 1 and stride_w 1 or 2 (any stride_h, padding and
// C) take a dedicated path: per 16-channel block and segment of up to 32
// output columns, each input row is converted once to interleaved int16 pairs
// (padding materialized as zx) in a 6.5 KB stack ring of 3 rows; 4 output
// pixels share the weight registers. Other geometries: tap pointers per pixel.
void qu8_dwconv_minmax_fp32__avx2_c16(const Conv2DParams& p, const uint8_t* x, int32_t zx,
                                      const void* packed, int32_t zy, QRange r, uint8_t* y);
// The same, for output rows [oy_begin, oy_end) of every image only (clamped
// to [0, p.oh); an empty range does nothing): writes only those rows of y and
// gives exactly their bytes of the full call, however the rows are split (for
// multi-threading: disjoint ranges may run concurrently on the same x, packed
// and y).
void qu8_dwconv_minmax_fp32__avx2_c16_rows(const Conv2DParams& p, int oy_begin, int oy_end,
                                           const uint8_t* x, int32_t zx, const void* packed,
                                           int32_t zy, QRange r, uint8_t* y);

// ------------------------------------------------------------ f32 GEMM (16)
// y[i, j] = min(max(sum_k x[i, k] * w[j, k] + bias[j], act.lo), act.hi) for
// i < m, j < n: f32_fully_connected__ref, and f32_conv2d__ref for a 1x1,
// stride-1, unpadded, ungrouped conv in NHWC (m = N*H*W pixels, k = Cin,
// n = Cout, w = the OHWI filter as [Cout, Cin]). NOT bit-exact with the
// reference: fused multiply-adds and a different summation order (K split over
// several accumulators for 1- and 2-row tiles); the tests bound the difference
// by 1e-5 * (sum_k |x*w| + |bias|) + 1e-6. NaN propagates as in the reference.
//
// Packing (once, at prepare; scalar code, runs on any CPU): w [n, k] float row
// major, bias [n] (nullptr means 0). Layout: per block of 16 channels, float
// bias[16] then w[k][16] (K-major), tail channels zero. `packed` must hold
// f32_gemm_16_packed_size(n, k) bytes (= ceil(n/16) * 64 * (k+1)); 32-byte
// alignment recommended (not required).
size_t f32_gemm_16_packed_size(int n, int k);
void f32_gemm_16_pack(int n, int k, const float* w, const float* bias, void* packed);

// AVX2+FMA kernel: 6 rows x 16 channels per tile (12 ymm accumulators); 1- and
// 2-row tiles split K to keep 8 FMA chains. x rows are x_stride FLOATS apart
// (x_stride >= k), y rows y_stride FLOATS apart (y_stride >= n). Reads exactly
// x[i][0..k) and the packed buffer; writes exactly y[i][0..n) (masked stores
// for n % 16). `n` and `k` must be the values given to the packing. No
// allocation, no state; m == 0 or n == 0 does nothing.
void f32_gemm_minmax__avx2_6x16(int m, int n, int k, const float* x, size_t x_stride,
                                const void* packed, FRange act, float* y, size_t y_stride);

// ------------------------------------------------- f32 depthwise conv (c16)
// Depthwise Conv2D (groups == cin == cout = C, channel multiplier 1), NHWC:
// f32_conv2d__ref for such a Conv2DParams, any kh x kw, stride, dilation and
// padding (padded taps read 0). Taps summed in the reference's (ky, kx) order
// with FMA, bias added after, then the clamp: same tolerance as the f32 GEMM.
//
// Packing (once, at prepare; scalar code, runs on any CPU): w is the filter
// [C, kh, kw, 1] float, bias [C] (nullptr means 0). Layout, Cp = C rounded up
// to 16: float bias[Cp], then float w[kh*kw][Cp] (tap-major, zero-padded).
// `packed` must hold f32_dwconv_c16_packed_size(C, kh, kw) bytes
// (= 4 * Cp * (1 + kh*kw)); 32-byte alignment recommended (not required).
size_t f32_dwconv_c16_packed_size(int channels, int kh, int kw);
void f32_dwconv_c16_pack(int channels, int kh, int kw, const float* w, const float* bias,
                         void* packed);

// AVX2+FMA kernel: interior output pixels in pairs x 32 channels (8
// accumulators, shared weight loads), border pixels up to 64 channels per
// step, masked channel tail.
// Preconditions: p.groups == p.cin == p.cout, p.cout/p.kh/p.kw equal the values
// given to the packing, p.oh/p.ow as window_out_dim, strides and dilations
// >= 1. Reads only x[0 .. n*h*w*C) (only valid taps) and the packed buffer;
// writes exactly y[0 .. n*oh*ow*C). No allocation.
void f32_dwconv_minmax__avx2_c16(const Conv2DParams& p, const float* x, const void* packed,
                                 FRange act, float* y);
// The same, for output rows [oy_begin, oy_end) of every image only (clamped
// to [0, p.oh)): bit-identical to the full call on those rows however the
// rows are split; writes nothing else. Disjoint ranges may run concurrently.
void f32_dwconv_minmax__avx2_c16_rows(const Conv2DParams& p, int oy_begin, int oy_end,
                                      const float* x, const void* packed, FRange act, float* y);

// ------------------------------------------- qu8 conv by indirect GEMM (16c2)
// General Conv2D (groups == 1), NHWC input [n, h, w, cin], OHWI filter
// [cout, kh, kw, cin]: the bytes of qu8_conv2d_minmax_fp32__ref for any kh, kw,
// stride, dilation and padding (padded taps read x_q = zx). No im2col copy:
// taps are found through an indirection table built once at prepare.
//
// Indirection (once, at prepare; scalar, any CPU; depends only on the geometry,
// not on where the input lives): table[(oy*ow + ox)*kh*kw + ky*kw + kx] = the
// byte offset of input pixel (iy, ix) from the start of its image, (iy*w + ix)
// * cin, or -1 for a padded tap. One table serves every image of the batch.
// qu8_conv_indirection_size returns the number of int32 entries (oh*ow*kh*kw;
// 0 for an empty output). qu8_conv_indirection_build fills them and returns
// false (writing nothing) when h*w*cin > INT32_MAX or the geometry is empty.
// Needs p.oh/p.ow as window_out_dim.
size_t qu8_conv_indirection_size(const Conv2DParams& p);
bool qu8_conv_indirection_build(const Conv2DParams& p, int32_t* table);

// Packing (once, at prepare; scalar, any CPU): w the OHWI filter [cout, kh, kw,
// cin] int8 (values in [-127, 127]), bias_folded [cout] from fold_bias_qs8 over
// kh*kw*cin (nullptr means 0), multiplier [cout], zx the input zero point (the
// blob holds the padding buffer of cin bytes equal to zx, so it depends on zx as
// the folded bias does). Header + blocks of 16 channels with int16 weights
// (layout: kernels/x86/qu8_igemm_16c2_layout.h). cin >= 8: per tap, chunks of
// 8 channels read in place; cin < 8 with 8 <= kw*cin <= 32 and kh <= 16 (3x3x3
// first layers): per filter row, its kw*cin contiguous bytes read in place
// (8-channel blocks when cout <= 8); other cin < 8: (tap, ci) pairs form one K
// axis gathered per tile. `packed` must hold qu8_igemm_16c2_packed_size(cout, kh, kw, cin)
// bytes (0 if a dimension is <= 0); 32-byte alignment recommended (not required).
size_t qu8_igemm_16c2_packed_size(int cout, int kh, int kw, int cin);
void qu8_igemm_16c2_pack(int cout, int kh, int kw, int cin, const int8_t* w,
                         const int32_t* bias_folded, const float* multiplier, int32_t zx,
                         void* packed);

// AVX2 kernel: tiles of 4 output pixels x 16 output channels, exact int32
// accumulation (u8 -> i16, vpmaddwd; never vpmaddubsw), fused requantization.
// Preconditions: p.groups == 1; p.cout, p.kh, p.kw, p.cin equal the values
// given to the packing; p.oh/p.ow as window_out_dim; `indirection` built by
// qu8_conv_indirection_build for the same p; 0 <= qmin <= qmax <= 255 and zy in
// [0, 255]. Reads only the input bytes named by the table (each tap reads
// exactly the cin bytes of its pixel) in x[0 .. n*h*w*cin), the table, and the
// blob; writes only y[0 .. n*oh*ow*cout) (y[pixel][0 .. cout), every byte).
// No allocation (at most ~6.5 KB of stack: the gather / padded-row buffers).
void qu8_igemm_minmax_fp32__avx2_4x16c2(const Conv2DParams& p, const uint8_t* x,
                                        const int32_t* indirection, const void* packed,
                                        int32_t zy, QRange r, uint8_t* y);
// Pixel range + optional fused residual Add. Computes only the output pixels
// P in [pixel_begin, pixel_end) of the flattened n*oh*ow pixels (P = (img*oh
// + oy)*ow + ox), writing y[P*cout .. P*cout + cout) and nothing else; x, y
// and res->data still point at pixel 0 / image 0 (the same pointers for every
// range), res->data + P*res->stride is the residual of pixel P. The range is
// clamped to [0, n*oh*ow); an empty range does nothing. Each pixel's bytes do
// not depend on the range (disjoint ranges can run on different threads and
// give the bytes of the full call). res == nullptr: plain conv. The full-range
// overload above is (0, n*oh*ow, nullptr).
void qu8_igemm_minmax_fp32__avx2_4x16c2(const Conv2DParams& p, const uint8_t* x,
                                        const int32_t* indirection, const void* packed,
                                        int32_t zy, QRange r, uint8_t* y, int64_t pixel_begin,
                                        int64_t pixel_end, const QResidual* res);

// ------------------------------------------- f32 implicit-GEMM conv (6x16)
// General ungrouped Conv2D, NHWC (p.groups == 1; any kh x kw, stride,
// dilation, padding): f32_conv2d__ref up to the f32 GEMM tolerance, without
// im2col. Prepare builds (scalar, any CPU):
//  * the indirection table: f32_igemm_indirection_count(p) int64 entries,
//    filled by f32_igemm_indirection_build(p, table): entry
//    [((n*oh + oy)*ow + ox) * kh*kw + ky*kw + kx] = offset in floats from x of
//    input pixel (n, iy, ix) channel 0, or -1 for a padded tap;
//  * the weights: f32_gemm_16_pack(p.cout, p.kh*p.kw*p.cin, w, bias, packed)
//    with w the OHWI filter viewed as [Cout, kh*kw*Cin] (no reordering);
//  * a zero row of at least p.cin floats (read for padded taps).
size_t f32_igemm_indirection_count(const Conv2DParams& p);
void f32_igemm_indirection_build(const Conv2DParams& p, int64_t* table);

// AVX2+FMA kernel: 6 output pixels x 16 channels per tile. m = n*oh*ow output
// pixels (or a contiguous sub-range, with `indirection` advanced by
// first_pixel*taps and y by first_pixel*y_stride), n = Cout, taps = kh*kw,
// cin = Cin (the values given to the packing: k = taps*cin). y rows are
// y_stride FLOATS apart (y_stride >= n). Reads x only at [off, off + cin) for
// the table's offsets, zero[0 .. cin); writes exactly y[i][0..n). Padded taps
// add 0 * w (the reference skips them): equal unless a weight is inf/NaN.
// No allocation.
void f32_igemm_minmax__avx2_6x16(int m, int n, int taps, int cin, const float* x,
                                 const int64_t* indirection, const float* zero,
                                 const void* packed, FRange act, float* y, size_t y_stride);

// ------------------------------------------------------------ qu8 Add (dense)
// y[i] = the bytes of qu8_add_minmax_fp32__ref for two inputs of the output's
// own shape (no broadcasting): n elements of a, b and y. No allocation.
void qu8_vadd_minmax_fp32__avx2(int64_t n, const uint8_t* a, const uint8_t* b,
                                const QAddParams& p, uint8_t* y);

}  // namespace quanta::kernels
