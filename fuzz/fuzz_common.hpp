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

// Memory: every session gets SessionOptions::max_arena_bytes and
// max_prepared_bytes of kMaxSessionBytes, so a model that declares more is
// refused by the runtime's own check (with kResourceExhausted), which the
// harness thereby exercises.
inline constexpr size_t kMaxSessionBytes = size_t{64} << 20;
// Time: a model whose one run would cost more than kMaxWork operations is
// skipped as "too slow to run here" (not a finding: the runtime bounds memory,
// not arithmetic, and a valid model may legitimately be that large; see
// docs/security.md). Work = multiply-accumulates (NodeInfo::macs) plus pooling
// windows (output elements x kernel area) plus every activation element once.
inline constexpr int64_t kMaxWork = 20'000'000;

// Why a model is (not) run: empty when its work fits kMaxWork.
std::string over_limits(const Model& model);

// Set QUANTA_FUZZ_NO_LIMITS=1 to run every model whatever its work, with the
// runtime's default memory limits (expect timeouts).
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
