// The AVX-512 VNNI tier's kernel table: the AVX2 table with the slots that
// have AVX-512 kernels overridden. Glue only (the kernels' loops are in
// kernels/x86); compiled without ISA flags, the microkernels it names run
// only when cpu_supports(Tier::kAvx512Vnni).
#include "quanta/kernels/x86_avx512.h"
#include "tables.h"

namespace quanta::kernels::config_detail {
namespace {

// ------------------------------------------------------------ qu8 GEMM
void qu8_gemm_8x32c4_rows(const Qu8GemmArgs& a, int64_t r0, int64_t r1) {
  qu8_gemm_minmax_fp32__avx512vnni_8x32c4(static_cast<int>(r1 - r0), a.n, a.k,
                                          a.x + static_cast<size_t>(r0) * a.x_stride, a.x_stride,
                                          a.packed, a.zy, a.r,
                                          a.y + static_cast<size_t>(r0) * a.y_stride, a.y_stride);
}
// Channels [c0, c1) of all rows, c0 a multiple of 32 (two 16-channel blocks).
void qu8_gemm_8x32c4_cols(const Qu8GemmArgs& a, int64_t c0, int64_t c1) {
  qu8_gemm_minmax_fp32__avx512vnni_8x32c4(a.m, static_cast<int>(c1 - c0), a.k, a.x, a.x_stride,
                                          packed_block(a.packed, c0, 16, a.block_bytes), a.zy,
                                          a.r, a.y + c0, a.y_stride);
}

// ------------------------------------------------- qu8 implicit-GEMM conv
void qu8_igemm_8x32c4_pixels(const Qu8IgemmArgs& a, int64_t p0, int64_t p1) {
  qu8_igemm_minmax_fp32__avx512vnni_8x32c4(a.p, a.x, a.indirection, a.packed, a.zy, a.r, a.y, p0,
                                           p1);
}

// ------------------------------------------------------ qu8 depthwise conv
void qu8_dwconv_c16_rows(const Qu8DwconvArgs& a, int64_t r0, int64_t r1) {
  qu8_dwconv_minmax_fp32__avx512_c16_rows(a.p, static_cast<int>(r0), static_cast<int>(r1), a.x,
                                          a.zx, a.packed, a.zy, a.r, a.y);
}

// ------------------------------------------------------------ f32 kernels
void f32_gemm_8x32_rows(const F32GemmArgs& a, int64_t r0, int64_t r1) {
  f32_gemm_minmax__avx512_8x32(static_cast<int>(r1 - r0), a.n, a.k,
                               a.x + static_cast<size_t>(r0) * a.x_stride, a.x_stride, a.packed,
                               a.act, a.y + static_cast<size_t>(r0) * a.y_stride, a.y_stride);
}
void f32_igemm_8x32_pixels(const F32IgemmArgs& a, int64_t p0, int64_t p1) {
  f32_igemm_minmax__avx512_8x32(static_cast<int>(p1 - p0), a.n, a.taps, a.cin, a.x,
                                a.indirection + p0 * a.taps, a.zero, a.packed, a.act,
                                a.y + static_cast<size_t>(p0) * a.y_stride, a.y_stride);
}
void f32_dwconv_c16_rows(const F32DwconvArgs& a, int64_t r0, int64_t r1) {
  f32_dwconv_minmax__avx512_c16_rows(a.p, static_cast<int>(r0), static_cast<int>(r1), a.x,
                                     a.packed, a.act, a.y);
}

}  // namespace

// Overrides qu8_gemm, qu8_igemm, qu8_dwconv, f32_gemm, f32_igemm, f32_dwconv.
// Inherited from avx2_config() (AVX2 kernels, which this tier's CPUs run):
//   qu8_matmul          qu8_gemm_minmax_fp32__avx2_3x16c2 on B packed 16c2 at run time
//   u8_maxpool          u8_maxpool_minmax__avx2_c32
//   qu8_avgpool         qu8_avgpool_minmax_fp32__avx2_c32
//   qu8_global_avgpool  qu8_global_avgpool_minmax_fp32__avx2_c32
//   qu8_vadd            qu8_vadd_minmax_fp32__avx2
//   qu8_vmul            qu8_vmul_minmax_fp32__avx2
//   quantize            qu8_quantize__avx2
//   dequantize          qu8_dequantize__avx2
KernelConfig avx512vnni_config() {
  KernelConfig c = avx2_config();

  // qu8 GEMM: one layout (16c4) with the 8x32c4 kernel: rows in tiles of 8,
  // or 32-channel column ranges for a GEMV (m < 16 and n >= 64). No fused
  // residual Add: the graph keeps the Add as its own node on this tier.
  c.qu8_gemm = Qu8GemmSlot{};
  c.qu8_gemm.main = {"qu8_gemm_minmax_fp32__avx512vnni_8x32c4",
                     qu8_gemm_16c4_packed_size,
                     qu8_gemm_16c4_pack,
                     qu8_gemm_8x32c4_rows,
                     /*row_align=*/8,
                     qu8_gemm_8x32c4_cols,
                     /*col_align=*/32,
                     /*block_channels=*/16};
  c.qu8_gemm.gemv_below_m = 16;
  c.qu8_gemm.gemv_min_n = 64;
  c.qu8_gemm.fused_residual = false;

  c.qu8_igemm = {"qu8_igemm_minmax_fp32__avx512vnni_8x32c4",
                 qu8_conv_indirection_size,
                 qu8_conv_indirection_build,
                 qu8_igemm_16c4_packed_size,
                 qu8_igemm_16c4_pack,
                 qu8_igemm_8x32c4_pixels,
                 /*pixel_align=*/8,
                 /*fused_residual=*/false};

  // Same c16 packing as the AVX2 kernel (one blob serves both tiers).
  c.qu8_dwconv = {"qu8_dwconv_minmax_fp32__avx512_c16", qu8_dwconv_c16_packed_size,
                  qu8_dwconv_c16_pack, qu8_dwconv_c16_rows, /*row_align=*/1};

  c.f32_gemm = {"f32_gemm_minmax__avx512_8x32", f32_gemm_16_packed_size, f32_gemm_16_pack,
                f32_gemm_8x32_rows, /*row_align=*/8};
  c.f32_igemm = {"f32_igemm_minmax__avx512_8x32",
                 f32_igemm_indirection_count,
                 f32_igemm_indirection_build,
                 f32_gemm_16_packed_size,
                 f32_gemm_16_pack,
                 f32_igemm_8x32_pixels,
                 /*pixel_align=*/8};
  c.f32_dwconv = {"f32_dwconv_minmax__avx512_c16", f32_dwconv_c16_packed_size,
                  f32_dwconv_c16_pack, f32_dwconv_c16_rows, /*row_align=*/1};
  return c;
}

}  // namespace quanta::kernels::config_detail
