// The float GEMM of the session's kernel table (gemm.hpp).
#include "ops/gemm.hpp"

namespace quanta::detail {
namespace {

struct GemmF32Fast {
  k::F32GemmArgs args;
  k::F32GemmFn fn;
  std::vector<uint8_t> packed;
  Split split;
};

}  // namespace

Result<PreparedOp> prepare_gemm_f32_fast(const Preparer& pr, ThreadPool* pool, int m, int n,
                                         int kk, const float* x, const float* w,
                                         const float* bias, k::FRange act, float* y) {
  const k::F32GemmSlot& slot = pr.cfg().f32_gemm;
  QUANTA_OPS_TRY(pr.reserve(slot.packed_size(n, kk), "the packed weights"));
  auto g = std::make_shared<GemmF32Fast>();
  g->packed.resize(slot.packed_size(n, kk));
  slot.pack(n, kk, w, bias, g->packed.data());
  g->args.m = m;
  g->args.n = n;
  g->args.k = kk;
  g->args.x = x;
  g->args.x_stride = static_cast<size_t>(kk);
  g->args.packed = g->packed.data();
  g->args.act = act;
  g->args.y = y;
  g->args.y_stride = static_cast<size_t>(n);
  g->fn = slot.rows;
  g->split = make_split(pool, int64_t{m} * n * kk, m, slot.row_align);
  return make_prepared<GemmF32Fast, run_split<GemmF32Fast, slot_range<GemmF32Fast>>>(
      std::move(g));
}

}  // namespace quanta::detail
