// Per-op semantic checks and static shape inference (check_graph_semantics).
//
// Runs after the structural checks of loader.cpp: tensor and node indices are
// in range, producers come before consumers, shapes are non-negative with
// rank <= 6, quantization arrays are well formed (finite positive scales,
// zero points in range, per-axis lengths 1 or shape[axis], symmetric int8
// constants and int32 tensors) and constant buffers have the right size.
//
// For every node, in order, this file checks:
//   - the number of inputs and outputs, and that required inputs are present;
//   - the options table has the op's type (absent options mean the defaults);
//   - the dtypes: activations are f32 (float node) or u8 (quantized node),
//     chosen by the node's first input; weights are constant f32 / i8, biases
//     constant f32 / i32;
//   - the quantization: quantized activations are u8 per tensor; weights i8
//     per tensor or per output channel; a bias scale equals s_x * s_w[c]
//     within 1e-6 relative; data-movement ops keep the quantization;
//   - option values (strides, dilations, pads, groups, axes, perm, ...);
//   - the int32 accumulator bound of docs/design.md §1 (K * 255 * 127 + max|bias| for
//     u8 x i8 products, K * 255 * 255 for u8 x u8 MatMul, window * 255 for
//     quantized pooling);
//   - static shape inference: the inferred output shape must equal the stored
//     one (Reshape, Flatten, Squeeze and Unsqueeze take the stored shape as
//     their definition and check only the element count);
// and fills NodeInfo::macs (multiply-accumulates per run: Conv2D,
// FullyConnected and MatMul; every other op counts 0).
//
// Decisions where the format leaves room (kept in one place):
//   - a quantized bias without quantization parameters is taken to follow the
//     contract (s_b[c] = s_x * s_w[c], zero point 0); with parameters, its
//     scale must match within 1e-6 relative, channel by channel;
//   - int8 weights: per tensor (one scale, whatever the axis) or per output
//     channel: axis 0 for Conv2D [Cout,KH,KW,Cin/g] and FullyConnected [N,K],
//     axis 1 for a constant MatMul B [K,N];
//   - a quantized MatMul with a constant i8 B must have a rank-2 B (it runs as
//     FullyConnected); with a u8 B (activation or constant) it runs u8 x u8;
//     MatMul accepts rank-1 operands with the numpy meaning ([K] as a row or
//     column vector whose axis is dropped from the result);
//   - ops without an options table (Relu, Relu6, Sigmoid, Tanh, HardSwish,
//     GlobalAveragePool, Quantize, Dequantize) refuse a node with options;
//   - Softmax needs a finite beta > 0; LogSoftmax shares SoftmaxOptions but
//     runs only beta = 1 (ONNX, PyTorch and TFLite have no temperature; any
//     other value is kUnsupported); both need -rank <= axis < rank and write
//     their own output quantization (a calibrated activation);
//   - Clip bounds must not be NaN; LeakyRelu alpha and HardSigmoid alpha and
//     beta must be finite (a NaN would poison the whole quantized LUT);
//   - Pad takes its pads from PadOptions only (one input), refuses negative
//     pads, and in reflect mode needs every non-zero pad smaller than its
//     dimension; a constant Pad value must not be NaN;
//   - pooling: pads smaller than the kernel extent, and no window may cover
//     only padding (possible with dilation even when pads < extent);
//   - Reshape-family ops, Transpose, Pad and quantized MaxPool keep the
//     input's dtype and quantization exactly (no rescaling);
//   - every int parameter of a kernel (batch, H, W, C, rows, K, N, ...) must
//     fit int.
//
// Status codes: kInvalidModel for a file that contradicts itself or the
// format (wrong shapes, bad option values, mismatched scales); kUnsupported
// for a consistent model this runtime cannot execute (other dtypes, per-axis
// activations, accumulator overflow, ...). Every message starts with the node
// (describe_node) and names the offending tensor and value.
#include <cfloat>
#include <climits>
#include <cmath>
#include <cstring>
#include <fmt/format.h>

#include "ops/op_common.hpp"

namespace quanta::detail {
namespace {

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

enum class Mode { kFloat, kQuant };

class NodeChecker {
 public:
  NodeChecker(ModelImpl& m, int j)
      : m_(m), node_(m.nodes[j]), fbn_(m.fb_nodes[j]), op_(m.nodes[j].op),
        opname_(op_type_name(m.nodes[j].op)), where_(describe_node(m, j)) {}

  Status check() {
    QUANTA_OPS_TRY(check_options_type());
    if (node_.outputs.size() != 1) {
      return invalid(fmt::format("{} has {} outputs; expected 1", opname_, node_.outputs.size()));
    }
    std::vector<int64_t> inferred;
    bool has_inferred = true;
    switch (op_) {
      case OpType::kConv2D: QUANTA_OPS_TRY(conv2d(inferred)); break;
      case OpType::kFullyConnected: QUANTA_OPS_TRY(fully_connected(inferred)); break;
      case OpType::kMatMul: QUANTA_OPS_TRY(matmul(inferred)); break;
      case OpType::kAdd:
      case OpType::kMul: QUANTA_OPS_TRY(binary(inferred)); break;
      case OpType::kConcat: QUANTA_OPS_TRY(concat(inferred)); break;
      case OpType::kMaxPool:
      case OpType::kAveragePool: QUANTA_OPS_TRY(pool(inferred)); break;
      case OpType::kGlobalAveragePool: QUANTA_OPS_TRY(global_avgpool(inferred)); break;
      case OpType::kSoftmax:
      case OpType::kLogSoftmax: QUANTA_OPS_TRY(softmax(inferred)); break;
      case OpType::kReshape:
      case OpType::kFlatten:
      case OpType::kSqueeze:
      case OpType::kUnsqueeze:
        QUANTA_OPS_TRY(reshape());
        has_inferred = false;
        break;
      case OpType::kTranspose: QUANTA_OPS_TRY(transpose(inferred)); break;
      case OpType::kPad: QUANTA_OPS_TRY(pad(inferred)); break;
      case OpType::kQuantize:
      case OpType::kDequantize: QUANTA_OPS_TRY(quantize(inferred)); break;
      default:
        if (is_unary_op(op_)) {
          QUANTA_OPS_TRY(unary(inferred));
          break;
        }
        return unsupported(fmt::format("op type {} is not supported", static_cast<int>(op_)));
    }
    if (has_inferred && inferred != out_info().shape) {
      return invalid(fmt::format("output shape {} stored, inferred {} ({} output {})",
                                 shape_str(out_info().shape), shape_str(inferred), opname_,
                                 tdesc(out())));
    }
    node_.macs = macs_;
    return Status::Ok();
  }

 private:
  ModelImpl& m_;
  NodeInfo& node_;
  const fb::Node* fbn_;
  OpType op_;
  const char* opname_;
  std::string where_;
  int64_t macs_ = 0;

  // ------------------------------------------------------------ basics
  Status invalid(const std::string& msg) const {
    return {StatusCode::kInvalidModel, fmt::format("{}: {}", where_, msg)};
  }
  Status unsupported(const std::string& msg) const {
    return {StatusCode::kUnsupported, fmt::format("{}: {}", where_, msg)};
  }
  int in(size_t k) const { return k < node_.inputs.size() ? node_.inputs[k] : -1; }
  int out() const { return node_.outputs[0]; }
  const TensorInfo& info(int t) const { return m_.tensors[t]; }
  const TensorInfo& out_info() const { return info(out()); }
  std::string tdesc(int t) const { return describe_tensor(m_, t); }

  Status check_options_type() const {
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

  // Inputs [min, max] in number; the first `min` must be present (not -1).
  Status arity(size_t min, size_t max) const {
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

  // Float or quantized, by the dtype of the first input.
  Status mode_of(int t, Mode* mode) const {
    switch (info(t).dtype) {
      case DType::kF32: *mode = Mode::kFloat; return Status::Ok();
      case DType::kU8: *mode = Mode::kQuant; return Status::Ok();
      default:
        return unsupported(fmt::format(
            "{} input {} has dtype {}; this runtime runs activations in f32 or u8 only", opname_,
            tdesc(t), dtype_name(info(t).dtype)));
    }
  }

  Status need_dtype(int t, DType want, const char* role) const {
    if (info(t).dtype == want) return Status::Ok();
    return unsupported(fmt::format("{} {} {} has dtype {}; expected {}", opname_, role, tdesc(t),
                                   dtype_name(info(t).dtype), dtype_name(want)));
  }

  // u8 with per-tensor quantization.
  Status need_qu8(int t, const char* role) const {
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

  // The activation dtype of the node's mode.
  Status need_act(int t, Mode mode, const char* role) const {
    if (mode == Mode::kQuant) return need_qu8(t, role);
    if (info(t).dtype != DType::kF32) {
      return unsupported(fmt::format(
          "float {}: {} {} has dtype {}; expected f32 (the node's first input is f32)", opname_,
          role, tdesc(t), dtype_name(info(t).dtype)));
    }
    return Status::Ok();
  }

  Status need_rank(int t, size_t rank, const char* role) const {
    if (info(t).shape.size() == rank) return Status::Ok();
    return invalid(fmt::format("{} {} {} has shape {} (rank {}); expected rank {}", opname_, role,
                               tdesc(t), shape_str(info(t).shape), info(t).shape.size(), rank));
  }

  Status need_const(int t, const char* role) const {
    if (info(t).is_constant) return Status::Ok();
    return unsupported(fmt::format("{} {} {} must be a constant", opname_, role, tdesc(t)));
  }

  // Kernel parameters are int: larger dimensions are refused.
  Status need_int(int64_t v, const char* what) const {
    if (v <= INT_MAX) return Status::Ok();
    return unsupported(fmt::format("{} {} = {} exceeds the kernel limit {}", opname_, what, v,
                                   INT_MAX));
  }

  Status need_same_dtype_quant(int x, int y) const {
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

  // What a one-input op requires of its output: an activation of the node's
  // mode, or exactly the input's dtype and quantization (data movement).
  enum class OutRule { kActivation, kSameAsInput };
  static constexpr size_t kAnyRank = SIZE_MAX;

  // The usual start of a one-activation op: x sets the mode; x has rank `rank`
  // (unless kAnyRank) and is an activation of that mode; the output follows
  // `out_rule`. Checked in that order.
  Status act_in_out(int x, OutRule out_rule, Mode* mode, size_t rank = kAnyRank) const {
    QUANTA_OPS_TRY(mode_of(x, mode));
    if (rank != kAnyRank) QUANTA_OPS_TRY(need_rank(x, rank, "input"));
    QUANTA_OPS_TRY(need_act(x, *mode, "input"));
    if (out_rule == OutRule::kSameAsInput) return need_same_dtype_quant(x, out());
    return need_act(out(), *mode, "output");
  }

  Status check_activation(fb::Activation a, float lo, float hi) const {
    const int v = static_cast<int>(a);
    if (v < static_cast<int>(fb::Activation::MIN) || v > static_cast<int>(fb::Activation::MAX)) {
      return invalid(fmt::format("{} fused activation {} is not a valid Activation", opname_, v));
    }
    if (a == fb::Activation::CLIP && (std::isnan(lo) || std::isnan(hi))) {
      return invalid(fmt::format("{} fused Clip bounds [{}, {}] contain NaN", opname_, lo, hi));
    }
    return Status::Ok();
  }

  Status check_geometry(const char* what, int64_t value, int64_t min) const {
    if (value >= min) return Status::Ok();
    return invalid(fmt::format("{} {} = {} must be >= {}", opname_, what, value, min));
  }

  // Strides and dilations >= 1, pads >= 0 (Conv2DOptionsT, PoolOptionsT).
  template <class O>
  Status check_strides_dilations_pads(const O& o) const {
    QUANTA_OPS_TRY(check_geometry("stride_h", o.stride_h, 1));
    QUANTA_OPS_TRY(check_geometry("stride_w", o.stride_w, 1));
    QUANTA_OPS_TRY(check_geometry("dilation_h", o.dilation_h, 1));
    QUANTA_OPS_TRY(check_geometry("dilation_w", o.dilation_w, 1));
    QUANTA_OPS_TRY(check_geometry("pad_top", o.pad_top, 0));
    QUANTA_OPS_TRY(check_geometry("pad_left", o.pad_left, 0));
    QUANTA_OPS_TRY(check_geometry("pad_bottom", o.pad_bottom, 0));
    return check_geometry("pad_right", o.pad_right, 0);
  }

  // int8 constant weights with `channels` output channels along `axis`.
  Status check_weights_q(int w, int64_t channels, int axis) const {
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

  static float channel_scale(const QuantParams& q, int64_t c) {
    return q.scale.size() == 1 ? q.scale[0] : q.scale[static_cast<size_t>(c)];
  }

  // Bias: constant [channels], f32 (float) or i32 with scale s_x * s_w[c].
  Status check_bias(int b, Mode mode, int64_t channels, int x, int w) const {
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

  // docs/design.md §1: k * per_product + max|bias| must fit int32.
  Status check_accumulator(int64_t k, int64_t per_product, const char* rule, int b) const {
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

  // The dtype side of an op with weights w [channels, ...] and bias b
  // (Conv2D, FullyConnected): output activation; f32 weights (float) or u8
  // input and i8 weights per tensor / per output channel (quantized); the
  // bias; and, quantized, the accumulator bound for K = k.
  Status check_weighted(int x, int w, int b, Mode mode, int64_t channels, int64_t k) const {
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

  // ------------------------------------------------------------ ops
  Status conv2d(std::vector<int64_t>& y_shape) {
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
    macs_ = sat_mul(sat_mul(sat_mul(sat_mul(n, oh), ow), cout), k);
    return Status::Ok();
  }

  Status fully_connected(std::vector<int64_t>& y_shape) {
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
    return Status::Ok();
  }

  Status matmul(std::vector<int64_t>& y_shape) {
    QUANTA_OPS_TRY(arity(2, 2));
    const int a = in(0), b = in(1);
    Mode mode{};
    QUANTA_OPS_TRY(mode_of(a, &mode));
    const auto o = read_options<fb::MatMulOptionsT>(fbn_);
    const auto& as = info(a).shape;
    const auto& bs = info(b).shape;
    if (as.empty() || bs.empty()) {
      return invalid(fmt::format("{} inputs must have rank >= 1; A {} has shape {}, B {} has {}",
                                 opname_, tdesc(a), shape_str(as), tdesc(b), shape_str(bs)));
    }
    const size_t ra = as.size(), rb = bs.size();
    const int64_t m = ra >= 2 ? as[ra - 2] : 1;
    const int64_t k = as[ra - 1];
    const int64_t kb = rb >= 2 ? bs[rb - 2] : bs[0];
    const int64_t nn = rb >= 2 ? bs[rb - 1] : 1;
    if (k != kb) {
      return invalid(fmt::format(
          "{} inner dimensions differ: A {} has shape {} (K = {}), B {} has shape {} (K = {})",
          opname_, tdesc(a), shape_str(as), k, tdesc(b), shape_str(bs), kb));
    }
    const std::vector<int64_t> a_batch(as.begin(), as.end() - std::min<size_t>(ra, 2));
    const std::vector<int64_t> b_batch(bs.begin(), bs.end() - std::min<size_t>(rb, 2));
    kernels::BroadcastShape bc;
    if (!kernels::make_broadcast(static_cast<int>(a_batch.size()), a_batch.data(),
                                 static_cast<int>(b_batch.size()), b_batch.data(), &bc)) {
      return invalid(fmt::format(
          "{} batch dimensions of A {} (shape {}) and B {} (shape {}) do not broadcast", opname_,
          tdesc(a), shape_str(as), tdesc(b), shape_str(bs)));
    }
    y_shape.assign(bc.out, bc.out + bc.rank);
    if (ra >= 2) y_shape.push_back(m);
    if (rb >= 2) y_shape.push_back(nn);
    QUANTA_OPS_TRY(check_activation(o.activation, o.clip_min, o.clip_max));
    QUANTA_OPS_TRY(need_int(m, "M"));
    // With a B of rank <= 2, A's batch dimensions fold into the rows.
    if (rb <= 2) QUANTA_OPS_TRY(need_int(product(as, 0, ra - 1), "rows"));
    QUANTA_OPS_TRY(need_int(k, "K"));
    QUANTA_OPS_TRY(need_int(nn, "N"));
    QUANTA_OPS_TRY(need_act(out(), mode, "output"));
    const int64_t batches = bc.num_elements();
    if (mode == Mode::kFloat) {
      QUANTA_OPS_TRY(need_act(b, mode, "input B"));
    } else {
      QUANTA_OPS_TRY(need_qu8(a, "input A"));
      if (info(b).dtype == DType::kI8) {
        if (!info(b).is_constant || rb != 2) {
          return unsupported(fmt::format(
              "quantized {}: an i8 B {} (shape {}) must be a constant of rank 2 (it runs as "
              "FullyConnected); use u8 for an activation B",
              opname_, tdesc(b), shape_str(bs)));
        }
        QUANTA_OPS_TRY(check_weights_q(b, nn, 1));
        QUANTA_OPS_TRY(check_accumulator(k, 255 * 127, "K*255*127", -1));
      } else if (info(b).dtype == DType::kU8) {
        QUANTA_OPS_TRY(need_qu8(b, "input B"));
        QUANTA_OPS_TRY(check_accumulator(k, 255 * 255, "K*255*255", -1));
      } else {
        return unsupported(fmt::format(
            "quantized {}: input B {} has dtype {}; expected u8 or a constant i8", opname_,
            tdesc(b), dtype_name(info(b).dtype)));
      }
    }
    macs_ = sat_mul(sat_mul(sat_mul(batches, m), k), nn);
    return Status::Ok();
  }

  Status binary(std::vector<int64_t>& y_shape) {
    QUANTA_OPS_TRY(arity(2, 2));
    const int a = in(0), b = in(1);
    Mode mode{};
    QUANTA_OPS_TRY(mode_of(a, &mode));
    const auto o = read_options<fb::ElementwiseOptionsT>(fbn_);
    QUANTA_OPS_TRY(need_act(a, mode, "input A"));
    QUANTA_OPS_TRY(need_act(b, mode, "input B"));
    QUANTA_OPS_TRY(need_act(out(), mode, "output"));
    const auto& as = info(a).shape;
    const auto& bs = info(b).shape;
    kernels::BroadcastShape bc;
    if (!kernels::make_broadcast(static_cast<int>(as.size()), as.data(),
                                 static_cast<int>(bs.size()), bs.data(), &bc)) {
      return invalid(fmt::format("{} input shapes {} ({}) and {} ({}) do not broadcast", opname_,
                                 shape_str(as), tdesc(a), shape_str(bs), tdesc(b)));
    }
    y_shape.assign(bc.out, bc.out + bc.rank);
    return check_activation(o.activation, o.clip_min, o.clip_max);
  }

  Status concat(std::vector<int64_t>& y_shape) {
    QUANTA_OPS_TRY(arity(1, SIZE_MAX));
    const size_t count = node_.inputs.size();
    for (size_t i = 0; i < count; ++i) {
      if (node_.inputs[i] < 0) {
        return invalid(fmt::format("{} input {} is omitted (-1); every input is required",
                                   opname_, i));
      }
    }
    QUANTA_OPS_TRY(need_int(static_cast<int64_t>(count), "input count"));
    const int x0 = in(0);
    Mode mode{};
    QUANTA_OPS_TRY(mode_of(x0, &mode));
    const auto o = read_options<fb::ConcatOptionsT>(fbn_);
    const auto& s0 = info(x0).shape;
    const int rank = static_cast<int>(s0.size());
    if (o.axis < -rank || o.axis >= rank) {
      return invalid(fmt::format("{} axis {} is out of range for rank {} (input {} shape {})",
                                 opname_, o.axis, rank, tdesc(x0), shape_str(s0)));
    }
    const int axis = o.axis < 0 ? o.axis + rank : o.axis;
    y_shape = s0;
    y_shape[axis] = 0;
    for (size_t i = 0; i < count; ++i) {
      const int t = in(i);
      QUANTA_OPS_TRY(need_act(t, mode, "input"));
      const auto& s = info(t).shape;
      if (static_cast<int>(s.size()) != rank) {
        return invalid(fmt::format("{} input {} {} has rank {} (shape {}); input 0 has rank {}",
                                   opname_, i, tdesc(t), s.size(), shape_str(s), rank));
      }
      for (int d = 0; d < rank; ++d) {
        if (d != axis && s[d] != s0[d]) {
          return invalid(fmt::format(
              "{} input {} {} has shape {}, which differs from input 0 shape {} on axis {} "
              "(only the concat axis {} may differ)",
              opname_, i, tdesc(t), shape_str(s), shape_str(s0), d, axis));
        }
      }
      y_shape[axis] += s[axis];
    }
    return need_act(out(), mode, "output");
  }

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

  Status pool(std::vector<int64_t>& y_shape) {
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

  Status global_avgpool(std::vector<int64_t>& y_shape) {
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
    return Status::Ok();
  }

  Status unary(std::vector<int64_t>& y_shape) {
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

  Status softmax(std::vector<int64_t>& y_shape) {
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
    return Status::Ok();
  }

  Status reshape() {
    QUANTA_OPS_TRY(arity(1, 2));
    const int x = in(0);
    const int shape_in = in(1);
    if (shape_in >= 0 && !info(shape_in).is_constant) {
      return unsupported(fmt::format(
          "{} shape input {} must be a constant (dynamic shapes are not supported)", opname_,
          tdesc(shape_in)));
    }
    Mode mode{};
    QUANTA_OPS_TRY(act_in_out(x, OutRule::kSameAsInput, &mode));
    if (info(x).num_elements != out_info().num_elements) {
      return invalid(fmt::format(
          "{} output {} has shape {} ({} elements) but input {} has shape {} ({} elements)",
          opname_, tdesc(out()), shape_str(out_info().shape), out_info().num_elements, tdesc(x),
          shape_str(info(x).shape), info(x).num_elements));
    }
    return Status::Ok();
  }

  Status transpose(std::vector<int64_t>& y_shape) {
    QUANTA_OPS_TRY(arity(1, 1));
    const int x = in(0);
    Mode mode{};
    QUANTA_OPS_TRY(act_in_out(x, OutRule::kSameAsInput, &mode));
    const auto o = read_options<fb::TransposeOptionsT>(fbn_);
    const auto& xs = info(x).shape;
    const size_t rank = xs.size();
    if (!o.perm.empty() && o.perm.size() != rank) {
      return invalid(fmt::format("Transpose perm [{}] has {} entries; input {} has rank {}",
                                 fmt::join(o.perm, ","), o.perm.size(), tdesc(x), rank));
    }
    std::vector<bool> seen(rank, false);
    for (int32_t p : o.perm) {
      if (p < 0 || static_cast<size_t>(p) >= rank || seen[static_cast<size_t>(p)]) {
        return invalid(fmt::format("Transpose perm [{}] is not a permutation of 0..{}",
                                   fmt::join(o.perm, ","), static_cast<int64_t>(rank) - 1));
      }
      seen[static_cast<size_t>(p)] = true;
    }
    const std::vector<int> perm = effective_perm(o.perm, rank);
    y_shape.resize(rank);
    for (size_t i = 0; i < rank; ++i) y_shape[i] = xs[static_cast<size_t>(perm[i])];
    return Status::Ok();
  }

  Status pad(std::vector<int64_t>& y_shape) {
    QUANTA_OPS_TRY(arity(1, 1));
    const int x = in(0);
    Mode mode{};
    QUANTA_OPS_TRY(act_in_out(x, OutRule::kSameAsInput, &mode));
    const auto o = read_options<fb::PadOptionsT>(fbn_);
    const auto& xs = info(x).shape;
    const size_t rank = xs.size();
    if (o.pads.size() != 2 * rank) {
      return invalid(fmt::format("Pad has {} pads; input {} of rank {} needs {} (begins, ends)",
                                 o.pads.size(), tdesc(x), rank, 2 * rank));
    }
    const int mode_v = static_cast<int>(o.mode);
    if (mode_v < static_cast<int>(fb::PadMode::MIN) || mode_v > static_cast<int>(fb::PadMode::MAX)) {
      return invalid(fmt::format("Pad mode {} is not a valid PadMode", mode_v));
    }
    if (o.mode == fb::PadMode::CONSTANT && std::isnan(o.value)) {
      return invalid("Pad constant value is NaN");
    }
    y_shape.resize(rank);
    for (size_t d = 0; d < rank; ++d) {
      const int64_t pb = o.pads[d], pe = o.pads[d + rank];
      if (pb < 0 || pe < 0) {
        return unsupported(fmt::format(
            "Pad pads on axis {} are ({}, {}); negative pads (cropping) are not supported", d, pb,
            pe));
      }
      if (o.mode == fb::PadMode::REFLECT && (pb >= xs[d] || pe >= xs[d]) && (pb > 0 || pe > 0)) {
        return invalid(fmt::format(
            "Pad reflect pads on axis {} are ({}, {}); they must be smaller than the dimension {}",
            d, pb, pe, xs[d]));
      }
      if (o.mode == fb::PadMode::EDGE && xs[d] == 0 && (pb > 0 || pe > 0)) {
        return invalid(fmt::format("Pad edge mode cannot pad the empty axis {}", d));
      }
      if (pb > (int64_t{1} << 40) || pe > (int64_t{1} << 40)) {
        return invalid(fmt::format("Pad pads on axis {} are ({}, {}); too large", d, pb, pe));
      }
      y_shape[d] = xs[d] + pb + pe;
    }
    return Status::Ok();
  }

  Status quantize(std::vector<int64_t>& y_shape) {
    QUANTA_OPS_TRY(arity(1, 1));
    const int x = in(0);
    if (op_ == OpType::kQuantize) {
      QUANTA_OPS_TRY(need_dtype(x, DType::kF32, "input"));
      QUANTA_OPS_TRY(need_qu8(out(), "output"));
    } else {
      QUANTA_OPS_TRY(need_qu8(x, "input"));
      QUANTA_OPS_TRY(need_dtype(out(), DType::kF32, "output"));
    }
    y_shape = info(x).shape;
    return Status::Ok();
  }
};

}  // namespace

Status check_graph_semantics(ModelImpl& impl) {
  for (size_t j = 0; j < impl.nodes.size(); ++j) {
    impl.nodes[j].macs = 0;
    NodeChecker checker(impl, static_cast<int>(j));
    QUANTA_OPS_TRY(checker.check());
  }
  return Status::Ok();
}

}  // namespace quanta::detail
