// The shared part of every op's prepare step (op_util.hpp): the threading
// split, the oneDNN glue and the Preparer helpers for quantized parameters.
#include "ops/op_util.hpp"

#include <climits>
#include <cmath>
#include <cstring>

namespace quanta::detail {

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

void split_range(const Split& sp, int t, int64_t* begin, int64_t* end) {
  const int64_t units = (sp.total + sp.align - 1) / sp.align;
  const int64_t per = units / sp.tasks, extra = units % sp.tasks;
  const int64_t u0 = t * per + std::min<int64_t>(t, extra);
  const int64_t u1 = u0 + per + (t < extra ? 1 : 0);
  *begin = std::min(u0 * sp.align, sp.total);
  *end = std::min(u1 * sp.align, sp.total);
}

void run_onednn(const OnednnOp& s) { s.prim->run(); }

Status Preparer::per_channel_multipliers(int x, int w, int y, int64_t channels,
                                         std::vector<float>* m) const {
  m->resize(static_cast<size_t>(channels));
  for (int64_t c = 0; c < channels; ++c) {
    (*m)[static_cast<size_t>(c)] = k::requant_multiplier(scale(x), weight_scale(w, c), scale(y));
    QUANTA_OPS_TRY(check_multiplier((*m)[static_cast<size_t>(c)], "output channel", c));
  }
  return Status::Ok();
}

Status Preparer::check_multiplier(float m, const char* what, int64_t index) const {
  if (std::isfinite(m)) return Status::Ok();
  return error(StatusCode::kUnsupported,
               fmt::format("requantization multiplier for {} {} is {} (input/output scales "
                           "too far apart for fp32)",
                           what, index, m));
}

Status Preparer::folded_bias(int64_t rows, int64_t row_len, const int8_t* w, int b, int32_t zx,
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

k::QAddParams Preparer::qadd_params(int a, int b, int y, const fb::ElementwiseOptionsT& o) const {
  k::QAddParams p;
  p.za = zero(a);
  p.zb = zero(b);
  p.zy = zero(y);
  p.ma = scale(a) / scale(y);
  p.mb = scale(b) / scale(y);
  p.r = k::activation_range_u8(to_act(o.activation), o.clip_min, o.clip_max, scale(y), p.zy);
  return p;
}

std::optional<FusedAdd> Preparer::fused_add(int x, int t, bool kernel_takes_residual) const {
  if (ctx_.fuse_add < 0 || !kernel_takes_residual) return std::nullopt;
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

}  // namespace quanta::detail
