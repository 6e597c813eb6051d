// The Reshape family (Reshape, Flatten, Squeeze, Unsqueeze): the stored
// output shape is their definition. Their load-time check and their prepare
// step (nothing to do when the planner aliased the output to the input).
#include <cstring>
#include <fmt/format.h>

#include "ops/check_util.hpp"
#include "ops/registry.hpp"
#include "ops/op_util.hpp"

namespace quanta::detail {
namespace {

class ReshapeCheck final : public NodeChecker {
 public:
  using NodeChecker::NodeChecker;
  static constexpr bool kInfersShape = false;

  Status infer(std::vector<int64_t>& /*y_shape*/) {
    QUANTA_OPS_TRY(arity(1, 2));
    const int x = in(0);
    const int shape_in = in(1);
    if (shape_in >= 0 && !info(shape_in).is_constant) {
      return unsupported(fmt::format(
          "{} shape input {} must be a constant (dynamic shapes are not supported)", opname_,
          tdesc(shape_in)));
    }
    Mode mode{};
    QUANTA_OPS_TRY(act_in_out(x, OutRule::kSameAsInput, &mode));
    if (info(x).num_elements != out_info().num_elements) {
      return invalid(fmt::format(
          "{} output {} has shape {} ({} elements) but input {} has shape {} ({} elements)",
          opname_, tdesc(out()), shape_str(out_info().shape), out_info().num_elements, tdesc(x),
          shape_str(info(x).shape), info(x).num_elements));
    }
    return Status::Ok();
  }
};

struct Copy {
  const void* x;
  void* y;
  size_t bytes;
};
void run_copy(const Copy& s) { std::memcpy(s.y, s.x, s.bytes); }

class ReshapePreparer final : public Preparer {
 public:
  using Preparer::Preparer;
  Result<PreparedOp> prepare();
};

Result<PreparedOp> ReshapePreparer::prepare() {
  const int x = in(0), y = out();
  if (ctx_.data(x) == ctx_.data(y) || info(y).num_bytes == 0) return PreparedOp{nullptr, nullptr};
  auto s = std::make_shared<Copy>(Copy{ctx_.data(x), ctx_.data(y), info(y).num_bytes});
  return make_prepared<Copy, run_copy>(std::move(s));
}

}  // namespace

const OpDef op_reshape{&run_check<ReshapeCheck>, &run_prepare<ReshapePreparer>};

}  // namespace quanta::detail
