// FloatGraph bookkeeping, activation fusion and the float writer.
#include "graph.hpp"

#include <algorithm>
#include <fmt/format.h>
#include <cmath>

namespace quanta::convert {

void FloatGraphDeleter::operator()(FloatGraph* g) const { delete g; }

const std::vector<InputSpec>& graph_inputs(const FloatGraph& g) { return g.input_specs; }
const ImportLog& import_log(const FloatGraph& g) { return g.log; }
int graph_node_count(const FloatGraph& g) { return static_cast<int>(g.nodes.size()); }

std::string producer_string() { return "quanta convert 0.1.0"; }

int FloatGraph::add_tensor(std::string name, std::vector<int64_t> shape) {
  LTensor t;
  t.name = std::move(name);
  t.shape = std::move(shape);
  tensors.push_back(std::move(t));
  return static_cast<int>(tensors.size()) - 1;
}

int FloatGraph::add_const(std::string name, std::vector<int64_t> shape, std::vector<float> data) {
  const int i = add_tensor(std::move(name), std::move(shape));
  tensors[i].is_const = true;
  const_values += static_cast<int64_t>(data.size());
  tensors[i].data = std::move(data);
  return i;
}

int FloatGraph::add_node(OpType op, std::vector<int> in, std::vector<int> out,
                         fb::OptionsUnion options, std::string name,
                         std::vector<std::string> source, std::string onnx_op) {
  LNode n;
  n.op = op;
  n.inputs = std::move(in);
  n.outputs = std::move(out);
  n.options = std::move(options);
  n.name = std::move(name);
  n.source = std::move(source);
  n.onnx_op = std::move(onnx_op);
  nodes.push_back(std::move(n));
  return static_cast<int>(nodes.size()) - 1;
}

namespace {
template <class Taken>
std::string unique_name(const std::string& base, Taken taken) {
  if (!taken(base)) return base;
  for (int i = 1;; ++i) {
    std::string s = fmt::format("{}_{}", base, i);
    if (!taken(s)) return s;
  }
}
}  // namespace

std::string FloatGraph::unique_tensor_name(const std::string& base) const {
  return unique_name(base, [this](const std::string& s) {
    return std::any_of(tensors.begin(), tensors.end(), [&](const LTensor& t) { return t.name == s; });
  });
}

std::string FloatGraph::unique_node_name(const std::string& base) const {
  return unique_name(base, [this](const std::string& s) {
    return std::any_of(nodes.begin(), nodes.end(), [&](const LNode& n) { return n.name == s; });
  });
}

std::vector<std::vector<int>> FloatGraph::consumers() const {
  std::vector<std::vector<int>> c(tensors.size());
  for (size_t j = 0; j < nodes.size(); ++j) {
    for (int t : nodes[j].inputs) {
      if (t >= 0 && (c[t].empty() || c[t].back() != static_cast<int>(j))) {
        c[t].push_back(static_cast<int>(j));
      }
    }
  }
  return c;
}

std::vector<int> FloatGraph::producers() const {
  std::vector<int> p(tensors.size(), -1);
  for (size_t j = 0; j < nodes.size(); ++j) {
    for (int t : nodes[j].outputs) p[t] = static_cast<int>(j);
  }
  return p;
}

bool FloatGraph::is_graph_output(int t) const {
  return std::find(outputs.begin(), outputs.end(), t) != outputs.end();
}
bool FloatGraph::is_graph_input(int t) const {
  return std::find(inputs.begin(), inputs.end(), t) != inputs.end();
}

void FloatGraph::remove_dead() {
  // Backwards liveness from the graph outputs.
  std::vector<bool> live_t(tensors.size(), false);
  for (int t : outputs) live_t[t] = true;
  std::vector<bool> live_n(nodes.size(), false);
  for (size_t j = nodes.size(); j-- > 0;) {
    bool needed = false;
    for (int t : nodes[j].outputs) needed = needed || live_t[t];
    if (!needed) continue;
    live_n[j] = true;
    for (int t : nodes[j].inputs) {
      if (t >= 0) live_t[t] = true;
    }
  }
  for (int t : inputs) live_t[t] = true;
  std::vector<int> remap(tensors.size(), -1);
  std::vector<LTensor> kept_t;
  for (size_t t = 0; t < tensors.size(); ++t) {
    if (!live_t[t]) continue;
    remap[t] = static_cast<int>(kept_t.size());
    kept_t.push_back(std::move(tensors[t]));
  }
  std::vector<LNode> kept_n;
  for (size_t j = 0; j < nodes.size(); ++j) {
    if (!live_n[j]) continue;
    LNode n = std::move(nodes[j]);
    for (int& t : n.inputs) t = t >= 0 ? remap[t] : -1;
    for (int& t : n.outputs) t = remap[t];
    kept_n.push_back(std::move(n));
  }
  for (int& t : inputs) t = remap[t];
  for (int& t : outputs) t = remap[t];
  tensors = std::move(kept_t);
  nodes = std::move(kept_n);
}

// ------------------------------------------------------------------ activations

namespace {
template <class T>
FusedActivation read_act(const T* o) {
  if (o == nullptr) return {};
  return {o->activation, o->clip_min, o->clip_max};
}
template <class T>
void write_act(T* o, const FusedActivation& a) {
  o->activation = a.kind;
  o->clip_min = a.clip_min;
  o->clip_max = a.clip_max;
}
}  // namespace

FusedActivation get_activation(const LNode& n) {
  switch (n.op) {
    case OpType::kConv2D: return read_act(n.options.AsConv2DOptions());
    case OpType::kFullyConnected: return read_act(n.options.AsFullyConnectedOptions());
    case OpType::kMatMul: return read_act(n.options.AsMatMulOptions());
    case OpType::kAdd:
    case OpType::kMul: return read_act(n.options.AsElementwiseOptions());
    case OpType::kMaxPool:
    case OpType::kAveragePool: return read_act(n.options.AsPoolOptions());
    default: return {};
  }
}

bool set_activation(LNode& n, const FusedActivation& a) {
  auto ensure = [&n]<class T>(T* p) -> T* {
    if (p != nullptr) return p;
    n.options.Set(typename T::TableType::NativeTableType{});
    return static_cast<T*>(n.options.value);
  };
  switch (n.op) {
    case OpType::kConv2D: write_act(ensure(n.options.AsConv2DOptions()), a); return true;
    case OpType::kFullyConnected:
      write_act(ensure(n.options.AsFullyConnectedOptions()), a);
      return true;
    case OpType::kMatMul: write_act(ensure(n.options.AsMatMulOptions()), a); return true;
    case OpType::kAdd:
    case OpType::kMul: write_act(ensure(n.options.AsElementwiseOptions()), a); return true;
    case OpType::kMaxPool:
    case OpType::kAveragePool: write_act(ensure(n.options.AsPoolOptions()), a); return true;
    default: return false;
  }
}

namespace {
// The activation a standalone node applies, if it is one that can be fused.
bool as_activation(const LNode& n, FusedActivation* a) {
  switch (n.op) {
    case OpType::kRelu: *a = {fb::Activation::RELU, 0, 0}; return true;
    case OpType::kRelu6: *a = {fb::Activation::RELU6, 0, 6}; return true;
    case OpType::kClip: {
      const auto* o = n.options.AsClipOptions();
      const float lo = o ? o->min : 0.0f, hi = o ? o->max : 6.0f;
      if (lo == 0.0f && hi == 6.0f) {
        *a = {fb::Activation::RELU6, 0, 6};
      } else if (lo == 0.0f && std::isinf(hi) && hi > 0) {
        *a = {fb::Activation::RELU, 0, 0};
      } else {
        *a = {fb::Activation::CLIP, lo, hi};
      }
      return true;
    }
    default: return false;
  }
}
}  // namespace

void fuse_activations(FloatGraph& g) {
  bool changed = true;
  while (changed) {
    changed = false;
    const auto cons = g.consumers();
    const auto prod = g.producers();
    for (size_t j = 0; j < g.nodes.size(); ++j) {
      LNode& act = g.nodes[j];
      FusedActivation a;
      if (act.inputs.empty() || !as_activation(act, &a)) continue;
      const int x = act.inputs[0];
      const int p = prod[x];
      if (p < 0 || cons[x].size() != 1 || g.is_graph_output(x)) continue;
      LNode& producer = g.nodes[p];
      if (producer.outputs.size() != 1) continue;
      const FusedActivation had = get_activation(producer);
      if (had.kind != fb::Activation::NONE) continue;
      if (!set_activation(producer, a)) continue;
      // The producer now writes the activation's output.
      producer.outputs[0] = act.outputs[0];
      producer.source.insert(producer.source.end(), act.source.begin(), act.source.end());
      g.log.rewrites.push_back(fmt::format("fused {} '{}' into {} '{}'", act.onnx_op,
                                           act.source.empty() ? act.name : act.source[0],
                                           producer.onnx_op, producer.name));
      act.outputs.clear();
      act.inputs.clear();
      g.nodes.erase(g.nodes.begin() + static_cast<std::ptrdiff_t>(j));
      changed = true;
      break;
    }
  }
  g.remove_dead();
}

// ------------------------------------------------------------------ float writer

void write_float_model(const FloatGraph& g, ModelWriter& w, bool calibration_outputs,
                       std::vector<int>* observed) {
  std::vector<int> idx(g.tensors.size(), -1);
  for (size_t t = 0; t < g.tensors.size(); ++t) {
    const LTensor& lt = g.tensors[t];
    idx[t] = lt.is_const ? w.add_constant_f32(lt.name, lt.shape, lt.data)
                         : w.add_tensor(lt.name, lt.shape, DType::kF32);
  }
  for (const LNode& n : g.nodes) {
    std::vector<int> in, out;
    for (int t : n.inputs) in.push_back(t >= 0 ? idx[t] : -1);
    for (int t : n.outputs) out.push_back(idx[t]);
    w.add_node(n.op, in, out, n.options, n.name, n.source);
  }
  std::vector<int> ins, outs;
  for (int t : g.inputs) ins.push_back(idx[t]);
  for (int t : g.outputs) outs.push_back(idx[t]);
  if (observed) observed->clear();
  if (calibration_outputs) {
    for (size_t t = 0; t < g.tensors.size(); ++t) {
      if (g.tensors[t].is_const || g.is_graph_output(static_cast<int>(t)) ||
          g.is_graph_input(static_cast<int>(t))) {
        continue;
      }
      outs.push_back(idx[t]);
      if (observed) observed->push_back(static_cast<int>(t));
    }
  }
  w.set_inputs(ins);
  w.set_outputs(outs);
}

namespace {

Result<std::vector<uint8_t>> write_fp32(const FloatGraph& g) {
  ModelWriter w(producer_string());
  write_float_model(g, w, false, nullptr);
  w.set_description(fmt::format("float32, converted from ONNX (opset {}{})", g.log.opset,
                                g.log.producer.empty() ? "" : ", " + g.log.producer));
  std::vector<uint8_t> bytes = w.finish();
  // The runtime's validator is the final check of everything the converter made.
  auto m = Model::load_buffer(bytes.data(), bytes.size(), /*copy=*/false);
  if (!m) {
    return Status{StatusCode::kInternal,
                  "the converted float model does not pass the runtime's checks: " +
                      m.status().message()};
  }
  return bytes;
}

}  // namespace

Result<std::vector<uint8_t>> build_fp32(const FloatGraph& g) {
  return detail::no_exceptions("build_fp32", [&] { return write_fp32(g); });
}

}  // namespace quanta::convert
