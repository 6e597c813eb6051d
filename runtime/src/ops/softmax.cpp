// Softmax and LogSoftmax (along one axis): their load-time check and their
// prepare steps.
#include <cmath>
#include <fmt/format.h>

#include "ops/check_util.hpp"
#include "ops/registry.hpp"
#include "ops/op_util.hpp"

namespace quanta::detail {
namespace {

// What the check computes for the prepare step: x as [outer, axis_len, inner]
// around the softmax axis.
struct SoftmaxGeometry {
  int64_t outer, axis_len, inner;
};

class SoftmaxCheck final : public NodeChecker {
 public:
  using NodeChecker::NodeChecker;

  Status infer(std::vector<int64_t>& y_shape) {
    QUANTA_OPS_TRY(arity(1, 1));
    const int x = in(0);
    Mode mode{};
    QUANTA_OPS_TRY(act_in_out(x, OutRule::kActivation, &mode));
    const auto o = read_options<fb::SoftmaxOptionsT>(fbn_);
    const int rank = static_cast<int>(info(x).shape.size());
    if (rank < 1 || o.axis < -rank || o.axis >= rank) {
      return invalid(fmt::format("{} axis {} is out of range for input {} of shape {}", opname_,
                                 o.axis, tdesc(x), shape_str(info(x).shape)));
    }
    if (op_ == OpType::kLogSoftmax) {
      if (o.beta != 1.f) {
        return unsupported(fmt::format("LogSoftmax beta = {}; this runtime supports beta = 1 only",
                                       o.beta));
      }
    } else if (!std::isfinite(o.beta) || !(o.beta > 0.f)) {
      return unsupported(fmt::format("Softmax beta = {} must be finite and > 0", o.beta));
    }
    y_shape = info(x).shape;
    const auto& xs = info(x).shape;
    const size_t axis = static_cast<size_t>(o.axis < 0 ? o.axis + rank : o.axis);
    set_geometry<SoftmaxGeometry>() = SoftmaxGeometry{product(xs, 0, axis), xs[axis],
                                                      product(xs, axis + 1, xs.size())};
    return Status::Ok();
  }
};

struct SoftmaxF32 {
  int64_t outer, axis_len, inner;
  float beta;
  const float* x;
  float* y;
};
void run_softmax_f32(const SoftmaxF32& s) {
  k::f32_softmax__ref(s.outer, s.axis_len, s.inner, s.beta, s.x, s.y);
}

struct SoftmaxQU8 {
  int64_t outer, axis_len, inner;
  float table[256];
  float sy;
  int32_t zy;
  const uint8_t* x;
  uint8_t* y;
};
void run_softmax_qu8(const SoftmaxQU8& s) {
  k::qu8_softmax__ref(s.outer, s.axis_len, s.inner, s.x, s.table, s.sy, s.zy, s.y);
}

class SoftmaxPreparer final : public Preparer {
 public:
  using Preparer::Preparer;
  Result<PreparedOp> prepare();
};

Result<PreparedOp> SoftmaxPreparer::prepare() {
  const int x = in(0), y = out();
  const auto o = read_options<fb::SoftmaxOptionsT>(fbn_);
  const auto [outer, len, inner] = ctx_.geometry<SoftmaxGeometry>();
  if (!quantized()) {
    auto s = std::make_shared<SoftmaxF32>(
        SoftmaxF32{outer, len, inner, o.beta, data<const float>(x), data<float>(y)});
    return make_prepared<SoftmaxF32, run_softmax_f32>(std::move(s));
  }
  auto s = std::make_shared<SoftmaxQU8>();
  s->outer = outer;
  s->axis_len = len;
  s->inner = inner;
  k::build_softmax_exp_table(o.beta, scale(x), s->table);
  s->sy = scale(y);
  s->zy = zero(y);
  s->x = data<const uint8_t>(x);
  s->y = data<uint8_t>(y);
  return make_prepared<SoftmaxQU8, run_softmax_qu8>(std::move(s));
}

// -------------------------------------------------------------- LogSoftmax
struct LogSoftmaxF32 {
  int64_t outer, axis_len, inner;
  const float* x;
  float* y;
};
void run_log_softmax_f32(const LogSoftmaxF32& s) {
  k::f32_log_softmax__ref(s.outer, s.axis_len, s.inner, s.x, s.y);
}

struct LogSoftmaxQU8 {
  int64_t outer, axis_len, inner;
  float table[256];  // exp(-sx * d), d = max_q - x_q
  float sx;
  float sy;
  int32_t zy;
  const uint8_t* x;
  uint8_t* y;
};
void run_log_softmax_qu8(const LogSoftmaxQU8& s) {
  k::qu8_log_softmax__ref(s.outer, s.axis_len, s.inner, s.x, s.table, s.sx, s.sy, s.zy, s.y);
}

class LogSoftmaxPreparer final : public Preparer {
 public:
  using Preparer::Preparer;
  Result<PreparedOp> prepare();
};

// beta is 1 (the check refuses anything else).
Result<PreparedOp> LogSoftmaxPreparer::prepare() {
  const int x = in(0), y = out();
  const auto [outer, len, inner] = ctx_.geometry<SoftmaxGeometry>();
  if (!quantized()) {
    auto s = std::make_shared<LogSoftmaxF32>(
        LogSoftmaxF32{outer, len, inner, data<const float>(x), data<float>(y)});
    return make_prepared<LogSoftmaxF32, run_log_softmax_f32>(std::move(s));
  }
  auto s = std::make_shared<LogSoftmaxQU8>();
  s->outer = outer;
  s->axis_len = len;
  s->inner = inner;
  k::build_softmax_exp_table(1.f, scale(x), s->table);
  s->sx = scale(x);
  s->sy = scale(y);
  s->zy = zero(y);
  s->x = data<const uint8_t>(x);
  s->y = data<uint8_t>(y);
  return make_prepared<LogSoftmaxQU8, run_log_softmax_qu8>(std::move(s));
}

}  // namespace

const OpDef op_softmax{&run_check<SoftmaxCheck>, &run_prepare<SoftmaxPreparer>};
const OpDef op_log_softmax{&run_check<SoftmaxCheck>, &run_prepare<LogSoftmaxPreparer>};

}  // namespace quanta::detail
