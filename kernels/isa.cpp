#include "quanta/kernels/isa.h"

#include <atomic>
#include <cstdlib>
#include <cstring>

namespace quanta::kernels {
namespace {

std::atomic<int> g_forced{-1};

constexpr Isa kAllTiers[] = {Isa::kRef, Isa::kAvx2, Isa::kAvx512Vnni};

}  // namespace

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::kRef: return "ref";
    case Isa::kAvx2: return "avx2";
    case Isa::kAvx512Vnni: return "avx512vnni";
  }
  return "?";
}

bool parse_isa_name(const char* name, Isa* isa) {
  for (Isa t : kAllTiers) {
    if (std::strcmp(name, isa_name(t)) == 0) {
      *isa = t;
      return true;
    }
  }
  return false;
}

bool cpu_supports(Isa isa) {
  switch (isa) {
    case Isa::kRef: return true;
    case Isa::kAvx2: return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    case Isa::kAvx512Vnni:
      return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
             __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512vnni");
  }
  return false;
}

Isa best_isa() {
  if (cpu_supports(Isa::kAvx512Vnni)) return Isa::kAvx512Vnni;
  if (cpu_supports(Isa::kAvx2)) return Isa::kAvx2;
  return Isa::kRef;
}

IsaChoice isa_from_value(const char* value, bool (*supports)(Isa), Isa* isa, std::string* error) {
  Isa best = Isa::kRef;
  std::string names, supported;
  for (Isa t : kAllTiers) {
    names += names.empty() ? "" : ", ";
    names += isa_name(t);
    if (supports(t)) {
      best = t;
      supported += supported.empty() ? "" : ", ";
      supported += isa_name(t);
    }
  }
  *isa = best;
  if (value == nullptr || *value == '\0') return IsaChoice::kOk;
  Isa want = Isa::kRef;
  if (!parse_isa_name(value, &want)) {
    *error = "QUANTA_ISA='" + std::string(value) + "' is not a kernel tier (" + names + ")";
    return IsaChoice::kUnknownName;
  }
  if (!supports(want)) {
    *error = "QUANTA_ISA='" + std::string(value) + "': this CPU does not support that kernel tier (it supports " +
             supported + ")";
    return IsaChoice::kUnsupportedTier;
  }
  *isa = want;
  return IsaChoice::kOk;
}

IsaChoice active_isa(Isa* isa, std::string* error) {
  const IsaChoice c = isa_from_value(std::getenv("QUANTA_ISA"), cpu_supports, isa, error);
  const int f = g_forced.load(std::memory_order_relaxed);
  if (f >= 0) *isa = static_cast<Isa>(f);
  return c;
}

Isa active_isa() {
  Isa isa = Isa::kRef;
  std::string error;
  (void)active_isa(&isa, &error);
  return isa;
}

bool force_isa(Isa isa) {
  if (!cpu_supports(isa)) return false;
  g_forced.store(static_cast<int>(isa), std::memory_order_relaxed);
  return true;
}

}  // namespace quanta::kernels
