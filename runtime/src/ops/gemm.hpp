// Internal: the GEMM paths shared by the weighted ops. The quantized GEMM of
// the optimized tiers runs FullyConnected, a pointwise Conv2D and a MatMul
// with a constant i8 B; the float GEMM runs float FullyConnected, pointwise
// Conv2D and MatMul with a constant 2-D B; FcQU8 is the reference quantized
// FullyConnected (also MatMul with a constant i8 B).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "ops/op_util.hpp"
#include "quanta/kernels/x86.h"
#include "quanta/kernels/x86_avx512.h"
#include "quanta/kernels/x86_misc.h"

namespace quanta::detail {

// The quantized GEMM of the optimized tiers (FullyConnected, 1x1 Conv2D):
// weights, folded bias and multipliers packed once here. Split over rows, or
// over blocks of 16 output channels when there are too few rows (GEMV).
struct GemmQU8Fast {
  int m, n, k;
  const uint8_t* x;
  std::vector<uint8_t> packed;
  size_t block_bytes;  // one 16-channel block of the 16c2 packing
  int32_t zy;
  k::QRange r;
  uint8_t* y;
  Split split;
  bool has_res = false;  // a fused residual Add (AVX2 kernels only)
  k::QResidual res;
};
// The residual of rows [r0, ...) and channels [c0, ...), or nullptr.
inline const k::QResidual* residual_at(const GemmQU8Fast& s, int64_t r0, int64_t c0,
                                      k::QResidual* tmp) {
  if (!s.has_res) return nullptr;
  *tmp = s.res;
  tmp->data = s.res.data + r0 * static_cast<int64_t>(s.res.stride) + c0;
  return tmp;
}
inline void gemm_qu8_avx2_2x8c8_rows(const GemmQU8Fast& s, int64_t r0, int64_t r1) {
  k::QResidual tmp;
  k::qu8_gemm_minmax_fp32__avx2_2x8c8(static_cast<int>(r1 - r0), s.n, s.k, s.x + r0 * s.k,
                                      static_cast<size_t>(s.k), s.packed.data(), s.zy, s.r,
                                      s.y + r0 * s.n, static_cast<size_t>(s.n),
                                      residual_at(s, r0, 0, &tmp));
}
inline void gemm_qu8_avx2_3x16c2_rows(const GemmQU8Fast& s, int64_t r0, int64_t r1) {
  k::QResidual tmp;
  k::qu8_gemm_minmax_fp32__avx2_3x16c2(static_cast<int>(r1 - r0), s.n, s.k, s.x + r0 * s.k,
                                       static_cast<size_t>(s.k), s.packed.data(), s.zy, s.r,
                                       s.y + r0 * s.n, static_cast<size_t>(s.n),
                                       residual_at(s, r0, 0, &tmp));
}
inline void gemm_qu8_vnni_rows(const GemmQU8Fast& s, int64_t r0, int64_t r1) {
  k::qu8_gemm_minmax_fp32__avx512vnni_8x32c4(static_cast<int>(r1 - r0), s.n, s.k, s.x + r0 * s.k,
                                             static_cast<size_t>(s.k), s.packed.data(), s.zy, s.r,
                                             s.y + r0 * s.n, static_cast<size_t>(s.n));
}
inline void gemm_qu8_vnni_cols(const GemmQU8Fast& s, int64_t c0, int64_t c1) {
  k::qu8_gemm_minmax_fp32__avx512vnni_8x32c4(s.m, static_cast<int>(c1 - c0), s.k, s.x,
                                             static_cast<size_t>(s.k),
                                             s.packed.data() + (c0 / 16) * s.block_bytes, s.zy,
                                             s.r, s.y + c0, static_cast<size_t>(s.n));
}
// Channels [c0, c1), c0 a multiple of 16: the packing is block-major.
inline void gemm_qu8_avx2_3x16c2_cols(const GemmQU8Fast& s, int64_t c0, int64_t c1) {
  k::QResidual tmp;
  k::qu8_gemm_minmax_fp32__avx2_3x16c2(s.m, static_cast<int>(c1 - c0), s.k, s.x,
                                       static_cast<size_t>(s.k),
                                       s.packed.data() + (c0 / 16) * s.block_bytes, s.zy, s.r,
                                       s.y + c0, static_cast<size_t>(s.n),
                                       residual_at(s, 0, c0, &tmp));
}


// `s` has the model's weights, the folded bias and the multipliers. With
// `fuse` (AVX2 tier only), the kernel writes the Add's output instead.
template <class S>
Result<PreparedOp> prepare_gemm_qu8_fast(const Preparer& pr, k::Isa isa, ThreadPool* pool, int m,
                                         int n, int kk, const S& s,
                                         const FusedAdd* fuse = nullptr) {
  auto g = std::make_shared<GemmQU8Fast>();
  g->m = m;
  g->n = n;
  g->k = kk;
  g->x = s.x;
  g->zy = s.zy;
  g->r = s.r;
  g->y = s.y;
  if (fuse != nullptr && isa == k::Isa::kAvx2) {
    g->has_res = true;
    g->res = fuse->res;
    g->y = fuse->y;
  }
  const int64_t macs = int64_t{m} * n * kk;
  if (isa == k::Isa::kAvx512Vnni) {
    QUANTA_OPS_TRY(pr.reserve(k::qu8_gemm_16c4_packed_size(n, kk), "the packed weights"));
    g->packed.resize(k::qu8_gemm_16c4_packed_size(n, kk));
    k::qu8_gemm_16c4_pack(n, kk, s.w, s.bias.data(), s.multiplier.data(), g->packed.data());
    g->block_bytes = k::qu8_gemm_16c4_packed_size(16, kk);
    if (m < 16 && n >= 64) {
      g->split = make_split(pool, macs, n, 32);
      return make_prepared<GemmQU8Fast, run_split<GemmQU8Fast, gemm_qu8_vnni_cols>>(std::move(g));
    }
    g->split = make_split(pool, macs, m, 8);
    return make_prepared<GemmQU8Fast, run_split<GemmQU8Fast, gemm_qu8_vnni_rows>>(std::move(g));
  }
  // Measured (bench/bench_x86_gemm.cpp): 16-channel blocks win unless the
  // last block would be mostly padding on a narrow layer.
  if (n % 16 != 0 && n % 16 <= 8 && n < 64) {
    QUANTA_OPS_TRY(pr.reserve(k::qu8_gemm_8c8_packed_size(n, kk), "the packed weights"));
    g->packed.resize(k::qu8_gemm_8c8_packed_size(n, kk));
    k::qu8_gemm_8c8_pack(n, kk, s.w, s.bias.data(), s.multiplier.data(), g->packed.data());
    g->split = make_split(pool, macs, m, 2);
    return make_prepared<GemmQU8Fast, run_split<GemmQU8Fast, gemm_qu8_avx2_2x8c8_rows>>(
        std::move(g));
  }
  QUANTA_OPS_TRY(pr.reserve(k::qu8_gemm_16c2_packed_size(n, kk), "the packed weights"));
  g->packed.resize(k::qu8_gemm_16c2_packed_size(n, kk));
  k::qu8_gemm_16c2_pack(n, kk, s.w, s.bias.data(), s.multiplier.data(), g->packed.data());
  g->block_bytes = k::qu8_gemm_16c2_packed_size(16, kk);
  if (m < 12 && n >= 32) {
    g->split = make_split(pool, macs, n, 16);
    return make_prepared<GemmQU8Fast, run_split<GemmQU8Fast, gemm_qu8_avx2_3x16c2_cols>>(
        std::move(g));
  }
  g->split = make_split(pool, macs, m, 3);
  return make_prepared<GemmQU8Fast, run_split<GemmQU8Fast, gemm_qu8_avx2_3x16c2_rows>>(
      std::move(g));
}

// prepare_gemm_qu8_fast, recording whether the fused Add was taken.
template <class S>
Result<PreparedOp> prepare_gemm_qu8_fused(const Preparer& pr, k::Isa isa, ThreadPool* pool, int m,
                                          int n, int kk, const S& s,
                                          const std::optional<FusedAdd>& fuse) {
  Result<PreparedOp> op =
      prepare_gemm_qu8_fast(pr, isa, pool, m, n, kk, s, fuse ? &*fuse : nullptr);
  if (op) op->absorbed_next = fuse.has_value() && isa == k::Isa::kAvx2;
  return op;
}

// Float FullyConnected / 1x1 Conv2D on the optimized tiers, split over rows
// at multiples of the 6-row tile (the kernel's 1- and 2-row tail tiles sum in
// another order, so a row must land in the same kind of tile on any split).
struct GemmF32Fast {
  int m, n, k;
  const float* x;
  std::vector<uint8_t> packed;
  k::FRange act;
  float* y;
  Split split;
};
Result<PreparedOp> prepare_gemm_f32_fast(const Preparer& pr, k::Isa isa, ThreadPool* pool, int m,
                                         int n, int kk, const float* x, const float* w,
                                         const float* bias, k::FRange act, float* y);

struct FcQU8 {
  int m, k, n;
  const uint8_t* x;
  const int8_t* w;  // [n, k]: the model's weights, or `packed`
  std::vector<int8_t> packed;
  std::vector<int32_t> bias;
  std::vector<float> multiplier;
  int32_t zy;
  k::QRange r;
  uint8_t* y;
};
inline void run_fc_qu8(const FcQU8& s) {
  k::qu8_fully_connected_minmax_fp32__ref(s.m, s.k, s.n, s.x, s.w, s.bias.data(),
                                          s.multiplier.data(), s.zy, s.r, s.y);
}

}  // namespace quanta::detail
