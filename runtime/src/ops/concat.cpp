// Concat (any axis; quantized inputs requantized to the output): its
// load-time check and its prepare step.
#include <fmt/format.h>

#include "ops/check_util.hpp"
#include "ops/registry.hpp"
#include "ops/op_util.hpp"

namespace quanta::detail {
namespace {

// What the check computes for the prepare step: the output is `outer` rows,
// each the inputs' rows of inner[i] elements one after the other.
struct ConcatGeometry {
  int64_t outer = 0;
  std::vector<int64_t> inner;  // per input
};

class ConcatCheck final : public NodeChecker {
 public:
  using NodeChecker::NodeChecker;

  Status infer(std::vector<int64_t>& y_shape) {
    QUANTA_OPS_TRY(arity(1, SIZE_MAX));
    const size_t count = node_.inputs.size();
    for (size_t i = 0; i < count; ++i) {
      if (node_.inputs[i] < 0) {
        return invalid(fmt::format("{} input {} is omitted (-1); every input is required",
                                   opname_, i));
      }
    }
    QUANTA_OPS_TRY(need_int(static_cast<int64_t>(count), "input count"));
    const int x0 = in(0);
    Mode mode{};
    QUANTA_OPS_TRY(mode_of(x0, &mode));
    const auto o = read_options<fb::ConcatOptionsT>(fbn_);
    const auto& s0 = info(x0).shape;
    const int rank = static_cast<int>(s0.size());
    if (o.axis < -rank || o.axis >= rank) {
      return invalid(fmt::format("{} axis {} is out of range for rank {} (input {} shape {})",
                                 opname_, o.axis, rank, tdesc(x0), shape_str(s0)));
    }
    const int axis = o.axis < 0 ? o.axis + rank : o.axis;
    y_shape = s0;
    y_shape[axis] = 0;
    for (size_t i = 0; i < count; ++i) {
      const int t = in(i);
      QUANTA_OPS_TRY(need_act(t, mode, "input"));
      const auto& s = info(t).shape;
      if (static_cast<int>(s.size()) != rank) {
        return invalid(fmt::format("{} input {} {} has rank {} (shape {}); input 0 has rank {}",
                                   opname_, i, tdesc(t), s.size(), shape_str(s), rank));
      }
      for (int d = 0; d < rank; ++d) {
        if (d != axis && s[d] != s0[d]) {
          return invalid(fmt::format(
              "{} input {} {} has shape {}, which differs from input 0 shape {} on axis {} "
              "(only the concat axis {} may differ)",
              opname_, i, tdesc(t), shape_str(s), shape_str(s0), d, axis));
        }
      }
      y_shape[axis] += s[axis];
    }
    QUANTA_OPS_TRY(need_act(out(), mode, "output"));
    ConcatGeometry& g = set_geometry<ConcatGeometry>();
    g.outer = product(s0, 0, static_cast<size_t>(axis));
    for (int t : node_.inputs) {
      g.inner.push_back(product(info(t).shape, static_cast<size_t>(axis), info(t).shape.size()));
    }
    return Status::Ok();
  }
};

struct ConcatBytes {
  int64_t outer;
  std::vector<const void*> x;
  std::vector<int64_t> inner_bytes;
  void* y;
};
void run_concat(const ConcatBytes& s) {
  k::concat__ref(s.outer, static_cast<int>(s.x.size()), s.x.data(), s.inner_bytes.data(), s.y);
}

struct ConcatQU8 {
  int64_t outer;
  std::vector<const uint8_t*> x;
  std::vector<int64_t> inner;
  std::vector<int32_t> zx;
  std::vector<float> m;
  int32_t zy;
  uint8_t* y;
};
void run_concat_qu8(const ConcatQU8& s) {
  k::qu8_concat__ref(s.outer, static_cast<int>(s.x.size()), s.x.data(), s.inner.data(),
                     s.zx.data(), s.m.data(), s.zy, s.y);
}

class ConcatPreparer final : public Preparer {
 public:
  using Preparer::Preparer;
  Result<PreparedOp> prepare();
};

Result<PreparedOp> ConcatPreparer::prepare() {
  const int y = out();
  const ConcatGeometry& geo = ctx_.geometry<ConcatGeometry>();
  const int64_t outer = geo.outer;
  QUANTA_OPS_TRY(reserve_table({static_cast<int64_t>(node_.inputs.size())},
                               sizeof(void*) + sizeof(int64_t) + sizeof(int32_t) + sizeof(float),
                               "the per-input tables"));
  if (!quantized()) {
    auto s = std::make_shared<ConcatBytes>();
    s->outer = outer;
    for (size_t i = 0; i < node_.inputs.size(); ++i) {
      s->x.push_back(ctx_.data(node_.inputs[i]));
      s->inner_bytes.push_back(geo.inner[i] * static_cast<int64_t>(sizeof(float)));
    }
    s->y = ctx_.data(y);
    return make_prepared<ConcatBytes, run_concat>(std::move(s));
  }
  auto s = std::make_shared<ConcatQU8>();
  s->outer = outer;
  for (size_t i = 0; i < node_.inputs.size(); ++i) {
    const int t = node_.inputs[i];
    s->x.push_back(data<const uint8_t>(t));
    s->inner.push_back(geo.inner[i]);
    s->zx.push_back(zero(t));
    s->m.push_back(scale(t) / scale(y));
    QUANTA_OPS_TRY(check_multiplier(s->m.back(), "input", static_cast<int64_t>(s->m.size()) - 1));
  }
  s->zy = zero(y);
  s->y = data<uint8_t>(y);
  return make_prepared<ConcatQU8, run_concat_qu8>(std::move(s));
}

}  // namespace

const OpDef op_concat{&run_check<ConcatCheck>, &run_prepare<ConcatPreparer>};

}  // namespace quanta::detail
