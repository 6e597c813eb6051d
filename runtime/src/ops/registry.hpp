// Internal: every op's implementation (OpDef, op.hpp), each defined in its
// own file under ops/, and the lookup by op type.
#pragma once

#include "ops/op.hpp"

namespace quanta::detail {

extern const OpDef op_conv2d;           // conv2d.cpp
extern const OpDef op_fully_connected;  // fully_connected.cpp
extern const OpDef op_matmul;           // matmul.cpp
extern const OpDef op_binary;           // binary.cpp: Add, Mul
extern const OpDef op_concat;           // concat.cpp
extern const OpDef op_pool;             // pool.cpp: MaxPool, AveragePool
extern const OpDef op_global_avgpool;   // global_avgpool.cpp
extern const OpDef op_unary;            // unary.cpp: Relu ... Gelu, HardSigmoid
extern const OpDef op_softmax;          // softmax.cpp
extern const OpDef op_log_softmax;      // softmax.cpp
extern const OpDef op_reshape;          // reshape.cpp: Reshape, Flatten, Squeeze, Unsqueeze
extern const OpDef op_transpose;        // transpose.cpp
extern const OpDef op_pad;              // pad.cpp
extern const OpDef op_quantize;         // quantize.cpp
extern const OpDef op_dequantize;       // quantize.cpp

// The implementation of `op`; nullptr for a value without one.
const OpDef* find_op(OpType op);

}  // namespace quanta::detail
