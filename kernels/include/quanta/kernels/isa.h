// Instruction-set tiers of the kernels and the choice between them (DESIGN §3-§4).
//
// The tier is chosen once per process from the CPU's features: the best tier
// the CPU supports. The environment variable QUANTA_ISA=ref|avx2|avx512vnni
// lowers it (tests and benchmarks force each tier this way); asking for a
// tier the CPU lacks is refused by force_isa() and reported by active_isa()'s
// caller, never executed.
#pragma once

namespace quanta::kernels {

enum class Isa { kRef = 0, kAvx2 = 1, kAvx512Vnni = 2 };

const char* isa_name(Isa isa);
// True if this CPU can run kernels of `isa`.
bool cpu_supports(Isa isa);
// The best tier this CPU supports.
Isa best_isa();
// The tier in use: best_isa(), or QUANTA_ISA when set to a supported tier
// (an unknown or unsupported QUANTA_ISA value falls back to "ref" and is
// reported by isa_override_error()).
Isa active_isa();
// Non-empty when QUANTA_ISA was set to something that cannot be honoured.
const char* isa_override_error();
// Tests: run with this tier from now on. Returns false (and changes nothing)
// when the CPU does not support it.
bool force_isa(Isa isa);

}  // namespace quanta::kernels
