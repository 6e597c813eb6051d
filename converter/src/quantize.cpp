// Post-training quantization of the float graph (DESIGN §1).
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
//                s_w[c] = max|w[c]| / 127, q = clamp(round(w / s_w), -127, 127)
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
#include <climits>
#include <cmath>
#include <fmt/format.h>
#include <set>

#include "calib_stats.hpp"
#include "graph.hpp"

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

bool keeps_input_quant(OpType op) {
  switch (op) {
    case OpType::kReshape: case OpType::kFlatten: case OpType::kSqueeze: case OpType::kUnsqueeze:
    case OpType::kTranspose: case OpType::kPad: case OpType::kMaxPool:
      return true;
    default:
      return false;
  }
}

std::string fmt_scale(float s) { return fmt::format("{:.4g}", s); }

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
    auto s = Session::create(*m);
    if (!s) {
      return Status{StatusCode::kInternal,
                    "the quantized model cannot be prepared by the runtime: " + s.status().message()};
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
        q[i] = static_cast<uint8_t>(std::clamp(r, 0.0f, 255.0f));
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
                 const std::string& output) {
    if (!report_) return;
    report_->nodes.push_back({n.name, op_type_name(n.op), precision, weights, output});
  }

  struct QWeights {
    int w = -1, b = -1;
    std::string desc;
    int64_t max_abs_bias = 0;
  };

  // Conv2D [Cout, KH, KW, Cin/g] or FullyConnected [N, K]: channel axis 0.
  QWeights quantize_weights(const LNode& n, float sx) {
    const LTensor& wt = T(n.inputs[1]);
    const int64_t cout = wt.shape[0];
    const int64_t per = wt.num_elements() / cout;
    std::vector<float> amax(static_cast<size_t>(cout), 0.0f);
    for (int64_t c = 0; c < cout; ++c) {
      for (int64_t k = 0; k < per; ++k) amax[c] = std::max(amax[c], std::fabs(wt.data[c * per + k]));
    }
    std::vector<float> sw(static_cast<size_t>(cout));
    if (opt_.per_channel) {
      // An all-zero channel borrows the smallest non-zero scale (its bias keeps a fine step).
      float smallest = 0;
      for (float a : amax) {
        if (a > 0 && (smallest == 0 || a < smallest)) smallest = a;
      }
      for (int64_t c = 0; c < cout; ++c) {
        const float a = amax[c] > 0 ? amax[c] : (smallest > 0 ? smallest : 127.0f);
        sw[c] = a / 127.0f;
      }
    } else {
      float a = *std::max_element(amax.begin(), amax.end());
      if (a <= 0) a = 127.0f;
      std::fill(sw.begin(), sw.end(), a / 127.0f);
    }
    std::vector<int8_t> wq(static_cast<size_t>(wt.num_elements()));
    for (int64_t c = 0; c < cout; ++c) {
      for (int64_t k = 0; k < per; ++k) {
        const float q = std::nearbyint(wt.data[c * per + k] / sw[c]);
        wq[c * per + k] = static_cast<int8_t>(std::clamp(q, -127.0f, 127.0f));
      }
    }
    QuantParams wqp;
    if (opt_.per_channel) {
      wqp.axis = 0;
      wqp.scale = sw;
      wqp.zero_point.assign(static_cast<size_t>(cout), 0);
    } else {
      wqp = per_tensor(sw[0], 0);
    }
    QWeights r;
    r.w = w_.add_constant_i8(wt.name, wt.shape, wq, wqp);
    const auto [mn, mx] = std::minmax_element(sw.begin(), sw.end());
    r.desc = opt_.per_channel ? fmt::format("i8 per-channel x{} s=[{}..{}]", cout, fmt_scale(*mn), fmt_scale(*mx))
                              : fmt::format("i8 per-tensor s={}", fmt_scale(sw[0]));
    if (n.inputs.size() > 2 && n.inputs[2] >= 0) {
      const LTensor& bt = T(n.inputs[2]);
      std::vector<int32_t> bq(static_cast<size_t>(cout));
      QuantParams bqp;
      bqp.axis = 0;
      for (int64_t c = 0; c < cout; ++c) {
        const float sb = sx * sw[c];  // DESIGN §1, in fp32 as the runtime checks it
        const double q = std::nearbyint(static_cast<double>(bt.data[c]) / static_cast<double>(sb));
        const double lim = static_cast<double>(INT32_MAX);
        bq[c] = static_cast<int32_t>(std::clamp(q, -lim, lim));
        r.max_abs_bias = std::max<int64_t>(r.max_abs_bias, std::llabs(static_cast<long long>(bq[c])));
        bqp.scale.push_back(sb);
        bqp.zero_point.push_back(0);
      }
      r.b = w_.add_constant_i32(bt.name, bt.shape, bq, bqp);
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
    // Accumulator bound (DESIGN §1) for Conv2D / FullyConnected.
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
    std::string wdesc;
    if (has_weights) {
      const float sx = qparams_[n.inputs[0]].scale[0];
      QWeights qw = quantize_weights(n, sx);
      ins.push_back(qw.w);
      if (n.inputs.size() > 2) ins.push_back(qw.b);
      wdesc = qw.desc;
      const LTensor& wt = T(n.inputs[1]);
      const int64_t k = wt.num_elements() / wt.shape[0];
      if (k * 255 * 127 + qw.max_abs_bias >= INT32_MAX) {
        return Status{StatusCode::kUnsupported,
                      fmt::format("node '{}': the quantized bias (max |b| = {}) and K = {} overflow "
                                  "the int32 accumulator; exclude the node with --exclude {}",
                                  n.name, qw.max_abs_bias, k, n.name)};
      }
    }
    QuantParams oq;
    if (keeps_input_quant(n.op)) {
      oq = qparams_[n.inputs[0]];
    } else {
      auto q = output_params(n);
      if (!q) return q.status();
      oq = *q;
    }
    std::vector<int> outs = {new_output(n.outputs[0], true, oq)};
    w_.add_node(n.op, ins, outs, n.options, n.name, n.source);
    summarize(n, keeps_input_quant(n.op) ? "uint8 (input's scale)" : "int8", wdesc, range_of(oq));
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
  if (report) *report = {};
  Quantizer q(g, calibration, options, report);
  return q.run();
}

}  // namespace quanta::convert
