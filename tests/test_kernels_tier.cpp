// Kernel tiers (tier.h): detection, forcing, QUANTA_TIER values and names.
#include <gtest/gtest.h>

#include <string>

#include "quanta/kernels/tier.h"

namespace quanta::kernels {
namespace {

TEST(KernelTier, ReferenceIsAlwaysSupportedAndBestIsSupported) {
  EXPECT_TRUE(cpu_supports(Tier::kRef));
  EXPECT_TRUE(cpu_supports(best_tier()));
  EXPECT_TRUE(cpu_supports(active_tier()));
}

TEST(KernelTier, TheAvx512VnniTierAlsoNeedsAvx2) {
  // Sessions of the avx512vnni tier run the AVX2 kernels of the ops that have
  // no AVX-512 kernel, so cpu_supports asks for AVX2 as well (a property of
  // that tier, not an order of the tiers).
  if (cpu_supports(Tier::kAvx512Vnni)) {
    EXPECT_TRUE(cpu_supports(Tier::kAvx2));
  }
}

TEST(KernelTier, ForcingAnUnsupportedTierIsRefused) {
  const Tier before = active_tier();
  for (Tier t : kAllTiers) {
    const bool ok = force_tier(t);
    EXPECT_EQ(ok, cpu_supports(t)) << tier_name(t);
    if (ok) {
      EXPECT_EQ(active_tier(), t);
    }
  }
  ASSERT_TRUE(force_tier(before));
  EXPECT_EQ(active_tier(), before);
}

bool upto_avx2(Tier t) { return t != Tier::kAvx512Vnni; }
bool ref_only(Tier t) { return t == Tier::kRef; }
// Not a CPU that exists today: tiers are not a line, and nothing may assume
// that supporting one tier implies supporting the ones listed before it.
bool ref_and_vnni(Tier t) { return t != Tier::kAvx2; }

TEST(KernelTier, QuantaTierValues) {
  Tier tier = Tier::kRef;
  std::string why;
  // Unset or empty: the best tier of that CPU.
  EXPECT_EQ(tier_from_value(nullptr, upto_avx2, &tier, &why), TierChoice::kOk);
  EXPECT_EQ(tier, Tier::kAvx2);
  EXPECT_EQ(tier_from_value("", ref_only, &tier, &why), TierChoice::kOk);
  EXPECT_EQ(tier, Tier::kRef);
  EXPECT_EQ(tier_from_value("ref", upto_avx2, &tier, &why), TierChoice::kOk);
  EXPECT_EQ(tier, Tier::kRef);
  EXPECT_EQ(tier_from_value("avx2", upto_avx2, &tier, &why), TierChoice::kOk);
  EXPECT_EQ(tier, Tier::kAvx2);
  EXPECT_TRUE(why.empty());
  // An AVX2-only CPU asked for AVX-512 VNNI.
  EXPECT_EQ(tier_from_value("avx512vnni", upto_avx2, &tier, &why), TierChoice::kUnsupportedTier);
  EXPECT_EQ(why, "QUANTA_TIER='avx512vnni': this CPU does not support that kernel tier (it supports ref, avx2)");
  EXPECT_EQ(tier_from_value("avx2", ref_only, &tier, &why), TierChoice::kUnsupportedTier);
  EXPECT_EQ(why, "QUANTA_TIER='avx2': this CPU does not support that kernel tier (it supports ref)");
  EXPECT_EQ(tier, Tier::kRef);
  EXPECT_EQ(tier_from_value("sse4", upto_avx2, &tier, &why), TierChoice::kUnknownName);
  EXPECT_EQ(why, "QUANTA_TIER='sse4' is not a kernel tier (ref, avx2, avx512vnni)");
  EXPECT_EQ(tier, Tier::kAvx2);
  // The old spellings of the API's enumerators are not tier names.
  EXPECT_EQ(tier_from_value("reference", upto_avx2, &tier, &why), TierChoice::kUnknownName);
}

TEST(KernelTier, SupportIsDecidedPerTier) {
  Tier tier = Tier::kRef;
  std::string why;
  EXPECT_EQ(tier_from_value(nullptr, ref_and_vnni, &tier, &why), TierChoice::kOk);
  EXPECT_EQ(tier, Tier::kAvx512Vnni);
  EXPECT_EQ(tier_from_value("avx2", ref_and_vnni, &tier, &why), TierChoice::kUnsupportedTier);
  EXPECT_EQ(why, "QUANTA_TIER='avx2': this CPU does not support that kernel tier (it supports ref, avx512vnni)");
  EXPECT_EQ(tier, Tier::kAvx512Vnni);
}

TEST(KernelTier, UnsupportedTierErrorNamesTheSupportedTiers) {
  EXPECT_EQ(unsupported_tier_error("tier avx2", ref_only),
            "tier avx2: this CPU does not support that kernel tier (it supports ref)");
  EXPECT_EQ(unsupported_tier_error("x", upto_avx2),
            "x: this CPU does not support that kernel tier (it supports ref, avx2)");
}

TEST(KernelTier, Names) {
  EXPECT_STREQ(tier_name(Tier::kRef), "ref");
  EXPECT_STREQ(tier_name(Tier::kAvx2), "avx2");
  EXPECT_STREQ(tier_name(Tier::kAvx512Vnni), "avx512vnni");
  for (Tier t : kAllTiers) {
    Tier parsed = Tier::kRef;
    EXPECT_TRUE(parse_tier_name(tier_name(t), &parsed));
    EXPECT_EQ(parsed, t);
  }
  Tier unchanged = Tier::kAvx2;
  EXPECT_FALSE(parse_tier_name("Ref", &unchanged));
  EXPECT_FALSE(parse_tier_name("auto", &unchanged));  // the API's kAuto is not a kernel tier
  EXPECT_EQ(unchanged, Tier::kAvx2);
}

}  // namespace
}  // namespace quanta::kernels
