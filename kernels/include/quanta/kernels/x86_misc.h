// Optimized x86 kernels for pooling, Quantize/Dequantize and the dense Mul
// (kernels/x86). Each gives the same bytes as its reference in ref.h (the
// float-output Dequantize: the same floats). A function whose name contains
// __avx2 may only be called when cpu_supports(Tier::kAvx2) (tier.h). None of
// them allocates, keeps state or reads/writes outside the ranges given below.
#pragma once

#include <cstddef>
#include <cstdint>

#include "quanta/kernels/ref.h"
#include "quanta/kernels/requantize.h"

namespace quanta::kernels {

// ------------------------------------------------------------ u8 MaxPool
// The bytes of u8_maxpool_minmax__ref: NHWC x [n, h, w, c] -> y [n, oh, ow, c],
// any kh x kw, stride, dilation and padding (p.oh/p.ow as window_out_dim;
// strides and dilations >= 1). Per output value: the max over the taps inside
// the input (padded taps ignored; the max starts at 0, so an all-padding
// window gives 0 before the clamp), then clamped to [r.qmin, r.qmax]
// (0 <= qmin <= qmax <= 255). Vectorized over channels: 64 per step, then
// 32, 16, then a partial vector (its load is 16 bytes when they lie inside x, else a
// copy of the bytes that exist). Reads only x[0 .. n*h*w*c), writes exactly
// y[0 .. n*oh*ow*c).
void u8_maxpool_minmax__avx2_c32(const Pool2DParams& p, const uint8_t* x, QRange r, uint8_t* y);

// ------------------------------------------------------------ qu8 AveragePool
// The bytes of qu8_avgpool_minmax_fp32__ref (same Pool2DParams as above):
// acc = sum over the taps inside the input of (x - zx) in int32 (padded taps
// add 0); count = kh*kw when p.count_include_pad, else the number of inside
// taps (0 -> 1); y = requantize(acc, ratio / float(count), zy, r), the fp32
// rule of docs/design.md §1 (one vmulps, clamp, cvtps2dq half to even, + zy).
// Needs 0 <= qmin <= qmax <= 255, zx and zy in [0, 255]. Channels 32 per step
// (uint16 sums when at most 256 taps are inside, else int32), then 8, then a
// byte-copied remainder. Reads only
// x[0 .. n*h*w*c), writes exactly y[0 .. n*oh*ow*c).
void qu8_avgpool_minmax_fp32__avx2_c32(const Pool2DParams& p, const uint8_t* x, int32_t zx,
                                       float ratio, int32_t zy, QRange r, uint8_t* y);

// ------------------------------------------------------ qu8 GlobalAveragePool
// The bytes of qu8_global_avgpool_minmax_fp32__ref: x [n, hw, c] -> y [n, c],
// acc = sum over hw of (x - zx) taken modulo 2^32 (as the reference's int64
// sum converted to int32; hw * 255 must fit int32 for it to be the true sum),
// y = requantize(acc, ratio / float(hw > 0 ? hw : 1), zy, r). hw == 0 gives
// zy clamped. Sums in uint16 lanes flushed to int32 every 256 rows.
// Reads only x[0 .. n*hw*c), writes exactly y[0 .. n*c).
void qu8_global_avgpool_minmax_fp32__avx2_c32(int n, int64_t hw, int c, const uint8_t* x,
                                              int32_t zx, float ratio, int32_t zy, QRange r,
                                              uint8_t* y);

// ------------------------------------------------------- Quantize (f32 -> u8)
// The bytes of qu8_quantize__ref / quantize_u8 (ONNX QuantizeLinear):
// y = clamp(round_half_even(x / s) + z, 0, 255) with x / s a true IEEE
// division (vdivps, not a reciprocal multiply), NaN -> z, +inf -> 255,
// -inf -> 0; denormals as the default MXCSR (no FTZ/DAZ). Needs s finite
// > 0 and z in [0, 255]. n elements of x and y; reads/writes nothing else.
void qu8_quantize__avx2(int64_t n, const float* x, float s, int32_t z, uint8_t* y);

// ----------------------------------------------------- Dequantize (u8 -> f32)
// The floats of qu8_dequantize__ref: y = s * float(x - z) (one multiply).
// n elements of x and y; reads/writes nothing else.
void qu8_dequantize__avx2(int64_t n, const uint8_t* x, float s, int32_t z, float* y);

// -------------------------------------------------------------- qu8 Mul (dense)
// The bytes of qu8_mul_minmax_fp32__ref for two inputs of the output's own
// shape (no broadcasting): f = float((a - za) * (b - zb)) * m (exact int32
// product, one fp32 multiply), y = requantize_f(f, zy, r) (NaN -> zy clamped).
// Needs 0 <= qmin <= qmax <= 255, za, zb, zy in [0, 255]. n elements of a, b
// and y; reads/writes nothing else.
void qu8_vmul_minmax_fp32__avx2(int64_t n, const uint8_t* a, const uint8_t* b,
                                const QMulParams& p, uint8_t* y);

}  // namespace quanta::kernels
