// Instruction-set tiers of the kernels and the choice between them (docs/design.md §3-§4).
//
// A session that does not choose a tier itself (SessionOptions::kernels =
// kAuto) gets active_isa(): the best tier the CPU supports, or the one the
// environment variable QUANTA_ISA=ref|avx2|avx512vnni names (read again at
// every call, so at every Session::create). A QUANTA_ISA value that is not a
// tier name, or names a tier this CPU lacks, is an error that Session::create
// returns: it never silently runs another tier. Tests and benchmarks can also
// force a tier with force_isa().
#pragma once

#include <string>

namespace quanta::kernels {

enum class Isa { kRef = 0, kAvx2 = 1, kAvx512Vnni = 2 };

// "ref", "avx2", "avx512vnni": the one spelling used by QUANTA_ISA, the API
// names (quanta::kernel_tier_name) and the docs.
const char* isa_name(Isa isa);
// The tier of an isa_name() spelling; false (and *isa unchanged) for any other text.
bool parse_isa_name(const char* name, Isa* isa);
// True if this CPU can run kernels of `isa`.
bool cpu_supports(Isa isa);
// The best tier this CPU supports.
Isa best_isa();

enum class IsaChoice {
  kOk,               // QUANTA_ISA unset or empty (best tier), or a tier the CPU supports
  kUnknownName,      // QUANTA_ISA is not a tier name
  kUnsupportedTier,  // QUANTA_ISA names a tier the CPU lacks
};
// How a QUANTA_ISA value (null when unset) is read, on a CPU whose supported
// tiers are `supports` (cpu_supports on this machine; tests pass others).
// kOk: *isa is the tier named, or the best supported one when `value` is null
// or empty. Otherwise *isa is the best supported tier and *error a sentence
// naming the variable, the value and the accepted names (or the tiers the CPU
// supports).
IsaChoice isa_from_value(const char* value, bool (*supports)(Isa), Isa* isa, std::string* error);
// The tier in use for sessions that do not choose one: the tier set with
// force_isa() if any, else isa_from_value(getenv("QUANTA_ISA"), cpu_supports).
// The result reports a bad QUANTA_ISA even when a tier is forced.
IsaChoice active_isa(Isa* isa, std::string* error);
// The same, ignoring a bad QUANTA_ISA (then: the forced or the best tier).
Isa active_isa();
// Tests: run with this tier from now on. Returns false (and changes nothing)
// when the CPU does not support it.
bool force_isa(Isa isa);

}  // namespace quanta::kernels
