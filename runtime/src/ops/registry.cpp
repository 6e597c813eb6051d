// The op implementations by op type (registry.hpp), and the prepare step's
// entry point.
#include "ops/registry.hpp"

#include <fmt/format.h>

#include "ops/op_common.hpp"

namespace quanta::detail {

const OpDef* find_op(OpType op) {
  switch (op) {
    case OpType::kConv2D: return &op_conv2d;
    case OpType::kFullyConnected: return &op_fully_connected;
    case OpType::kMatMul: return &op_matmul;
    case OpType::kAdd:
    case OpType::kMul: return &op_binary;
    case OpType::kConcat: return &op_concat;
    case OpType::kMaxPool:
    case OpType::kAveragePool: return &op_pool;
    case OpType::kGlobalAveragePool: return &op_global_avgpool;
    case OpType::kSoftmax: return &op_softmax;
    case OpType::kLogSoftmax: return &op_log_softmax;
    case OpType::kReshape:
    case OpType::kFlatten:
    case OpType::kSqueeze:
    case OpType::kUnsqueeze: return &op_reshape;
    case OpType::kTranspose: return &op_transpose;
    case OpType::kPad: return &op_pad;
    case OpType::kQuantize: return &op_quantize;
    case OpType::kDequantize: return &op_dequantize;
    default:
      if (is_unary_op(op)) return &op_unary;
      return nullptr;
  }
}

Result<PreparedOp> prepare_op(const OpContext& ctx) {
  const OpDef* def = find_op(ctx.node().op);
  if (def == nullptr) {
    return Status{StatusCode::kUnsupported,
                  fmt::format("{}: op type {} has no implementation",
                              describe_node(ctx.model, ctx.node_index),
                              static_cast<int>(ctx.node().op))};
  }
  return def->prepare(ctx);
}

bool op_output_may_alias_input(OpType op) { return is_reshape_family(op); }

}  // namespace quanta::detail
