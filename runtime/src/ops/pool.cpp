// MaxPool and AveragePool (NHWC, kernel, strides, dilations, pads, fused
// activation): their load-time check and their prepare step.
#include <algorithm>
#include <tuple>
#include <utility>
#include <fmt/format.h>

#include "ops/check_util.hpp"
#include "ops/registry.hpp"
#include "ops/op_util.hpp"

namespace quanta::detail {
namespace {

// What the check computes for the prepare step: the kernels' parameters.
struct PoolGeometry {
  k::Pool2DParams p;
};

class PoolCheck final : public NodeChecker {
 public:
  using NodeChecker::NodeChecker;

  // Every output position along one axis must see at least one real tap.
  // Only windows that start outside the input can miss it: those starting
  // before 0 (o * stride < pad) and those starting at or after `in`.
  Status check_windows(const char* axis_name, int64_t in, int64_t k, int64_t stride, int64_t dil,
                       int64_t pad, int64_t out_dim) const {
    auto check = [&](int64_t o) -> Status {
      for (int64_t t = 0; t < k; ++t) {
        const int64_t i = o * stride - pad + t * dil;
        if (i >= 0 && i < in) return Status::Ok();
      }
      return invalid(fmt::format("{} window at output {} {} covers only padding", opname_,
                                 axis_name, o));
    };
    const int64_t first_inside = (pad + stride - 1) / stride;  // o * stride >= pad
    for (int64_t o = 0; o < std::min(first_inside, out_dim); ++o) QUANTA_OPS_TRY(check(o));
    const int64_t first_after = (in + pad + stride - 1) / stride;  // o * stride - pad >= in
    for (int64_t o = std::max(first_after, first_inside); o < out_dim; ++o) {
      QUANTA_OPS_TRY(check(o));
    }
    return Status::Ok();
  }

  Status infer(std::vector<int64_t>& y_shape) {
    QUANTA_OPS_TRY(arity(1, 1));
    const int x = in(0);
    Mode mode{};
    QUANTA_OPS_TRY(act_in_out(x, OutRule::kActivation, &mode, 4));
    const auto o = read_options<fb::PoolOptionsT>(fbn_);
    const auto& xs = info(x).shape;
    QUANTA_OPS_TRY(check_geometry("kernel_h", o.kernel_h, 1));
    QUANTA_OPS_TRY(check_geometry("kernel_w", o.kernel_w, 1));
    QUANTA_OPS_TRY(check_strides_dilations_pads(o));
    const int64_t ext_h = int64_t{o.dilation_h} * (o.kernel_h - 1) + 1;
    const int64_t ext_w = int64_t{o.dilation_w} * (o.kernel_w - 1) + 1;
    for (auto [pad, name, ext] :
         {std::tuple{o.pad_top, "pad_top", ext_h}, {o.pad_bottom, "pad_bottom", ext_h},
          {o.pad_left, "pad_left", ext_w}, {o.pad_right, "pad_right", ext_w}}) {
      if (pad >= ext) {
        return invalid(fmt::format("{} {} = {} must be smaller than the kernel extent {}",
                                   opname_, name, pad, ext));
      }
    }
    const int64_t oh =
        kernels::window_out_dim(xs[1], o.kernel_h, o.stride_h, o.dilation_h, o.pad_top,
                                o.pad_bottom);
    const int64_t ow =
        kernels::window_out_dim(xs[2], o.kernel_w, o.stride_w, o.dilation_w, o.pad_left,
                                o.pad_right);
    if (oh < 1 || ow < 1) {
      return invalid(fmt::format(
          "{} kernel {}x{} (dilation {}x{}) does not fit the padded input {}x{}", opname_,
          o.kernel_h, o.kernel_w, o.dilation_h, o.dilation_w, xs[1], xs[2]));
    }
    for (auto [v, what] : {std::pair{xs[0], "batch"}, {xs[1], "input height"},
                           {xs[2], "input width"}, {xs[3], "channels"}, {oh, "output height"},
                           {ow, "output width"}}) {
      QUANTA_OPS_TRY(need_int(v, what));
    }
    QUANTA_OPS_TRY(check_windows("row", xs[1], o.kernel_h, o.stride_h, o.dilation_h, o.pad_top, oh));
    QUANTA_OPS_TRY(
        check_windows("column", xs[2], o.kernel_w, o.stride_w, o.dilation_w, o.pad_left, ow));
    QUANTA_OPS_TRY(check_activation(o.activation, o.clip_min, o.clip_max));
    y_shape = {xs[0], oh, ow, xs[3]};
    kernels::Pool2DParams& p = set_geometry<PoolGeometry>().p;
    p.n = static_cast<int>(xs[0]);
    p.h = static_cast<int>(xs[1]);
    p.w = static_cast<int>(xs[2]);
    p.c = static_cast<int>(xs[3]);
    p.kh = o.kernel_h;
    p.kw = o.kernel_w;
    p.stride_h = o.stride_h;
    p.stride_w = o.stride_w;
    p.dil_h = o.dilation_h;
    p.dil_w = o.dilation_w;
    p.pad_top = o.pad_top;
    p.pad_left = o.pad_left;
    p.oh = static_cast<int>(oh);
    p.ow = static_cast<int>(ow);
    p.count_include_pad = o.count_include_pad;
    if (mode == Mode::kQuant) {
      if (op_ == OpType::kMaxPool) {
        if (!same_quant(info(x).quant, out_info().quant)) {
          return unsupported(fmt::format(
              "quantized MaxPool needs the output quantization equal to the input's: output {} "
              "has {}, input {} has {}",
              tdesc(out()), quant_str(out_info().quant), tdesc(x), quant_str(info(x).quant)));
        }
      } else {
        QUANTA_OPS_TRY(check_accumulator(int64_t{o.kernel_h} * o.kernel_w, 255,
                                         "kernel_h*kernel_w*255", -1));
      }
    }
    return Status::Ok();
  }
};

struct PoolF32 {
  k::Pool2DParams p;
  const float* x;
  k::FRange act;
  float* y;
};
void run_maxpool_f32(const PoolF32& s) { k::f32_maxpool__ref(s.p, s.x, s.act, s.y); }
void run_avgpool_f32(const PoolF32& s) { k::f32_avgpool__ref(s.p, s.x, s.act, s.y); }

struct MaxPoolU8 {
  k::Pool2DParams p;
  const uint8_t* x;
  k::QRange r;
  uint8_t* y;
};
void run_maxpool_u8(const MaxPoolU8& s) { k::u8_maxpool_minmax__ref(s.p, s.x, s.r, s.y); }

struct AvgPoolQU8 {
  k::Pool2DParams p;
  const uint8_t* x;
  int32_t zx;
  float ratio;
  int32_t zy;
  k::QRange r;
  uint8_t* y;
};
void run_avgpool_qu8(const AvgPoolQU8& s) {
  k::qu8_avgpool_minmax_fp32__ref(s.p, s.x, s.zx, s.ratio, s.zy, s.r, s.y);
}

class PoolPreparer final : public Preparer {
 public:
  using Preparer::Preparer;
  Result<PreparedOp> prepare();
};

Result<PreparedOp> PoolPreparer::prepare() {
  const int x = in(0), y = out();
  const auto o = read_options<fb::PoolOptionsT>(fbn_);
  const k::Pool2DParams& p = ctx_.geometry<PoolGeometry>().p;
  const k::Act act = to_act(o.activation);
  const bool is_max = node_.op == OpType::kMaxPool;
  if (!quantized()) {
    auto s = std::make_shared<PoolF32>(PoolF32{p, data<const float>(x),
                                               k::activation_range_f32(act, o.clip_min, o.clip_max),
                                               data<float>(y)});
    if (is_max) return make_prepared<PoolF32, run_maxpool_f32>(std::move(s));
    return make_prepared<PoolF32, run_avgpool_f32>(std::move(s));
  }
  const k::QRange r = k::activation_range_u8(act, o.clip_min, o.clip_max, scale(y), zero(y));
  if (is_max) {
    if (const k::U8MaxPoolSlot& slot = cfg().u8_maxpool) {
      return prepare_slot(slot, k::U8MaxPoolArgs{p, data<const uint8_t>(x), r, data<uint8_t>(y)},
                          p.n);
    }
    auto s = std::make_shared<MaxPoolU8>(MaxPoolU8{p, data<const uint8_t>(x), r, data<uint8_t>(y)});
    return make_prepared<MaxPoolU8, run_maxpool_u8>(std::move(s));
  }
  QUANTA_OPS_TRY(check_multiplier(scale(x) / scale(y), "output"));
  if (const k::Qu8AvgPoolSlot& slot = cfg().qu8_avgpool) {
    return prepare_slot(slot,
                        k::Qu8AvgPoolArgs{p, data<const uint8_t>(x), zero(x), scale(x) / scale(y),
                                          zero(y), r, data<uint8_t>(y)},
                        p.n);
  }
  auto s = std::make_shared<AvgPoolQU8>(AvgPoolQU8{p, data<const uint8_t>(x), zero(x),
                                                   scale(x) / scale(y), zero(y), r,
                                                   data<uint8_t>(y)});
  return make_prepared<AvgPoolQU8, run_avgpool_qu8>(std::move(s));
}

}  // namespace

const OpDef op_pool{&run_check<PoolCheck>, &run_prepare<PoolPreparer>};

}  // namespace quanta::detail
