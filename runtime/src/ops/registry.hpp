// Internal: every op's implementation (OpDef, op.hpp), each defined in its
// own file under ops/ and named by the `impl` column of quanta/op_list.def,
// and the lookup by op type.
#pragma once

#include "ops/op.hpp"

namespace quanta::detail {

// op_conv2d, op_binary, ... (an implementation shared by several ops is
// declared once per op: harmless).
#define QUANTA_OP(name, fb_name, options, display, impl, traits) extern const OpDef op_##impl;
#include "quanta/op_list.def"

// The implementation of `op`; nullptr for a value outside the list.
const OpDef* find_op(OpType op);

}  // namespace quanta::detail
