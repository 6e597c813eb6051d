// The float GEMM of the optimized tiers (gemm.hpp).
#include "ops/gemm.hpp"

namespace quanta::detail {
namespace {

void gemm_f32_avx2_rows(const GemmF32Fast& s, int64_t r0, int64_t r1) {
  k::f32_gemm_minmax__avx2_6x16(static_cast<int>(r1 - r0), s.n, s.k, s.x + r0 * s.k,
                                static_cast<size_t>(s.k), s.packed.data(), s.act,
                                s.y + r0 * s.n, static_cast<size_t>(s.n));
}
void gemm_f32_avx512_rows(const GemmF32Fast& s, int64_t r0, int64_t r1) {
  k::f32_gemm_minmax__avx512_8x32(static_cast<int>(r1 - r0), s.n, s.k, s.x + r0 * s.k,
                                  static_cast<size_t>(s.k), s.packed.data(), s.act,
                                  s.y + r0 * s.n, static_cast<size_t>(s.n));
}

}  // namespace

Result<PreparedOp> prepare_gemm_f32_fast(const Preparer& pr, k::Isa isa, ThreadPool* pool, int m,
                                         int n, int kk, const float* x, const float* w,
                                         const float* bias, k::FRange act, float* y) {
  QUANTA_OPS_TRY(pr.reserve(k::f32_gemm_16_packed_size(n, kk), "the packed weights"));
  auto g = std::make_shared<GemmF32Fast>();
  g->m = m;
  g->n = n;
  g->k = kk;
  g->x = x;
  g->packed.resize(k::f32_gemm_16_packed_size(n, kk));
  k::f32_gemm_16_pack(n, kk, w, bias, g->packed.data());
  g->act = act;
  g->y = y;
  if (isa == k::Isa::kAvx512Vnni) {
    g->split = make_split(pool, int64_t{m} * n * kk, m, 8);
    return make_prepared<GemmF32Fast, run_split<GemmF32Fast, gemm_f32_avx512_rows>>(std::move(g));
  }
  g->split = make_split(pool, int64_t{m} * n * kk, m, 6);
  return make_prepared<GemmF32Fast, run_split<GemmF32Fast, gemm_f32_avx2_rows>>(std::move(g));
}

}  // namespace quanta::detail
