// GlobalAveragePool (NHWC to [N, 1, 1, C]): its load-time check and its
// prepare step.
#include <fmt/format.h>

#include "ops/check_util.hpp"
#include "ops/registry.hpp"
#include "ops/op_util.hpp"

namespace quanta::detail {
namespace {

// What the check computes for the prepare step: x as [n, hw, c].
struct GapGeometry {
  int n;
  int64_t hw;
  int c;
};

class GlobalAvgPoolCheck final : public NodeChecker {
 public:
  using NodeChecker::NodeChecker;

  Status infer(std::vector<int64_t>& y_shape) {
    QUANTA_OPS_TRY(arity(1, 1));
    const int x = in(0);
    Mode mode{};
    QUANTA_OPS_TRY(act_in_out(x, OutRule::kActivation, &mode, 4));
    const auto& xs = info(x).shape;
    QUANTA_OPS_TRY(need_int(xs[0], "batch"));
    QUANTA_OPS_TRY(need_int(xs[3], "channels"));
    if (mode == Mode::kQuant) {
      QUANTA_OPS_TRY(check_accumulator(sat_mul(xs[1], xs[2]), 255, "H*W*255", -1));
    }
    y_shape = {xs[0], 1, 1, xs[3]};
    set_geometry<GapGeometry>() =
        GapGeometry{static_cast<int>(xs[0]), xs[1] * xs[2], static_cast<int>(xs[3])};
    return Status::Ok();
  }
};

struct GapF32 {
  int n;
  int64_t hw;
  int c;
  const float* x;
  float* y;
};
void run_gap_f32(const GapF32& s) { k::f32_global_avgpool__ref(s.n, s.hw, s.c, s.x, s.y); }

struct GapQU8 {
  int n;
  int64_t hw;
  int c;
  const uint8_t* x;
  int32_t zx;
  float ratio;
  int32_t zy;
  uint8_t* y;
};
void run_gap_qu8(const GapQU8& s) {
  k::qu8_global_avgpool_minmax_fp32__ref(s.n, s.hw, s.c, s.x, s.zx, s.ratio, s.zy, k::QRange{},
                                         s.y);
}

class GlobalAvgPoolPreparer final : public Preparer {
 public:
  using Preparer::Preparer;
  Result<PreparedOp> prepare();
};

Result<PreparedOp> GlobalAvgPoolPreparer::prepare() {
  const int x = in(0), y = out();
  const auto [n, hw, c] = ctx_.geometry<GapGeometry>();
  if (!quantized()) {
    auto s = std::make_shared<GapF32>(GapF32{n, hw, c, data<const float>(x), data<float>(y)});
    return make_prepared<GapF32, run_gap_f32>(std::move(s));
  }
  QUANTA_OPS_TRY(check_multiplier(scale(x) / scale(y), "output"));
  if (const k::Qu8GlobalAvgPoolSlot& slot = cfg().qu8_global_avgpool) {
    return prepare_slot(slot,
                        k::Qu8GlobalAvgPoolArgs{n, hw, c, data<const uint8_t>(x), zero(x),
                                                scale(x) / scale(y), zero(y), k::QRange{},
                                                data<uint8_t>(y)},
                        n);
  }
  auto s = std::make_shared<GapQU8>(GapQU8{n, hw, c, data<const uint8_t>(x), zero(x),
                                           scale(x) / scale(y), zero(y), data<uint8_t>(y)});
  return make_prepared<GapQU8, run_gap_qu8>(std::move(s));
}

}  // namespace

const OpDef op_global_avgpool{&run_check<GlobalAvgPoolCheck>, &run_prepare<GlobalAvgPoolPreparer>};

}  // namespace quanta::detail
