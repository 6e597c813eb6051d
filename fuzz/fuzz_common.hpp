// Shared by the libFuzzer harnesses of fuzz/ (docs/fuzzing.md).
//
// Every harness is single-threaded and deterministic: the same input always
// takes the same path (inputs of a model are filled from a fixed pattern, the
// kernel tier and backend are fixed per process). A harness reports a bug by
// aborting with a message (libFuzzer saves the input as crash-*); sanitizer
// reports, leaks, timeouts and out-of-memory are reported by libFuzzer itself.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "quanta/quanta.hpp"

namespace quanta::fuzz {

// What one model may cost a harness before it is skipped as "too large to
// run here" (not a finding: a valid model may legitimately be that large).
// Checked on a loaded, validated Model before Session::create.
//   - activations: the sum of every non-constant tensor's bytes (an upper
//     bound of the arena Session::create allocates);
//   - work: multiply-accumulates (NodeInfo::macs) plus pooling windows
//     (output elements x kernel area) plus every activation element once.
inline constexpr size_t kMaxActivationBytes = size_t{64} << 20;
inline constexpr int64_t kMaxWork = 20'000'000;

// Why a model is (not) run: empty when it fits the limits above.
std::string over_limits(const Model& model);

// Set QUANTA_FUZZ_NO_LIMITS=1 to run every model whatever its size (to show
// that the runtime itself lacks a limit; expect out-of-memory and timeouts).
bool limits_disabled();

// Session::create (one thread, own kernels, the CPU's best tier), inputs
// filled with a fixed pattern, run(), every output read through the float
// boundary. Returns false when `model` is over the limits (nothing run).
// Aborts (a finding) on an error Status without a message.
bool run_model(const std::shared_ptr<const Model>& model);

// A failed call must say why (docs: every error names the problem).
void check_error(const Status& status, const char* call);

// Aborts with `what` and `detail`: the harness found a bug.
[[noreturn]] void fail(const std::string& what, const std::string& detail);

// A directory of this process for files the APIs under test read by path
// (made on first use, removed at exit).
const std::string& scratch_dir();
// Writes `size` bytes to scratch_dir()/name and returns the path.
std::string write_scratch(const std::string& name, const uint8_t* data, size_t size);

// A deterministic value in [-2, 2) for element `k` of input `input`.
float pattern_value(size_t input, size_t k);

}  // namespace quanta::fuzz
