// The ops' traits (the last column of quanta/op_list.def), for the runtime
// and the converter.
#pragma once

#include <cstddef>
#include <cstdint>

#include "quanta/quanta.hpp"

namespace quanta::detail {

enum OpTrait : uint32_t {
  kOpAliasesInput = 1u << 0,  // the output may share the input's memory
  kOpKeepsQuant = 1u << 1,    // the output keeps the input's dtype and quantization
  kOpAbsorbsAdd = 1u << 2,    // may absorb the residual Add after it
};

// The number of op types (OpType values 0 .. kOpTypeCount - 1).
inline constexpr size_t kOpTypeCount = 0
#define QUANTA_OP(name, fb_name, options, display, impl, traits) +1
#include "quanta/op_list.def"
    ;

// The traits of each op type, by value.
inline constexpr uint32_t kOpTraits[kOpTypeCount] = {
#define QUANTA_OP(name, fb_name, options, display, impl, traits) (traits),
#include "quanta/op_list.def"
};

// True when `op` has every trait of `traits`; false for a value outside the
// list.
constexpr bool op_has(OpType op, uint32_t traits) {
  const size_t i = static_cast<size_t>(op);
  return i < kOpTypeCount && (kOpTraits[i] & traits) == traits;
}

}  // namespace quanta::detail
