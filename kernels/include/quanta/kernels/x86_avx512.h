// AVX-512 VNNI kernels (kernels/x86/*__avx512*). Each gives the same bytes as
// its reference in ref.h (docs/design.md §1, §4).
//
// Every kernel is declared twice, from x86_avx512_kernels.inc:
//  * quanta::kernels::<name>       native, compiled with -mavx512f/bw/vl/dq/vnni:
//                                  call only when cpu_supports(Tier::kAvx512Vnni);
//  * quanta::kernels::emu::<name>  the same source compiled against SIMDe
//                                  (portable C emulation of the intrinsics, no
//                                  ISA flags; library quanta_kernels_emu). Runs
//                                  on any x86-64 CPU, slowly: for tests only.
// The packing functions are scalar C++ (no ISA flags, any CPU) and serve both.
//
// Exactness: the int8 products use vpdpbusd (u8 x s8, four products summed
// into an int32 lane with no intermediate saturation, unlike vpmaddubsw, which
// is never used). int32 sums wrap like the reference's. Requantization is
// requantize() (requantize.h) lane-wise: float(acc) * m with one vmulps (no
// FMA), clamp to [qmin - zy, qmax - zy] (max then min, NaN-faithful operand
// order), cvtps2dq (half to even), + zy, low byte (vpmovdb, masked store).
#pragma once

#include <cstddef>
#include <cstdint>

#include "quanta/kernels/ref.h"
#include "quanta/kernels/requantize.h"

namespace quanta::kernels {

// ------------------------------------------------------------ qu8 GEMM (16c4)
// Same contract as qu8_gemm_16c2 in x86.h: y[i, j] = requantize(sum_k x[i, k] *
// w[j, k] + bias_folded[j], multiplier[j], zy, r) for i < m, j < n; the bytes of
// qu8_fully_connected_minmax_fp32__ref and of qu8_conv2d_minmax_fp32__ref for a
// 1x1, stride-1, unpadded, ungrouped NHWC conv (m = pixels, k = Cin, n = Cout).
//
// Packing (once, at prepare; scalar, any CPU): w [n, k] int8 row major (values
// in [-127, 127]), bias_folded [n] (nullptr means 0, as from fold_bias_qs8),
// multiplier [n]. Layout, Kp = k rounded up to 4: per block of 16 output
// channels, int32 bias[16], float multiplier[16], then Kp/4 groups of 64 bytes;
// group g holds for channel c = 0..15 the 4 bytes w[c][4g .. 4g+3] (one int32
// lane of vpdpbusd). Padded channels and K positions are zero. Block size =
// 128 + 16 * Kp bytes. `packed` must hold qu8_gemm_16c4_packed_size(n, k)
// bytes (0 for n <= 0); 64-byte alignment recommended (not required).
size_t qu8_gemm_16c4_packed_size(int n, int k);
void qu8_gemm_16c4_pack(int n, int k, const int8_t* w, const int32_t* bias_folded,
                        const float* multiplier, void* packed);

// ------------------------------------------- qu8 conv by indirect GEMM (16c4)
// General Conv2D (groups == 1), NHWC input [n, h, w, cin], OHWI filter [cout,
// kh, kw, cin]: the bytes of qu8_conv2d_minmax_fp32__ref for any kh, kw,
// stride, dilation and padding (padded taps read x_q = zx). No im2col: taps
// are found through the indirection table of qu8_conv_indirection_build (x86.h;
// byte offsets within one image, -1 = padded tap).
//
// Packing (once, at prepare; scalar, any CPU): w the OHWI filter int8 (values
// in [-127, 127]), bias_folded [cout] from fold_bias_qs8 over kh*kw*cin
// (nullptr means 0), multiplier [cout], zx the input zero point (the blob holds
// a padding row of cin bytes equal to zx, read for padded taps). Blob = a
// 64-byte header, blocks of 16 output channels (int32 bias[16], float
// multiplier[16], then groups of 4 K bytes x 16 channels = 64 bytes), then the
// padding row. K order (kernels/x86/qu8_igemm_16c4_layout.h):
//  * cin >= 4 ("tap" mode): per tap, ceil(cin/4) groups; a cin % 4 tail group
//    is read as the last 4 bytes of the pixel (cin-4 .. cin-1), its weights for
//    the channels already covered being zero: nothing past the pixel is read;
//  * cin 1..3 ("gather" mode, first layers): the (tap, ci) pairs of a pixel
//    form one K axis (passes of at most 256 bytes), zero-padded to 4, gathered
//    per tile into a small stack buffer: no padding waste per tap.
// `packed` must hold qu8_igemm_16c4_packed_size(cout, kh, kw, cin) bytes (0 if
// a dimension is <= 0); 64-byte alignment recommended (not required).
size_t qu8_igemm_16c4_packed_size(int cout, int kh, int kw, int cin);
void qu8_igemm_16c4_pack(int cout, int kh, int kw, int cin, const int8_t* w,
                         const int32_t* bias_folded, const float* multiplier, int32_t zx,
                         void* packed);

// ------------------------------------------------- qu8 depthwise conv (c16)
// Depthwise Conv2D (groups == cin == cout = C, channel multiplier 1), NHWC:
// the bytes of qu8_conv2d_minmax_fp32__ref for any kh x kw, stride, dilation
// and padding (padded taps read x_q = zx). Packing: qu8_dwconv_c16_pack
// (x86.h; scalar, any CPU), shared with the AVX2 kernel: per block of 16
// channels int32 bias[16], float multiplier[16], then per tap pair one dword
// per channel holding the int16 weights (w[2q], w[2q+1]) = exactly the int32
// lane layout of a zmm, so the same prepared blob serves both tiers.
// Products: vpdpbusd with x zero-extended into [x_t, 0, x_t+1, 0] per lane
// (tap pairs; the weight's sign bytes meet zero x bytes) or [x(ix), x(ix+1),
// x(ix+2), 0] (3x3 rows, weights re-laid per block as byte quads): exact int32
// sums. Requantization as above. Kernels: x86_avx512_kernels.inc.
//
// ------------------------------------------------ f32 kernels (AVX-512 F, FMA)
// f32 GEMM, implicit-GEMM conv and depthwise conv with the contracts, packing
// (f32_gemm_16_pack, f32_igemm_indirection_build, f32_dwconv_c16_pack; x86.h)
// and tolerance of their AVX2 twins: 16 floats per zmm, fused multiply-adds,
// masked loads/stores for channel tails, NaN kept by the clamp's operand
// order. Tile heights and threading rules: x86_avx512_kernels.inc.

// The kernels, native (cpu_supports(Tier::kAvx512Vnni) only).
#include "quanta/kernels/x86_avx512_kernels.inc"

// The same kernels emulated through SIMDe (any CPU; slow; tests).
namespace emu {
#include "quanta/kernels/x86_avx512_kernels.inc"
}  // namespace emu

}  // namespace quanta::kernels
