// The helpers shared by the ops' load-time checks (check_util.hpp).
#include "ops/check_util.hpp"

#include <cfloat>
#include <climits>
#include <cmath>
#include <cstring>
#include <fmt/format.h>

namespace quanta::detail {

std::string shape_str(const std::vector<int64_t>& s) {
  return fmt::format("[{}]", fmt::join(s, ","));
}

int64_t sat_mul(int64_t a, int64_t b) {
  int64_t r = 0;
  if (__builtin_mul_overflow(a, b, &r)) return INT64_MAX;
  return r;
}

bool same_quant(const QuantParams& a, const QuantParams& b) {
  return a.scale == b.scale && a.zero_point == b.zero_point &&
         (a.scale.size() <= 1 || a.axis == b.axis);
}

std::string quant_str(const QuantParams& q) {
  if (q.empty()) return "no quantization";
  if (q.per_tensor()) return fmt::format("scale {} zero point {}", q.scale[0], q.zero_point[0]);
  return fmt::format("{} per-axis scales on axis {}", q.scale.size(), q.axis);
}

NodeChecker::NodeChecker(ModelImpl& m, int j)
    : m_(m), j_(j), node_(m.nodes[j]), fbn_(m.fb_nodes[j]), op_(m.nodes[j].op),
      opname_(op_type_name(m.nodes[j].op)), where_(describe_node(m, j)) {}

Status NodeChecker::check_common() const {
  QUANTA_OPS_TRY(check_options_type());
  if (node_.outputs.size() != 1) {
    return invalid(fmt::format("{} has {} outputs; expected 1", opname_, node_.outputs.size()));
  }
  return Status::Ok();
}

Status NodeChecker::finish(const std::vector<int64_t>& inferred, bool has_inferred) {
  if (has_inferred && inferred != out_info().shape) {
    return invalid(fmt::format("output shape {} stored, inferred {} ({} output {})",
                               shape_str(out_info().shape), shape_str(inferred), opname_,
                               tdesc(out())));
  }
  node_.macs = macs_;
  m_.geometry[static_cast<size_t>(j_)] = std::move(geometry_);
  return Status::Ok();
}

Status NodeChecker::unknown_op() const {
  return unsupported(fmt::format("op type {} is not supported", static_cast<int>(op_)));
}

Status NodeChecker::invalid(const std::string& msg) const {
  return {StatusCode::kInvalidModel, fmt::format("{}: {}", where_, msg)};
}

Status NodeChecker::unsupported(const std::string& msg) const {
  return {StatusCode::kUnsupported, fmt::format("{}: {}", where_, msg)};
}

Status NodeChecker::check_options_type() const {
  const fb::Options got = fbn_ != nullptr ? fbn_->options_type() : fb::Options::NONE;
  const fb::Options want = expected_options(op_);
  if (got == fb::Options::NONE || got == want) return Status::Ok();
  const char* got_name = fb::EnumNameOptions(got);
  const std::string got_str =
      (got_name != nullptr && *got_name != '\0') ? got_name
                                                 : fmt::format("#{}", static_cast<int>(got));
  if (want == fb::Options::NONE) {
    return invalid(fmt::format("{} takes no options, but the node has {}", opname_, got_str));
  }
  return invalid(fmt::format("{} needs {} (or no options), but the node has {}", opname_,
                             fb::EnumNameOptions(want), got_str));
}

Status NodeChecker::arity(size_t min, size_t max) const {
  const size_t n = node_.inputs.size();
  if (n < min || n > max) {
    if (min == max) {
      return invalid(fmt::format("{} has {} inputs; expected {}", opname_, n, min));
    }
    if (max == SIZE_MAX) {
      return invalid(fmt::format("{} has {} inputs; expected at least {}", opname_, n, min));
    }
    return invalid(fmt::format("{} has {} inputs; expected {} to {}", opname_, n, min, max));
  }
  for (size_t k = 0; k < min; ++k) {
    if (node_.inputs[k] < 0) {
      return invalid(fmt::format("{} input {} is required but omitted (-1)", opname_, k));
    }
  }
  return Status::Ok();
}

Status NodeChecker::mode_of(int t, Mode* mode) const {
  switch (info(t).dtype) {
    case DType::kF32: *mode = Mode::kFloat; return Status::Ok();
    case DType::kU8: *mode = Mode::kQuant; return Status::Ok();
    default:
      return unsupported(fmt::format(
          "{} input {} has dtype {}; this runtime runs activations in f32 or u8 only", opname_,
          tdesc(t), dtype_name(info(t).dtype)));
  }
}

Status NodeChecker::need_dtype(int t, DType want, const char* role) const {
  if (info(t).dtype == want) return Status::Ok();
  return unsupported(fmt::format("{} {} {} has dtype {}; expected {}", opname_, role, tdesc(t),
                                 dtype_name(info(t).dtype), dtype_name(want)));
}

Status NodeChecker::need_qu8(int t, const char* role) const {
  const TensorInfo& ti = info(t);
  if (ti.dtype != DType::kU8) {
    return unsupported(fmt::format(
        "quantized {}: {} {} has dtype {}; expected u8", opname_,
        role, tdesc(t), dtype_name(ti.dtype)));
  }
  if (ti.quant.empty()) {
    return invalid(fmt::format("quantized {}: {} {} is u8 without quantization parameters",
                               opname_, role, tdesc(t)));
  }
  if (!ti.quant.per_tensor()) {
    return unsupported(fmt::format(
        "quantized {}: {} {} has {} per-axis scales; activations must be quantized per tensor",
        opname_, role, tdesc(t), ti.quant.scale.size()));
  }
  return Status::Ok();
}

Status NodeChecker::need_act(int t, Mode mode, const char* role) const {
  if (mode == Mode::kQuant) return need_qu8(t, role);
  if (info(t).dtype != DType::kF32) {
    return unsupported(fmt::format(
        "float {}: {} {} has dtype {}; expected f32 (the node's first input is f32)", opname_,
        role, tdesc(t), dtype_name(info(t).dtype)));
  }
  return Status::Ok();
}

Status NodeChecker::need_rank(int t, size_t rank, const char* role) const {
  if (info(t).shape.size() == rank) return Status::Ok();
  return invalid(fmt::format("{} {} {} has shape {} (rank {}); expected rank {}", opname_, role,
                             tdesc(t), shape_str(info(t).shape), info(t).shape.size(), rank));
}

Status NodeChecker::need_const(int t, const char* role) const {
  if (info(t).is_constant) return Status::Ok();
  return unsupported(fmt::format("{} {} {} must be a constant", opname_, role, tdesc(t)));
}

Status NodeChecker::need_int(int64_t v, const char* what) const {
  if (v <= INT_MAX) return Status::Ok();
  return unsupported(fmt::format("{} {} = {} exceeds the kernel limit {}", opname_, what, v,
                                 INT_MAX));
}

Status NodeChecker::need_same_dtype_quant(int x, int y) const {
  if (info(x).dtype != info(y).dtype) {
    return invalid(fmt::format("{} output {} has dtype {} but input {} has dtype {}", opname_,
                               tdesc(y), dtype_name(info(y).dtype), tdesc(x),
                               dtype_name(info(x).dtype)));
  }
  if (info(x).dtype == DType::kU8 && !same_quant(info(x).quant, info(y).quant)) {
    return unsupported(fmt::format(
        "{} moves data without rescaling: output {} has {} but input {} has {}", opname_,
        tdesc(y), quant_str(info(y).quant), tdesc(x), quant_str(info(x).quant)));
  }
  return Status::Ok();
}

Status NodeChecker::act_in_out(int x, OutRule out_rule, Mode* mode, size_t rank) const {
  QUANTA_OPS_TRY(mode_of(x, mode));
  if (rank != kAnyRank) QUANTA_OPS_TRY(need_rank(x, rank, "input"));
  QUANTA_OPS_TRY(need_act(x, *mode, "input"));
  if (out_rule == OutRule::kSameAsInput) return need_same_dtype_quant(x, out());
  return need_act(out(), *mode, "output");
}

Status NodeChecker::check_activation(fb::Activation a, float lo, float hi) const {
  const int v = static_cast<int>(a);
  if (v < static_cast<int>(fb::Activation::MIN) || v > static_cast<int>(fb::Activation::MAX)) {
    return invalid(fmt::format("{} fused activation {} is not a valid Activation", opname_, v));
  }
  if (a == fb::Activation::CLIP && (std::isnan(lo) || std::isnan(hi))) {
    return invalid(fmt::format("{} fused Clip bounds [{}, {}] contain NaN", opname_, lo, hi));
  }
  return Status::Ok();
}

Status NodeChecker::check_geometry(const char* what, int64_t value, int64_t min) const {
  if (value >= min) return Status::Ok();
  return invalid(fmt::format("{} {} = {} must be >= {}", opname_, what, value, min));
}

Status NodeChecker::check_weights_q(int w, int64_t channels, int axis) const {
  const TensorInfo& wi = info(w);
  if (wi.dtype != DType::kI8) {
    return unsupported(fmt::format(
        "quantized {}: weights {} have dtype {}; expected i8 (symmetric int8 weights)", opname_,
        tdesc(w), dtype_name(wi.dtype)));
  }
  if (!wi.is_constant) {
    return unsupported(
        fmt::format("quantized {}: weights {} must be a constant", opname_, tdesc(w)));
  }
  if (wi.quant.empty()) {
    return invalid(fmt::format("quantized {}: weights {} are i8 without quantization parameters",
                               opname_, tdesc(w)));
  }
  if (wi.quant.scale.size() != 1 &&
      (wi.quant.axis != axis || static_cast<int64_t>(wi.quant.scale.size()) != channels)) {
    return unsupported(fmt::format(
        "quantized {}: weights {} are quantized along axis {} ({} scales); only per-tensor or "
        "per-output-channel (axis {}, {} scales) weights are supported",
        opname_, tdesc(w), wi.quant.axis, wi.quant.scale.size(), axis, channels));
  }
  return Status::Ok();
}

float NodeChecker::channel_scale(const QuantParams& q, int64_t c) {
  return q.scale.size() == 1 ? q.scale[0] : q.scale[static_cast<size_t>(c)];
}

Status NodeChecker::check_bias(int b, Mode mode, int64_t channels, int x, int w) const {
  if (b < 0) return Status::Ok();
  const TensorInfo& bi = info(b);
  if (!bi.is_constant) {
    return unsupported(fmt::format("{} bias {} must be a constant", opname_, tdesc(b)));
  }
  if (bi.shape != std::vector<int64_t>{channels}) {
    return invalid(fmt::format("{} bias {} has shape {}; expected [{}] (one per output channel)",
                               opname_, tdesc(b), shape_str(bi.shape), channels));
  }
  if (mode == Mode::kFloat) return need_dtype(b, DType::kF32, "bias");
  if (bi.dtype != DType::kI32) {
    return unsupported(fmt::format("quantized {}: bias {} has dtype {}; expected i32", opname_,
                                   tdesc(b), dtype_name(bi.dtype)));
  }
  // A bias without quantization parameters is taken to follow the contract
  // (s_b[c] = s_x * s_w[c], zero point 0).
  if (bi.quant.empty()) return Status::Ok();
  const float sx = info(x).quant.scale[0];
  const QuantParams& wq = info(w).quant;
  for (int64_t c = 0; c < channels; ++c) {
    const float sw = channel_scale(wq, c);
    const float want = sx * sw;
    const float got = channel_scale(bi.quant, c);
    const double rel = std::fabs(static_cast<double>(got) - want) / static_cast<double>(want);
    if (!(rel <= 1e-6)) {
      return invalid(fmt::format(
          "quantized {}: bias {} scale for channel {} is {}, but input scale {} x weight scale {} "
          "= {} (relative difference {:.3g} > 1e-6)",
          opname_, tdesc(b), c, got, sx, sw, want, rel));
    }
  }
  return Status::Ok();
}

Status NodeChecker::check_accumulator(int64_t k, int64_t per_product, const char* rule, int b) const {
  int64_t max_bias = 0;
  if (b >= 0 && info(b).dtype == DType::kI32 && m_.const_data[b] != nullptr) {
    const auto* p = static_cast<const uint8_t*>(m_.const_data[b]);
    for (int64_t i = 0; i < info(b).num_elements; ++i) {
      int32_t v = 0;
      std::memcpy(&v, p + i * 4, 4);
      max_bias = std::max<int64_t>(max_bias, std::llabs(static_cast<int64_t>(v)));
    }
  }
  const int64_t bound = sat_mul(k, per_product);
  if (bound <= INT32_MAX && bound + max_bias <= INT32_MAX) return Status::Ok();
  return unsupported(fmt::format(
      "quantized {}: the int32 accumulator can overflow: K = {} gives {} = {} plus max|bias| = "
      "{}, above {}",
      opname_, k, rule, bound, max_bias, INT32_MAX));
}

Status NodeChecker::check_weighted(int x, int w, int b, Mode mode, int64_t channels, int64_t k) const {
  QUANTA_OPS_TRY(need_act(out(), mode, "output"));
  if (mode == Mode::kFloat) {
    QUANTA_OPS_TRY(need_dtype(w, DType::kF32, "weights"));
  } else {
    QUANTA_OPS_TRY(need_qu8(x, "input"));
    QUANTA_OPS_TRY(check_weights_q(w, channels, 0));
  }
  QUANTA_OPS_TRY(check_bias(b, mode, channels, x, w));
  if (mode == Mode::kQuant) QUANTA_OPS_TRY(check_accumulator(k, 255 * 127, "K*255*127", b));
  return Status::Ok();
}

}  // namespace quanta::detail
