// FullyConnected (x [..., K] times constant weights [N, K], bias, fused
// activation): its load-time check and its prepare step (the GEMM paths are
// shared with Conv2D and MatMul: gemm.hpp).
#include <climits>
#include <cmath>
#include <optional>
#include <fmt/format.h>

#include "ops/check_util.hpp"
#include "ops/registry.hpp"
#include "ops/gemm.hpp"

namespace quanta::detail {
namespace {

// What the check computes for the prepare step: y [m, n] = x [m, k] w^T.
struct FcGeometry {
  int m, k, n;
};

class FullyConnectedCheck final : public NodeChecker {
 public:
  using NodeChecker::NodeChecker;

  Status infer(std::vector<int64_t>& y_shape) {
    QUANTA_OPS_TRY(arity(2, 3));
    const int x = in(0), w = in(1), b = in(2);
    Mode mode{};
    QUANTA_OPS_TRY(mode_of(x, &mode));
    const auto o = read_options<fb::FullyConnectedOptionsT>(fbn_);
    const auto& xs = info(x).shape;
    if (xs.empty()) {
      return invalid(fmt::format("{} input {} is a scalar; expected [..., K]", opname_, tdesc(x)));
    }
    QUANTA_OPS_TRY(need_rank(w, 2, "weights"));
    QUANTA_OPS_TRY(need_const(w, "weights"));
    const auto& ws = info(w).shape;
    const int64_t k = xs.back();
    const int64_t nout = ws[0];
    if (ws[1] != k) {
      return invalid(fmt::format(
          "{} weights {} have shape {} ([N, K]) but the input {} has K = {} (shape {})", opname_,
          tdesc(w), shape_str(ws), tdesc(x), k, shape_str(xs)));
    }
    const int64_t rows = product(xs, 0, xs.size() - 1);
    QUANTA_OPS_TRY(check_activation(o.activation, o.clip_min, o.clip_max));
    QUANTA_OPS_TRY(need_int(rows, "rows"));
    QUANTA_OPS_TRY(need_int(k, "K"));
    QUANTA_OPS_TRY(need_int(nout, "N"));
    y_shape.assign(xs.begin(), xs.end() - 1);
    y_shape.push_back(nout);
    QUANTA_OPS_TRY(check_weighted(x, w, b, mode, nout, k));
    macs_ = sat_mul(sat_mul(rows, k), nout);
    set_geometry<FcGeometry>() =
        FcGeometry{static_cast<int>(rows), static_cast<int>(k), static_cast<int>(nout)};
    return Status::Ok();
  }
};

// ---------------------------------------------------------- FullyConnected
struct FcF32 {
  int m, k, n;
  const float* x;
  const float* w;
  const float* bias;
  k::FRange act;
  float* y;
};
void run_fc_f32(const FcF32& s) {
  k::f32_fully_connected__ref(s.m, s.k, s.n, s.x, s.w, s.bias, s.act, s.y);
}

class FullyConnectedPreparer final : public Preparer {
 public:
  using Preparer::Preparer;
  Result<PreparedOp> prepare();
};

Result<PreparedOp> FullyConnectedPreparer::prepare() {
  const int x = in(0), w = in(1), b = in(2), y = out();
  const auto o = read_options<fb::FullyConnectedOptionsT>(fbn_);
  const FcGeometry& geo = ctx_.geometry<FcGeometry>();
  const int m = geo.m, kk = geo.k, n = geo.n;
  const k::Act act = to_act(o.activation);
  if (!quantized()) {
    const k::FRange fr = k::activation_range_f32(act, o.clip_min, o.clip_max);
    const float* bf = b >= 0 ? data<const float>(b) : nullptr;
    if (auto op = try_onednn(onednn::make_f32_gemm,
                             onednn::F32GemmDesc{m, n, kk, data<const float>(x),
                                                 data<const float>(w), bf, fr, data<float>(y)},
                             nullptr)) {
      return std::move(*op);
    }
  }
  if (!quantized() && cfg().f32_gemm) {
    return prepare_gemm_f32_fast(*this, ctx_.pool, m, n, kk, data<const float>(x),
                                 data<const float>(w), b >= 0 ? data<const float>(b) : nullptr,
                                 k::activation_range_f32(act, o.clip_min, o.clip_max),
                                 data<float>(y));
  }
  if (!quantized()) {
    auto s = std::make_shared<FcF32>(FcF32{m, kk, n, data<const float>(x), data<const float>(w),
                                           b >= 0 ? data<const float>(b) : nullptr,
                                           k::activation_range_f32(act, o.clip_min, o.clip_max),
                                           data<float>(y)});
    return make_prepared<FcF32, run_fc_f32>(std::move(s));
  }
  auto s = std::make_shared<FcQU8>();
  s->m = m;
  s->k = kk;
  s->n = n;
  s->x = data<const uint8_t>(x);
  s->w = data<const int8_t>(w);
  QUANTA_OPS_TRY(set_qu8_weighted(x, w, b, y, n, kk, o, s.get()));
  if (auto op = try_onednn(onednn::make_qu8_gemm,
                           onednn::Qu8GemmDesc{m, n, kk, s->x, zero(x), s->w,
                                               b >= 0 ? data<const int32_t>(b) : nullptr,
                                               s->multiplier.data(), s->zy, s->r, s->y},
                           s)) {
    return std::move(*op);
  }
  if (const k::Qu8GemmSlot& slot = cfg().qu8_gemm) {
    return prepare_gemm_qu8_fused(*this, ctx_.pool, m, n, kk, *s,
                                  fused_add(x, y, slot.fused_residual));
  }
  return make_prepared<FcQU8, run_fc_qu8>(std::move(s));
}

}  // namespace

const OpDef op_fully_connected{&run_check<FullyConnectedCheck>, &run_prepare<FullyConnectedPreparer>};

}  // namespace quanta::detail
