// kernel_config(): the list of (tier, weight format) tables, and the qu8 GEMM
// plan. No kernel is named here; the tables live in kernels/config/<tier>.cpp.
#include <array>
#include <cstddef>

#include "tables.h"

namespace quanta::kernels {
namespace {

struct TableEntry {
  Tier tier;
  WeightFormat format;
  KernelConfig (*build)();
};

// One line per (tier, weight format) that has a table.
constexpr TableEntry kTables[] = {
    {Tier::kRef, WeightFormat::kInt8PerChannel, config_detail::ref_config},
    {Tier::kAvx2, WeightFormat::kInt8PerChannel, config_detail::avx2_config},
    {Tier::kAvx512Vnni, WeightFormat::kInt8PerChannel, config_detail::avx512vnni_config},
};
constexpr size_t kNumTables = sizeof(kTables) / sizeof(kTables[0]);

}  // namespace

const KernelConfig* kernel_config(Tier tier, WeightFormat format) {
  // Built once, on the first call (thread-safe static initialization).
  static const std::array<KernelConfig, kNumTables> built = [] {
    std::array<KernelConfig, kNumTables> t;
    for (size_t i = 0; i < kNumTables; ++i) t[i] = kTables[i].build();
    return t;
  }();
  for (size_t i = 0; i < kNumTables; ++i) {
    if (kTables[i].tier == tier && kTables[i].format == format) return &built[i];
  }
  return nullptr;
}

Qu8GemmPlan Qu8GemmSlot::plan(int m, int n, int k) const {
  Qu8GemmPlan p;
  if (narrow && use_narrow != nullptr && use_narrow(m, n, k)) {
    p.kernel = narrow;
    p.run = narrow.rows;
    p.total = m;
    p.align = narrow.row_align;
    return p;
  }
  p.kernel = main;
  if (main.cols != nullptr && m < gemv_below_m && n >= gemv_min_n) {
    p.run = main.cols;
    p.by_cols = true;
    p.total = n;
    p.align = main.col_align;
    return p;
  }
  p.run = main.rows;
  p.total = m;
  p.align = main.row_align;
  return p;
}

}  // namespace quanta::kernels
