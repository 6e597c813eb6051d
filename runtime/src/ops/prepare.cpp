// prepare_op: the per-node prepare step (op.hpp).
//
// Every op is a state struct plus a plain `run(const void*)` that calls the
// reference kernels with pointers and parameters resolved here, once: folded
// biases (range-checked to int32), per-channel requantization multipliers,
// activation ranges, broadcast strides, batch offsets, LUTs, exponential
// tables, transposed weights. run() never allocates, never fails and does no
// shape logic. The node was fully validated by shape_check.cpp at load time,
// so prepare only re-derives the geometry from the stored shapes and options.
#include <climits>
#include <cmath>
#include <cstring>
#include <optional>
#include <fmt/format.h>

#include "backends/onednn.hpp"
#include "ops/op.hpp"
#include "quanta/kernels/isa.h"
#include "quanta/kernels/x86.h"
#include "quanta/kernels/x86_avx512.h"
#include "quanta/kernels/x86_misc.h"
#include "ops/op_common.hpp"

namespace quanta::detail {
namespace {

namespace k = quanta::kernels;

// Bridges a typed run function to RunFn without a function-pointer cast.
template <class S, void (*Fn)(const S&)>
void run_thunk(const void* state) {
  Fn(*static_cast<const S*>(state));
}

template <class S, void (*Fn)(const S&)>
PreparedOp make_prepared(std::shared_ptr<S> state) {
  PreparedOp op;
  op.run = &run_thunk<S, Fn>;
  op.state = std::static_pointer_cast<void>(std::move(state));
  op.state_bytes = sizeof(S);
  return op;
}

// ------------------------------------------------------------ threading
// An op that is worth splitting cuts its output into `tasks` ranges of a
// dimension of `total` units (rows, pixels, channels), each boundary a
// multiple of `align`. The split depends only on the shape and the thread
// count, and every kernel computes an output element the same way whichever
// range holds it (exact integer kernels; for the float GEMMs, boundaries at
// multiples of the tile height keep every row in the same kind of tile), so
// results do not depend on the number of threads.
struct Split {
  ThreadPool* pool = nullptr;
  int tasks = 1;
  int64_t total = 0;
  int64_t align = 1;
};

// Below this many multiply-adds per run an op stays on the calling thread:
// waking a second core and joining it costs about a microsecond.
constexpr int64_t kMinParallelMacs = int64_t{1} << 18;

Split make_split(ThreadPool* pool, int64_t macs, int64_t total, int64_t align) {
  Split sp;
  sp.total = total;
  sp.align = align;
  if (pool == nullptr || macs < kMinParallelMacs) return sp;
  const int64_t units = (total + align - 1) / align;
  sp.tasks = static_cast<int>(std::min<int64_t>(pool->threads(), units));
  if (sp.tasks > 1) sp.pool = pool;
  return sp;
}

// Task t's range [*begin, *end).
void split_range(const Split& sp, int t, int64_t* begin, int64_t* end) {
  const int64_t units = (sp.total + sp.align - 1) / sp.align;
  const int64_t per = units / sp.tasks, extra = units % sp.tasks;
  const int64_t u0 = t * per + std::min<int64_t>(t, extra);
  const int64_t u1 = u0 + per + (t < extra ? 1 : 0);
  *begin = std::min(u0 * sp.align, sp.total);
  *end = std::min(u1 * sp.align, sp.total);
}

template <class S, void (*Range)(const S&, int64_t, int64_t)>
void split_task(const void* ctx, int t) {
  const S& s = *static_cast<const S*>(ctx);
  int64_t b = 0, e = 0;
  split_range(s.split, t, &b, &e);
  if (b < e) Range(s, b, e);
}

// The run function of a state S with a `Split split` member: the whole range
// on this thread, or the ranges spread over the pool.
template <class S, void (*Range)(const S&, int64_t, int64_t)>
void run_split(const S& s) {
  if (s.split.pool == nullptr) {
    Range(s, 0, s.split.total);
    return;
  }
  s.split.pool->run(s.split.tasks, &split_task<S, Range>, &s);
}

// A residual Add absorbed by the node before it (docs/runtime.md, "Fused
// residual Add"): the Add's parameters with the residual, and its output.
struct FusedAdd {
  k::QResidual res;
  uint8_t* y = nullptr;
};

// A node run by the oneDNN backend. `keep` owns what the primitive reads by
// pointer (multipliers, transposed weights).
struct OnednnOp {
  std::unique_ptr<onednn::Primitive> prim;
  std::shared_ptr<void> keep;
};
void run_onednn(const OnednnOp& s) { s.prim->run(); }

class Preparer {
 public:
  explicit Preparer(const OpContext& ctx)
      : ctx_(ctx), node_(ctx.node()), fbn_(ctx.fb_node()),
        opname_(op_type_name(ctx.node().op)) {}

  Result<PreparedOp> prepare();

  // Why oneDNN refused this node, when it was offered and refused.
  const std::optional<std::string>& onednn_refusal() const { return onednn_refusal_; }

  // Counts a buffer of `bytes` for `what` against the session's prepared-
  // state limit, before it is allocated (OpContext::budget).
  Status reserve(uint64_t bytes, const char* what) const {
    if (ctx_.budget == nullptr) return Status::Ok();
    Status s = ctx_.budget->take(bytes, what);
    return s.ok() ? s : error(s.code(), s.message());
  }
  // The same for `item` bytes per element of a table with these dimensions
  // (each dimension fits int; their product may not fit anything: a product
  // that overflows is over any limit).
  Status reserve_table(std::initializer_list<int64_t> dims, uint64_t item, const char* what) const {
    uint64_t bytes = item;
    for (int64_t d : dims) {
      if (d <= 0) return Status::Ok();
      if (__builtin_mul_overflow(bytes, static_cast<uint64_t>(d), &bytes)) {
        bytes = UINT64_MAX;
        break;
      }
    }
    return reserve(bytes, what);
  }

 private:
  const OpContext& ctx_;
  const NodeInfo& node_;
  const fb::Node* fbn_;
  const char* opname_;
  mutable std::optional<std::string> onednn_refusal_;

  int in(size_t i) const { return i < node_.inputs.size() ? node_.inputs[i] : -1; }
  int out() const { return node_.outputs[0]; }
  const TensorInfo& info(int t) const { return ctx_.tensor(t); }
  template <class T>
  T* data(int t) const {
    return static_cast<T*>(ctx_.data(t));
  }
  bool quantized() const { return info(in(0)).dtype == DType::kU8; }
  bool use_avx2() const { return static_cast<int>(ctx_.isa) >= static_cast<int>(k::Isa::kAvx2); }
  bool use_vnni() const { return ctx_.isa == k::Isa::kAvx512Vnni; }
  float scale(int t) const { return info(t).quant.scale[0]; }
  int32_t zero(int t) const { return info(t).quant.zero_point[0]; }

  Status error(StatusCode code, const std::string& msg) const {
    return {code, fmt::format("{}: {}", describe_node(ctx_.model, ctx_.node_index), msg)};
  }

  // Weight scale of output channel c (per tensor: broadcast).
  float weight_scale(int w, int64_t c) const {
    const auto& s = info(w).quant.scale;
    return s.size() == 1 ? s[0] : s[static_cast<size_t>(c)];
  }

  Status per_channel_multipliers(int x, int w, int y, int64_t channels,
                                 std::vector<float>* m) const {
    m->resize(static_cast<size_t>(channels));
    for (int64_t c = 0; c < channels; ++c) {
      (*m)[static_cast<size_t>(c)] = k::requant_multiplier(scale(x), weight_scale(w, c), scale(y));
      QUANTA_OPS_TRY(check_multiplier((*m)[static_cast<size_t>(c)], "output channel", c));
    }
    return Status::Ok();
  }

  // Scales are each finite and >= FLT_MIN, but a ratio of them can still
  // overflow fp32; an infinite multiplier would make requantization
  // meaningless (0 * inf = NaN), so such a node is refused here.
  Status check_multiplier(float m, const char* what, int64_t index = 0) const {
    if (std::isfinite(m)) return Status::Ok();
    return error(StatusCode::kUnsupported,
                 fmt::format("requantization multiplier for {} {} is {} (input/output scales "
                             "too far apart for fp32)",
                             what, index, m));
  }

  // Folded bias b'[c] = b[c] - zx * sum_k w[c, k], checked to fit int32.
  Status folded_bias(int64_t rows, int64_t row_len, const int8_t* w, int b, int32_t zx,
                     std::vector<int32_t>* out) const {
    std::vector<int32_t> bias;
    if (b >= 0) {
      bias.resize(static_cast<size_t>(rows));
      std::memcpy(bias.data(), ctx_.data(b), bias.size() * sizeof(int32_t));
    }
    std::vector<int64_t> wide(static_cast<size_t>(rows));
    k::fold_bias_qs8(static_cast<int>(rows), row_len, w, b >= 0 ? bias.data() : nullptr, zx,
                     wide.data());
    out->resize(wide.size());
    for (size_t c = 0; c < wide.size(); ++c) {
      if (wide[c] < INT32_MIN || wide[c] > INT32_MAX) {
        return error(StatusCode::kUnsupported,
                     fmt::format("{}: folded bias of channel {} = {} (bias - {} * sum of weights) "
                                 "does not fit int32",
                                 opname_, c, wide[c], zx));
      }
      (*out)[c] = static_cast<int32_t>(wide[c]);
    }
    return Status::Ok();
  }

  // The window geometry shared by Conv2DParams and Pool2DParams: n, h, w from
  // the NHWC input shape xs, oh, ow from the output shape ys, strides,
  // dilations and leading pads from the options o.
  template <class P, class O>
  static void set_window(const std::vector<int64_t>& xs, const std::vector<int64_t>& ys,
                         const O& o, P* p) {
    p->n = static_cast<int>(xs[0]);
    p->h = static_cast<int>(xs[1]);
    p->w = static_cast<int>(xs[2]);
    p->stride_h = o.stride_h;
    p->stride_w = o.stride_w;
    p->dil_h = o.dilation_h;
    p->dil_w = o.dilation_w;
    p->pad_top = o.pad_top;
    p->pad_left = o.pad_left;
    p->oh = static_cast<int>(ys[1]);
    p->ow = static_cast<int>(ys[2]);
  }

  // The quantized tail of a weighted op whose state s already has w set
  // (ConvQU8, FcQU8): bias folded with x's zero point, per-channel
  // multipliers, and the output y with its activation range from o.
  template <class S, class O>
  Status set_qu8_weighted(int x, int w, int b, int y, int64_t channels, int64_t row_len,
                          const O& o, S* s) const {
    QUANTA_OPS_TRY(reserve_table({channels}, sizeof(int32_t) + sizeof(float),
                                 "the folded biases and multipliers"));
    QUANTA_OPS_TRY(folded_bias(channels, row_len, s->w, b, zero(x), &s->bias));
    QUANTA_OPS_TRY(per_channel_multipliers(x, w, y, channels, &s->multiplier));
    s->zy = zero(y);
    s->r = k::activation_range_u8(to_act(o.activation), o.clip_min, o.clip_max, scale(y), s->zy);
    s->y = data<uint8_t>(y);
    return Status::Ok();
  }

  // A quantized Add of a and b into y with the Add's options o: zero points,
  // the two input multipliers s_in / s_y (not checked here) and the
  // activation range. Shared by the Add node and a conv that absorbs it.
  k::QAddParams qadd_params(int a, int b, int y, const fb::ElementwiseOptionsT& o) const {
    k::QAddParams p;
    p.za = zero(a);
    p.zb = zero(b);
    p.zy = zero(y);
    p.ma = scale(a) / scale(y);
    p.mb = scale(b) / scale(y);
    p.r = k::activation_range_u8(to_act(o.activation), o.clip_min, o.clip_max, scale(y), p.zy);
    return p;
  }

  // The fields AddQU8 and MulQU8 share (the multipliers differ).
  template <class S>
  std::shared_ptr<S> binary_qu8_state(const k::BroadcastShape& shape, int a, int b, int y,
                                      k::QRange r) const {
    auto s = std::make_shared<S>();
    s->shape = shape;
    s->a = data<const uint8_t>(a);
    s->b = data<const uint8_t>(b);
    s->p.za = zero(a);
    s->p.zb = zero(b);
    s->p.zy = zero(y);
    s->p.r = r;
    s->y = data<uint8_t>(y);
    return s;
  }

  // The oneDNN form of the node, when the session asked for that backend and
  // oneDNN accepts it (admission included, backends/onednn.hpp); nullopt
  // otherwise: the node then uses Quanta's kernels and the refusal is kept
  // for Session::backend_notes().
  template <class Make, class Desc>
  std::optional<PreparedOp> try_onednn(Make make, const Desc& d, std::shared_ptr<void> keep) const {
    if (!ctx_.onednn) return std::nullopt;
    std::string why;
    std::unique_ptr<onednn::Primitive> prim = make(d, ctx_.threads, &why);
    if (!prim) {
      onednn_refusal_ = why.empty() ? "oneDNN backend: refused without a reason" : why;
      return std::nullopt;
    }
    auto st = std::make_shared<OnednnOp>();
    std::string info = prim->info();
    st->prim = std::move(prim);
    st->keep = std::move(keep);
    PreparedOp op = make_prepared<OnednnOp, run_onednn>(std::move(st));
    op.onednn = true;
    op.offered_onednn = true;
    op.onednn_note = std::move(info);
    return op;
  }

  // The Add this node may absorb (OpContext::fuse_add), if its parameters
  // are finite and the memory allows writing its output here: y must not
  // overlap this node's input x, and must equal the residual or not overlap
  // it. nullopt otherwise (the Add then runs as its own node).
  std::optional<FusedAdd> fused_add(int x, int t) const;

  Result<PreparedOp> conv2d();
  Result<PreparedOp> fully_connected();
  Result<PreparedOp> matmul();
  Result<PreparedOp> binary();
  Result<PreparedOp> concat();
  Result<PreparedOp> pool();
  Result<PreparedOp> global_avgpool();
  Result<PreparedOp> unary();
  Result<PreparedOp> softmax();
  Result<PreparedOp> log_softmax();
  Result<PreparedOp> reshape();
  Result<PreparedOp> transpose();
  Result<PreparedOp> pad();
  Result<PreparedOp> quantize();
  Result<PreparedOp> dequantize();
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

// The quantized GEMM of the optimized tiers (FullyConnected, 1x1 Conv2D):
// weights, folded bias and multipliers packed once here. Split over rows, or
// over blocks of 16 output channels when there are too few rows (GEMV).
struct GemmQU8Fast {
  int m, n, k;
  const uint8_t* x;
  std::vector<uint8_t> packed;
  size_t block_bytes;  // one 16-channel block of the 16c2 packing
  int32_t zy;
  k::QRange r;
  uint8_t* y;
  Split split;
  bool has_res = false;  // a fused residual Add (AVX2 kernels only)
  k::QResidual res;
};
// The residual of rows [r0, ...) and channels [c0, ...), or nullptr.
const k::QResidual* residual_at(const GemmQU8Fast& s, int64_t r0, int64_t c0, k::QResidual* tmp) {
  if (!s.has_res) return nullptr;
  *tmp = s.res;
  tmp->data = s.res.data + r0 * static_cast<int64_t>(s.res.stride) + c0;
  return tmp;
}
void gemm_qu8_avx2_2x8c8_rows(const GemmQU8Fast& s, int64_t r0, int64_t r1) {
  k::QResidual tmp;
  k::qu8_gemm_minmax_fp32__avx2_2x8c8(static_cast<int>(r1 - r0), s.n, s.k, s.x + r0 * s.k,
                                      static_cast<size_t>(s.k), s.packed.data(), s.zy, s.r,
                                      s.y + r0 * s.n, static_cast<size_t>(s.n),
                                      residual_at(s, r0, 0, &tmp));
}
void gemm_qu8_avx2_3x16c2_rows(const GemmQU8Fast& s, int64_t r0, int64_t r1) {
  k::QResidual tmp;
  k::qu8_gemm_minmax_fp32__avx2_3x16c2(static_cast<int>(r1 - r0), s.n, s.k, s.x + r0 * s.k,
                                       static_cast<size_t>(s.k), s.packed.data(), s.zy, s.r,
                                       s.y + r0 * s.n, static_cast<size_t>(s.n),
                                       residual_at(s, r0, 0, &tmp));
}
void gemm_qu8_vnni_rows(const GemmQU8Fast& s, int64_t r0, int64_t r1) {
  k::qu8_gemm_minmax_fp32__avx512vnni_8x32c4(static_cast<int>(r1 - r0), s.n, s.k, s.x + r0 * s.k,
                                             static_cast<size_t>(s.k), s.packed.data(), s.zy, s.r,
                                             s.y + r0 * s.n, static_cast<size_t>(s.n));
}
void gemm_qu8_vnni_cols(const GemmQU8Fast& s, int64_t c0, int64_t c1) {
  k::qu8_gemm_minmax_fp32__avx512vnni_8x32c4(s.m, static_cast<int>(c1 - c0), s.k, s.x,
                                             static_cast<size_t>(s.k),
                                             s.packed.data() + (c0 / 16) * s.block_bytes, s.zy,
                                             s.r, s.y + c0, static_cast<size_t>(s.n));
}
// Channels [c0, c1), c0 a multiple of 16: the packing is block-major.
void gemm_qu8_avx2_3x16c2_cols(const GemmQU8Fast& s, int64_t c0, int64_t c1) {
  k::QResidual tmp;
  k::qu8_gemm_minmax_fp32__avx2_3x16c2(s.m, static_cast<int>(c1 - c0), s.k, s.x,
                                       static_cast<size_t>(s.k),
                                       s.packed.data() + (c0 / 16) * s.block_bytes, s.zy, s.r,
                                       s.y + c0, static_cast<size_t>(s.n),
                                       residual_at(s, 0, c0, &tmp));
}

// `s` has the model's weights, the folded bias and the multipliers. With
// `fuse` (AVX2 tier only), the kernel writes the Add's output instead.
template <class S>
Result<PreparedOp> prepare_gemm_qu8_fast(const Preparer& pr, k::Isa isa, ThreadPool* pool, int m,
                                         int n, int kk, const S& s,
                                         const FusedAdd* fuse = nullptr) {
  auto g = std::make_shared<GemmQU8Fast>();
  g->m = m;
  g->n = n;
  g->k = kk;
  g->x = s.x;
  g->zy = s.zy;
  g->r = s.r;
  g->y = s.y;
  if (fuse != nullptr && isa == k::Isa::kAvx2) {
    g->has_res = true;
    g->res = fuse->res;
    g->y = fuse->y;
  }
  const int64_t macs = int64_t{m} * n * kk;
  if (isa == k::Isa::kAvx512Vnni) {
    QUANTA_OPS_TRY(pr.reserve(k::qu8_gemm_16c4_packed_size(n, kk), "the packed weights"));
    g->packed.resize(k::qu8_gemm_16c4_packed_size(n, kk));
    k::qu8_gemm_16c4_pack(n, kk, s.w, s.bias.data(), s.multiplier.data(), g->packed.data());
    g->block_bytes = k::qu8_gemm_16c4_packed_size(16, kk);
    if (m < 16 && n >= 64) {
      g->split = make_split(pool, macs, n, 32);
      return make_prepared<GemmQU8Fast, run_split<GemmQU8Fast, gemm_qu8_vnni_cols>>(std::move(g));
    }
    g->split = make_split(pool, macs, m, 8);
    return make_prepared<GemmQU8Fast, run_split<GemmQU8Fast, gemm_qu8_vnni_rows>>(std::move(g));
  }
  // Measured (bench/bench_x86_gemm.cpp): 16-channel blocks win unless the
  // last block would be mostly padding on a narrow layer.
  if (n % 16 != 0 && n % 16 <= 8 && n < 64) {
    QUANTA_OPS_TRY(pr.reserve(k::qu8_gemm_8c8_packed_size(n, kk), "the packed weights"));
    g->packed.resize(k::qu8_gemm_8c8_packed_size(n, kk));
    k::qu8_gemm_8c8_pack(n, kk, s.w, s.bias.data(), s.multiplier.data(), g->packed.data());
    g->split = make_split(pool, macs, m, 2);
    return make_prepared<GemmQU8Fast, run_split<GemmQU8Fast, gemm_qu8_avx2_2x8c8_rows>>(
        std::move(g));
  }
  QUANTA_OPS_TRY(pr.reserve(k::qu8_gemm_16c2_packed_size(n, kk), "the packed weights"));
  g->packed.resize(k::qu8_gemm_16c2_packed_size(n, kk));
  k::qu8_gemm_16c2_pack(n, kk, s.w, s.bias.data(), s.multiplier.data(), g->packed.data());
  g->block_bytes = k::qu8_gemm_16c2_packed_size(16, kk);
  if (m < 12 && n >= 32) {
    g->split = make_split(pool, macs, n, 16);
    return make_prepared<GemmQU8Fast, run_split<GemmQU8Fast, gemm_qu8_avx2_3x16c2_cols>>(
        std::move(g));
  }
  g->split = make_split(pool, macs, m, 3);
  return make_prepared<GemmQU8Fast, run_split<GemmQU8Fast, gemm_qu8_avx2_3x16c2_rows>>(
      std::move(g));
}

// prepare_gemm_qu8_fast, recording whether the fused Add was taken.
template <class S>
Result<PreparedOp> prepare_gemm_qu8_fused(const Preparer& pr, k::Isa isa, ThreadPool* pool, int m,
                                          int n, int kk, const S& s,
                                          const std::optional<FusedAdd>& fuse) {
  Result<PreparedOp> op =
      prepare_gemm_qu8_fast(pr, isa, pool, m, n, kk, s, fuse ? &*fuse : nullptr);
  if (op) op->absorbed_next = fuse.has_value() && isa == k::Isa::kAvx2;
  return op;
}

// Float FullyConnected / 1x1 Conv2D on the optimized tiers, split over rows
// at multiples of the 6-row tile (the kernel's 1- and 2-row tail tiles sum in
// another order, so a row must land in the same kind of tile on any split).
struct GemmF32Fast {
  int m, n, k;
  const float* x;
  std::vector<uint8_t> packed;
  k::FRange act;
  float* y;
  Split split;
};
void gemm_f32_avx2_rows(const GemmF32Fast& s, int64_t r0, int64_t r1) {
  k::f32_gemm_minmax__avx2_6x16(static_cast<int>(r1 - r0), s.n, s.k, s.x + r0 * s.k,
                                static_cast<size_t>(s.k), s.packed.data(), s.act,
                                s.y + r0 * s.n, static_cast<size_t>(s.n));
}
void gemm_f32_avx512_rows(const GemmF32Fast& s, int64_t r0, int64_t r1) {
  k::f32_gemm_minmax__avx512_8x32(static_cast<int>(r1 - r0), s.n, s.k, s.x + r0 * s.k,
                                  static_cast<size_t>(s.k), s.packed.data(), s.act,
                                  s.y + r0 * s.n, static_cast<size_t>(s.n));
}
Result<PreparedOp> prepare_gemm_f32_fast(const Preparer& pr, k::Isa isa, ThreadPool* pool, int m,
                                         int n, int kk, const float* x, const float* w,
                                         const float* bias, k::FRange act, float* y) {
  QUANTA_OPS_TRY(pr.reserve(k::f32_gemm_16_packed_size(n, kk), "the packed weights"));
  auto g = std::make_shared<GemmF32Fast>();
  g->m = m;
  g->n = n;
  g->k = kk;
  g->x = x;
  g->packed.resize(k::f32_gemm_16_packed_size(n, kk));
  k::f32_gemm_16_pack(n, kk, w, bias, g->packed.data());
  g->act = act;
  g->y = y;
  if (isa == k::Isa::kAvx512Vnni) {
    g->split = make_split(pool, int64_t{m} * n * kk, m, 8);
    return make_prepared<GemmF32Fast, run_split<GemmF32Fast, gemm_f32_avx512_rows>>(std::move(g));
  }
  g->split = make_split(pool, int64_t{m} * n * kk, m, 6);
  return make_prepared<GemmF32Fast, run_split<GemmF32Fast, gemm_f32_avx2_rows>>(std::move(g));
}

// Float depthwise Conv2D.
struct DwConvF32Fast {
  k::Conv2DParams p;
  const float* x;
  std::vector<uint8_t> packed;
  k::FRange act;
  float* y;
  Split split;  // over output rows
};
void dwconv_f32_avx512_rows(const DwConvF32Fast& s, int64_t r0, int64_t r1) {
  k::f32_dwconv_minmax__avx512_c16_rows(s.p, static_cast<int>(r0), static_cast<int>(r1), s.x,
                                        s.packed.data(), s.act, s.y);
}
void dwconv_f32_avx2_rows(const DwConvF32Fast& s, int64_t r0, int64_t r1) {
  k::f32_dwconv_minmax__avx2_c16_rows(s.p, static_cast<int>(r0), static_cast<int>(r1), s.x,
                                      s.packed.data(), s.act, s.y);
}

// Float Conv2D (groups 1) as an implicit GEMM over an offset table.
struct IgemmF32Fast {
  k::Conv2DParams p;
  const float* x;
  std::vector<int64_t> table;
  std::vector<float> zero;
  std::vector<uint8_t> packed;
  k::FRange act;
  float* y;
  Split split;  // over output pixels, at multiples of the 6-pixel tile
};
void igemm_f32_avx512_pixels(const IgemmF32Fast& s, int64_t p0, int64_t p1) {
  const int64_t taps = int64_t{s.p.kh} * s.p.kw;
  k::f32_igemm_minmax__avx512_8x32(static_cast<int>(p1 - p0), s.p.cout, static_cast<int>(taps),
                                   s.p.cin, s.x, s.table.data() + p0 * taps, s.zero.data(),
                                   s.packed.data(), s.act, s.y + p0 * s.p.cout,
                                   static_cast<size_t>(s.p.cout));
}
void igemm_f32_avx2_pixels(const IgemmF32Fast& s, int64_t p0, int64_t p1) {
  const int64_t taps = int64_t{s.p.kh} * s.p.kw;
  k::f32_igemm_minmax__avx2_6x16(static_cast<int>(p1 - p0), s.p.cout, static_cast<int>(taps),
                                 s.p.cin, s.x, s.table.data() + p0 * taps, s.zero.data(),
                                 s.packed.data(), s.act, s.y + p0 * s.p.cout,
                                 static_cast<size_t>(s.p.cout));
}

// Depthwise Conv2D (groups == channels) on the optimized tiers.
struct DwConvQU8Fast {
  k::Conv2DParams p;
  const uint8_t* x;
  int32_t zx;
  std::vector<uint8_t> packed;
  int32_t zy;
  k::QRange r;
  uint8_t* y;
  Split split;  // over output rows
};
void dwconv_qu8_avx512_rows(const DwConvQU8Fast& s, int64_t r0, int64_t r1) {
  k::qu8_dwconv_minmax_fp32__avx512_c16_rows(s.p, static_cast<int>(r0), static_cast<int>(r1), s.x,
                                             s.zx, s.packed.data(), s.zy, s.r, s.y);
}
void dwconv_qu8_avx2_rows(const DwConvQU8Fast& s, int64_t r0, int64_t r1) {
  k::qu8_dwconv_minmax_fp32__avx2_c16_rows(s.p, static_cast<int>(r0), static_cast<int>(r1), s.x,
                                           s.zx, s.packed.data(), s.zy, s.r, s.y);
}

// Quantized Conv2D (groups 1) as an implicit GEMM over an offset table.
struct IgemmQU8Fast {
  k::Conv2DParams p;
  const uint8_t* x;
  std::vector<int32_t> table;
  std::vector<uint8_t> packed;
  int32_t zy;
  k::QRange r;
  uint8_t* y;
  Split split;  // over output pixels
  bool has_res = false;  // a fused residual Add (AVX2 kernel only)
  k::QResidual res;
};
void igemm_qu8_vnni_pixels(const IgemmQU8Fast& s, int64_t p0, int64_t p1) {
  k::qu8_igemm_minmax_fp32__avx512vnni_8x32c4(s.p, s.x, s.table.data(), s.packed.data(), s.zy,
                                              s.r, s.y, p0, p1);
}
void igemm_qu8_avx2_pixels(const IgemmQU8Fast& s, int64_t p0, int64_t p1) {
  k::qu8_igemm_minmax_fp32__avx2_4x16c2(s.p, s.x, s.table.data(), s.packed.data(), s.zy, s.r, s.y,
                                        p0, p1, s.has_res ? &s.res : nullptr);
}

std::optional<FusedAdd> Preparer::fused_add(int x, int t) const {
  if (ctx_.fuse_add < 0 || ctx_.isa != k::Isa::kAvx2) return std::nullopt;
  const NodeInfo& add = ctx_.model.nodes[static_cast<size_t>(ctx_.fuse_add)];
  const int a = add.inputs[0], b = add.inputs[1], y = add.outputs[0];
  const bool conv_first = a == t;
  const int r = conv_first ? b : a;
  const auto o = read_options<fb::ElementwiseOptionsT>(
      ctx_.model.fb_nodes[static_cast<size_t>(ctx_.fuse_add)]);
  FusedAdd f;
  f.res.add = qadd_params(a, b, y, o);
  if (!std::isfinite(f.res.add.ma) || !std::isfinite(f.res.add.mb)) return std::nullopt;
  f.res.order = conv_first ? k::AddOrder::kConvFirst : k::AddOrder::kResidualFirst;
  f.res.data = data<const uint8_t>(r);
  f.res.stride = static_cast<size_t>(info(y).shape.back());
  f.y = data<uint8_t>(y);
  const auto overlap = [](const void* p, size_t pn, const void* q, size_t qn) {
    const auto* a0 = static_cast<const uint8_t*>(p);
    const auto* b0 = static_cast<const uint8_t*>(q);
    return a0 < b0 + qn && b0 < a0 + pn;
  };
  const size_t ybytes = static_cast<size_t>(info(y).num_bytes);
  if (overlap(f.y, ybytes, ctx_.data(x), static_cast<size_t>(info(x).num_bytes))) {
    return std::nullopt;
  }
  if (static_cast<const void*>(f.y) != static_cast<const void*>(f.res.data) &&
      overlap(f.y, ybytes, f.res.data, static_cast<size_t>(info(r).num_bytes))) {
    return std::nullopt;
  }
  return f;
}

Result<PreparedOp> Preparer::conv2d() {
  const int x = in(0), w = in(1), b = in(2), y = out();
  const auto o = read_options<fb::Conv2DOptionsT>(fbn_);
  const auto& xs = info(x).shape;
  const auto& ws = info(w).shape;
  const auto& ys = info(y).shape;
  k::Conv2DParams p;
  set_window(xs, ys, o, &p);
  p.cin = static_cast<int>(xs[3]);
  p.cout = static_cast<int>(ws[0]);
  p.kh = static_cast<int>(ws[1]);
  p.kw = static_cast<int>(ws[2]);
  p.groups = o.groups;
  const k::Act act = to_act(o.activation);
  const bool pointwise = p.kh == 1 && p.kw == 1 && p.stride_h == 1 && p.stride_w == 1 &&
                         p.pad_top == 0 && p.pad_left == 0 && p.groups == 1 && p.oh == p.h &&
                         p.ow == p.w;
  const bool depthwise = p.groups == p.cin && p.cin == p.cout && p.groups > 1;
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
    if (use_avx2() && pointwise) {
      return prepare_gemm_f32_fast(*this, ctx_.isa, ctx_.pool, p.n * p.h * p.w, p.cout, p.cin, data<const float>(x), wf, bf,
                                   fr, data<float>(y));
    }
    if (use_avx2() && depthwise) {
      QUANTA_OPS_TRY(reserve(k::f32_dwconv_c16_packed_size(p.cout, p.kh, p.kw), "the packed weights"));
      auto d = std::make_shared<DwConvF32Fast>();
      d->p = p;
      d->x = data<const float>(x);
      d->packed.resize(k::f32_dwconv_c16_packed_size(p.cout, p.kh, p.kw));
      k::f32_dwconv_c16_pack(p.cout, p.kh, p.kw, wf, bf, d->packed.data());
      d->act = fr;
      d->y = data<float>(y);
      d->split = make_split(ctx_.pool, int64_t{p.n} * p.oh * p.ow * p.cout * p.kh * p.kw, p.oh,
                            1);
      if (use_vnni()) {
        return make_prepared<DwConvF32Fast, run_split<DwConvF32Fast, dwconv_f32_avx512_rows>>(
            std::move(d));
      }
      return make_prepared<DwConvF32Fast, run_split<DwConvF32Fast, dwconv_f32_avx2_rows>>(
          std::move(d));
    }
    if (use_avx2() && p.groups == 1) {
      QUANTA_OPS_TRY(reserve_table({p.n, p.oh, p.ow, p.kh, p.kw}, sizeof(int64_t),
                                   "the convolution's offset table"));
      QUANTA_OPS_TRY(reserve(k::f32_gemm_16_packed_size(p.cout, p.kh * p.kw * p.cin) +
                                 static_cast<uint64_t>(p.cin) * sizeof(float),
                             "the packed weights"));
      auto g = std::make_shared<IgemmF32Fast>();
      g->p = p;
      g->x = data<const float>(x);
      g->table.resize(k::f32_igemm_indirection_count(p));
      k::f32_igemm_indirection_build(p, g->table.data());
      g->zero.assign(static_cast<size_t>(p.cin), 0.0f);
      g->packed.resize(k::f32_gemm_16_packed_size(p.cout, p.kh * p.kw * p.cin));
      k::f32_gemm_16_pack(p.cout, p.kh * p.kw * p.cin, wf, bf, g->packed.data());
      g->act = fr;
      g->y = data<float>(y);
      const int64_t pixels = int64_t{p.n} * p.oh * p.ow;
      if (use_vnni()) {
        g->split = make_split(ctx_.pool, pixels * p.cout * p.kh * p.kw * p.cin, pixels, 8);
        return make_prepared<IgemmF32Fast, run_split<IgemmF32Fast, igemm_f32_avx512_pixels>>(
            std::move(g));
      }
      g->split = make_split(ctx_.pool, pixels * p.cout * p.kh * p.kw * p.cin, pixels, 6);
      return make_prepared<IgemmF32Fast, run_split<IgemmF32Fast, igemm_f32_avx2_pixels>>(
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
  QUANTA_OPS_TRY(set_qu8_weighted(x, w, b, y, ws[0], ws[1] * ws[2] * ws[3], o, s.get()));
  if (auto op = try_onednn(onednn::make_qu8_conv,
                           onednn::Qu8ConvDesc{p, s->x, s->zx, s->w,
                                               b >= 0 ? data<const int32_t>(b) : nullptr,
                                               s->multiplier.data(), s->zy, s->r, s->y},
                           s)) {
    return std::move(*op);
  }
  const std::optional<FusedAdd> fuse = fused_add(x, y);
  if (pointwise && use_avx2()) {
    return prepare_gemm_qu8_fused(*this, ctx_.isa, ctx_.pool, p.n * p.h * p.w, p.cout, p.cin, *s,
                                  fuse);
  }
  if (depthwise && use_avx2()) {
    QUANTA_OPS_TRY(reserve(k::qu8_dwconv_c16_packed_size(p.cout, p.kh, p.kw), "the packed weights"));
    auto d = std::make_shared<DwConvQU8Fast>();
    d->p = p;
    d->x = s->x;
    d->zx = s->zx;
    d->packed.resize(k::qu8_dwconv_c16_packed_size(p.cout, p.kh, p.kw));
    k::qu8_dwconv_c16_pack(p.cout, p.kh, p.kw, s->w, s->bias.data(), s->multiplier.data(),
                           d->packed.data());
    d->zy = s->zy;
    d->r = s->r;
    d->y = s->y;
    d->split = make_split(ctx_.pool, int64_t{p.n} * p.oh * p.ow * p.cout * p.kh * p.kw, p.oh, 1);
    if (use_vnni()) {
      return make_prepared<DwConvQU8Fast, run_split<DwConvQU8Fast, dwconv_qu8_avx512_rows>>(
          std::move(d));
    }
    return make_prepared<DwConvQU8Fast, run_split<DwConvQU8Fast, dwconv_qu8_avx2_rows>>(
        std::move(d));
  }
  if (p.groups == 1 && use_avx2()) {
    QUANTA_OPS_TRY(reserve_table({p.oh, p.ow, p.kh, p.kw}, sizeof(int32_t),
                                 "the convolution's offset table"));
    QUANTA_OPS_TRY(reserve(use_vnni() ? k::qu8_igemm_16c4_packed_size(p.cout, p.kh, p.kw, p.cin)
                                      : k::qu8_igemm_16c2_packed_size(p.cout, p.kh, p.kw, p.cin),
                           "the packed weights"));
    auto g = std::make_shared<IgemmQU8Fast>();
    g->p = p;
    g->table.resize(k::qu8_conv_indirection_size(p));
    if (k::qu8_conv_indirection_build(p, g->table.data())) {
      g->x = s->x;
      g->zy = s->zy;
      g->r = s->r;
      g->y = s->y;
      const int64_t pixels = int64_t{p.n} * p.oh * p.ow;
      if (use_vnni()) {
        g->packed.resize(k::qu8_igemm_16c4_packed_size(p.cout, p.kh, p.kw, p.cin));
        k::qu8_igemm_16c4_pack(p.cout, p.kh, p.kw, p.cin, s->w, s->bias.data(),
                               s->multiplier.data(), s->zx, g->packed.data());
        g->split = make_split(ctx_.pool, pixels * p.cout * p.kh * p.kw * p.cin, pixels, 8);
        return make_prepared<IgemmQU8Fast, run_split<IgemmQU8Fast, igemm_qu8_vnni_pixels>>(
            std::move(g));
      }
      g->packed.resize(k::qu8_igemm_16c2_packed_size(p.cout, p.kh, p.kw, p.cin));
      k::qu8_igemm_16c2_pack(p.cout, p.kh, p.kw, p.cin, s->w, s->bias.data(),
                             s->multiplier.data(), s->zx, g->packed.data());
      g->split = make_split(ctx_.pool, pixels * p.cout * p.kh * p.kw * p.cin, pixels, 4);
      if (fuse) {
        g->has_res = true;
        g->res = fuse->res;
        g->y = fuse->y;
      }
      PreparedOp op = make_prepared<IgemmQU8Fast, run_split<IgemmQU8Fast, igemm_qu8_avx2_pixels>>(
          std::move(g));
      op.absorbed_next = fuse.has_value();
      return op;
    }
  }
  return make_prepared<ConvQU8, run_conv_qu8>(std::move(s));
}

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

struct FcQU8 {
  int m, k, n;
  const uint8_t* x;
  const int8_t* w;  // [n, k]: the model's weights, or `packed`
  std::vector<int8_t> packed;
  std::vector<int32_t> bias;
  std::vector<float> multiplier;
  int32_t zy;
  k::QRange r;
  uint8_t* y;
};
void run_fc_qu8(const FcQU8& s) {
  k::qu8_fully_connected_minmax_fp32__ref(s.m, s.k, s.n, s.x, s.w, s.bias.data(),
                                          s.multiplier.data(), s.zy, s.r, s.y);
}

Result<PreparedOp> Preparer::fully_connected() {
  const int x = in(0), w = in(1), b = in(2), y = out();
  const auto o = read_options<fb::FullyConnectedOptionsT>(fbn_);
  const auto& xs = info(x).shape;
  const auto& ws = info(w).shape;
  const int kk = static_cast<int>(xs.back());
  const int n = static_cast<int>(ws[0]);
  const int m = static_cast<int>(product(xs, 0, xs.size() - 1));
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
  if (!quantized() && use_avx2()) {
    return prepare_gemm_f32_fast(*this, ctx_.isa, ctx_.pool, m, n, kk, data<const float>(x),
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
  if (use_avx2()) {
    return prepare_gemm_qu8_fused(*this, ctx_.isa, ctx_.pool, m, n, kk, *s, fused_add(x, y));
  }
  return make_prepared<FcQU8, run_fc_qu8>(std::move(s));
}

// ------------------------------------------------------------------ MatMul
// Element offsets of one broadcast batch in A, B and Y.
struct BatchOffsets {
  int64_t a, b, y;
};

struct MatMulF32 {
  int m, k, n;
  std::vector<BatchOffsets> batches;
  const float* a;
  const float* b;
  k::FRange act;
  float* y;
};
void run_matmul_f32(const MatMulF32& s) {
  for (const BatchOffsets& o : s.batches) {
    k::f32_matmul__ref(s.m, s.k, s.n, s.a + o.a, s.b + o.b, s.act, s.y + o.y);
  }
}

struct MatMulQU8 {
  int m, k, n;
  std::vector<BatchOffsets> batches;
  const uint8_t* a;
  int32_t za;
  const uint8_t* b;
  int32_t zb;
  float multiplier;
  int32_t zy;
  k::QRange r;
  uint8_t* y;
};
void run_matmul_qu8(const MatMulQU8& s) {
  for (const BatchOffsets& o : s.batches) {
    k::qu8_matmul_minmax_fp32__ref(s.m, s.k, s.n, s.a + o.a, s.za, s.b + o.b, s.zb, s.multiplier,
                                   s.zy, s.r, s.y + o.y);
  }
}

// Quantized MatMul of two activations on the optimized tiers: B is packed
// into `packed` (owned here, sized at prepare) once per batch at run time,
// with its zero point and A's folded into the weights and bias, then the qu8
// GEMM kernel runs on A's rows.
struct MatMulQU8Avx2 : MatMulQU8 {
  std::unique_ptr<uint8_t[]> packed;
};
void run_matmul_qu8_avx2(const MatMulQU8Avx2& s) {
  for (const BatchOffsets& o : s.batches) {
    k::qu8_gemm_16c2_pack_act(s.n, s.k, s.b + o.b, static_cast<size_t>(s.n), s.zb, s.za,
                              s.multiplier, s.packed.get());
    k::qu8_gemm_minmax_fp32__avx2_3x16c2(s.m, s.n, s.k, s.a + o.a, static_cast<size_t>(s.k),
                                         s.packed.get(), s.zy, s.r, s.y + o.y,
                                         static_cast<size_t>(s.n));
  }
}

Result<PreparedOp> Preparer::matmul() {
  const int a = in(0), b = in(1), y = out();
  const auto o = read_options<fb::MatMulOptionsT>(fbn_);
  const k::Act act = to_act(o.activation);
  const auto& as = info(a).shape;
  const auto& bs = info(b).shape;
  const size_t ra = as.size(), rb = bs.size();
  const int64_t m = ra >= 2 ? as[ra - 2] : 1;
  const int64_t kk = as[ra - 1];
  const int64_t n = rb >= 2 ? bs[rb - 1] : 1;

  // Quantized with a constant int8 B [K, N]: FullyConnected on A's rows with
  // B transposed once to [N, K]; the bias is only the zero-point fold.
  if (quantized() && info(b).dtype == DType::kI8) {
    auto s = std::make_shared<FcQU8>();
    s->m = static_cast<int>(product(as, 0, ra - 1));
    s->k = static_cast<int>(kk);
    s->n = static_cast<int>(n);
    s->x = data<const uint8_t>(a);
    const auto* bw = data<const int8_t>(b);
    QUANTA_OPS_TRY(reserve_table({kk, n}, 1, "the transposed weights"));
    s->packed.resize(static_cast<size_t>(kk * n));
    for (int64_t i = 0; i < kk; ++i) {
      for (int64_t j = 0; j < n; ++j) s->packed[static_cast<size_t>(j * kk + i)] = bw[i * n + j];
    }
    s->w = s->packed.data();
    QUANTA_OPS_TRY(set_qu8_weighted(a, b, -1, y, n, kk, o, s.get()));
    if (auto op = try_onednn(onednn::make_qu8_gemm,
                             onednn::Qu8GemmDesc{s->m, s->n, s->k, s->x, zero(a), s->w, nullptr,
                                                 s->multiplier.data(), s->zy, s->r, s->y},
                             s)) {
      return std::move(*op);
    }
    if (use_avx2()) return prepare_gemm_qu8_fast(*this, ctx_.isa, ctx_.pool, s->m, s->n, s->k, *s);
    return make_prepared<FcQU8, run_fc_qu8>(std::move(s));
  }

  // Float with a constant 2-D B: the float GEMM with B transposed once.
  if (!quantized() && use_avx2() && rb == 2 && ctx_.model.const_data[b] != nullptr &&
      product(as, 0, ra - 1) <= INT_MAX) {
    const auto* bw = data<const float>(b);
    QUANTA_OPS_TRY(reserve_table({kk, n}, sizeof(float), "the transposed weights"));
    std::vector<float> wt(static_cast<size_t>(kk * n));
    for (int64_t i = 0; i < kk; ++i) {
      for (int64_t j = 0; j < n; ++j) wt[static_cast<size_t>(j * kk + i)] = bw[i * n + j];
    }
    return prepare_gemm_f32_fast(*this, ctx_.isa, ctx_.pool, static_cast<int>(product(as, 0, ra - 1)),
                                 static_cast<int>(n), static_cast<int>(kk), data<const float>(a),
                                 wt.data(), nullptr,
                                 k::activation_range_f32(act, o.clip_min, o.clip_max),
                                 data<float>(y));
  }

  // Broadcast batches. When B has no batch dimensions, A's batches fold into M.
  std::vector<BatchOffsets> batches;
  int64_t rows = m;
  if (rb <= 2) {
    rows = product(as, 0, ra >= 2 ? ra - 1 : 0);
    batches.push_back({0, 0, 0});
  } else {
    const std::vector<int64_t> a_batch(as.begin(), as.end() - std::min<size_t>(ra, 2));
    const std::vector<int64_t> b_batch(bs.begin(), bs.end() - 2);
    k::BroadcastShape bc;
    if (!k::make_broadcast(static_cast<int>(a_batch.size()), a_batch.data(),
                           static_cast<int>(b_batch.size()), b_batch.data(), &bc)) {
      return error(StatusCode::kInternal, "MatMul batch dimensions do not broadcast");
    }
    const int64_t total = bc.num_elements();
    QUANTA_OPS_TRY(reserve_table({total}, sizeof(BatchOffsets), "the batch offsets"));
    batches.reserve(static_cast<size_t>(total));
    int64_t index[k::kMaxRank] = {};
    for (int64_t i = 0; i < total; ++i) {
      int64_t ao = 0, bo = 0;
      for (int d = 0; d < bc.rank; ++d) {
        ao += index[d] * bc.a_stride[d];
        bo += index[d] * bc.b_stride[d];
      }
      batches.push_back({ao * m * kk, bo * kk * n, i * m * n});
      for (int d = bc.rank - 1; d >= 0; --d) {
        if (++index[d] < bc.out[d]) break;
        index[d] = 0;
      }
    }
  }
  if (!quantized()) {
    auto s = std::make_shared<MatMulF32>();
    s->m = static_cast<int>(rows);
    s->k = static_cast<int>(kk);
    s->n = static_cast<int>(n);
    s->batches = std::move(batches);
    s->a = data<const float>(a);
    s->b = data<const float>(b);
    s->act = k::activation_range_f32(act, o.clip_min, o.clip_max);
    s->y = data<float>(y);
    return make_prepared<MatMulF32, run_matmul_f32>(std::move(s));
  }
  if (rows > INT_MAX) {
    return error(StatusCode::kUnsupported,
                 fmt::format("MatMul: {} rows exceed the kernel limit {}", rows, INT_MAX));
  }
  // B packed at run time on the optimized tiers (up to kQu8GemmActMaxK).
  std::shared_ptr<MatMulQU8Avx2> fast;
  std::shared_ptr<MatMulQU8> s;
  if (use_avx2() && kk <= k::kQu8GemmActMaxK) {
    fast = std::make_shared<MatMulQU8Avx2>();
    s = fast;
  } else {
    s = std::make_shared<MatMulQU8>();
  }
  s->m = static_cast<int>(rows);
  s->k = static_cast<int>(kk);
  s->n = static_cast<int>(n);
  s->batches = std::move(batches);
  s->a = data<const uint8_t>(a);
  s->za = zero(a);
  s->b = data<const uint8_t>(b);
  s->zb = zero(b);
  s->multiplier = k::requant_multiplier(scale(a), scale(b), scale(y));
  QUANTA_OPS_TRY(check_multiplier(s->multiplier, "output"));
  s->zy = zero(y);
  s->r = k::activation_range_u8(act, o.clip_min, o.clip_max, scale(y), s->zy);
  s->y = data<uint8_t>(y);
  if (fast) {
    QUANTA_OPS_TRY(reserve(k::qu8_gemm_16c2_packed_size(s->n, s->k), "the buffer B is packed into"));
    fast->packed.reset(new uint8_t[k::qu8_gemm_16c2_packed_size(s->n, s->k)]);
    return make_prepared<MatMulQU8Avx2, run_matmul_qu8_avx2>(std::move(fast));
  }
  return make_prepared<MatMulQU8, run_matmul_qu8>(std::move(s));
}

// ---------------------------------------------------------------- Add, Mul
struct BinaryF32 {
  k::BroadcastShape shape;
  const float* a;
  const float* b;
  k::FRange act;
  float* y;
};
void run_add_f32(const BinaryF32& s) { k::f32_add__ref(s.shape, s.a, s.b, s.act, s.y); }
void run_mul_f32(const BinaryF32& s) { k::f32_mul__ref(s.shape, s.a, s.b, s.act, s.y); }

struct AddQU8 {
  k::BroadcastShape shape;
  const uint8_t* a;
  const uint8_t* b;
  k::QAddParams p;
  uint8_t* y;
};
void run_add_qu8(const AddQU8& s) { k::qu8_add_minmax_fp32__ref(s.shape, s.a, s.b, s.p, s.y); }

struct MulQU8 {
  k::BroadcastShape shape;
  const uint8_t* a;
  const uint8_t* b;
  k::QMulParams p;
  uint8_t* y;
};
void run_mul_qu8(const MulQU8& s) { k::qu8_mul_minmax_fp32__ref(s.shape, s.a, s.b, s.p, s.y); }

// Quantized Add / Mul of two inputs of the same shape on the optimized tiers:
// P is QAddParams or QMulParams.
template <class P>
struct DenseQU8 {
  int64_t n;
  const uint8_t* a;
  const uint8_t* b;
  P p;
  uint8_t* y;
};
void run_vadd_qu8_avx2(const DenseQU8<k::QAddParams>& s) {
  k::qu8_vadd_minmax_fp32__avx2(s.n, s.a, s.b, s.p, s.y);
}
void run_vmul_qu8_avx2(const DenseQU8<k::QMulParams>& s) {
  k::qu8_vmul_minmax_fp32__avx2(s.n, s.a, s.b, s.p, s.y);
}
// The dense form of a broadcast-capable state S (AddQU8, MulQU8).
template <class S, class P>
std::shared_ptr<DenseQU8<P>> dense_of(const S& s) {
  return std::make_shared<DenseQU8<P>>(DenseQU8<P>{s.shape.num_elements(), s.a, s.b, s.p, s.y});
}

Result<PreparedOp> Preparer::binary() {
  const int a = in(0), b = in(1), y = out();
  const auto o = read_options<fb::ElementwiseOptionsT>(fbn_);
  const k::Act act = to_act(o.activation);
  k::BroadcastShape shape;
  const auto& as = info(a).shape;
  const auto& bs = info(b).shape;
  if (!k::make_broadcast(static_cast<int>(as.size()), as.data(), static_cast<int>(bs.size()),
                         bs.data(), &shape)) {
    return error(StatusCode::kInternal, fmt::format("{}: shapes do not broadcast", opname_));
  }
  const bool is_add = node_.op == OpType::kAdd;
  if (!quantized()) {
    auto s = std::make_shared<BinaryF32>(BinaryF32{shape, data<const float>(a),
                                                   data<const float>(b),
                                                   k::activation_range_f32(act, o.clip_min,
                                                                           o.clip_max),
                                                   data<float>(y)});
    if (is_add) return make_prepared<BinaryF32, run_add_f32>(std::move(s));
    return make_prepared<BinaryF32, run_mul_f32>(std::move(s));
  }
  const k::QRange r = k::activation_range_u8(act, o.clip_min, o.clip_max, scale(y), zero(y));
  if (is_add) {
    auto s = binary_qu8_state<AddQU8>(shape, a, b, y, r);
    s->p = qadd_params(a, b, y, o);
    QUANTA_OPS_TRY(check_multiplier(s->p.ma, "input", 0));
    QUANTA_OPS_TRY(check_multiplier(s->p.mb, "input", 1));
    if (use_avx2() && as == bs) {
      return make_prepared<DenseQU8<k::QAddParams>, run_vadd_qu8_avx2>(
          dense_of<AddQU8, k::QAddParams>(*s));
    }
    return make_prepared<AddQU8, run_add_qu8>(std::move(s));
  }
  auto s = binary_qu8_state<MulQU8>(shape, a, b, y, r);
  s->p.m = k::requant_multiplier(scale(a), scale(b), scale(y));
  QUANTA_OPS_TRY(check_multiplier(s->p.m, "output"));
  if (use_avx2() && as == bs) {
    return make_prepared<DenseQU8<k::QMulParams>, run_vmul_qu8_avx2>(
        dense_of<MulQU8, k::QMulParams>(*s));
  }
  return make_prepared<MulQU8, run_mul_qu8>(std::move(s));
}

// ------------------------------------------------------------------ Concat
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

Result<PreparedOp> Preparer::concat() {
  const int y = out();
  const auto o = read_options<fb::ConcatOptionsT>(fbn_);
  const auto& s0 = info(in(0)).shape;
  const int rank = static_cast<int>(s0.size());
  const size_t axis = static_cast<size_t>(o.axis < 0 ? o.axis + rank : o.axis);
  const int64_t outer = product(s0, 0, axis);
  QUANTA_OPS_TRY(reserve_table({static_cast<int64_t>(node_.inputs.size())},
                               sizeof(void*) + sizeof(int64_t) + sizeof(int32_t) + sizeof(float),
                               "the per-input tables"));
  if (!quantized()) {
    auto s = std::make_shared<ConcatBytes>();
    s->outer = outer;
    for (int t : node_.inputs) {
      s->x.push_back(ctx_.data(t));
      s->inner_bytes.push_back(product(info(t).shape, axis, info(t).shape.size()) *
                               static_cast<int64_t>(sizeof(float)));
    }
    s->y = ctx_.data(y);
    return make_prepared<ConcatBytes, run_concat>(std::move(s));
  }
  auto s = std::make_shared<ConcatQU8>();
  s->outer = outer;
  for (int t : node_.inputs) {
    s->x.push_back(data<const uint8_t>(t));
    s->inner.push_back(product(info(t).shape, axis, info(t).shape.size()));
    s->zx.push_back(zero(t));
    s->m.push_back(scale(t) / scale(y));
    QUANTA_OPS_TRY(check_multiplier(s->m.back(), "input", static_cast<int64_t>(s->m.size()) - 1));
  }
  s->zy = zero(y);
  s->y = data<uint8_t>(y);
  return make_prepared<ConcatQU8, run_concat_qu8>(std::move(s));
}

// ----------------------------------------------------------------- Pooling
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
void run_maxpool_u8_avx2(const MaxPoolU8& s) { k::u8_maxpool_minmax__avx2_c32(s.p, s.x, s.r, s.y); }

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
void run_avgpool_qu8_avx2(const AvgPoolQU8& s) {
  k::qu8_avgpool_minmax_fp32__avx2_c32(s.p, s.x, s.zx, s.ratio, s.zy, s.r, s.y);
}

Result<PreparedOp> Preparer::pool() {
  const int x = in(0), y = out();
  const auto o = read_options<fb::PoolOptionsT>(fbn_);
  const auto& xs = info(x).shape;
  const auto& ys = info(y).shape;
  k::Pool2DParams p;
  set_window(xs, ys, o, &p);
  p.c = static_cast<int>(xs[3]);
  p.kh = o.kernel_h;
  p.kw = o.kernel_w;
  p.count_include_pad = o.count_include_pad;
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
    auto s = std::make_shared<MaxPoolU8>(MaxPoolU8{p, data<const uint8_t>(x), r, data<uint8_t>(y)});
    if (use_avx2()) return make_prepared<MaxPoolU8, run_maxpool_u8_avx2>(std::move(s));
    return make_prepared<MaxPoolU8, run_maxpool_u8>(std::move(s));
  }
  QUANTA_OPS_TRY(check_multiplier(scale(x) / scale(y), "output"));
  auto s = std::make_shared<AvgPoolQU8>(AvgPoolQU8{p, data<const uint8_t>(x), zero(x),
                                                   scale(x) / scale(y), zero(y), r,
                                                   data<uint8_t>(y)});
  if (use_avx2()) return make_prepared<AvgPoolQU8, run_avgpool_qu8_avx2>(std::move(s));
  return make_prepared<AvgPoolQU8, run_avgpool_qu8>(std::move(s));
}

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
void run_gap_qu8_avx2(const GapQU8& s) {
  k::qu8_global_avgpool_minmax_fp32__avx2_c32(s.n, s.hw, s.c, s.x, s.zx, s.ratio, s.zy,
                                              k::QRange{}, s.y);
}

Result<PreparedOp> Preparer::global_avgpool() {
  const int x = in(0), y = out();
  const auto& xs = info(x).shape;
  const int n = static_cast<int>(xs[0]);
  const int64_t hw = xs[1] * xs[2];
  const int c = static_cast<int>(xs[3]);
  if (!quantized()) {
    auto s = std::make_shared<GapF32>(GapF32{n, hw, c, data<const float>(x), data<float>(y)});
    return make_prepared<GapF32, run_gap_f32>(std::move(s));
  }
  QUANTA_OPS_TRY(check_multiplier(scale(x) / scale(y), "output"));
  auto s = std::make_shared<GapQU8>(GapQU8{n, hw, c, data<const uint8_t>(x), zero(x),
                                           scale(x) / scale(y), zero(y), data<uint8_t>(y)});
  if (use_avx2()) return make_prepared<GapQU8, run_gap_qu8_avx2>(std::move(s));
  return make_prepared<GapQU8, run_gap_qu8>(std::move(s));
}

// ------------------------------------------------------------------- Unary
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

Result<PreparedOp> Preparer::unary() {
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

// ----------------------------------------------------------------- Softmax
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

Result<PreparedOp> Preparer::softmax() {
  const int x = in(0), y = out();
  const auto o = read_options<fb::SoftmaxOptionsT>(fbn_);
  const auto& xs = info(x).shape;
  const int rank = static_cast<int>(xs.size());
  const size_t axis = static_cast<size_t>(o.axis < 0 ? o.axis + rank : o.axis);
  const int64_t outer = product(xs, 0, axis);
  const int64_t len = xs[axis];
  const int64_t inner = product(xs, axis + 1, xs.size());
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

// beta is 1 (shape_check refuses anything else).
Result<PreparedOp> Preparer::log_softmax() {
  const int x = in(0), y = out();
  const auto o = read_options<fb::SoftmaxOptionsT>(fbn_);
  const auto& xs = info(x).shape;
  const int rank = static_cast<int>(xs.size());
  const size_t axis = static_cast<size_t>(o.axis < 0 ? o.axis + rank : o.axis);
  const int64_t outer = product(xs, 0, axis);
  const int64_t len = xs[axis];
  const int64_t inner = product(xs, axis + 1, xs.size());
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

// ------------------------------------------------------- Reshape family
struct Copy {
  const void* x;
  void* y;
  size_t bytes;
};
void run_copy(const Copy& s) { std::memcpy(s.y, s.x, s.bytes); }

Result<PreparedOp> Preparer::reshape() {
  const int x = in(0), y = out();
  if (ctx_.data(x) == ctx_.data(y) || info(y).num_bytes == 0) return PreparedOp{nullptr, nullptr};
  auto s = std::make_shared<Copy>(Copy{ctx_.data(x), ctx_.data(y), info(y).num_bytes});
  return make_prepared<Copy, run_copy>(std::move(s));
}

// --------------------------------------------------------------- Transpose
struct Transpose {
  int rank;
  int64_t shape[k::kMaxRank];
  int perm[k::kMaxRank];
  size_t elem_size;
  const void* x;
  void* y;
};
void run_transpose(const Transpose& s) {
  k::transpose__ref(s.rank, s.shape, s.perm, s.elem_size, s.x, s.y);
}

Result<PreparedOp> Preparer::transpose() {
  const int x = in(0), y = out();
  const auto o = read_options<fb::TransposeOptionsT>(fbn_);
  const auto& xs = info(x).shape;
  auto s = std::make_shared<Transpose>();
  s->rank = static_cast<int>(xs.size());
  const std::vector<int> perm = effective_perm(o.perm, xs.size());
  for (size_t d = 0; d < xs.size(); ++d) {
    s->shape[d] = xs[d];
    s->perm[d] = perm[d];
  }
  s->elem_size = dtype_size(info(x).dtype);
  s->x = ctx_.data(x);
  s->y = ctx_.data(y);
  return make_prepared<Transpose, run_transpose>(std::move(s));
}

// --------------------------------------------------------------------- Pad
struct Pad {
  int rank;
  int64_t shape[k::kMaxRank];
  int64_t begin[k::kMaxRank];
  int64_t end[k::kMaxRank];
  k::PadKind kind;
  size_t elem_size;
  alignas(8) unsigned char value[8];
  const void* x;
  void* y;
};
void run_pad(const Pad& s) {
  k::pad__ref(s.rank, s.shape, s.begin, s.end, s.kind, s.elem_size, s.value, s.x, s.y);
}

Result<PreparedOp> Preparer::pad() {
  const int x = in(0), y = out();
  const auto o = read_options<fb::PadOptionsT>(fbn_);
  const auto& xs = info(x).shape;
  const size_t rank = xs.size();
  auto s = std::make_shared<Pad>();
  s->rank = static_cast<int>(rank);
  for (size_t d = 0; d < rank; ++d) {
    s->shape[d] = xs[d];
    s->begin[d] = o.pads[d];
    s->end[d] = o.pads[d + rank];
  }
  s->kind = static_cast<k::PadKind>(o.mode);
  s->elem_size = dtype_size(info(x).dtype);
  std::memset(s->value, 0, sizeof(s->value));
  if (quantized()) {
    // The pad value is a real number: stored in the tensor's quantization.
    s->value[0] = k::quantize_u8(o.value, scale(x), zero(x));
  } else {
    std::memcpy(s->value, &o.value, sizeof(float));
  }
  s->x = ctx_.data(x);
  s->y = ctx_.data(y);
  return make_prepared<Pad, run_pad>(std::move(s));
}

// ---------------------------------------------------- Quantize, Dequantize
struct QuantizeState {
  int64_t n;
  const float* x;
  float s;
  int32_t z;
  uint8_t* y;
};
void run_quantize(const QuantizeState& s) { k::qu8_quantize__ref(s.n, s.x, s.s, s.z, s.y); }
void run_quantize_avx2(const QuantizeState& s) { k::qu8_quantize__avx2(s.n, s.x, s.s, s.z, s.y); }

struct DequantizeState {
  int64_t n;
  const uint8_t* x;
  float s;
  int32_t z;
  float* y;
};
void run_dequantize(const DequantizeState& s) {
  k::qu8_dequantize__ref(s.n, s.x, s.s, s.z, s.y);
}
void run_dequantize_avx2(const DequantizeState& s) {
  k::qu8_dequantize__avx2(s.n, s.x, s.s, s.z, s.y);
}

Result<PreparedOp> Preparer::quantize() {
  const int x = in(0), y = out();
  auto s = std::make_shared<QuantizeState>(QuantizeState{
      info(x).num_elements, data<const float>(x), scale(y), zero(y), data<uint8_t>(y)});
  if (use_avx2()) return make_prepared<QuantizeState, run_quantize_avx2>(std::move(s));
  return make_prepared<QuantizeState, run_quantize>(std::move(s));
}

Result<PreparedOp> Preparer::dequantize() {
  const int x = in(0), y = out();
  auto s = std::make_shared<DequantizeState>(DequantizeState{
      info(x).num_elements, data<const uint8_t>(x), scale(x), zero(x), data<float>(y)});
  if (use_avx2()) return make_prepared<DequantizeState, run_dequantize_avx2>(std::move(s));
  return make_prepared<DequantizeState, run_dequantize>(std::move(s));
}

Result<PreparedOp> Preparer::prepare() {
  switch (node_.op) {
    case OpType::kConv2D: return conv2d();
    case OpType::kFullyConnected: return fully_connected();
    case OpType::kMatMul: return matmul();
    case OpType::kAdd:
    case OpType::kMul: return binary();
    case OpType::kConcat: return concat();
    case OpType::kMaxPool:
    case OpType::kAveragePool: return pool();
    case OpType::kGlobalAveragePool: return global_avgpool();
    case OpType::kSoftmax: return softmax();
    case OpType::kLogSoftmax: return log_softmax();
    case OpType::kReshape:
    case OpType::kFlatten:
    case OpType::kSqueeze:
    case OpType::kUnsqueeze: return reshape();
    case OpType::kTranspose: return transpose();
    case OpType::kPad: return pad();
    case OpType::kQuantize: return quantize();
    case OpType::kDequantize: return dequantize();
    default:
      if (is_unary_op(node_.op)) return unary();
      return error(StatusCode::kUnsupported,
                   fmt::format("op type {} has no implementation", static_cast<int>(node_.op)));
  }
}

}  // namespace

Result<PreparedOp> prepare_op(const OpContext& ctx) {
  Preparer p(ctx);
  Result<PreparedOp> op = p.prepare();
  if (op && !op->onednn && p.onednn_refusal()) {
    op->offered_onednn = true;
    op->onednn_note = *p.onednn_refusal();
  }
  return op;
}

bool op_output_may_alias_input(OpType op) { return is_reshape_family(op); }

}  // namespace quanta::detail
