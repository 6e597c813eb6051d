// Kernel tiers and the choice between them (docs/design.md §3-§4,
// docs/runtime.md "Kernel tiers").
//
// A tier is a set of kernels: kRef, the scalar reference (the
// specification); kAvx2; kAvx512Vnni. One spelling names each everywhere:
// tier_name() here, quanta::kernel_tier_name() in the API, QUANTA_TIER, the
// CLI's --tier and the docs.
//
// Tiers are not a line: never compare them with < or >=. cpu_supports()
// decides for each tier what it needs; best_tier() says which supported tier
// is preferred.
//
// A session that does not choose a tier itself (SessionOptions::tier =
// kAuto) gets active_tier(): the best tier the CPU supports, or the one the
// environment variable QUANTA_TIER=ref|avx2|avx512vnni names (read again at
// every call, so at every Session::create). A QUANTA_TIER value that is not a
// tier name, or names a tier this CPU lacks, is an error that Session::create
// returns: it never silently runs another tier. So is any value of QUANTA_ISA,
// the variable's old name, so that a script written for it does not silently
// get the default tier. Tests and benchmarks can also force a tier with
// force_tier().
#pragma once

#include <string>

namespace quanta::kernels {

enum class Tier { kRef, kAvx2, kAvx512Vnni };

// Every tier, in the order their names are listed in messages.
inline constexpr Tier kAllTiers[] = {Tier::kRef, Tier::kAvx2, Tier::kAvx512Vnni};

// "ref", "avx2", "avx512vnni".
const char* tier_name(Tier tier);
// The tier of a tier_name() spelling; false (and *tier unchanged) for any other text.
bool parse_tier_name(const char* name, Tier* tier);
// True if this CPU can run every kernel a session of `tier` uses.
bool cpu_supports(Tier tier);
// The preferred tier among those this CPU supports.
Tier best_tier();

// "<what>: this CPU does not support that kernel tier (it supports ref, avx2)",
// on a CPU whose supported tiers are `supports`: the one wording of the error
// for a tier the CPU lacks, whoever asked for it (QUANTA_TIER, SessionOptions).
std::string unsupported_tier_error(const std::string& what, bool (*supports)(Tier) = cpu_supports);

enum class TierChoice {
  kOk,               // QUANTA_TIER unset or empty (best tier), or a tier the CPU supports
  kUnknownName,      // QUANTA_TIER is not a tier name
  kUnsupportedTier,  // QUANTA_TIER names a tier the CPU lacks
  kRenamedVariable,  // QUANTA_ISA, the old name of QUANTA_TIER, is set
};
// How a QUANTA_TIER value (null when unset) is read, on a CPU whose supported
// tiers are `supports` (cpu_supports on this machine; tests pass others).
// kOk: *tier is the tier named, or the best supported one when `value` is null
// or empty. Otherwise *tier is the best supported tier and *error a sentence
// naming the variable, the value and the accepted names (or the tiers the CPU
// supports).
TierChoice tier_from_value(const char* value, bool (*supports)(Tier), Tier* tier, std::string* error);
// The tier in use for sessions that do not choose one: the tier set with
// force_tier() if any, else tier_from_value(getenv("QUANTA_TIER"), cpu_supports).
// When QUANTA_ISA is set (to anything, even empty), kRenamedVariable and an
// *error saying "QUANTA_ISA was renamed QUANTA_TIER". The result reports a bad
// environment even when a tier is forced.
TierChoice active_tier(Tier* tier, std::string* error);
// The same, ignoring a bad environment (then: the forced or the best tier).
Tier active_tier();
// Tests: run with this tier from now on. Returns false (and changes nothing)
// when the CPU does not support it.
bool force_tier(Tier tier);

}  // namespace quanta::kernels
