// The AVX2 (+FMA) tier's kernel table: the adapters from each family's
// uniform signature (config.h) to the AVX2 microkernels of kernels/x86, and
// the tier's selection rules. Glue only: the kernels' loops stay in
// kernels/x86. This file is compiled without ISA flags; the microkernels it
// names run only when cpu_supports(Tier::kAvx2).
#include "quanta/kernels/x86.h"
#include "quanta/kernels/x86_misc.h"
#include "tables.h"

namespace quanta::kernels::config_detail {
namespace {

// ------------------------------------------------------------ qu8 GEMM
// Rows [r0, r1) of the 2x8c8 kernel (8c8 packing), fused residual if any.
void qu8_gemm_2x8c8_rows(const Qu8GemmArgs& a, int64_t r0, int64_t r1) {
  QResidual tmp;
  qu8_gemm_minmax_fp32__avx2_2x8c8(static_cast<int>(r1 - r0), a.n, a.k,
                                   a.x + static_cast<size_t>(r0) * a.x_stride, a.x_stride,
                                   a.packed, a.zy, a.r, a.y + static_cast<size_t>(r0) * a.y_stride,
                                   a.y_stride, gemm_residual_at(a, r0, 0, &tmp));
}
// Rows [r0, r1) of the 3x16c2 kernel (16c2 packing).
void qu8_gemm_3x16c2_rows(const Qu8GemmArgs& a, int64_t r0, int64_t r1) {
  QResidual tmp;
  qu8_gemm_minmax_fp32__avx2_3x16c2(static_cast<int>(r1 - r0), a.n, a.k,
                                    a.x + static_cast<size_t>(r0) * a.x_stride, a.x_stride,
                                    a.packed, a.zy, a.r,
                                    a.y + static_cast<size_t>(r0) * a.y_stride, a.y_stride,
                                    gemm_residual_at(a, r0, 0, &tmp));
}
// Channels [c0, c1) of all rows, c0 a multiple of 16: the packing is block-major.
void qu8_gemm_3x16c2_cols(const Qu8GemmArgs& a, int64_t c0, int64_t c1) {
  QResidual tmp;
  qu8_gemm_minmax_fp32__avx2_3x16c2(a.m, static_cast<int>(c1 - c0), a.k, a.x, a.x_stride,
                                    packed_block(a.packed, c0, 16, a.block_bytes), a.zy, a.r,
                                    a.y + c0, a.y_stride, gemm_residual_at(a, 0, c0, &tmp));
}

// Measured on the Zen 3 dev host (bench/bench_x86_gemm.cpp, x86.h): 16-channel
// blocks win unless the last block would be mostly padding on a narrow layer.
bool use_8c8(int /*m*/, int n, int /*k*/) { return n % 16 != 0 && n % 16 <= 8 && n < 64; }

// ------------------------------------------------- qu8 implicit-GEMM conv
void qu8_igemm_4x16c2_pixels(const Qu8IgemmArgs& a, int64_t p0, int64_t p1) {
  qu8_igemm_minmax_fp32__avx2_4x16c2(a.p, a.x, a.indirection, a.packed, a.zy, a.r, a.y, p0, p1,
                                     a.has_res ? &a.res : nullptr);
}

// ------------------------------------------------------ qu8 depthwise conv
void qu8_dwconv_c16_rows(const Qu8DwconvArgs& a, int64_t r0, int64_t r1) {
  qu8_dwconv_minmax_fp32__avx2_c16_rows(a.p, static_cast<int>(r0), static_cast<int>(r1), a.x,
                                        a.zx, a.packed, a.zy, a.r, a.y);
}

// ------------------------------------------------------------ f32 kernels
void f32_gemm_6x16_rows(const F32GemmArgs& a, int64_t r0, int64_t r1) {
  f32_gemm_minmax__avx2_6x16(static_cast<int>(r1 - r0), a.n, a.k,
                             a.x + static_cast<size_t>(r0) * a.x_stride, a.x_stride, a.packed,
                             a.act, a.y + static_cast<size_t>(r0) * a.y_stride, a.y_stride);
}
void f32_igemm_6x16_pixels(const F32IgemmArgs& a, int64_t p0, int64_t p1) {
  f32_igemm_minmax__avx2_6x16(static_cast<int>(p1 - p0), a.n, a.taps, a.cin, a.x,
                              a.indirection + p0 * a.taps, a.zero, a.packed, a.act,
                              a.y + static_cast<size_t>(p0) * a.y_stride, a.y_stride);
}
void f32_dwconv_c16_rows(const F32DwconvArgs& a, int64_t r0, int64_t r1) {
  f32_dwconv_minmax__avx2_c16_rows(a.p, static_cast<int>(r0), static_cast<int>(r1), a.x,
                                   a.packed, a.act, a.y);
}

// ------------------------------------------------- pooling (range: images)
size_t image_bytes(int64_t h, int64_t w, int64_t c) {
  return static_cast<size_t>(h) * static_cast<size_t>(w) * static_cast<size_t>(c);
}
void u8_maxpool_c32_images(const U8MaxPoolArgs& a, int64_t i0, int64_t i1) {
  if (i1 <= i0) return;
  Pool2DParams p = a.p;
  p.n = static_cast<int>(i1 - i0);
  const size_t in_image = image_bytes(p.h, p.w, p.c);
  const size_t out_image = image_bytes(p.oh, p.ow, p.c);
  u8_maxpool_minmax__avx2_c32(p, a.x + static_cast<size_t>(i0) * in_image, a.r,
                              a.y + static_cast<size_t>(i0) * out_image);
}
void qu8_avgpool_c32_images(const Qu8AvgPoolArgs& a, int64_t i0, int64_t i1) {
  if (i1 <= i0) return;
  Pool2DParams p = a.p;
  p.n = static_cast<int>(i1 - i0);
  const size_t in_image = image_bytes(p.h, p.w, p.c);
  const size_t out_image = image_bytes(p.oh, p.ow, p.c);
  qu8_avgpool_minmax_fp32__avx2_c32(p, a.x + static_cast<size_t>(i0) * in_image, a.zx, a.ratio,
                                    a.zy, a.r, a.y + static_cast<size_t>(i0) * out_image);
}
void qu8_global_avgpool_c32_images(const Qu8GlobalAvgPoolArgs& a, int64_t i0, int64_t i1) {
  if (i1 <= i0) return;
  const size_t in_image = image_bytes(a.hw, 1, a.c);
  const size_t out_image = static_cast<size_t>(a.c);
  qu8_global_avgpool_minmax_fp32__avx2_c32(static_cast<int>(i1 - i0), a.hw, a.c,
                                           a.x + static_cast<size_t>(i0) * in_image, a.zx,
                                           a.ratio, a.zy, a.r,
                                           a.y + static_cast<size_t>(i0) * out_image);
}

// ------------------------------------------------ elementwise (range: elements)
void qu8_vadd_elements(const Qu8VaddArgs& a, int64_t e0, int64_t e1) {
  if (e1 <= e0) return;
  qu8_vadd_minmax_fp32__avx2(e1 - e0, a.a + e0, a.b + e0, a.p, a.y + e0);
}
void qu8_vmul_elements(const Qu8VmulArgs& a, int64_t e0, int64_t e1) {
  if (e1 <= e0) return;
  qu8_vmul_minmax_fp32__avx2(e1 - e0, a.a + e0, a.b + e0, a.p, a.y + e0);
}
void quantize_elements(const QuantizeArgs& a, int64_t e0, int64_t e1) {
  if (e1 <= e0) return;
  qu8_quantize__avx2(e1 - e0, a.x + e0, a.s, a.z, a.y + e0);
}
void dequantize_elements(const DequantizeArgs& a, int64_t e0, int64_t e1) {
  if (e1 <= e0) return;
  qu8_dequantize__avx2(e1 - e0, a.x + e0, a.s, a.z, a.y + e0);
}

}  // namespace

KernelConfig avx2_config() {
  KernelConfig c = ref_config();

  // qu8 GEMM: 16c2 layout with 3x16c2 (rows in tiles of 3, or 16-channel
  // blocks for a GEMV: m < 12 and n >= 32); 8c8 layout with 2x8c8 for a
  // narrow n whose last 16-channel block would be mostly padding. Both take
  // the fused residual Add.
  c.qu8_gemm.main = {"qu8_gemm_minmax_fp32__avx2_3x16c2",
                     qu8_gemm_16c2_packed_size,
                     qu8_gemm_16c2_pack,
                     qu8_gemm_3x16c2_rows,
                     /*row_align=*/3,
                     qu8_gemm_3x16c2_cols,
                     /*col_align=*/16,
                     /*block_channels=*/16};
  c.qu8_gemm.narrow = {"qu8_gemm_minmax_fp32__avx2_2x8c8",
                       qu8_gemm_8c8_packed_size,
                       qu8_gemm_8c8_pack,
                       qu8_gemm_2x8c8_rows,
                       /*row_align=*/2,
                       /*cols=*/nullptr,
                       /*col_align=*/0,
                       /*block_channels=*/8};
  c.qu8_gemm.use_narrow = use_8c8;
  c.qu8_gemm.gemv_below_m = 12;
  c.qu8_gemm.gemv_min_n = 32;
  c.qu8_gemm.fused_residual = true;

  // MatMul of two activations: B packed at run time in the 16c2 layout
  // (qu8_gemm_16c2_pack_act), the 3x16c2 kernel on A's rows.
  c.qu8_matmul = {"qu8_gemm_minmax_fp32__avx2_3x16c2",
                  kQu8GemmActMaxK,
                  qu8_gemm_16c2_packed_size,
                  qu8_gemm_16c2_pack_act,
                  qu8_gemm_3x16c2_rows,
                  /*row_align=*/3};

  c.qu8_igemm = {"qu8_igemm_minmax_fp32__avx2_4x16c2",
                 qu8_conv_indirection_size,
                 qu8_conv_indirection_build,
                 qu8_igemm_16c2_packed_size,
                 qu8_igemm_16c2_pack,
                 qu8_igemm_4x16c2_pixels,
                 /*pixel_align=*/4,
                 /*fused_residual=*/true};

  c.qu8_dwconv = {"qu8_dwconv_minmax_fp32__avx2_c16", qu8_dwconv_c16_packed_size,
                  qu8_dwconv_c16_pack, qu8_dwconv_c16_rows, /*row_align=*/1};

  // Float GEMM: rows split at multiples of the 6-row tile (the 1- and 2-row
  // tail tiles sum in another order).
  c.f32_gemm = {"f32_gemm_minmax__avx2_6x16", f32_gemm_16_packed_size, f32_gemm_16_pack,
                f32_gemm_6x16_rows, /*row_align=*/6};
  c.f32_igemm = {"f32_igemm_minmax__avx2_6x16",
                 f32_igemm_indirection_count,
                 f32_igemm_indirection_build,
                 f32_gemm_16_packed_size,
                 f32_gemm_16_pack,
                 f32_igemm_6x16_pixels,
                 /*pixel_align=*/6};
  c.f32_dwconv = {"f32_dwconv_minmax__avx2_c16", f32_dwconv_c16_packed_size,
                  f32_dwconv_c16_pack, f32_dwconv_c16_rows, /*row_align=*/1};

  c.u8_maxpool =
      range_slot<U8MaxPoolArgs, u8_maxpool_c32_images>("u8_maxpool_minmax__avx2_c32");
  c.qu8_avgpool =
      range_slot<Qu8AvgPoolArgs, qu8_avgpool_c32_images>("qu8_avgpool_minmax_fp32__avx2_c32");
  c.qu8_global_avgpool = range_slot<Qu8GlobalAvgPoolArgs, qu8_global_avgpool_c32_images>(
      "qu8_global_avgpool_minmax_fp32__avx2_c32");
  c.qu8_vadd = range_slot<Qu8VaddArgs, qu8_vadd_elements>("qu8_vadd_minmax_fp32__avx2");
  c.qu8_vmul = range_slot<Qu8VmulArgs, qu8_vmul_elements>("qu8_vmul_minmax_fp32__avx2");
  c.quantize = range_slot<QuantizeArgs, quantize_elements>("qu8_quantize__avx2");
  c.dequantize = range_slot<DequantizeArgs, dequantize_elements>("qu8_dequantize__avx2");
  return c;
}

}  // namespace quanta::kernels::config_detail
