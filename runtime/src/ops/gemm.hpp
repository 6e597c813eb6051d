// Internal: the GEMM paths shared by the weighted ops. The quantized GEMM
// (the kernel table's qu8_gemm slot) runs FullyConnected, a pointwise Conv2D
// and a MatMul with a constant i8 B; the float GEMM (f32_gemm) runs float
// FullyConnected, pointwise Conv2D and MatMul with a constant 2-D B; FcQU8 is
// the reference quantized FullyConnected (also MatMul with a constant i8 B),
// for a session whose qu8_gemm slot is empty.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "ops/op_util.hpp"

namespace quanta::detail {

// The quantized GEMM of the session's kernel table (its qu8_gemm slot:
// FullyConnected, 1x1 Conv2D, MatMul by a constant i8 B): weights, folded
// bias and multipliers packed once here in the layout the slot's plan
// chooses; split over rows, or over channel blocks when there are too few
// rows (GEMV), at the plan's alignment.
struct GemmQU8Fast {
  k::Qu8GemmArgs args;
  k::Qu8GemmFn fn;
  std::vector<uint8_t> packed;
  Split split;
};

// `s` has the model's weights, the folded bias and the multipliers. With
// `fuse` and a slot whose kernels take a residual (fused_residual), the
// kernel writes the Add's output instead.
template <class S>
Result<PreparedOp> prepare_gemm_qu8_fast(const Preparer& pr, ThreadPool* pool, int m, int n,
                                         int kk, const S& s, const FusedAdd* fuse = nullptr) {
  const k::Qu8GemmSlot& slot = pr.cfg().qu8_gemm;
  const k::Qu8GemmPlan plan = slot.plan(m, n, kk);
  QUANTA_OPS_TRY(pr.reserve(plan.kernel.packed_size(n, kk), "the packed weights"));
  auto g = std::make_shared<GemmQU8Fast>();
  g->packed.resize(plan.kernel.packed_size(n, kk));
  plan.kernel.pack(n, kk, s.w, s.bias.data(), s.multiplier.data(), g->packed.data());
  g->args.m = m;
  g->args.n = n;
  g->args.k = kk;
  g->args.x = s.x;
  g->args.x_stride = static_cast<size_t>(kk);
  g->args.packed = g->packed.data();
  g->args.block_bytes = plan.by_cols ? plan.kernel.block_bytes(kk) : 0;
  g->args.zy = s.zy;
  g->args.r = s.r;
  g->args.y = s.y;
  g->args.y_stride = static_cast<size_t>(n);
  if (fuse != nullptr && slot.fused_residual) {
    g->args.has_res = true;
    g->args.res = fuse->res;
    g->args.y = fuse->y;
  }
  g->fn = plan.run;
  g->split = make_split(pool, int64_t{m} * n * kk, plan.total, plan.align);
  return make_prepared<GemmQU8Fast, run_split<GemmQU8Fast, slot_range<GemmQU8Fast>>>(
      std::move(g));
}

// prepare_gemm_qu8_fast, recording whether the fused Add was taken.
template <class S>
Result<PreparedOp> prepare_gemm_qu8_fused(const Preparer& pr, ThreadPool* pool, int m, int n,
                                          int kk, const S& s,
                                          const std::optional<FusedAdd>& fuse) {
  Result<PreparedOp> op = prepare_gemm_qu8_fast(pr, pool, m, n, kk, s, fuse ? &*fuse : nullptr);
  if (op) op->absorbed_next = fuse.has_value() && pr.cfg().qu8_gemm.fused_residual;
  return op;
}

// Float FullyConnected / 1x1 Conv2D / MatMul by a constant B through the
// table's f32_gemm slot, split over rows at multiples of the slot's tile
// height (a row's arithmetic depends on the kind of tile that holds it).
// The slot must not be empty.
Result<PreparedOp> prepare_gemm_f32_fast(const Preparer& pr, ThreadPool* pool, int m, int n,
                                         int kk, const float* x, const float* w,
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
