// The elementwise unary ops (Relu, Relu6, Clip, Sigmoid, Tanh, HardSwish,
// LeakyRelu, Gelu, HardSigmoid): their load-time check and their prepare
// step (float: the reference kernel; quantized: a 256-entry LUT).
#include <cmath>
#include <fmt/format.h>

#include "ops/check_util.hpp"
#include "ops/registry.hpp"
#include "ops/op_util.hpp"

namespace quanta::detail {
namespace {

// The unary op of a unary node (Relu ... Gelu, HardSigmoid) with its options.
kernels::UnaryParams unary_params(OpType op, const fb::Node* node) {
  kernels::UnaryParams p;
  switch (op) {
    case OpType::kRelu: p.op = kernels::UnaryOp::kRelu; break;
    case OpType::kRelu6: p.op = kernels::UnaryOp::kRelu6; break;
    case OpType::kClip: {
      const auto o = read_options<fb::ClipOptionsT>(node);
      p.op = kernels::UnaryOp::kClip;
      p.lo = o.min;
      p.hi = o.max;
      break;
    }
    case OpType::kSigmoid: p.op = kernels::UnaryOp::kSigmoid; break;
    case OpType::kTanh: p.op = kernels::UnaryOp::kTanh; break;
    case OpType::kHardSwish: p.op = kernels::UnaryOp::kHardSwish; break;
    case OpType::kAbs: p.op = kernels::UnaryOp::kAbs; break;
    case OpType::kLeakyRelu:
      p.op = kernels::UnaryOp::kLeakyRelu;
      p.alpha = read_options<fb::LeakyReluOptionsT>(node).alpha;
      break;
    case OpType::kHardSigmoid: {
      const auto o = read_options<fb::HardSigmoidOptionsT>(node);
      p.op = kernels::UnaryOp::kHardSigmoid;
      p.alpha = o.alpha;
      p.beta = o.beta;
      break;
    }
    case OpType::kGelu:
      p.op = read_options<fb::GeluOptionsT>(node).approximate ? kernels::UnaryOp::kGeluTanh
                                                              : kernels::UnaryOp::kGelu;
      break;
    default: break;
  }
  return p;
}

class UnaryCheck final : public NodeChecker {
 public:
  using NodeChecker::NodeChecker;

  Status infer(std::vector<int64_t>& y_shape) {
    QUANTA_OPS_TRY(arity(1, 1));
    const int x = in(0);
    Mode mode{};
    QUANTA_OPS_TRY(act_in_out(x, OutRule::kActivation, &mode));
    if (op_ == OpType::kClip) {
      const auto o = read_options<fb::ClipOptionsT>(fbn_);
      if (std::isnan(o.min) || std::isnan(o.max)) {
        return invalid(fmt::format("Clip bounds [{}, {}] contain NaN", o.min, o.max));
      }
    } else if (op_ == OpType::kLeakyRelu) {
      const auto o = read_options<fb::LeakyReluOptionsT>(fbn_);
      if (!std::isfinite(o.alpha)) {
        return invalid(fmt::format("LeakyRelu alpha = {} is not finite", o.alpha));
      }
    } else if (op_ == OpType::kHardSigmoid) {
      const auto o = read_options<fb::HardSigmoidOptionsT>(fbn_);
      if (!std::isfinite(o.alpha) || !std::isfinite(o.beta)) {
        return invalid(fmt::format("HardSigmoid alpha = {}, beta = {}: both must be finite",
                                   o.alpha, o.beta));
      }
    }
    y_shape = info(x).shape;
    return Status::Ok();
  }
};

struct UnaryF32 {
  k::UnaryParams p;
  int64_t n;
  const float* x;
  float* y;
};
void run_unary_f32(const UnaryF32& s) { k::f32_unary__ref(s.p, s.n, s.x, s.y); }

struct LutU8 {
  int64_t n;
  const uint8_t* x;
  uint8_t lut[256];
  uint8_t* y;
};
void run_lut_u8(const LutU8& s) { k::u8_lut__ref(s.n, s.x, s.lut, s.y); }

class UnaryPreparer final : public Preparer {
 public:
  using Preparer::Preparer;
  Result<PreparedOp> prepare();
};

Result<PreparedOp> UnaryPreparer::prepare() {
  const int x = in(0), y = out();
  const k::UnaryParams p = unary_params(node_.op, fbn_);
  const int64_t n = info(x).num_elements;
  if (!quantized()) {
    auto s = std::make_shared<UnaryF32>(UnaryF32{p, n, data<const float>(x), data<float>(y)});
    return make_prepared<UnaryF32, run_unary_f32>(std::move(s));
  }
  auto s = std::make_shared<LutU8>();
  s->n = n;
  s->x = data<const uint8_t>(x);
  k::build_lut_u8(p, scale(x), zero(x), scale(y), zero(y), s->lut);
  s->y = data<uint8_t>(y);
  return make_prepared<LutU8, run_lut_u8>(std::move(s));
}

}  // namespace

const OpDef op_unary{&run_check<UnaryCheck>, &run_prepare<UnaryPreparer>};

}  // namespace quanta::detail
