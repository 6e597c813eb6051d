// The op implementations by op type (registry.hpp), built from
// quanta/op_list.def, and the prepare step's entry point.
#include "ops/registry.hpp"

#include <iterator>
#include <fmt/format.h>

#include "quanta/op_traits.hpp"

namespace quanta::detail {
namespace {

// Indexed by OpType value. Addresses only: constant-initialized, so no
// static-initialization order between this file and the ops' files.
constexpr const OpDef* kOps[] = {
#define QUANTA_OP(name, fb_name, options, display, impl, traits) &op_##impl,
#include "quanta/op_list.def"
};
static_assert(std::size(kOps) == kOpTypeCount);

}  // namespace

const OpDef* find_op(OpType op) {
  const size_t i = static_cast<size_t>(op);
  return i < std::size(kOps) ? kOps[i] : nullptr;
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

bool op_output_may_alias_input(OpType op) { return op_has(op, kOpAliasesInput); }

}  // namespace quanta::detail
