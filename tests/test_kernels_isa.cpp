// The ISA tier table: detection, forcing, and names.
#include <gtest/gtest.h>

#include "quanta/kernels/isa.h"

namespace quanta::kernels {
namespace {

TEST(KernelIsa, ReferenceIsAlwaysSupportedAndBestIsSupported) {
  EXPECT_TRUE(cpu_supports(Isa::kRef));
  EXPECT_TRUE(cpu_supports(best_isa()));
  EXPECT_TRUE(cpu_supports(active_isa()));
  EXPECT_LE(static_cast<int>(active_isa()), static_cast<int>(best_isa()));
}

TEST(KernelIsa, TiersAreOrderedBySupport) {
  // A CPU with AVX-512 VNNI has AVX2 as well.
  if (cpu_supports(Isa::kAvx512Vnni)) {
    EXPECT_TRUE(cpu_supports(Isa::kAvx2));
  }
}

TEST(KernelIsa, ForcingAnUnsupportedTierIsRefused) {
  const Isa before = active_isa();
  for (Isa isa : {Isa::kRef, Isa::kAvx2, Isa::kAvx512Vnni}) {
    const bool ok = force_isa(isa);
    EXPECT_EQ(ok, cpu_supports(isa)) << isa_name(isa);
    if (ok) {
      EXPECT_EQ(active_isa(), isa);
    }
  }
  ASSERT_TRUE(force_isa(before));
  EXPECT_EQ(active_isa(), before);
}

TEST(KernelIsa, Names) {
  EXPECT_STREQ(isa_name(Isa::kRef), "ref");
  EXPECT_STREQ(isa_name(Isa::kAvx2), "avx2");
  EXPECT_STREQ(isa_name(Isa::kAvx512Vnni), "avx512vnni");
}

}  // namespace
}  // namespace quanta::kernels
