// Internal: what every op's prepare step shares (ops/<op>.cpp, the `prepare`
// of its OpDef): the bridge from a typed run function to RunFn, the threading
// split, the oneDNN glue, and class Preparer, the base of every op's
// preparer, with the node's tensors and the helpers for quantized
// parameters.
//
// Every op is a state struct plus a plain `run(const void*)` that calls the
// kernels with pointers and parameters resolved at prepare, once: folded
// biases (range-checked to int32), per-channel requantization multipliers,
// activation ranges, broadcast strides, batch offsets, LUTs, exponential
// tables, transposed weights. run() never allocates, never fails and does no
// shape logic. The node was fully validated by its check at load time, which
// also computed the op's geometry (output sizes, window parameters, broadcast
// strides, ...: OpContext::geometry): prepare reads it, never re-derives it.
//
// An op's preparer is a class deriving from Preparer with
//   Result<PreparedOp> prepare();
// run_prepare<P> is the OpDef::prepare that runs it.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <vector>
#include <fmt/format.h>

#include "backends/onednn.hpp"
#include "ops/op.hpp"
#include "ops/op_common.hpp"
#include "quanta/kernels/config.h"

namespace quanta::detail {

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

Split make_split(ThreadPool* pool, int64_t macs, int64_t total, int64_t align);

// Task t's range [*begin, *end).
void split_range(const Split& sp, int t, int64_t* begin, int64_t* end);

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

// A kernel-table slot's adapter run on ranges: S holds the family's args
// (`args`), the slot's adapter (`fn`) and a `Split split` whose alignment is
// the slot's. One indirect call per range.
template <class S>
void slot_range(const S& s, int64_t begin, int64_t end) {
  s.fn(s.args, begin, end);
}

// A family without packed weights (pooling, elementwise, quantize) run
// through its slot on the whole range [0, total), on the calling thread: the
// slot's whole-range entry is the run step itself (config.h, RangeSlot).
template <class Args>
PreparedOp prepare_slot(const k::RangeSlot<Args>& slot, const Args& args, int64_t total) {
  PreparedOp op;
  op.run = slot.whole;
  op.state = std::make_shared<k::RangeRun<Args>>(k::RangeRun<Args>{args, total});
  op.state_bytes = sizeof(k::RangeRun<Args>);
  return op;
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
void run_onednn(const OnednnOp& s);

class Preparer {
 public:
  explicit Preparer(const OpContext& ctx)
      : ctx_(ctx), node_(ctx.node()), fbn_(ctx.fb_node()),
        opname_(op_type_name(ctx.node().op)) {}

  // The session's kernel table (OpContext::kernels): an op reads the slot of
  // the family it needs and runs the reference kernel when the slot is empty.
  const k::KernelConfig& cfg() const { return *ctx_.kernels; }

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

 protected:
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
                                 std::vector<float>* m) const;

  // Scales are each finite and >= FLT_MIN, but a ratio of them can still
  // overflow fp32; an infinite multiplier would make requantization
  // meaningless (0 * inf = NaN), so such a node is refused here.
  Status check_multiplier(float m, const char* what, int64_t index = 0) const;

  // Folded bias b'[c] = b[c] - zx * sum_k w[c, k], checked to fit int32.
  Status folded_bias(int64_t rows, int64_t row_len, const int8_t* w, int b, int32_t zx,
                     std::vector<int32_t>* out) const;

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
  k::QAddParams qadd_params(int a, int b, int y, const fb::ElementwiseOptionsT& o) const;

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

  // The Add this node may absorb (OpContext::fuse_add), if the kernel that
  // runs the node takes a residual (`kernel_takes_residual`: its slot's
  // fused_residual capability), the Add's parameters are finite and the
  // memory allows writing its output here: y must not overlap this node's
  // input x, and must equal the residual or not overlap it. nullopt
  // otherwise (the Add then runs as its own node).
  std::optional<FusedAdd> fused_add(int x, int t, bool kernel_takes_residual) const;
};

// The OpDef::prepare of an op whose preparer is P: when the node was offered
// to oneDNN and refused, the refusal becomes its backend note.
template <class P>
Result<PreparedOp> run_prepare(const OpContext& ctx) {
  P p(ctx);
  Result<PreparedOp> op = p.prepare();
  if (op && !op->onednn && p.onednn_refusal()) {
    op->offered_onednn = true;
    op->onednn_note = *p.onednn_refusal();
  }
  return op;
}

}  // namespace quanta::detail
