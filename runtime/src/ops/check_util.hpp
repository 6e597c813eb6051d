// Internal: the helpers every op's load-time check uses (ops/<op>.cpp, the
// `check` of its OpDef; shape_check.cpp runs them, see its header comment for
// the rules and the status codes).
//
// An op's check is a class deriving from NodeChecker with
//   Status infer(std::vector<int64_t>& y_shape);
// (and `static constexpr bool kInfersShape = false` when the stored output
// shape is the op's definition, as for the Reshape family); run_check<C>
// runs it between the checks common to every node.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "ops/op_common.hpp"

namespace quanta::detail {

std::string shape_str(const std::vector<int64_t>& s);
int64_t sat_mul(int64_t a, int64_t b);
bool same_quant(const QuantParams& a, const QuantParams& b);
std::string quant_str(const QuantParams& q);

enum class Mode { kFloat, kQuant };

class NodeChecker {
 public:
  NodeChecker(ModelImpl& m, int j);

  // What every node must satisfy before its op's own rules: the options
  // table has the op's type, and the node has one output.
  Status check_common() const;
  // After the op's rules: the inferred shape equals the stored one (when the
  // op infers one); fills NodeInfo::macs and ModelImpl::geometry.
  Status finish(const std::vector<int64_t>& inferred, bool has_inferred);
  // The op type has no implementation.
  Status unknown_op() const;

  static constexpr bool kInfersShape = true;

 protected:
  ModelImpl& m_;
  int j_;
  NodeInfo& node_;
  const fb::Node* fbn_;
  OpType op_;
  const char* opname_;
  std::string where_;
  int64_t macs_ = 0;
  std::shared_ptr<const void> geometry_;

  // The op's geometry G for its prepare step (OpContext::geometry<G>), kept
  // when the node passes its check.
  template <class G>
  G& set_geometry() {
    auto g = std::make_shared<G>();
    G& ref = *g;
    geometry_ = std::move(g);
    return ref;
  }

  // ------------------------------------------------------------ basics
  Status invalid(const std::string& msg) const;
  Status unsupported(const std::string& msg) const;
  int in(size_t k) const { return k < node_.inputs.size() ? node_.inputs[k] : -1; }
  int out() const { return node_.outputs[0]; }
  const TensorInfo& info(int t) const { return m_.tensors[t]; }
  const TensorInfo& out_info() const { return info(out()); }
  std::string tdesc(int t) const { return describe_tensor(m_, t); }

  Status check_options_type() const;

  // Inputs [min, max] in number; the first `min` must be present (not -1).
  Status arity(size_t min, size_t max) const;

  // Float or quantized, by the dtype of the first input.
  Status mode_of(int t, Mode* mode) const;

  Status need_dtype(int t, DType want, const char* role) const;

  // u8 with per-tensor quantization.
  Status need_qu8(int t, const char* role) const;

  // The activation dtype of the node's mode.
  Status need_act(int t, Mode mode, const char* role) const;

  Status need_rank(int t, size_t rank, const char* role) const;

  Status need_const(int t, const char* role) const;

  // Kernel parameters are int: larger dimensions are refused.
  Status need_int(int64_t v, const char* what) const;

  Status need_same_dtype_quant(int x, int y) const;

  // What a one-input op requires of its output: an activation of the node's
  // mode, or exactly the input's dtype and quantization (data movement).
  enum class OutRule { kActivation, kSameAsInput };
  static constexpr size_t kAnyRank = SIZE_MAX;

  // The usual start of a one-activation op: x sets the mode; x has rank `rank`
  // (unless kAnyRank) and is an activation of that mode; the output follows
  // `out_rule`. Checked in that order.
  Status act_in_out(int x, OutRule out_rule, Mode* mode, size_t rank = kAnyRank) const;

  Status check_activation(fb::Activation a, float lo, float hi) const;

  Status check_geometry(const char* what, int64_t value, int64_t min) const;

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
  Status check_weights_q(int w, int64_t channels, int axis) const;

  static float channel_scale(const QuantParams& q, int64_t c);

  // Bias: constant [channels], f32 (float) or i32 with scale s_x * s_w[c].
  Status check_bias(int b, Mode mode, int64_t channels, int x, int w) const;

  // docs/design.md §1: k * per_product + max|bias| must fit int32.
  Status check_accumulator(int64_t k, int64_t per_product, const char* rule, int b) const;

  // The dtype side of an op with weights w [channels, ...] and bias b
  // (Conv2D, FullyConnected): output activation; f32 weights (float) or u8
  // input and i8 weights per tensor / per output channel (quantized); the
  // bias; and, quantized, the accumulator bound for K = k.
  Status check_weighted(int x, int w, int b, Mode mode, int64_t channels, int64_t k) const;
};

// The OpDef::check of an op whose checker is C.
template <class C>
Status run_check(ModelImpl& m, int j) {
  C c(m, j);
  QUANTA_OPS_TRY(c.check_common());
  std::vector<int64_t> inferred;
  QUANTA_OPS_TRY(c.infer(inferred));
  return c.finish(inferred, C::kInfersShape);
}

}  // namespace quanta::detail
