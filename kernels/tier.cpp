#include "quanta/kernels/tier.h"

#include <atomic>
#include <cstdlib>
#include <cstring>

namespace quanta::kernels {
namespace {

constexpr int kNotForced = -1;
std::atomic<int> g_forced{kNotForced};

// Preference among supported tiers (best_tier): a choice, not an order of
// the tiers.
constexpr Tier kPreferred[] = {Tier::kAvx512Vnni, Tier::kAvx2, Tier::kRef};

Tier best_of(bool (*supports)(Tier)) {
  for (Tier t : kPreferred) {
    if (supports(t)) return t;
  }
  return Tier::kRef;
}

bool avx2_fma() { return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"); }

}  // namespace

const char* tier_name(Tier tier) {
  switch (tier) {
    case Tier::kRef: return "ref";
    case Tier::kAvx2: return "avx2";
    case Tier::kAvx512Vnni: return "avx512vnni";
  }
  return "?";
}

bool parse_tier_name(const char* name, Tier* tier) {
  for (Tier t : kAllTiers) {
    if (std::strcmp(name, tier_name(t)) == 0) {
      *tier = t;
      return true;
    }
  }
  return false;
}

bool cpu_supports(Tier tier) {
  switch (tier) {
    case Tier::kRef: return true;
    case Tier::kAvx2: return avx2_fma();
    case Tier::kAvx512Vnni:
      // The avx512vnni tier also runs the AVX2 kernels of the ops that have
      // no AVX-512 kernel (pooling, Add, Mul, quantize; docs/runtime.md).
      return avx2_fma() && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
             __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512vnni");
  }
  return false;
}

Tier best_tier() { return best_of(cpu_supports); }

std::string unsupported_tier_error(const std::string& what, bool (*supports)(Tier)) {
  std::string supported;
  for (Tier t : kAllTiers) {
    if (!supports(t)) continue;
    supported += supported.empty() ? "" : ", ";
    supported += tier_name(t);
  }
  return what + ": this CPU does not support that kernel tier (it supports " + supported + ")";
}

TierChoice tier_from_value(const char* value, bool (*supports)(Tier), Tier* tier, std::string* error) {
  *tier = best_of(supports);
  if (value == nullptr || *value == '\0') return TierChoice::kOk;
  Tier want = Tier::kRef;
  if (!parse_tier_name(value, &want)) {
    std::string names;
    for (Tier t : kAllTiers) {
      names += names.empty() ? "" : ", ";
      names += tier_name(t);
    }
    *error = "QUANTA_TIER='" + std::string(value) + "' is not a kernel tier (" + names + ")";
    return TierChoice::kUnknownName;
  }
  if (!supports(want)) {
    *error = unsupported_tier_error("QUANTA_TIER='" + std::string(value) + "'", supports);
    return TierChoice::kUnsupportedTier;
  }
  *tier = want;
  return TierChoice::kOk;
}

TierChoice active_tier(Tier* tier, std::string* error) {
  TierChoice c = tier_from_value(std::getenv("QUANTA_TIER"), cpu_supports, tier, error);
  if (c == TierChoice::kOk) {
    if (const char* old = std::getenv("QUANTA_ISA"); old != nullptr) {
      *tier = best_tier();
      *error = "QUANTA_ISA was renamed QUANTA_TIER: unset QUANTA_ISA";
      *error += *old == '\0' ? std::string(" (QUANTA_TIER=ref|avx2|avx512vnni chooses a tier)")
                              : " and set QUANTA_TIER='" + std::string(old) + "' instead";
      c = TierChoice::kRenamedVariable;
    }
  }
  const int f = g_forced.load(std::memory_order_relaxed);
  if (f != kNotForced) *tier = static_cast<Tier>(f);
  return c;
}

Tier active_tier() {
  Tier tier = Tier::kRef;
  std::string error;
  (void)active_tier(&tier, &error);
  return tier;
}

bool force_tier(Tier tier) {
  if (!cpu_supports(tier)) return false;
  g_forced.store(static_cast<int>(tier), std::memory_order_relaxed);
  return true;
}

}  // namespace quanta::kernels
