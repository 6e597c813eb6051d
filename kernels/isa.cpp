#include "quanta/kernels/isa.h"

#include <atomic>
#include <cstdlib>
#include <cstring>

namespace quanta::kernels {
namespace {

std::atomic<int> g_forced{-1};
const char* g_error = "";

Isa from_env() {
  const char* v = std::getenv("QUANTA_ISA");
  if (v == nullptr || *v == '\0') return best_isa();
  Isa want = Isa::kRef;
  if (std::strcmp(v, "ref") == 0) {
    want = Isa::kRef;
  } else if (std::strcmp(v, "avx2") == 0) {
    want = Isa::kAvx2;
  } else if (std::strcmp(v, "avx512vnni") == 0) {
    want = Isa::kAvx512Vnni;
  } else {
    g_error = "QUANTA_ISA must be ref, avx2 or avx512vnni; using ref";
    return Isa::kRef;
  }
  if (!cpu_supports(want)) {
    g_error = "QUANTA_ISA names a tier this CPU does not support; using ref";
    return Isa::kRef;
  }
  return want;
}

}  // namespace

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::kRef: return "ref";
    case Isa::kAvx2: return "avx2";
    case Isa::kAvx512Vnni: return "avx512vnni";
  }
  return "?";
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

Isa active_isa() {
  const int f = g_forced.load(std::memory_order_relaxed);
  if (f >= 0) return static_cast<Isa>(f);
  static const Isa chosen = from_env();
  return chosen;
}

const char* isa_override_error() {
  (void)active_isa();
  return g_error;
}

bool force_isa(Isa isa) {
  if (!cpu_supports(isa)) return false;
  g_forced.store(static_cast<int>(isa), std::memory_order_relaxed);
  return true;
}

}  // namespace quanta::kernels
