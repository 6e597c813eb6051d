// The demo model generator (see demo_model.hpp for the network and the
// quantization recipe).
#include "demo_model.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <random>
#include <system_error>
#include <vector>

#include <fmt/format.h>

namespace quanta::demo {
namespace {

constexpr int64_t kH = 16, kW = 16, kCin = 3;
constexpr int64_t kC1 = 8, kC2 = 16, kClasses = 10;

// Portable uniform floats from mt19937 (std::uniform_real_distribution is not
// specified bit-for-bit across standard libraries).
class Uniform {
 public:
  explicit Uniform(uint32_t seed) : engine_(seed) {}
  float operator()(float lo, float hi) {
    const float u = static_cast<float>(static_cast<uint32_t>(engine_()) >> 8) * (1.0f / 16777216.0f);
    return lo + (hi - lo) * u;
  }
 private:
  std::mt19937 engine_;
};

struct Layer {
  std::string name;
  std::vector<int64_t> w_shape;  // OHWI for Conv2D, [N, K] for FullyConnected
  std::vector<float> w;
  std::vector<float> b;
  int64_t cout() const { return w_shape[0]; }
};

struct Params {
  Layer conv1, dw, pw, branch, fc;
};

Layer make_layer(Uniform& rng, const std::string& name, std::vector<int64_t> shape) {
  Layer l;
  l.name = name;
  l.w_shape = std::move(shape);
  int64_t fan_in = 1;
  for (size_t i = 1; i < l.w_shape.size(); ++i) fan_in *= l.w_shape[i];
  int64_t count = fan_in * l.w_shape[0];
  const float a = std::sqrt(6.0f / static_cast<float>(fan_in));  // He-uniform
  l.w.resize(static_cast<size_t>(count));
  for (float& v : l.w) v = rng(-a, a);
  l.b.resize(static_cast<size_t>(l.w_shape[0]));
  for (float& v : l.b) v = rng(-0.1f, 0.1f);
  return l;
}

Params make_params(uint32_t seed) {
  Uniform rng(seed);
  Params p;
  p.conv1 = make_layer(rng, "conv1", {kC1, 3, 3, kCin});
  p.dw = make_layer(rng, "dw", {kC1, 3, 3, 1});
  p.pw = make_layer(rng, "pw", {kC2, 1, 1, kC1});
  p.branch = make_layer(rng, "branch", {kC2, 1, 1, kC2});
  p.fc = make_layer(rng, "fc", {kClasses, kC2});
  // Sharper logits make the classifier's top-1 a meaningful comparison.
  for (float& v : p.fc.w) v *= 4.0f;
  return p;
}

// The activations whose ranges calibration observes, in graph order.
const std::vector<std::string>& calibrated_names() {
  static const std::vector<std::string> names = {"conv1", "dw",  "pw",   "pool",  "branch",
                                                 "add",   "gap", "flat", "logits"};
  return names;
}

QuantParams per_tensor(float scale, int32_t zp) {
  QuantParams q;
  q.scale = {scale};
  q.zero_point = {zp};
  q.axis = -1;
  return q;
}

// Asymmetric uint8 parameters covering [lo, hi] (which includes 0).
QuantParams from_range(float lo, float hi) {
  lo = std::min(lo, 0.0f);
  hi = std::max(hi, 0.0f);
  float scale = (hi - lo) / 255.0f;
  if (!(scale >= std::numeric_limits<float>::min()) || !std::isfinite(scale)) scale = 1.0f / 255.0f;
  const long zp = std::lrint(-lo / scale);
  return per_tensor(scale, static_cast<int32_t>(std::clamp(zp, 0L, 255L)));
}

// Builds either graph. `quant` is null for the float model.
class GraphBuilder {
 public:
  GraphBuilder(const Params& p, const std::map<std::string, QuantParams>* quant, std::string producer)
      : p_(p), quant_(quant), w_(std::move(producer)) {}

  bool quantized() const { return quant_ != nullptr; }

  // An activation tensor: f32, or u8 with its calibrated parameters.
  int act(const std::string& name, std::vector<int64_t> shape) {
    int idx = 0;
    if (quantized()) {
      idx = w_.add_tensor(name, std::move(shape), DType::kU8, quant_->at(name));
    } else {
      idx = w_.add_tensor(name, std::move(shape), DType::kF32);
    }
    names_[idx] = name;
    return idx;
  }

  // Constants of a Conv2D / FullyConnected layer whose input is tensor `x`.
  std::pair<int, int> weights(const Layer& l, int x) {
    if (!quantized()) {
      const int w = w_.add_constant_f32(l.name + ".weight", l.w_shape, l.w);
      const int b = w_.add_constant_f32(l.name + ".bias", {l.cout()}, l.b);
      return {w, b};
    }
    const float sx = quant_->at(names_.at(x)).scale[0];
    const auto cout = static_cast<size_t>(l.cout());
    const size_t per = l.w.size() / cout;
    std::vector<int8_t> wq(l.w.size());
    std::vector<int32_t> bq(cout);
    QuantParams wqp, bqp;
    wqp.axis = 0;
    bqp.axis = 0;
    for (size_t c = 0; c < cout; ++c) {
      float amax = 0.0f;
      for (size_t k = 0; k < per; ++k) amax = std::max(amax, std::fabs(l.w[c * per + k]));
      const float sw = amax > 0.0f ? amax / 127.0f : 1.0f;
      for (size_t k = 0; k < per; ++k) {
        const long q = std::lrint(l.w[c * per + k] / sw);
        wq[c * per + k] = static_cast<int8_t>(std::clamp(q, -127L, 127L));
      }
      const float sb = sx * sw;  // docs/design.md §1: s_b[c] = s_x * s_w[c], in fp32
      const double qb = std::nearbyint(static_cast<double>(l.b[c]) / static_cast<double>(sb));
      const double lim = static_cast<double>(std::numeric_limits<int32_t>::max());
      bq[c] = static_cast<int32_t>(std::clamp(qb, -lim, lim));
      wqp.scale.push_back(sw);
      wqp.zero_point.push_back(0);
      bqp.scale.push_back(sb);
      bqp.zero_point.push_back(0);
    }
    const int w = w_.add_constant_i8(l.name + ".weight", l.w_shape, wq, wqp);
    const int b = w_.add_constant_i32(l.name + ".bias", {l.cout()}, bq, bqp);
    return {w, b};
  }

  int conv(const Layer& l, int x, std::vector<int64_t> out_shape, int pad, int groups,
           fb::Activation activation) {
    const auto [wi, bi] = weights(l, x);
    const int y = act(l.name, std::move(out_shape));
    fb::Conv2DOptionsT o;
    o.pad_top = o.pad_left = o.pad_bottom = o.pad_right = pad;
    o.groups = groups;
    o.activation = activation;
    fb::OptionsUnion u;
    u.Set(std::move(o));
    node(OpType::kConv2D, {x, wi, bi}, {y}, std::move(u), l.name);
    return y;
  }

  void node(OpType op, std::vector<int> in, std::vector<int> out, fb::OptionsUnion options,
            const std::string& name) {
    std::vector<std::string> source;
    // In the int8 model each node names the float-model node it came from.
    if (quantized() && op != OpType::kQuantize && op != OpType::kDequantize) source = {name};
    w_.add_node(op, std::move(in), std::move(out), std::move(options), name, std::move(source));
  }

  ModelWriter& writer() { return w_; }
  const Params& params() const { return p_; }

 private:
  const Params& p_;
  const std::map<std::string, QuantParams>* quant_;
  ModelWriter w_;
  std::map<int, std::string> names_;
};

std::string producer() { return "quanta demo-model 0.1.0"; }

// The shared graph body: from the first activation to "probs" (or to the
// quantized softmax output in the int8 model). Returns the tensor indices of
// every intermediate activation in calibrated_names() order, and the final one.
std::vector<int> build_body(GraphBuilder& g, int x, int* last) {
  const Params& p = g.params();
  const int c1 = g.conv(p.conv1, x, {1, kH, kW, kC1}, 1, 1, fb::Activation::RELU);
  const int dw = g.conv(p.dw, c1, {1, kH, kW, kC1}, 1, static_cast<int>(kC1), fb::Activation::RELU6);
  const int pw = g.conv(p.pw, dw, {1, kH, kW, kC2}, 0, 1, fb::Activation::RELU);

  const int pool = g.act("pool", {1, kH / 2, kW / 2, kC2});
  {
    fb::PoolOptionsT o;
    o.kernel_h = o.kernel_w = 2;
    o.stride_h = o.stride_w = 2;
    fb::OptionsUnion u;
    u.Set(std::move(o));
    g.node(OpType::kMaxPool, {pw}, {pool}, std::move(u), "pool");
  }
  const int br = g.conv(p.branch, pool, {1, kH / 2, kW / 2, kC2}, 0, 1, fb::Activation::NONE);
  const int add = g.act("add", {1, kH / 2, kW / 2, kC2});
  {
    fb::ElementwiseOptionsT o;
    o.activation = fb::Activation::RELU;
    fb::OptionsUnion u;
    u.Set(std::move(o));
    g.node(OpType::kAdd, {pool, br}, {add}, std::move(u), "add");
  }
  const int gap = g.act("gap", {1, 1, 1, kC2});
  g.node(OpType::kGlobalAveragePool, {add}, {gap}, {}, "gap");
  const int flat = g.act("flat", {1, kC2});
  {
    fb::FlattenOptionsT o;
    o.axis = 1;
    fb::OptionsUnion u;
    u.Set(std::move(o));
    g.node(OpType::kFlatten, {gap}, {flat}, std::move(u), "flatten");
  }
  const auto [fw, fbias] = g.weights(p.fc, flat);
  const int logits = g.act("logits", {1, kClasses});
  {
    fb::FullyConnectedOptionsT o;
    fb::OptionsUnion u;
    u.Set(std::move(o));
    g.node(OpType::kFullyConnected, {flat, fw, fbias}, {logits}, std::move(u), "fc");
  }
  const int probs = g.act(g.quantized() ? "probs_q" : "probs", {1, kClasses});
  {
    fb::SoftmaxOptionsT o;
    o.axis = -1;
    fb::OptionsUnion u;
    u.Set(std::move(o));
    g.node(OpType::kSoftmax, {logits}, {probs}, std::move(u), "softmax");
  }
  *last = probs;
  return {c1, dw, pw, pool, br, add, gap, flat, logits};
}

}  // namespace

ModelWriter build_fp32(const DemoOptions& options, bool calibration_outputs) {
  const Params p = make_params(options.weight_seed);
  GraphBuilder g(p, nullptr, producer());
  const int x = g.act("input", {1, kH, kW, kCin});
  int probs = 0;
  const std::vector<int> inner = build_body(g, x, &probs);
  ModelWriter& w = g.writer();
  w.set_inputs({x});
  std::vector<int> outputs = {probs};
  if (calibration_outputs) outputs.insert(outputs.end(), inner.begin(), inner.end());
  w.set_outputs(outputs);
  w.set_description(calibration_outputs
                        ? "Quanta demo CNN, float32, calibration variant (every activation is an output)"
                        : "Quanta demo CNN (16x16x3 image -> 10 classes), float32");
  ModelWriter out = std::move(w);
  return out;
}

Result<Ranges> calibrate(const DemoOptions& options) {
  if (options.calibration_samples < 1) {
    return Status{StatusCode::kInvalidArgument, "calibration needs at least one sample"};
  }
  const ModelWriter writer = build_fp32(options, /*calibration_outputs=*/true);
  const std::vector<uint8_t> bytes = writer.finish();
  auto model = Model::load_buffer(bytes.data(), bytes.size(), /*copy=*/true);
  if (!model) {
    return Status{model.status().code(),
                  "demo calibration model does not load: " + model.status().message()};
  }
  // Reference kernels: the demo files must be the same bytes on every CPU
  // (the float fast kernels round differently).
  SessionOptions so;
  so.tier = KernelTier::kRef;
  auto session = Session::create(*model, so);
  if (!session) {
    return Status{session.status().code(),
                  "demo calibration model cannot run: " + session.status().message()};
  }
  Session& s = **session;
  const Model& m = **model;
  const std::vector<std::string>& names = calibrated_names();
  if (m.num_outputs() != names.size() + 1) {
    return Status{StatusCode::kInternal, "calibration model has an unexpected output count"};
  }

  Ranges ranges;
  auto observe = [&ranges](const std::string& name, const std::vector<float>& v) {
    auto [it, fresh] = ranges.try_emplace(name, 0.0f, 0.0f);  // 0 is always in the range
    (void)fresh;
    for (float f : v) {
      if (!std::isfinite(f)) continue;
      it->second.first = std::min(it->second.first, f);
      it->second.second = std::max(it->second.second, f);
    }
  };

  Uniform rng(options.calibration_seed);
  std::vector<float> input(static_cast<size_t>(m.input(0).num_elements));
  std::vector<std::vector<float>> outs(m.num_outputs());
  for (size_t o = 0; o < m.num_outputs(); ++o) {
    outs[o].resize(static_cast<size_t>(m.output(o).num_elements));
  }
  for (int sample = 0; sample < options.calibration_samples; ++sample) {
    for (float& v : input) v = rng(-1.0f, 1.0f);
    if (Status st = s.set_input(0, input); !st.ok()) return st;
    if (Status st = s.run(); !st.ok()) return st;
    observe("input", input);
    for (size_t o = 1; o < m.num_outputs(); ++o) {
      if (Status st = s.get_output(o, outs[o]); !st.ok()) return st;
      observe(names[o - 1], outs[o]);
    }
    if (options.progress) {
      std::fprintf(stderr, "\rcalibrating: %d/%d samples", sample + 1, options.calibration_samples);
      std::fflush(stderr);
    }
  }
  if (options.progress) std::fprintf(stderr, "\n");
  return ranges;
}

Result<ModelWriter> build_int8(const DemoOptions& options, const Ranges& ranges) {
  std::map<std::string, QuantParams> q;
  for (const std::string& name : {std::string("input"), std::string("conv1"), std::string("dw"),
                                  std::string("pw"), std::string("branch"), std::string("add"),
                                  std::string("gap"), std::string("logits")}) {
    auto it = ranges.find(name);
    if (it == ranges.end()) {
      return Status{StatusCode::kInvalidArgument, fmt::format("no calibrated range for '{}'", name)};
    }
    q[name] = from_range(it->second.first, it->second.second);
  }
  q["pool"] = q["pw"];     // MaxPool keeps its input's parameters
  q["flat"] = q["gap"];    // so does Flatten (a pure reshape)
  q["probs_q"] = per_tensor(1.0f / 256.0f, 0);
  q["input_q"] = q["input"];

  const Params p = make_params(options.weight_seed);
  GraphBuilder g(p, &q, producer());
  ModelWriter& w = g.writer();
  const int x = w.add_tensor("input", {1, kH, kW, kCin}, DType::kF32);
  const int xq = g.act("input_q", {1, kH, kW, kCin});
  g.node(OpType::kQuantize, {x}, {xq}, {}, "quantize_input");
  int probs_q = 0;
  build_body(g, xq, &probs_q);
  const int probs = w.add_tensor("probs", {1, kClasses}, DType::kF32);
  g.node(OpType::kDequantize, {probs_q}, {probs}, {}, "dequantize_output");
  w.set_inputs({x});
  w.set_outputs({probs});
  w.set_description(fmt::format(
      "Quanta demo CNN (16x16x3 image -> 10 classes), int8: weights int8 per-channel symmetric, "
      "activations uint8 per-tensor calibrated (min/max) on {} random inputs",
      options.calibration_samples));
  ModelWriter out = std::move(w);
  return out;
}

Result<DemoPaths> write_demo_models(const std::string& dir, const DemoOptions& options) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) {
    return Status{StatusCode::kIoError,
                  fmt::format("{}: cannot create the directory: {}", dir, ec.message())};
  }
  DemoPaths paths;
  paths.fp32 = (std::filesystem::path(dir) / "demo_cnn_fp32.quanta").string();
  paths.int8 = (std::filesystem::path(dir) / "demo_cnn_int8.quanta").string();

  if (Status st = build_fp32(options).write_file(paths.fp32); !st.ok()) return st;
  auto ranges = calibrate(options);
  if (!ranges) return ranges.status();
  auto int8 = build_int8(options, *ranges);
  if (!int8) return int8.status();
  if (Status st = int8->write_file(paths.int8); !st.ok()) return st;
  return paths;
}

}  // namespace quanta::demo
