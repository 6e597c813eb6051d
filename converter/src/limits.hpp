// What an ONNX file may make the converter compute or allocate
// (docs/converter.md, "Hostile input"): bounded shapes, checked shape
// arithmetic, the constant-folding and weight limits, and the guard that keeps
// exceptions inside the library.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "quanta/converter.hpp"

namespace quanta::convert::detail {

// Every tensor the converter describes holds at most 2^32 elements, and the
// product of its non-zero dimensions is bounded the same way (so no partial
// product of a shape's dimensions can overflow int64).
inline constexpr int64_t kMaxTensorElements = int64_t{1} << 32;

// Limits on the constant data the converter itself creates, in elements
// (4 bytes each as float32). Tests lower them; the defaults are documented.
struct ImportLimits {
  int64_t folded_elements = int64_t{64} << 20;         // one folded constant: 256 MiB
  int64_t total_folded_elements = int64_t{256} << 20;  // all folded constants: 1 GiB
  int64_t const_elements = int64_t{512} << 20;         // all constants of the float graph: 2 GiB
};

// import_onnx_bytes with explicit limits.
Result<FloatGraphPtr> import_onnx_bytes_limited(const void* data, size_t size,
                                                const ImportOptions& options,
                                                const ImportLimits& limits);

// a * b and a + b; false when the result does not fit int64.
inline bool checked_mul(int64_t a, int64_t b, int64_t* out) { return !__builtin_mul_overflow(a, b, out); }
inline bool checked_add(int64_t a, int64_t b, int64_t* out) { return !__builtin_add_overflow(a, b, out); }

// The element count of a bounded shape (every shape the converter keeps is);
// saturates at INT64_MAX instead of overflowing for one that is not.
int64_t shape_size(const std::vector<int64_t>& shape);
// The element count of `shape`, or -1 when a dimension is negative or the
// product of its non-zero dimensions exceeds kMaxTensorElements.
int64_t bounded_elements(const std::vector<int64_t>& shape);
// Why `shape` is not bounded ("has the negative dimension -1", "has more than
// 4294967296 elements"; with `positive`, also "has a dimension of size 0"),
// or "" when it is.
std::string shape_problem(const std::vector<int64_t>& shape, bool positive);
// "[1, 3, 224, 224]"
std::string shape_str(const std::vector<int64_t>& shape);
// A byte count for messages: "448 B", "3.9 KiB", "5.0 GiB"; limit_size
// leaves out a zero fraction ("256 MiB", "1 GiB").
std::string byte_size(double bytes);
std::string limit_size(double bytes);

// The Status for the exception being handled (call inside a catch block):
// "NAME: out of memory (std::bad_alloc)", "NAME: unexpected exception: ...".
Status current_exception_status(const char* function);

// Runs f (which returns a Status or a Result) and turns any exception that
// leaves it into a Status: the converter's API never throws. A last line of
// defence; the converter checks sizes before allocating.
template <class F>
auto no_exceptions(const char* function, F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (...) {
    return current_exception_status(function);
  }
}

}  // namespace quanta::convert::detail
