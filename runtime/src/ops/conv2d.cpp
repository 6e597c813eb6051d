// Conv2D (NHWC input, OHWI weights, groups, fused activation): its load-time
// check and its prepare step. Quanta's kernels: reference, float and quantized
// pointwise as a GEMM, depthwise, implicit GEMM (groups 1); or oneDNN; a
// quantized conv may absorb the residual Add after it (op_util.hpp).
#include <climits>
#include <cmath>
#include <cstring>
#include <optional>
#include <fmt/format.h>

#include "ops/check_util.hpp"
#include "ops/registry.hpp"
#include "ops/gemm.hpp"

namespace quanta::detail {
namespace {

// What the check computes for the prepare step.
struct ConvGeometry {
  k::Conv2DParams p;
  int64_t row_len = 0;     // kh * kw * cin / groups: one output channel's weights
  bool pointwise = false;  // 1x1, stride 1, no padding, groups 1: a GEMM
  bool depthwise = false;  // groups == cin == cout > 1
};

class Conv2DCheck final : public NodeChecker {
 public:
  using NodeChecker::NodeChecker;

  Status infer(std::vector<int64_t>& y_shape) {
    QUANTA_OPS_TRY(arity(2, 3));
    const int x = in(0), w = in(1), b = in(2);
    Mode mode{};
    QUANTA_OPS_TRY(mode_of(x, &mode));
    const auto o = read_options<fb::Conv2DOptionsT>(fbn_);
    QUANTA_OPS_TRY(need_rank(x, 4, "input"));
    QUANTA_OPS_TRY(need_rank(w, 4, "weights"));
    QUANTA_OPS_TRY(need_const(w, "weights"));
    const auto& xs = info(x).shape;
    const auto& ws = info(w).shape;
    const int64_t n = xs[0], h = xs[1], wd = xs[2], cin = xs[3];
    const int64_t cout = ws[0], kh = ws[1], kw = ws[2], cin_g = ws[3];
    QUANTA_OPS_TRY(check_strides_dilations_pads(o));
    QUANTA_OPS_TRY(check_geometry("groups", o.groups, 1));
    if (kh < 1 || kw < 1) {
      return invalid(fmt::format("{} weights {} have an empty kernel (shape {})", opname_,
                                 tdesc(w), shape_str(ws)));
    }
    if (cin % o.groups != 0) {
      return invalid(fmt::format("{} groups = {} does not divide the {} input channels of {}",
                                 opname_, o.groups, cin, tdesc(x)));
    }
    if (cout % o.groups != 0) {
      return invalid(fmt::format(
          "{} groups = {} does not divide the {} output channels of weights {} (shape {})",
          opname_, o.groups, cout, tdesc(w), shape_str(ws)));
    }
    if (cin_g != cin / o.groups) {
      return invalid(fmt::format(
          "{} weights {} (shape {}, OHWI) have {} input channels per group; input {} has {} "
          "channels / {} groups = {}",
          opname_, tdesc(w), shape_str(ws), cin_g, tdesc(x), cin, o.groups, cin / o.groups));
    }
    const int64_t oh =
        kernels::window_out_dim(h, kh, o.stride_h, o.dilation_h, o.pad_top, o.pad_bottom);
    const int64_t ow =
        kernels::window_out_dim(wd, kw, o.stride_w, o.dilation_w, o.pad_left, o.pad_right);
    if (oh < 1 || ow < 1) {
      return invalid(fmt::format(
          "{} kernel {}x{} (dilation {}x{}) does not fit the padded input {}x{} (pads t{} b{} "
          "l{} r{})",
          opname_, kh, kw, o.dilation_h, o.dilation_w, h, wd, o.pad_top, o.pad_bottom,
          o.pad_left, o.pad_right));
    }
    QUANTA_OPS_TRY(check_activation(o.activation, o.clip_min, o.clip_max));
    for (auto [v, what] : {std::pair{n, "batch"}, {h, "input height"}, {wd, "input width"},
                           {cin, "input channels"}, {cout, "output channels"},
                           {kh, "kernel height"}, {kw, "kernel width"}, {oh, "output height"},
                           {ow, "output width"}}) {
      QUANTA_OPS_TRY(need_int(v, what));
    }
    y_shape = {n, oh, ow, cout};
    const int64_t k = sat_mul(sat_mul(kh, kw), cin_g);
    QUANTA_OPS_TRY(check_weighted(x, w, b, mode, cout, k));
    ConvGeometry& g = set_geometry<ConvGeometry>();
    kernels::Conv2DParams& p = g.p;
    p.n = static_cast<int>(n);
    p.h = static_cast<int>(h);
    p.w = static_cast<int>(wd);
    p.cin = static_cast<int>(cin);
    p.cout = static_cast<int>(cout);
    p.kh = static_cast<int>(kh);
    p.kw = static_cast<int>(kw);
    p.stride_h = o.stride_h;
    p.stride_w = o.stride_w;
    p.dil_h = o.dilation_h;
    p.dil_w = o.dilation_w;
    p.pad_top = o.pad_top;
    p.pad_left = o.pad_left;
    p.groups = o.groups;
    p.oh = static_cast<int>(oh);
    p.ow = static_cast<int>(ow);
    g.row_len = k;  // exact: k * 255 * 127 fits int32 when it is used (quantized)
    g.pointwise = p.kh == 1 && p.kw == 1 && p.stride_h == 1 && p.stride_w == 1 &&
                  p.pad_top == 0 && p.pad_left == 0 && p.groups == 1 && p.oh == p.h &&
                  p.ow == p.w;
    g.depthwise = p.groups == p.cin && p.cin == p.cout && p.groups > 1;
    macs_ = sat_mul(sat_mul(sat_mul(sat_mul(n, oh), ow), cout), k);
    return Status::Ok();
  }
};

// ------------------------------------------------------------------ Conv2D
struct ConvF32 {
  k::Conv2DParams p;
  const float* x;
  const float* w;
  const float* bias;
  k::FRange act;
  float* y;
};
void run_conv_f32(const ConvF32& s) { k::f32_conv2d__ref(s.p, s.x, s.w, s.bias, s.act, s.y); }

struct ConvQU8 {
  k::Conv2DParams p;
  const uint8_t* x;
  int32_t zx;
  const int8_t* w;
  std::vector<int32_t> bias;
  std::vector<float> multiplier;
  int32_t zy;
  k::QRange r;
  uint8_t* y;
};
void run_conv_qu8(const ConvQU8& s) {
  k::qu8_conv2d_minmax_fp32__ref(s.p, s.x, s.zx, s.w, s.bias.data(), s.multiplier.data(), s.zy,
                                 s.r, s.y);
}

// The Conv2D families of the kernel table other than the GEMM: args, the
// slot's adapter, the buffers the args point into, and the split (its
// alignment the slot's).
struct DwConvF32Fast {  // f32_dwconv: split over output rows
  k::F32DwconvArgs args;
  k::F32DwconvFn fn;
  std::vector<uint8_t> packed;
  Split split;
};

struct IgemmF32Fast {  // f32_igemm (groups 1): split over output pixels
  k::F32IgemmArgs args;
  k::F32IgemmFn fn;
  std::vector<int64_t> table;
  std::vector<float> zero;
  std::vector<uint8_t> packed;
  Split split;
};

struct DwConvQU8Fast {  // qu8_dwconv: split over output rows
  k::Qu8DwconvArgs args;
  k::Qu8DwconvFn fn;
  std::vector<uint8_t> packed;
  Split split;
};

struct IgemmQU8Fast {  // qu8_igemm (groups 1): split over output pixels
  k::Qu8IgemmArgs args;
  k::Qu8IgemmFn fn;
  std::vector<int32_t> table;
  std::vector<uint8_t> packed;
  Split split;
};

class Conv2DPreparer final : public Preparer {
 public:
  using Preparer::Preparer;
  Result<PreparedOp> prepare();
};

Result<PreparedOp> Conv2DPreparer::prepare() {
  const int x = in(0), w = in(1), b = in(2), y = out();
  const auto o = read_options<fb::Conv2DOptionsT>(fbn_);
  const ConvGeometry& geo = ctx_.geometry<ConvGeometry>();
  const k::Conv2DParams& p = geo.p;
  const k::Act act = to_act(o.activation);
  const bool pointwise = geo.pointwise;
  const bool depthwise = geo.depthwise;
  if (!quantized()) {
    const k::FRange fr = k::activation_range_f32(act, o.clip_min, o.clip_max);
    const float* wf = data<const float>(w);
    const float* bf = b >= 0 ? data<const float>(b) : nullptr;
    if (auto op = try_onednn(onednn::make_f32_conv,
                             onednn::F32ConvDesc{p, data<const float>(x), wf, bf, fr,
                                                 data<float>(y)},
                             nullptr)) {
      return std::move(*op);
    }
    if (cfg().f32_gemm && pointwise) {
      return prepare_gemm_f32_fast(*this, ctx_.pool, p.n * p.h * p.w, p.cout, p.cin,
                                   data<const float>(x), wf, bf, fr, data<float>(y));
    }
    if (const k::F32DwconvSlot& slot = cfg().f32_dwconv; slot && depthwise) {
      QUANTA_OPS_TRY(reserve(slot.packed_size(p.cout, p.kh, p.kw), "the packed weights"));
      auto d = std::make_shared<DwConvF32Fast>();
      d->packed.resize(slot.packed_size(p.cout, p.kh, p.kw));
      slot.pack(p.cout, p.kh, p.kw, wf, bf, d->packed.data());
      d->args.p = p;
      d->args.x = data<const float>(x);
      d->args.packed = d->packed.data();
      d->args.act = fr;
      d->args.y = data<float>(y);
      d->fn = slot.rows;
      d->split = make_split(ctx_.pool, int64_t{p.n} * p.oh * p.ow * p.cout * p.kh * p.kw, p.oh,
                            slot.row_align);
      return make_prepared<DwConvF32Fast, run_split<DwConvF32Fast, slot_range<DwConvF32Fast>>>(
          std::move(d));
    }
    if (const k::F32IgemmSlot& slot = cfg().f32_igemm; slot && p.groups == 1) {
      QUANTA_OPS_TRY(reserve_table({p.n, p.oh, p.ow, p.kh, p.kw}, sizeof(int64_t),
                                   "the convolution's offset table"));
      QUANTA_OPS_TRY(reserve(slot.packed_size(p.cout, p.kh * p.kw * p.cin) +
                                 static_cast<uint64_t>(p.cin) * sizeof(float),
                             "the packed weights"));
      auto g = std::make_shared<IgemmF32Fast>();
      g->table.resize(slot.indirection_count(p));
      slot.indirection_build(p, g->table.data());
      g->zero.assign(static_cast<size_t>(p.cin), 0.0f);
      g->packed.resize(slot.packed_size(p.cout, p.kh * p.kw * p.cin));
      slot.pack(p.cout, p.kh * p.kw * p.cin, wf, bf, g->packed.data());
      g->args.n = p.cout;
      g->args.taps = p.kh * p.kw;
      g->args.cin = p.cin;
      g->args.x = data<const float>(x);
      g->args.indirection = g->table.data();
      g->args.zero = g->zero.data();
      g->args.packed = g->packed.data();
      g->args.act = fr;
      g->args.y = data<float>(y);
      g->args.y_stride = static_cast<size_t>(p.cout);
      g->fn = slot.pixels;
      const int64_t pixels = int64_t{p.n} * p.oh * p.ow;
      g->split = make_split(ctx_.pool, pixels * p.cout * p.kh * p.kw * p.cin, pixels,
                            slot.pixel_align);
      return make_prepared<IgemmF32Fast, run_split<IgemmF32Fast, slot_range<IgemmF32Fast>>>(
          std::move(g));
    }
    auto s = std::make_shared<ConvF32>(ConvF32{p, data<const float>(x), wf, bf, fr, data<float>(y)});
    return make_prepared<ConvF32, run_conv_f32>(std::move(s));
  }
  auto s = std::make_shared<ConvQU8>();
  s->p = p;
  s->x = data<const uint8_t>(x);
  s->zx = zero(x);
  s->w = data<const int8_t>(w);
  QUANTA_OPS_TRY(set_qu8_weighted(x, w, b, y, p.cout, geo.row_len, o, s.get()));
  if (auto op = try_onednn(onednn::make_qu8_conv,
                           onednn::Qu8ConvDesc{p, s->x, s->zx, s->w,
                                               b >= 0 ? data<const int32_t>(b) : nullptr,
                                               s->multiplier.data(), s->zy, s->r, s->y},
                           s)) {
    return std::move(*op);
  }
  if (const k::Qu8GemmSlot& slot = cfg().qu8_gemm; pointwise && slot) {
    return prepare_gemm_qu8_fused(*this, ctx_.pool, p.n * p.h * p.w, p.cout, p.cin, *s,
                                  fused_add(x, y, slot.fused_residual));
  }
  if (const k::Qu8DwconvSlot& slot = cfg().qu8_dwconv; depthwise && slot) {
    QUANTA_OPS_TRY(reserve(slot.packed_size(p.cout, p.kh, p.kw), "the packed weights"));
    auto d = std::make_shared<DwConvQU8Fast>();
    d->packed.resize(slot.packed_size(p.cout, p.kh, p.kw));
    slot.pack(p.cout, p.kh, p.kw, s->w, s->bias.data(), s->multiplier.data(), d->packed.data());
    d->args.p = p;
    d->args.x = s->x;
    d->args.zx = s->zx;
    d->args.packed = d->packed.data();
    d->args.zy = s->zy;
    d->args.r = s->r;
    d->args.y = s->y;
    d->fn = slot.rows;
    d->split = make_split(ctx_.pool, int64_t{p.n} * p.oh * p.ow * p.cout * p.kh * p.kw, p.oh,
                          slot.row_align);
    return make_prepared<DwConvQU8Fast, run_split<DwConvQU8Fast, slot_range<DwConvQU8Fast>>>(
        std::move(d));
  }
  if (const k::Qu8IgemmSlot& slot = cfg().qu8_igemm; p.groups == 1 && slot) {
    QUANTA_OPS_TRY(reserve_table({p.oh, p.ow, p.kh, p.kw}, sizeof(int32_t),
                                 "the convolution's offset table"));
    QUANTA_OPS_TRY(reserve(slot.packed_size(p.cout, p.kh, p.kw, p.cin), "the packed weights"));
    auto g = std::make_shared<IgemmQU8Fast>();
    g->table.resize(slot.indirection_size(p));
    if (slot.indirection_build(p, g->table.data())) {
      g->packed.resize(slot.packed_size(p.cout, p.kh, p.kw, p.cin));
      slot.pack(p.cout, p.kh, p.kw, p.cin, s->w, s->bias.data(), s->multiplier.data(), s->zx,
                g->packed.data());
      g->args.p = p;
      g->args.x = s->x;
      g->args.indirection = g->table.data();
      g->args.packed = g->packed.data();
      g->args.zy = s->zy;
      g->args.r = s->r;
      g->args.y = s->y;
      const std::optional<FusedAdd> fuse = fused_add(x, y, slot.fused_residual);
      if (fuse) {
        g->args.has_res = true;
        g->args.res = fuse->res;
        g->args.y = fuse->y;
      }
      g->fn = slot.pixels;
      const int64_t pixels = int64_t{p.n} * p.oh * p.ow;
      g->split = make_split(ctx_.pool, pixels * p.cout * p.kh * p.kw * p.cin, pixels,
                            slot.pixel_align);
      PreparedOp op =
          make_prepared<IgemmQU8Fast, run_split<IgemmQU8Fast, slot_range<IgemmQU8Fast>>>(
              std::move(g));
      op.absorbed_next = fuse.has_value();
      return op;
    }
  }
  return make_prepared<ConvQU8, run_conv_qu8>(std::move(s));
}

}  // namespace

const OpDef op_conv2d{&run_check<Conv2DCheck>, &run_prepare<Conv2DPreparer>};

}  // namespace quanta::detail
