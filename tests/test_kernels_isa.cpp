// The ISA tier table: detection, forcing, and names.
#include <gtest/gtest.h>

#include <string>

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

bool upto_avx2(Isa isa) { return isa != Isa::kAvx512Vnni; }
bool ref_only(Isa isa) { return isa == Isa::kRef; }

TEST(KernelIsa, QuantaIsaValues) {
  Isa isa = Isa::kRef;
  std::string why;
  // Unset or empty: the best tier of that CPU.
  EXPECT_EQ(isa_from_value(nullptr, upto_avx2, &isa, &why), IsaChoice::kOk);
  EXPECT_EQ(isa, Isa::kAvx2);
  EXPECT_EQ(isa_from_value("", ref_only, &isa, &why), IsaChoice::kOk);
  EXPECT_EQ(isa, Isa::kRef);
  EXPECT_EQ(isa_from_value("ref", upto_avx2, &isa, &why), IsaChoice::kOk);
  EXPECT_EQ(isa, Isa::kRef);
  EXPECT_EQ(isa_from_value("avx2", upto_avx2, &isa, &why), IsaChoice::kOk);
  EXPECT_EQ(isa, Isa::kAvx2);
  EXPECT_TRUE(why.empty());
  // An AVX2-only CPU asked for AVX-512 VNNI.
  EXPECT_EQ(isa_from_value("avx512vnni", upto_avx2, &isa, &why), IsaChoice::kUnsupportedTier);
  EXPECT_EQ(why, "QUANTA_ISA='avx512vnni': this CPU does not support that kernel tier (it supports ref, avx2)");
  EXPECT_EQ(isa_from_value("avx2", ref_only, &isa, &why), IsaChoice::kUnsupportedTier);
  EXPECT_EQ(why, "QUANTA_ISA='avx2': this CPU does not support that kernel tier (it supports ref)");
  EXPECT_EQ(isa, Isa::kRef);
  EXPECT_EQ(isa_from_value("sse4", upto_avx2, &isa, &why), IsaChoice::kUnknownName);
  EXPECT_EQ(why, "QUANTA_ISA='sse4' is not a kernel tier (ref, avx2, avx512vnni)");
  EXPECT_EQ(isa, Isa::kAvx2);
}

TEST(KernelIsa, Names) {
  EXPECT_STREQ(isa_name(Isa::kRef), "ref");
  EXPECT_STREQ(isa_name(Isa::kAvx2), "avx2");
  EXPECT_STREQ(isa_name(Isa::kAvx512Vnni), "avx512vnni");
  for (Isa isa : {Isa::kRef, Isa::kAvx2, Isa::kAvx512Vnni}) {
    Isa parsed = Isa::kRef;
    EXPECT_TRUE(parse_isa_name(isa_name(isa), &parsed));
    EXPECT_EQ(parsed, isa);
  }
  Isa unchanged = Isa::kAvx2;
  EXPECT_FALSE(parse_isa_name("Ref", &unchanged));
  EXPECT_EQ(unchanged, Isa::kAvx2);
}

}  // namespace
}  // namespace quanta::kernels
