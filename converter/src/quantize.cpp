// Post-training quantization of the float graph (docs/design.md §1).
//
// Every node runs quantized unless excluded (or unless its accumulator bound
// would overflow int32, which keeps it in float with a warning). Each graph
// tensor can exist in two versions, float (f32) and quantized (u8); the
// version a node's mode does not produce is made on demand by a Quantize or
// Dequantize node, once per tensor. Graph inputs arrive as float and graph
// outputs leave as float, with their ONNX names, so the int8 model has the
// same interface as the float one.
//
//   weights      int8 symmetric, per output channel (per tensor as an option):
//                s_w[c] = max|w[c]| / 127, q = clamp(round(w / s_w), -127, 127),
//                raised where needed to a floor that keeps the bias, the
//                accumulator and the multiplier representable (scale_floor)
//   bias         int32, s_b[c] = s_x * s_w[c], q = round(b / s_b) (the runtime
//                folds the input zero point in at prepare time)
//   activations  uint8 asymmetric per tensor, from the calibrated range
//   data movement (Reshape, Flatten, Squeeze, Unsqueeze, Transpose, Pad,
//                MaxPool): output parameters = input parameters
//   Softmax      output scale 1/256, zero point 0; a Softmax that writes a
//                graph output runs in float (its input is dequantized)
//   constants read as activations (Add/Mul/Concat/MatMul operands): uint8
//                per tensor over their own range
#include <algorithm>
#include <cfloat>
#include <climits>
#include <cmath>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <set>

#include "calib_stats.hpp"
#include "graph.hpp"
#include "quanta/op_traits.hpp"

namespace quanta::convert {
namespace {

QuantParams per_tensor(float scale, int32_t zp) {
  QuantParams q;
  q.scale = {scale};
  q.zero_point = {zp};
  return q;
}

QuantParams u8_from_range(float lo, float hi) {
  const detail::U8Params p = detail::u8_params_for_range(lo, hi);
  return per_tensor(p.scale, p.zero_point);
}

// Data movement (kOpKeepsQuant in quanta/op_list.def): the output has the
// input's quantization.
bool keeps_input_quant(OpType op) {
  return quanta::detail::op_has(op, quanta::detail::kOpKeepsQuant);
}

std::string fmt_scale(float s) { return fmt::format("{:.4g}", s); }

// x clamped to [lo, hi], then converted: never a value the integer type
// cannot hold (NaN, which no clamp moves, becomes 0).
template <class T, class F>
T clamp_cast(F x, F lo, F hi) {
  if (std::isnan(x)) return T{0};
  return static_cast<T>(std::clamp(x, lo, hi));
}

// "2, 5, 6"; a long list shows its first 7 entries and its last.
std::string channel_list(const std::vector<int64_t>& c) {
  constexpr size_t kShown = 8;
  if (c.size() <= kShown) return fmt::format("{}", fmt::join(c, ", "));
  return fmt::format("{}, ..., {}", fmt::join(c.begin(), c.begin() + kShown - 1, ", "), c.back());
}

// ---- weight scale floor (docs/converter.md, "Weight scale floor")
//
// The largest |b_q| a channel may have with K terms in its dot products: half
// of what the accumulator bound K * 255 * 127 (docs/design.md §1) leaves of int32.
// Needs K * 255 * 127 < INT32_MAX, which gives a budget of at least 956.
int64_t bias_budget(int64_t k) { return (INT32_MAX - k * 255 * 127) / 2; }

// round(b / s_b), in double as the bias is written.
double quantized_bias(float b, float sb) {
  return std::nearbyint(static_cast<double>(b) / static_cast<double>(sb));
}

// Whether s is a usable weight scale for a channel with bias b: s, the bias
// scale fl(sx * s) and the multiplier fl(fl(sx * s) / sy) (the kernels' fp32
// order) are normal floats, and |b_q| fits the budget.
bool scale_usable(float s, float sx, float sy, float b, int64_t budget) {
  const float sb = sx * s;
  const float m = sb / sy;
  return s >= FLT_MIN && sb >= FLT_MIN && m >= FLT_MIN && std::isfinite(m) &&
         std::fabs(quantized_bias(b, sb)) <= static_cast<double>(budget);
}

// The smallest weight scale a channel may have (inf when no finite one works):
//   max(FLT_MIN, FLT_MIN / sx, FLT_MIN * sy / sx, |b| / (sx * budget)),
// computed in double, then moved up by a few fp32 steps until the fp32
// products the runtime computes pass (the rounding of fl(sx * s) may cost one).
float scale_floor(float sx, float sy, float b, int64_t budget) {
  const double dx = sx;
  const double need = std::max({static_cast<double>(FLT_MIN), FLT_MIN / dx,
                                FLT_MIN * static_cast<double>(sy) / dx,
                                std::fabs(static_cast<double>(b)) / (dx * static_cast<double>(budget))});
  if (!(need <= FLT_MAX)) return INFINITY;
  float s = static_cast<float>(need);
  for (int i = 0; i < 8 && std::isfinite(s) && !scale_usable(s, sx, sy, b, budget); ++i) {
    s = std::nextafter(s, INFINITY);
  }
  return scale_usable(s, sx, sy, b, budget) ? s : INFINITY;
}

std::string range_of(const QuantParams& q) {
  const float s = q.scale[0];
  const int32_t z = q.zero_point[0];
  return fmt::format("u8 s={} zp={} [{:.4g}, {:.4g}]", fmt_scale(s), z, s * (0 - z), s * (255 - z));
}

class Quantizer {
 public:
  Quantizer(const FloatGraph& g, const Calibration& c, const QuantizeOptions& o, QuantizeReport* r)
      : g_(g), calib_(c), opt_(o), report_(r), w_(producer_string()) {}

  Result<std::vector<uint8_t>> run() {
    const size_t nt = g_.tensors.size();
    fver_.assign(nt, -1);
    qver_.assign(nt, -1);
    qparams_.resize(nt);
    if (Status s = check_quantize_options(g_, opt_); !s.ok()) return s;
    // Tensors that become a graph output through data movement only.
    reaches_output_.assign(nt, false);
    for (int t : g_.outputs) reaches_output_[t] = true;
    for (size_t j = g_.nodes.size(); j-- > 0;) {
      const LNode& n = g_.nodes[j];
      if (keeps_input_quant(n.op) && reaches_output_[n.outputs[0]]) reaches_output_[n.inputs[0]] = true;
    }
    // Graph inputs: float, quantized on demand.
    for (int t : g_.inputs) fver_[t] = w_.add_tensor(g_.tensors[t].name, g_.tensors[t].shape, DType::kF32);
    for (size_t j = 0; j < g_.nodes.size(); ++j) {
      if (Status s = node(g_.nodes[j]); !s.ok()) return s;
    }
    std::vector<int> ins, outs;
    for (int t : g_.inputs) ins.push_back(fver_[t]);
    for (int t : g_.outputs) {
      auto f = float_version(t, "dequantize_output");
      if (!f) return f.status();
      outs.push_back(*f);
    }
    w_.set_inputs(ins);
    w_.set_outputs(outs);
    w_.set_description(fmt::format(
        "int8, converted from ONNX (opset {}): weights int8 {}, activations uint8 per tensor "
        "calibrated ({}) on {} samples",
        g_.log.opset, opt_.per_channel ? "per output channel" : "per tensor",
        calibration_method_name(calib_.method), calib_.samples));
    std::vector<uint8_t> bytes = w_.finish();
    auto m = Model::load_buffer(bytes.data(), bytes.size(), /*copy=*/false);
    if (!m) {
      return Status{StatusCode::kInternal,
                    "the quantized model does not pass the runtime's checks: " + m.status().message()};
    }
    auto s = Session::create(*m, opt_.session);
    if (!s) {
      // A memory limit is the caller's choice, not an internal error.
      const StatusCode code = s.status().code() == StatusCode::kResourceExhausted
                                  ? StatusCode::kResourceExhausted
                                  : StatusCode::kInternal;
      return Status{code, "the quantized model cannot be prepared by the runtime: " + s.status().message()};
    }
    return bytes;
  }

 private:
  const FloatGraph& g_;
  const Calibration& calib_;
  const QuantizeOptions& opt_;
  QuantizeReport* report_;
  ModelWriter w_;
  std::vector<int> fver_, qver_;          // writer index of each version, -1: none yet
  std::vector<QuantParams> qparams_;      // parameters of the quantized version
  std::vector<bool> reaches_output_;

  const LTensor& T(int t) const { return g_.tensors[t]; }

  bool excluded(const LNode& n) const {
    for (const std::string& e : opt_.exclude) {
      if (n.name == e || std::find(n.source.begin(), n.source.end(), e) != n.source.end()) return true;
    }
    return false;
  }

  Result<QuantParams> calibrated(int t) const {
    auto it = calib_.ranges.find(T(t).name);
    if (it == calib_.ranges.end()) {
      return Status{StatusCode::kInternal, fmt::format("no calibrated range for tensor '{}'", T(t).name)};
    }
    if (it->second.count == 0) {
      return Status{StatusCode::kInvalidArgument,
                    fmt::format("tensor '{}' never had a finite value during calibration (NaN or "
                                "inf everywhere); its range cannot be chosen", T(t).name)};
    }
    return u8_from_range(it->second.lo, it->second.hi);
  }

  // The float version of tensor t (Dequantize on demand).
  Result<int> float_version(int t, const std::string& why) {
    if (fver_[t] >= 0) return fver_[t];
    if (T(t).is_const) {
      fver_[t] = w_.add_constant_f32(T(t).name, T(t).shape, T(t).data);
      return fver_[t];
    }
    if (qver_[t] < 0) return Status{StatusCode::kInternal, fmt::format("tensor '{}' has no version", T(t).name)};
    fver_[t] = w_.add_tensor(T(t).name, T(t).shape, DType::kF32);
    w_.add_node(OpType::kDequantize, {qver_[t]}, {fver_[t]}, {}, why + ":" + T(t).name, {});
    return fver_[t];
  }

  // The quantized version of tensor t (Quantize on demand; constants are
  // quantized over their own range).
  Result<int> quant_version(int t) {
    if (qver_[t] >= 0) return qver_[t];
    if (T(t).is_const) {
      float lo = 0, hi = 0;
      for (float v : T(t).data) {
        lo = std::min(lo, v);
        hi = std::max(hi, v);
      }
      qparams_[t] = u8_from_range(lo, hi);
      const float s = qparams_[t].scale[0];
      const int32_t z = qparams_[t].zero_point[0];
      std::vector<uint8_t> q(T(t).data.size());
      for (size_t i = 0; i < q.size(); ++i) {
        const float r = std::nearbyint(T(t).data[i] / s) + static_cast<float>(z);
        q[i] = clamp_cast<uint8_t>(r, 0.0f, 255.0f);
      }
      qver_[t] = w_.add_constant(T(t).name + "_q", T(t).shape, DType::kU8, q.data(), q.size(), qparams_[t]);
      return qver_[t];
    }
    if (fver_[t] < 0) return Status{StatusCode::kInternal, fmt::format("tensor '{}' has no version", T(t).name)};
    auto q = calibrated(t);
    if (!q) return q.status();
    qparams_[t] = *q;
    qver_[t] = w_.add_tensor(T(t).name + "_q", T(t).shape, DType::kU8, qparams_[t]);
    w_.add_node(OpType::kQuantize, {fver_[t]}, {qver_[t]}, {}, "quantize:" + T(t).name, {});
    return qver_[t];
  }

  // Creates the node's output in its mode.
  int new_output(int t, bool quant, const QuantParams& q) {
    const bool is_out = g_.is_graph_output(t);
    if (!quant) {
      fver_[t] = w_.add_tensor(T(t).name, T(t).shape, DType::kF32);
      return fver_[t];
    }
    qparams_[t] = q;
    qver_[t] = w_.add_tensor(is_out ? T(t).name + "_q" : T(t).name, T(t).shape, DType::kU8, q);
    return qver_[t];
  }

  void summarize(const LNode& n, const std::string& precision, const std::string& weights,
                 const std::string& output, std::vector<int64_t> floored = {}) {
    if (!report_) return;
    report_->nodes.push_back({n.name, op_type_name(n.op), precision, weights, output, std::move(floored)});
  }

  struct QWeights {
    int w = -1, b = -1;
    std::string desc;
    int64_t max_abs_bias = 0;
    std::vector<int64_t> floored;  // channels whose scale was raised to its floor
  };

  // Sum over a channel's weights of (w - s * q)^2, q = clamp(round(w / s), -127, 127).
  static double rounding_power(const float* w, int64_t n, float s) {
    double e = 0;
    for (int64_t i = 0; i < n; ++i) {
      const float q = std::clamp(std::nearbyint(w[i] / s), -127.0f, 127.0f);
      const double d = static_cast<double>(w[i]) - static_cast<double>(s) * q;
      e += d * d;
    }
    return e;
  }

  // A floored channel whose weights are ~0 (the usual case) loses nothing. One
  // whose weights matter (K near the int32 limit) may: warn when the floor
  // adds more than one output step of typical error to its dot products,
  // 255 * s_x * sqrt(sum_k (w - s_w q)^2 - sum_k (w - s0 q0)^2) / s_y (inputs
  // at full scale, independent rounding errors).
  void warn_costly_floors(const LNode& n, const LTensor& wt, const std::vector<float>& s0,
                          const std::vector<float>& sw, float sx, float sy) {
    if (!report_) return;
    const int64_t cout = wt.shape[0], per = wt.num_elements() / cout;
    std::vector<int64_t> costly;
    double worst = 0;
    for (int64_t c = 0; c < cout; ++c) {
      if (sw[c] <= s0[c]) continue;
      const float* w = wt.data.data() + c * per;
      const double added = rounding_power(w, per, sw[c]) - rounding_power(w, per, s0[c]);
      const double extra = 255.0 * sx * std::sqrt(std::max(added, 0.0)) / sy;
      if (extra > 1.0) {
        costly.push_back(c);
        worst = std::max(worst, extra);
      }
    }
    if (costly.empty()) return;
    report_->warnings.push_back(fmt::format(
        "node '{}': the weight scale floor (bias and accumulator inside int32) coarsens weights "
        "that matter in {} channel(s): {}; their outputs may move by about {:.1f} output steps "
        "(--exclude {} keeps the node in float)",
        n.name, costly.size(), channel_list(costly), worst, n.name));
  }

  // Conv2D [Cout, KH, KW, Cin/g] or FullyConnected [N, K]: channel axis 0.
  // sx, sy: the input and output scales (calibrated).
  Result<QWeights> quantize_weights(const LNode& n, float sx, float sy) {
    const LTensor& wt = T(n.inputs[1]);
    const LTensor* bt = n.inputs.size() > 2 && n.inputs[2] >= 0 ? &T(n.inputs[2]) : nullptr;
    const int64_t cout = wt.shape.empty() ? 0 : wt.shape[0];
    if (cout < 1 || wt.num_elements() % cout != 0 || wt.num_elements() == 0 ||
        static_cast<int64_t>(wt.data.size()) != wt.num_elements() ||
        (bt && static_cast<int64_t>(bt->data.size()) != cout)) {
      return Status{StatusCode::kInternal,
                    fmt::format("node '{}': weight '{}' of shape [{}] and its bias do not match", n.name,
                                wt.name, fmt::join(wt.shape, ", "))};
    }
    const int64_t per = wt.num_elements() / cout;
    // A NaN or inf can neither set a scale nor be rounded to an integer.
    for (const auto& [what, t] : {std::pair{"weight", &wt}, std::pair{"bias", bt}}) {
      if (t == nullptr) continue;
      const auto bad = std::find_if(t->data.begin(), t->data.end(), [](float v) { return !std::isfinite(v); });
      if (bad != t->data.end()) {
        return Status{StatusCode::kInvalidModel,
                      fmt::format("node '{}': {} '{}' has the non-finite value {} at index {}; it "
                                  "cannot be quantized", n.name, what, t->name, *bad,
                                  bad - t->data.begin())};
      }
    }
    std::vector<float> amax(static_cast<size_t>(cout), 0.0f);
    for (int64_t c = 0; c < cout; ++c) {
      for (int64_t i = 0; i < per; ++i) amax[c] = std::max(amax[c], std::fabs(wt.data[c * per + i]));
    }
    // The floor of each channel's scale (docs/converter.md, "Weight scale floor").
    const int64_t budget = bias_budget(per);  // per = K, the dot length
    std::vector<float> floor(static_cast<size_t>(cout));
    for (int64_t c = 0; c < cout; ++c) {
      const float b = bt ? bt->data[c] : 0.0f;
      floor[c] = scale_floor(sx, sy, b, budget);
      if (!std::isfinite(floor[c])) {
        return Status{StatusCode::kUnsupported,
                      fmt::format("node '{}', output channel {}: no fp32 weight scale represents its "
                                  "bias {} as int32 with input scale {} and output scale {}; keep "
                                  "the node in float with --exclude {}",
                                  n.name, c, b, sx, sy, n.name)};
      }
    }
    // The scale each channel would have without a floor (s0), and the one it gets (sw).
    std::vector<float> s0(static_cast<size_t>(cout));
    if (opt_.per_channel) {
      // An all-zero channel borrows the smallest non-zero scale (its bias keeps a fine step).
      float smallest = 0;
      for (float a : amax) {
        if (a > 0 && (smallest == 0 || a < smallest)) smallest = a;
      }
      for (int64_t c = 0; c < cout; ++c) {
        s0[c] = (amax[c] > 0 ? amax[c] : (smallest > 0 ? smallest : 127.0f)) / 127.0f;
      }
    } else {
      const float a = *std::max_element(amax.begin(), amax.end());
      std::fill(s0.begin(), s0.end(), (a > 0 ? a : 127.0f) / 127.0f);
    }
    QWeights r;
    std::vector<float> sw(static_cast<size_t>(cout));
    for (int64_t c = 0; c < cout; ++c) {
      sw[c] = std::max(s0[c], floor[c]);
      if (floor[c] > s0[c]) r.floored.push_back(c);
    }
    if (!opt_.per_channel) std::fill(sw.begin(), sw.end(), *std::max_element(sw.begin(), sw.end()));
    std::vector<int8_t> wq(static_cast<size_t>(wt.num_elements()));
    for (int64_t c = 0; c < cout; ++c) {
      for (int64_t i = 0; i < per; ++i) {
        const float q = std::nearbyint(wt.data[c * per + i] / sw[c]);
        wq[c * per + i] = clamp_cast<int8_t>(q, -127.0f, 127.0f);
      }
    }
    warn_costly_floors(n, wt, s0, sw, sx, sy);
    QuantParams wqp;
    if (opt_.per_channel) {
      wqp.axis = 0;
      wqp.scale = sw;
      wqp.zero_point.assign(static_cast<size_t>(cout), 0);
    } else {
      wqp = per_tensor(sw[0], 0);
    }
    r.w = w_.add_constant_i8(wt.name, wt.shape, wq, wqp);
    const auto [mn, mx] = std::minmax_element(sw.begin(), sw.end());
    r.desc = opt_.per_channel ? fmt::format("i8 per-channel x{} s=[{}..{}]", cout, fmt_scale(*mn), fmt_scale(*mx))
                              : fmt::format("i8 per-tensor s={}", fmt_scale(sw[0]));
    if (!r.floored.empty()) {
      r.desc += fmt::format("; {} floored: {}", r.floored.size(), channel_list(r.floored));
    }
    if (bt) {
      std::vector<int32_t> bq(static_cast<size_t>(cout));
      QuantParams bqp;
      bqp.axis = 0;
      for (int64_t c = 0; c < cout; ++c) {
        const float sb = sx * sw[c];  // docs/design.md §1, in fp32 as the runtime checks it
        const double q = quantized_bias(bt->data[c], sb);
        const double lim = static_cast<double>(INT32_MAX);
        bq[c] = clamp_cast<int32_t>(q, -lim, lim);
        r.max_abs_bias = std::max<int64_t>(r.max_abs_bias, std::llabs(static_cast<long long>(bq[c])));
        bqp.scale.push_back(sb);
        bqp.zero_point.push_back(0);
      }
      r.b = w_.add_constant_i32(bt->name, bt->shape, bq, bqp);
    }
    return r;
  }

  // The node's quantized output parameters (from calibration, or fixed).
  Result<QuantParams> output_params(const LNode& n) {
    if (n.op == OpType::kSoftmax) return per_tensor(1.0f / 256.0f, 0);
    return calibrated(n.outputs[0]);
  }

  Status node(const LNode& n) {
    bool quant = !excluded(n);
    std::string why_float = quant ? "" : "float (excluded)";
    // A Softmax that produces a graph output (directly or through data
    // movement such as a Squeeze) stays in float: probabilities
    // with a 1/256 step would cost ~40 dB of output SQNR for a 10-value op.
    if (quant && (n.op == OpType::kSoftmax || n.op == OpType::kLogSoftmax) &&
        reaches_output_[n.outputs[0]]) {
      quant = false;
      why_float = "float (softmax output)";
    }
    // Data movement follows its input: no Quantize/Dequantize pair just to move bytes.
    if (quant && keeps_input_quant(n.op) && !T(n.inputs[0]).is_const && qver_[n.inputs[0]] < 0 &&
        fver_[n.inputs[0]] >= 0 && !g_.is_graph_input(n.inputs[0])) {
      quant = false;
      why_float = "float (input is float)";
    }
    // Accumulator bound (docs/design.md §1) for Conv2D / FullyConnected.
    const bool has_weights = (n.op == OpType::kConv2D || n.op == OpType::kFullyConnected) &&
                             n.inputs.size() > 1 && T(n.inputs[1]).is_const;
    if (quant && has_weights) {
      const LTensor& wt = T(n.inputs[1]);
      const int64_t k = wt.num_elements() / wt.shape[0];
      if (k * 255 * 127 >= INT32_MAX) {
        quant = false;
        why_float = "float (K too large for int32)";
        if (report_) {
          report_->warnings.push_back(fmt::format(
              "node '{}' stays in float: its dot products have K = {} terms, and K * 255 * 127 "
              "overflows the int32 accumulator", n.name, k));
        }
      }
    }
    std::vector<int> ins;
    if (!quant) {
      for (int t : n.inputs) {
        if (t < 0) {
          ins.push_back(-1);
          continue;
        }
        auto f = float_version(t, "dequantize");
        if (!f) return f.status();
        ins.push_back(*f);
      }
      std::vector<int> outs;
      for (int t : n.outputs) outs.push_back(new_output(t, false, {}));
      w_.add_node(n.op, ins, outs, n.options, n.name, n.source);
      summarize(n, why_float, "", "f32");
      return Status::Ok();
    }
    // Activation inputs (for weight ops only input 0).
    const size_t act_inputs = has_weights ? 1 : n.inputs.size();
    for (size_t i = 0; i < act_inputs; ++i) {
      auto q = quant_version(n.inputs[i]);
      if (!q) return q.status();
      ins.push_back(*q);
    }
    QuantParams oq;
    if (keeps_input_quant(n.op)) {
      oq = qparams_[n.inputs[0]];
    } else {
      auto q = output_params(n);
      if (!q) return q.status();
      oq = *q;
    }
    std::string wdesc;
    std::vector<int64_t> floored;
    if (has_weights) {
      const float sx = qparams_[n.inputs[0]].scale[0];
      const LTensor& wt = T(n.inputs[1]);
      const int64_t k = wt.num_elements() / wt.shape[0];
      auto qw = quantize_weights(n, sx, oq.scale[0]);
      if (!qw) return qw.status();
      ins.push_back(qw->w);
      if (n.inputs.size() > 2) ins.push_back(qw->b);
      wdesc = qw->desc;
      floored = qw->floored;
      if (k * 255 * 127 + qw->max_abs_bias >= INT32_MAX) {  // the floor rules this out
        return Status{StatusCode::kInternal,
                      fmt::format("node '{}': the quantized bias (max |b| = {}) and K = {} overflow "
                                  "the int32 accumulator despite the weight scale floor",
                                  n.name, qw->max_abs_bias, k)};
      }
    }
    std::vector<int> outs = {new_output(n.outputs[0], true, oq)};
    w_.add_node(n.op, ins, outs, n.options, n.name, n.source);
    summarize(n, keeps_input_quant(n.op) ? "uint8 (input's scale)" : "int8", wdesc, range_of(oq),
              std::move(floored));
    return Status::Ok();
  }
};

}  // namespace

Result<std::vector<uint8_t>> build_int8(const FloatGraph& g, const Calibration& calibration,
                                        const QuantizeOptions& options, QuantizeReport* report) {
  if (calibration.samples <= 0 || calibration.ranges.empty()) {
    return Status{StatusCode::kInvalidArgument,
                  "int8 conversion needs calibration data: activation ranges come from running the "
                  "float model on representative inputs (give --calib FILE.npy or --calib-dir DIR, "
                  "or convert with --precision fp32)"};
  }
  return detail::no_exceptions("build_int8", [&]() -> Result<std::vector<uint8_t>> {
    if (report) *report = {};
    Quantizer q(g, calibration, options, report);
    return q.run();
  });
}

}  // namespace quanta::convert
