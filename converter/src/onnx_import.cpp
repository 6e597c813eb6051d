// ONNX import: protobuf -> FloatGraph (runtime ops, NHWC).
//
// One pass over the ONNX nodes in topological order. Every ONNX value is
// either a constant (folded on the host) or an activation held in up to two
// runtime tensors: in the ONNX layout ("plain") and, for rank-4 image
// tensors, in NHWC. Conv and pooling read and write NHWC; elementwise ops work
// in whichever layout their inputs already have; a Transpose is only emitted
// where a layout is needed that does not exist yet (a graph input entering a
// Conv, a 4-D tensor reaching a Reshape, a graph output). A transpose that
// only moves dimensions of size 1 is emitted as a free Reshape.
//
// Rewrites done here: constant folding (shape computations, Constant,
// Identity, Dropout), BatchNormalization folded into the preceding
// Conv/Gemm (or lowered to Mul + Add), Flatten of an NHWC tensor feeding a
// Gemm/MatMul handled by permuting the weight rows instead of transposing the
// activations, Sub/Div by constants turned into Add/Mul, and Add of a
// per-channel constant folded into the preceding Conv/Gemm bias. Activation
// fusion runs afterwards on the runtime graph (graph.cpp).
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fmt/format.h>
#include <fstream>
#include <map>
#include <numeric>
#include <set>
#include <sstream>

#include <google/protobuf/io/coded_stream.h>
#include <onnx/onnx_pb.h>

#include "graph.hpp"
#include "limits.hpp"
#include "onnx/host_tensor.hpp"

// Returns the error of check_attrs() (the attributes this op accepts).
#define QUANTA_CONVERT_TRY_ATTRS(...)                                   \
  do {                                                                  \
    if (Status attr_status_ = check_attrs(__VA_ARGS__); !attr_status_.ok()) \
      return attr_status_;                                              \
  } while (0)

namespace quanta::convert {
namespace {

using detail::HostTensor;
using detail::int_values;
using detail::shape_size;

constexpr int kMinOpset = 7;
constexpr int kMaxTestedOpset = 17;

// ONNX ops the importer lowers to runtime ops (activations), and the ones it
// only folds when every input is a constant.
const char* const kSupportedOps =
    "Conv, Gemm, MatMul, Add, Sub, Mul, Div, Sum, Concat, MaxPool, AveragePool, "
    "GlobalAveragePool, GlobalMaxPool, ReduceMean (spatial axes), Relu, Clip, Sigmoid, Tanh, "
    "HardSwish, HardSigmoid, LeakyRelu, Softmax, LogSoftmax, Reshape, Flatten, "
    "Squeeze, Unsqueeze, Transpose, Pad, BatchNormalization, Dropout, Identity, Constant, "
    "If with a constant condition; "
    "folded when their inputs are constants: Shape, Gather, Cast, Slice, ConstantOfShape, Range, "
    "Neg, Sqrt, Reciprocal, Pow, Equal, Less, Greater, Min, Max, Abs, Exp, Floor, Ceil, Not, Size";

struct Value {
  bool is_const = false;
  HostTensor c;                    // constant value
  std::vector<int64_t> shape;      // ONNX shape (activations)
  int plain = -1;                  // runtime tensor in the ONNX layout
  int nhwc = -1;                   // runtime tensor in NHWC (rank 4 only)
  std::vector<int64_t> kperm;      // see Flatten: K-order of a flattened NHWC tensor
  int producer = -1;               // runtime node that wrote it (for folding), -1 if none
};

// How many inputs and outputs each op has in the ONNX specification (over
// the opsets the importer reads); -1: no maximum. Checked before a node is
// folded or lowered, so no lowering reads an input or output that is not there.
struct Arity {
  const char* op;
  int min_in, max_in, min_out, max_out;
};
constexpr Arity kArity[] = {
    {"Conv", 2, 3, 1, 1}, {"Gemm", 2, 3, 1, 1}, {"MatMul", 2, 2, 1, 1},
    {"Add", 2, 2, 1, 1}, {"Sub", 2, 2, 1, 1}, {"Mul", 2, 2, 1, 1}, {"Div", 2, 2, 1, 1},
    {"Sum", 1, -1, 1, 1}, {"Concat", 1, -1, 1, 1}, {"MaxPool", 1, 1, 1, 2},
    {"AveragePool", 1, 1, 1, 1}, {"GlobalAveragePool", 1, 1, 1, 1},
    {"GlobalMaxPool", 1, 1, 1, 1}, {"ReduceMean", 1, 2, 1, 1}, {"Relu", 1, 1, 1, 1},
    {"Clip", 1, 3, 1, 1}, {"Sigmoid", 1, 1, 1, 1}, {"Tanh", 1, 1, 1, 1},
    {"HardSwish", 1, 1, 1, 1}, {"HardSigmoid", 1, 1, 1, 1}, {"LeakyRelu", 1, 1, 1, 1},
    {"Softmax", 1, 1, 1, 1}, {"LogSoftmax", 1, 1, 1, 1}, {"Reshape", 1, 2, 1, 1},
    {"Flatten", 1, 1, 1, 1}, {"Squeeze", 1, 2, 1, 1}, {"Unsqueeze", 1, 2, 1, 1},
    {"Transpose", 1, 1, 1, 1}, {"Pad", 1, 4, 1, 1}, {"BatchNormalization", 5, 5, 1, 5},
    {"Dropout", 1, 3, 1, 2}, {"Identity", 1, 1, 1, 1}, {"Constant", 0, 0, 1, 1},
    {"If", 1, 1, 1, -1}, {"Shape", 1, 1, 1, 1}, {"Gather", 2, 2, 1, 1}, {"Cast", 1, 1, 1, 1},
    {"Slice", 1, 5, 1, 1}, {"ConstantOfShape", 1, 1, 1, 1}, {"Range", 3, 3, 1, 1},
    {"Neg", 1, 1, 1, 1}, {"Sqrt", 1, 1, 1, 1}, {"Reciprocal", 1, 1, 1, 1}, {"Abs", 1, 1, 1, 1},
    {"Exp", 1, 1, 1, 1}, {"Floor", 1, 1, 1, 1}, {"Ceil", 1, 1, 1, 1}, {"Not", 1, 1, 1, 1},
    {"Pow", 2, 2, 1, 1}, {"Equal", 2, 2, 1, 1}, {"Less", 2, 2, 1, 1}, {"Greater", 2, 2, 1, 1},
    {"Min", 1, -1, 1, 1}, {"Max", 1, -1, 1, 1}, {"Size", 1, 1, 1, 1},
};

// "1 input", "2 to 3 inputs", "at least 1 input"
std::string count_range(int lo, int hi, const char* noun) {
  const char* plural = (hi == 1 || (hi < 0 && lo == 1)) ? "" : "s";
  if (hi < 0) return fmt::format("at least {} {}{}", lo, noun, plural);
  if (lo == hi) return fmt::format("{} {}{}", lo, noun, plural);
  return fmt::format("{} to {} {}{}", lo, hi, noun, plural);
}

// The index of the first value of a floating-point constant that is not
// finite once stored as float32, or -1.
int64_t first_non_finite(const HostTensor& h) {
  if (h.is_int) return -1;
  for (size_t i = 0; i < h.v.size(); ++i) {
    if (!std::isfinite(static_cast<float>(h.v[i]))) return static_cast<int64_t>(i);
  }
  return -1;
}

// An initializer's values must be finite as float32, the type the converted
// model stores (a double initializer of 1e300 is finite only as a double).
Status check_initializer(const HostTensor& h, const std::string& name) {
  const int64_t i = first_non_finite(h);
  if (i < 0) return Status::Ok();
  const double x = h.v[static_cast<size_t>(i)];
  if (!std::isfinite(x)) {
    return Status{StatusCode::kInvalidModel,
                  fmt::format("initializer '{}' contains {} (weights must be finite)", name, x)};
  }
  return Status{StatusCode::kInvalidModel,
                fmt::format("initializer '{}' contains {}, which is not finite as float32 (weights "
                            "must be finite)", name, x)};
}

bool memory_identical_nhwc(const std::vector<int64_t>& s) {
  return s.size() == 4 && (s[1] == 1 || s[2] * s[3] == 1);
}

std::vector<int64_t> to_nhwc(const std::vector<int64_t>& s) { return {s[0], s[2], s[3], s[1]}; }

template <class T>
fb::OptionsUnion opts(T&& o) {
  fb::OptionsUnion u;
  u.Set(std::forward<T>(o));
  return u;
}

class Importer {
 public:
  Importer(const onnx::ModelProto& model, std::string base_dir, const ImportOptions& options,
           const detail::ImportLimits& limits)
      : model_(model), base_dir_(std::move(base_dir)), options_(options), limits_(limits) {
    budget_.per_tensor = limits.folded_elements;
    budget_.total = limits.total_folded_elements;
  }

  Result<FloatGraphPtr> run() {
    g_ = FloatGraphPtr(new FloatGraph);
    if (Status s = read_header(); !s.ok()) return s;
    if (Status s = read_constants_and_inputs(); !s.ok()) return s;
    auto order = topo_order();
    if (!order) return order.status();
    count_uses();
    for (int j : *order) {
      const onnx::NodeProto& n = graph().node(j);
      cur_ = &n;
      cur_name_ = n.name().empty() ? fmt::format("{}_{}", n.op_type(), j) : n.name();
      if (Status s = lower_node(n); !s.ok()) return s;
    }
    if (Status s = finish_outputs(); !s.ok()) return s;
    fuse_activations(*g_);
    g_->remove_dead();
    if (Status s = check_graph(); !s.ok()) return s;
    return std::move(g_);
  }

 private:
  const onnx::ModelProto& model_;
  std::string base_dir_;
  const ImportOptions& options_;
  const detail::ImportLimits limits_;
  detail::FoldBudget budget_;  // what constant folding may still create
  FloatGraphPtr g_;
  int opset_ = 0;
  std::map<std::string, Value> values_;
  std::map<std::string, int> uses_;  // ONNX consumers (+1 per graph output)
  const onnx::NodeProto* cur_ = nullptr;
  std::string cur_name_;
  int if_depth_ = 0;
  // Runtime tensors written by a Transpose: (its input, its perm).
  std::map<int, std::pair<int, std::vector<int>>> transposed_from_;

  const onnx::GraphProto& graph() const { return model_.graph(); }

  // ---------------------------------------------------------------- messages
  std::string where() const { return fmt::format("node '{}' ({})", cur_name_, cur_->op_type()); }
  Status unsupported(const std::string& what) const {
    return Status{StatusCode::kUnsupported, fmt::format("{}: {}", where(), what)};
  }
  Status invalid(const std::string& what) const {
    return Status{StatusCode::kInvalidModel, fmt::format("{}: {}", where(), what)};
  }
  static std::string shp(const std::vector<int64_t>& s) { return detail::shape_str(s); }
  // A new activation's shape: bounded, and no dimension of size 0.
  Status check_act(const std::vector<int64_t>& s, const char* what) const {
    const std::string p = detail::shape_problem(s, true);
    if (p.empty()) return Status::Ok();
    return invalid(fmt::format("{} shape {} {}", what, shp(s), p));
  }
  // A constant made while importing (folded, or a Constant node) must be
  // finite as float32.
  Status check_folded(const HostTensor& h, const std::string& name) const {
    const int64_t i = first_non_finite(h);
    if (i < 0) return Status::Ok();
    return invalid(fmt::format("the constant '{}' has the non-finite value {} at index {} "
                               "(as float32); constants must be finite",
                               name, static_cast<float>(h.v[static_cast<size_t>(i)]), i));
  }
  // The inputs and outputs the op has (kArity); a present first output needs a name.
  Status check_arity(const onnx::NodeProto& n) const {
    for (const Arity& a : kArity) {
      if (n.op_type() != a.op) continue;
      const int ins = n.input_size(), outs = n.output_size();
      if (ins < a.min_in || (a.max_in >= 0 && ins > a.max_in)) {
        return invalid(fmt::format("{} inputs, but {} takes {}", ins, a.op,
                                   count_range(a.min_in, a.max_in, "input")));
      }
      if (outs < a.min_out || (a.max_out >= 0 && outs > a.max_out)) {
        return invalid(fmt::format("{} outputs, but {} has {}", outs, a.op,
                                   count_range(a.min_out, a.max_out, "output")));
      }
      if (n.output(0).empty()) return invalid("output 0 has no name");
      return Status::Ok();
    }
    return Status::Ok();
  }
  // Constants of the float graph together stay under limits_.const_elements.
  Status check_const_budget() const {
    const int64_t total = g_->const_values;
    if (total <= limits_.const_elements) return Status::Ok();
    return invalid(fmt::format("the converted model's constants would hold {} values ({} as "
                               "float32), above the {} limit",
                               total, detail::byte_size(static_cast<double>(total) * 4.0),
                               detail::limit_size(static_cast<double>(limits_.const_elements) * 4.0)));
  }

  // ---------------------------------------------------------------- attributes
  const onnx::AttributeProto* attr(const char* name) const {
    for (const auto& a : cur_->attribute()) {
      if (a.name() == name) return &a;
    }
    return nullptr;
  }
  int64_t attr_i(const char* name, int64_t def) const {
    const auto* a = attr(name);
    return a ? a->i() : def;
  }
  float attr_f(const char* name, float def) const {
    const auto* a = attr(name);
    return a ? a->f() : def;
  }
  std::string attr_s(const char* name, const std::string& def) const {
    const auto* a = attr(name);
    return a ? a->s() : def;
  }
  std::vector<int64_t> attr_ints(const char* name) const {
    const auto* a = attr(name);
    if (!a) return {};
    return {a->ints().begin(), a->ints().end()};
  }
  // Every attribute present must be in `allowed`.
  Status check_attrs(std::initializer_list<const char*> allowed) const {
    for (const auto& a : cur_->attribute()) {
      bool ok = false;
      for (const char* x : allowed) ok = ok || a.name() == x;
      if (!ok) {
        std::vector<std::string> names(allowed.begin(), allowed.end());
        return unsupported(fmt::format("attribute '{}' is not supported (supported: {})", a.name(),
                                       names.empty() ? "none" : fmt::format("{}", fmt::join(names, ", "))));
      }
    }
    return Status::Ok();
  }

  // ---------------------------------------------------------------- values
  size_t num_inputs() const { return static_cast<size_t>(cur_->input_size()); }
  bool has_input(size_t i) const { return i < num_inputs() && !cur_->input(static_cast<int>(i)).empty(); }
  Value* input(size_t i) {
    if (!has_input(i)) return nullptr;
    auto it = values_.find(cur_->input(static_cast<int>(i)));
    return it == values_.end() ? nullptr : &it->second;
  }
  Result<Value*> need_input(size_t i, const char* role) {
    if (!has_input(i)) return invalid(fmt::format("input {} ({}) is missing", i, role));
    Value* v = input(i);
    if (!v) {
      return invalid(fmt::format("input {} ({}) '{}' is not produced by any node", i, role,
                                 cur_->input(static_cast<int>(i))));
    }
    return v;
  }
  Result<Value*> need_act(size_t i, const char* role) {
    auto v = need_input(i, role);
    if (!v) return v;
    if ((*v)->is_const) {
      return unsupported(fmt::format("input {} ({}) is a constant; this op is supported on "
                                     "activations only", i, role));
    }
    return v;
  }
  Result<const HostTensor*> need_const(size_t i, const char* role) {
    auto v = need_input(i, role);
    if (!v) return v.status();
    if (!(*v)->is_const) {
      return unsupported(fmt::format("input {} ({}) '{}' must be a constant (an initializer or "
                                     "computed from constants)", i, role,
                                     cur_->input(static_cast<int>(i))));
    }
    return &(*v)->c;
  }
  // A constant input used as sizes, axes or indices.
  Result<std::vector<int64_t>> const_ints(size_t i, const char* role) {
    auto c = need_const(i, role);
    if (!c) return c.status();
    return int_values(**c, fmt::format("{}: input {} ({})", where(), i, role));
  }
  std::string out_name(size_t i = 0) const { return cur_->output(static_cast<int>(i)); }
  bool output_used(size_t i) const {
    if (static_cast<int>(i) >= cur_->output_size()) return false;
    const std::string& n = cur_->output(static_cast<int>(i));
    if (n.empty()) return false;
    auto it = uses_.find(n);
    return it != uses_.end() && it->second > 0;
  }
  Status only_first_output() const {
    for (int i = 1; i < cur_->output_size(); ++i) {
      if (output_used(static_cast<size_t>(i))) {
        return unsupported(fmt::format("output {} ('{}') is used, but only the first output is "
                                       "supported", i, cur_->output(i)));
      }
    }
    return Status::Ok();
  }

  void set_const(const std::string& name, HostTensor t) {
    Value v;
    v.is_const = true;
    v.c = std::move(t);
    values_[name] = std::move(v);
  }

  // A new activation value (the ONNX output `name`) stored in NHWC or plain.
  Value& define_act(const std::string& name, const std::vector<int64_t>& onnx_shape, bool nhwc,
                    int* tensor) {
    Value v;
    v.shape = onnx_shape;
    const std::vector<int64_t> stored = nhwc ? to_nhwc(onnx_shape) : onnx_shape;
    const int t = g_->add_tensor(g_->unique_tensor_name(name), stored);
    (nhwc ? v.nhwc : v.plain) = t;
    *tensor = t;
    values_[name] = std::move(v);
    return values_[name];
  }
  // An existing runtime tensor becomes the value `name` (aliases: Identity,
  // folds). A constant is copied: the copy counts as folded data.
  Status alias(const std::string& name, const Value& from) {
    if (from.is_const) {
      if (Status s = budget_.charge(static_cast<double>(from.c.v.size()), where()); !s.ok()) return s;
    }
    values_[name] = from;
    return Status::Ok();
  }

  int emit(OpType op, std::vector<int> in, std::vector<int> out, fb::OptionsUnion o = {},
           const std::string& suffix = "") {
    return g_->add_node(op, std::move(in), std::move(out), std::move(o),
                        g_->unique_node_name(cur_name_ + suffix), {cur_name_}, cur_->op_type());
  }

  int emit_reshape(int x, const std::vector<int64_t>& shape, const std::string& name) {
    const int y = g_->add_tensor(g_->unique_tensor_name(name), shape);
    fb::ReshapeOptionsT o;
    o.new_shape = shape;
    emit(OpType::kReshape, {x}, {y}, opts(std::move(o)), "/reshape");
    return y;
  }
  int emit_transpose(int x, const std::vector<int64_t>& in_shape, const std::vector<int>& perm,
                     const std::string& name) {
    // Transpose of a Transpose: compose them (and skip both when they cancel,
    // as in exporters' NHWC -> NCHW input transposes meeting our NCHW -> NHWC).
    if (auto it = transposed_from_.find(x); it != transposed_from_.end()) {
      const auto& [src, p1] = it->second;
      std::vector<int> composed;
      bool identity = true;
      for (size_t k = 0; k < perm.size(); ++k) {
        composed.push_back(p1[static_cast<size_t>(perm[k])]);
        identity = identity && composed.back() == static_cast<int>(k);
      }
      if (identity) return src;
      return emit_transpose(src, g_->tensors[src].shape, composed, name);
    }
    std::vector<int64_t> out_shape;
    for (int p : perm) out_shape.push_back(in_shape[static_cast<size_t>(p)]);
    // Moving only dimensions of size 1 leaves the bytes in place: a Reshape.
    std::vector<int> moved;
    for (int p : perm) {
      if (in_shape[static_cast<size_t>(p)] != 1) moved.push_back(p);
    }
    if (std::is_sorted(moved.begin(), moved.end())) return emit_reshape(x, out_shape, name);
    const int y = g_->add_tensor(g_->unique_tensor_name(name), out_shape);
    fb::TransposeOptionsT o;
    o.perm = perm;
    emit(OpType::kTranspose, {x}, {y}, opts(std::move(o)), "/transpose");
    transposed_from_[y] = {x, perm};
    return y;
  }

  // The value in the ONNX layout (emits NHWC -> NCHW when needed).
  int get_plain(Value& v, const std::string& name) {
    if (v.plain >= 0) return v.plain;
    if (v.is_const) {
      v.plain = g_->add_const(g_->unique_tensor_name(name), v.c.shape, v.c.floats());
      return v.plain;
    }
    v.plain = emit_transpose(v.nhwc, g_->tensors[v.nhwc].shape, {0, 3, 1, 2}, name + "_nchw");
    return v.plain;
  }
  int get_nhwc(Value& v, const std::string& name) {
    if (v.nhwc >= 0) return v.nhwc;
    if (v.is_const) {
      v.nhwc = g_->add_const(g_->unique_tensor_name(name), to_nhwc(v.c.shape),
                             detail::transpose(v.c, {0, 2, 3, 1}).floats());
      return v.nhwc;
    }
    v.nhwc = emit_transpose(v.plain, v.shape, {0, 2, 3, 1}, name + "_nhwc");
    return v.nhwc;
  }
  const std::string& in_name(size_t i) const { return cur_->input(static_cast<int>(i)); }

  // ---------------------------------------------------------------- header
  Status read_header() {
    for (const auto& os : model_.opset_import()) {
      if (os.domain().empty() || os.domain() == "ai.onnx") opset_ = static_cast<int>(os.version());
    }
    if (opset_ == 0) {
      return Status{StatusCode::kUnsupported,
                    "the model imports no version of the default ONNX operator set (ai.onnx)"};
    }
    if (opset_ < kMinOpset) {
      return Status{StatusCode::kUnsupported,
                    fmt::format("ONNX opset {} is too old: opsets {} to {} are supported "
                                "(re-export the model with a newer opset)",
                                opset_, kMinOpset, kMaxTestedOpset)};
    }
    g_->log.opset = opset_;
    g_->log.producer = model_.producer_name();
    if (!model_.producer_version().empty()) g_->log.producer += " " + model_.producer_version();
    if (opset_ > kMaxTestedOpset) {
      g_->log.warnings.push_back(fmt::format(
          "ONNX opset {} is newer than the newest tested opset ({}); ops whose definition "
          "changed after opset {} may be refused",
          opset_, kMaxTestedOpset, kMaxTestedOpset));
    }
    g_->log.onnx_nodes = graph().node_size();
    return Status::Ok();
  }

  Status read_constants_and_inputs() {
    std::set<std::string> init_names;
    for (const auto& t : graph().initializer()) {
      auto h = detail::tensor_from_proto(t, base_dir_, fmt::format("initializer '{}'", t.name()));
      if (!h) return h.status();
      if (Status s = check_initializer(*h, t.name()); !s.ok()) return s;
      set_const(t.name(), std::move(*h));
      init_names.insert(t.name());
    }
    if (graph().sparse_initializer_size() > 0) {
      return Status{StatusCode::kUnsupported, "sparse initializers are not supported"};
    }
    for (const auto& in : graph().input()) {
      if (init_names.count(in.name())) continue;  // old exports list initializers as inputs
      if (!in.type().has_tensor_type()) {
        return Status{StatusCode::kUnsupported,
                      fmt::format("graph input '{}' is not a tensor", in.name())};
      }
      const auto& tt = in.type().tensor_type();
      if (tt.elem_type() != onnx::TensorProto::FLOAT) {
        return Status{StatusCode::kUnsupported,
                      fmt::format("graph input '{}' has element type {}; only float inputs are "
                                  "supported", in.name(), tt.elem_type())};
      }
      std::vector<int64_t> shape;
      auto ov = options_.input_shapes.find(in.name());
      if (ov != options_.input_shapes.end()) {
        shape = ov->second;
        if (tt.has_shape() && tt.shape().dim_size() != static_cast<int>(shape.size())) {
          return Status{StatusCode::kInvalidArgument,
                        fmt::format("--input-shape for '{}' has rank {}, the model's input has "
                                    "rank {}", in.name(), shape.size(), tt.shape().dim_size())};
        }
      } else {
        if (!tt.has_shape()) {
          return Status{StatusCode::kInvalidArgument,
                        fmt::format("graph input '{}' has no shape; give one with --input-shape "
                                    "{}=d0,d1,...", in.name(), in.name())};
        }
        for (int d = 0; d < tt.shape().dim_size(); ++d) {
          const auto& dim = tt.shape().dim(d);
          if (dim.has_dim_value() && dim.dim_value() > 0) {
            shape.push_back(dim.dim_value());
          } else if (d == 0) {
            shape.push_back(1);  // a dynamic batch dimension: batch 1
          } else {
            return Status{StatusCode::kInvalidArgument,
                          fmt::format("graph input '{}' has a dynamic dimension {} ('{}'); give "
                                      "the shape with --input-shape {}=d0,d1,...",
                                      in.name(), d, dim.dim_param(), in.name())};
          }
        }
      }
      for (int64_t d : shape) {
        if (d <= 0) {
          return Status{StatusCode::kInvalidArgument,
                        fmt::format("input '{}': shape {} has a non-positive dimension",
                                    in.name(), shp(shape))};
        }
      }
      if (std::string p = detail::shape_problem(shape, true); !p.empty()) {
        return Status{StatusCode::kInvalidArgument,
                      fmt::format("graph input '{}': shape {} {}", in.name(), shp(shape), p)};
      }
      Value v;
      v.shape = shape;
      v.plain = g_->add_tensor(in.name(), shape);
      g_->inputs.push_back(v.plain);
      g_->input_specs.push_back({in.name(), shape});
      values_[in.name()] = std::move(v);
    }
    for (const auto& entry : options_.input_shapes) {
      const std::string& name = entry.first;  // not a structured binding: clang 14 cannot capture one
      if (std::none_of(g_->input_specs.begin(), g_->input_specs.end(),
                       [&](const InputSpec& s) { return s.name == name; })) {
        return Status{StatusCode::kInvalidArgument,
                      fmt::format("--input-shape names '{}', which is not a graph input", name)};
      }
    }
    if (g_->inputs.empty()) {
      return Status{StatusCode::kUnsupported, "the model has no non-constant graph input"};
    }
    return Status::Ok();
  }

  Result<std::vector<int>> topo_order() {
    const int n = graph().node_size();
    std::map<std::string, int> producer;
    for (int j = 0; j < n; ++j) {
      for (const auto& o : graph().node(j).output()) {
        if (!o.empty()) producer[o] = j;
      }
    }
    std::vector<int> state(static_cast<size_t>(n), 0), order;
    // Iterative DFS so that deep graphs cannot overflow the stack.
    for (int root = 0; root < n; ++root) {
      if (state[root]) continue;
      std::vector<std::pair<int, int>> stack = {{root, 0}};
      state[root] = 1;
      while (!stack.empty()) {
        auto& [j, k] = stack.back();
        const auto& node = graph().node(j);
        if (k < node.input_size()) {
          const std::string& in = node.input(k++);
          auto it = producer.find(in);
          if (in.empty() || values_.count(in) || it == producer.end()) continue;
          const int p = it->second;
          if (state[p] == 1) {
            return Status{StatusCode::kInvalidModel,
                          fmt::format("the graph has a cycle through node '{}' ({})", node.name(),
                                      node.op_type())};
          }
          if (state[p] == 0) {
            state[p] = 1;
            stack.push_back({p, 0});
          }
          continue;
        }
        state[j] = 2;
        order.push_back(j);
        stack.pop_back();
      }
    }
    return order;
  }

  void count_uses() {
    for (const auto& node : graph().node()) {
      for (const auto& in : node.input()) {
        if (!in.empty()) ++uses_[in];
      }
    }
    for (const auto& o : graph().output()) ++uses_[o.name()];
  }

  // ---------------------------------------------------------------- dispatch
  Status lower_node(const onnx::NodeProto& n) {
    if (Status s = lower_one(n); !s.ok()) return s;
    return check_const_budget();
  }

  Status lower_one(const onnx::NodeProto& n) {
    if (!n.domain().empty() && n.domain() != "ai.onnx") {
      return unsupported(fmt::format("operator domain '{}' is not supported (only the default "
                                     "ONNX domain); supported ops: {}", n.domain(), kSupportedOps));
    }
    for (const auto& a : n.attribute()) {
      if (!a.ref_attr_name().empty()) return unsupported("attribute references are not supported");
    }
    if (Status s = check_arity(n); !s.ok()) return s;
    const std::string& op = n.op_type();
    if (op == "Constant") return lower_constant();
    if (op == "If") return lower_if();
    // Constant folding: every present input is a constant.
    bool all_const = n.input_size() > 0;
    for (int i = 0; i < n.input_size(); ++i) {
      if (n.input(i).empty()) continue;
      auto it = values_.find(n.input(i));
      if (it == values_.end()) {
        return invalid(fmt::format("input '{}' is not produced by any node, initializer or "
                                   "graph input", n.input(i)));
      }
      all_const = all_const && it->second.is_const;
    }
    if (op == "Shape") return lower_shape();
    if (all_const) {
      std::vector<const HostTensor*> ins;
      for (int i = 0; i < n.input_size(); ++i) {
        ins.push_back(n.input(i).empty() ? nullptr : &values_.at(n.input(i)).c);
      }
      bool handled = false;
      auto r = detail::fold_constant(n, opset_, ins, where(), budget_, &handled);
      if (!r) return r.status();
      if (handled) {
        if (Status s = check_folded((*r)[0], out_name(0)); !s.ok()) return s;
        set_const(out_name(0), std::move((*r)[0]));
        return Status::Ok();
      }
    }
    if (op == "Conv") return lower_conv();
    if (op == "Gemm") return lower_gemm();
    if (op == "MatMul") return lower_matmul();
    if (op == "Add" || op == "Sub" || op == "Mul" || op == "Div") return lower_binary();
    if (op == "Sum") return lower_sum();
    if (op == "ReduceMean") return lower_reduce_mean();
    if (op == "Concat") return lower_concat();
    if (op == "MaxPool" || op == "AveragePool") return lower_pool();
    if (op == "GlobalAveragePool" || op == "GlobalMaxPool") return lower_global_pool();
    if (op == "Relu" || op == "Sigmoid" || op == "Tanh" || op == "HardSwish" ||
        op == "LeakyRelu" || op == "Clip" || op == "HardSigmoid") {
      return lower_unary();
    }
    if (op == "Softmax" || op == "LogSoftmax") return lower_softmax();
    if (op == "Reshape" || op == "Flatten" || op == "Squeeze" || op == "Unsqueeze") {
      return lower_reshape();
    }
    if (op == "Transpose") return lower_transpose();
    if (op == "Pad") return lower_pad();
    if (op == "BatchNormalization") return lower_batchnorm();
    if (op == "Dropout" || op == "Identity") return lower_identity();
    return unsupported(fmt::format("op type '{}' is not supported. Supported ops: {}", op,
                                   kSupportedOps));
  }

  // ---------------------------------------------------------------- constants
  Status lower_constant() {
    const auto& a = cur_->attribute();
    if (a.size() != 1) return invalid("a Constant needs exactly one value attribute");
    const auto& at = a.Get(0);
    HostTensor h;
    const std::string& k = at.name();
    if (k == "value") {
      auto t = detail::tensor_from_proto(at.t(), base_dir_, where() + " value");
      if (!t) return t.status();
      h = std::move(*t);
    } else if (k == "value_float") {
      h.v = {at.f()};
    } else if (k == "value_floats") {
      h.v.assign(at.floats().begin(), at.floats().end());
      h.shape = {static_cast<int64_t>(h.v.size())};
    } else if (k == "value_int") {
      h.is_int = true;
      h.v = {static_cast<double>(at.i())};
    } else if (k == "value_ints") {
      h.is_int = true;
      for (int64_t x : at.ints()) h.v.push_back(static_cast<double>(x));
      h.shape = {static_cast<int64_t>(h.v.size())};
    } else {
      return unsupported(fmt::format("attribute '{}' is not supported (supported: value, "
                                     "value_float, value_floats, value_int, value_ints)", k));
    }
    if (Status s = check_folded(h, out_name()); !s.ok()) return s;
    set_const(out_name(), std::move(h));
    return Status::Ok();
  }

  // An If whose condition folds to a constant (torch exports `squeeze(dim)` as
  // Shape -> Gather -> Equal -> If): the taken branch is inlined.
  Status lower_if() {
    QUANTA_CONVERT_TRY_ATTRS({"then_branch", "else_branch"});
    auto c = need_input(0, "cond");
    if (!c) return c.status();
    if (!(*c)->is_const || (*c)->c.size() != 1) {
      return unsupported("the condition is not a constant: only an If whose condition is known "
                         "when converting (it is then replaced by the branch it takes) is supported");
    }
    const bool taken = (*c)->c.v[0] != 0;
    const onnx::AttributeProto* a = attr(taken ? "then_branch" : "else_branch");
    if (a == nullptr || !a->has_g()) {
      return invalid(fmt::format("attribute '{}' (a graph) is missing", taken ? "then_branch" : "else_branch"));
    }
    const onnx::GraphProto& br = a->g();
    if (br.output_size() != cur_->output_size()) {
      return invalid(fmt::format("the {} branch has {} outputs; the If has {}", taken ? "then" : "else",
                                 br.output_size(), cur_->output_size()));
    }
    if (++if_depth_ > 16) return unsupported("If branches nested more than 16 deep");
    for (const auto& t : br.initializer()) {
      auto h = detail::tensor_from_proto(t, base_dir_, fmt::format("initializer '{}'", t.name()));
      if (!h) return h.status();
      if (Status s = check_initializer(*h, t.name()); !s.ok()) return s;
      set_const(t.name(), std::move(*h));
    }
    for (const auto& node : br.node()) {
      for (const auto& in : node.input()) {
        if (!in.empty()) ++uses_[in];
      }
    }
    for (const auto& o : br.output()) ++uses_[o.name()];
    const onnx::NodeProto* outer = cur_;
    const std::string outer_name = cur_name_;
    int k = 0;
    for (const auto& node : br.node()) {
      cur_ = &node;
      cur_name_ = node.name().empty() ? fmt::format("{}/{}_{}", outer_name, node.op_type(), k) : node.name();
      ++k;
      if (Status s = lower_node(node); !s.ok()) {
        cur_ = outer;
        cur_name_ = outer_name;
        return s;
      }
    }
    cur_ = outer;
    cur_name_ = outer_name;
    --if_depth_;
    for (int i = 0; i < br.output_size(); ++i) {
      auto it = values_.find(br.output(i).name());
      if (it == values_.end()) {
        return invalid(fmt::format("branch output '{}' is not produced", br.output(i).name()));
      }
      Value copy = it->second;
      copy.producer = -1;
      if (Status s = alias(out_name(static_cast<size_t>(i)), copy); !s.ok()) return s;
    }
    g_->log.rewrites.push_back(fmt::format("inlined the {} branch of If '{}' (its condition is "
                                           "constant)", taken ? "then" : "else", cur_name_));
    return Status::Ok();
  }

  Status lower_shape() {
    QUANTA_CONVERT_TRY_ATTRS({"start", "end"});
    auto x = need_input(0, "data");
    if (!x) return x.status();
    set_const(out_name(), detail::shape_of((*x)->is_const ? (*x)->c.shape : (*x)->shape, *cur_));
    return Status::Ok();
  }

  Status lower_identity() {
    if (cur_->op_type() == "Dropout") {
      QUANTA_CONVERT_TRY_ATTRS({"ratio", "seed", "is_test"});
      if (has_input(2)) {
        auto t = need_const(2, "training_mode");
        if (!t) return t.status();
        if (!(*t)->v.empty() && (*t)->v[0] != 0) {
          return unsupported("training_mode is true; only inference (training_mode false) is "
                             "supported");
        }
      }
      if (opset_ < 7 && attr_i("is_test", 1) == 0) return unsupported("is_test = 0");
    } else {
      QUANTA_CONVERT_TRY_ATTRS({});
    }
    if (Status s = only_first_output(); !s.ok()) return s;
    auto x = need_input(0, "input");
    if (!x) return x.status();
    Value copy = **x;
    copy.producer = -1;  // an alias is read by more than the producer's sole consumer
    if (Status s = alias(out_name(), copy); !s.ok()) return s;
    g_->log.rewrites.push_back(fmt::format("removed {} '{}'", cur_->op_type(), cur_name_));
    return Status::Ok();
  }

  // ---------------------------------------------------------------- conv
  struct Window {
    std::vector<int64_t> kernel, strides, dilations, pads;  // pads: begin h, w, end h, w
  };

  Status window_attrs(const std::vector<int64_t>& in_hw, std::vector<int64_t> kernel, Window* w,
                      bool allow_ceil, int64_t* ceil_extra_h, int64_t* ceil_extra_w) {
    if (kernel.size() != 2) {
      return unsupported(fmt::format("kernel_shape {} is not 2-D; only 2-D windows (4-D NCHW "
                                     "inputs) are supported", shp(kernel)));
    }
    w->kernel = kernel;
    w->strides = attr_ints("strides");
    if (w->strides.empty()) w->strides = {1, 1};
    w->dilations = attr_ints("dilations");
    if (w->dilations.empty()) w->dilations = {1, 1};
    w->pads = attr_ints("pads");
    if (w->pads.empty()) w->pads = {0, 0, 0, 0};
    if (w->strides.size() != 2 || w->dilations.size() != 2 || w->pads.size() != 4) {
      return invalid(fmt::format("strides {}, dilations {} or pads {} do not match a 2-D kernel",
                                 shp(w->strides), shp(w->dilations), shp(w->pads)));
    }
    // The runtime's window fields are int32; inside [lo, INT32_MAX] no window
    // arithmetic below can overflow int64 (inputs have at most 2^32 elements).
    const std::pair<const char*, const std::vector<int64_t>*> fields[] = {
        {"strides", &w->strides}, {"dilations", &w->dilations}, {"pads", &w->pads},
        {"kernel_shape", &kernel}};
    for (const auto& [name, values] : fields) {
      const int64_t lo = std::string(name) == "pads" ? 0 : 1;
      for (int64_t v : *values) {
        if (v < lo) return invalid(fmt::format("{} {} must be >= {}", name, shp(*values), lo));
        if (v > INT32_MAX) {
          return invalid(fmt::format("{} {} must be at most {}", name, shp(*values), INT32_MAX));
        }
      }
    }
    const std::string auto_pad = attr_s("auto_pad", "NOTSET");
    for (int d = 0; d < 2; ++d) {
      const int64_t ext = w->dilations[d] * (kernel[d] - 1) + 1;
      if (auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER") {
        const int64_t out = (in_hw[d] + w->strides[d] - 1) / w->strides[d];
        const int64_t total = std::max<int64_t>(0, (out - 1) * w->strides[d] + ext - in_hw[d]);
        const int64_t small = total / 2;
        w->pads[d] = auto_pad == "SAME_UPPER" ? small : total - small;
        w->pads[d + 2] = total - w->pads[d];
      } else if (auto_pad == "VALID") {
        w->pads[d] = w->pads[d + 2] = 0;
      } else if (auto_pad != "NOTSET") {
        return unsupported(fmt::format("auto_pad '{}' is not supported (NOTSET, SAME_UPPER, "
                                       "SAME_LOWER, VALID)", auto_pad));
      }
    }
    int64_t* extra[2] = {ceil_extra_h, ceil_extra_w};
    for (int d = 0; d < 2; ++d) {
      if (extra[d]) *extra[d] = 0;
    }
    if (allow_ceil && attr_i("ceil_mode", 0) != 0) {
      for (int d = 0; d < 2; ++d) {
        const int64_t ext = w->dilations[d] * (kernel[d] - 1) + 1;
        const int64_t span = in_hw[d] + w->pads[d] + w->pads[d + 2] - ext;
        if (span < 0) break;
        int64_t out = (span + w->strides[d] - 1) / w->strides[d] + 1;
        // The last window must start inside the input or the leading pad.
        if ((out - 1) * w->strides[d] >= in_hw[d] + w->pads[d]) --out;
        const int64_t need = (out - 1) * w->strides[d] + ext - (in_hw[d] + w->pads[d] + w->pads[d + 2]);
        if (need > 0) {
          w->pads[d + 2] += need;
          *extra[d] = need;
        }
      }
    }
    for (int64_t v : w->pads) {
      if (v > INT32_MAX) {
        return unsupported(fmt::format("the padding {} that auto_pad or ceil_mode gives is larger "
                                       "than {}", shp(w->pads), INT32_MAX));
      }
    }
    return Status::Ok();
  }

  static int64_t out_dim(int64_t in, int64_t k, int64_t s, int64_t d, int64_t pb, int64_t pe) {
    const int64_t ext = d * (k - 1) + 1;
    return (in + pb + pe - ext) / s + 1;
  }

  Status lower_conv() {
    QUANTA_CONVERT_TRY_ATTRS({"auto_pad", "dilations", "group", "kernel_shape", "pads", "strides"});
    auto xr = need_act(0, "X");
    if (!xr) return xr.status();
    Value& x = **xr;
    auto wr = need_const(1, "W");
    if (!wr) return wr.status();
    const HostTensor& w = **wr;
    if (x.shape.size() != 4) {
      return unsupported(fmt::format("input X has shape {}; only 2-D convolution (a 4-D NCHW "
                                     "input) is supported", shp(x.shape)));
    }
    if (w.shape.size() != 4) {
      return invalid(fmt::format("weight W has shape {}; expected 4-D [M, C/group, kH, kW]",
                                 shp(w.shape)));
    }
    const int64_t group = attr_i("group", 1);
    const int64_t cin = x.shape[1], cout = w.shape[0];
    int64_t group_cin = 0;
    if (group < 1 || group > INT32_MAX || cin % group != 0 || cout % group != 0 ||
        !detail::checked_mul(w.shape[1], group, &group_cin) || group_cin != cin) {
      return invalid(fmt::format("group {} does not fit input channels {} and weight shape {}",
                                 group, cin, shp(w.shape)));
    }
    std::vector<int64_t> kernel = attr_ints("kernel_shape");
    if (kernel.empty()) kernel = {w.shape[2], w.shape[3]};
    if (kernel.size() == 2 && (kernel[0] != w.shape[2] || kernel[1] != w.shape[3])) {
      return invalid(fmt::format("kernel_shape {} differs from the weight shape {}", shp(kernel),
                                 shp(w.shape)));
    }
    Window win;
    if (Status s = window_attrs({x.shape[2], x.shape[3]}, kernel, &win, false, nullptr, nullptr);
        !s.ok()) {
      return s;
    }
    const int64_t oh = out_dim(x.shape[2], kernel[0], win.strides[0], win.dilations[0], win.pads[0], win.pads[2]);
    const int64_t ow = out_dim(x.shape[3], kernel[1], win.strides[1], win.dilations[1], win.pads[1], win.pads[3]);
    if (oh < 1 || ow < 1) {
      return invalid(fmt::format("the kernel {} does not fit the padded input {}", shp(kernel),
                                 shp(x.shape)));
    }
    if (Status s = check_act({x.shape[0], cout, oh, ow}, "output"); !s.ok()) return s;
    // OIHW -> OHWI
    const HostTensor w_ohwi = detail::transpose(w, {0, 2, 3, 1});
    const int wt = g_->add_const(g_->unique_tensor_name(in_name(1)), w_ohwi.shape, w_ohwi.floats());
    int bt = -1;
    if (has_input(2)) {
      auto br = need_const(2, "B");
      if (!br) return br.status();
      if ((*br)->size() != cout) {
        return invalid(fmt::format("bias B has {} values for {} output channels", (*br)->size(), cout));
      }
      bt = g_->add_const(g_->unique_tensor_name(in_name(2)), {cout}, (*br)->floats());
    }
    const int xt = get_nhwc(x, in_name(0));
    int yt = 0;
    Value& y = define_act(out_name(), {x.shape[0], cout, oh, ow}, true, &yt);
    fb::Conv2DOptionsT o;
    o.stride_h = static_cast<int>(win.strides[0]);
    o.stride_w = static_cast<int>(win.strides[1]);
    o.dilation_h = static_cast<int>(win.dilations[0]);
    o.dilation_w = static_cast<int>(win.dilations[1]);
    o.pad_top = static_cast<int>(win.pads[0]);
    o.pad_left = static_cast<int>(win.pads[1]);
    o.pad_bottom = static_cast<int>(win.pads[2]);
    o.pad_right = static_cast<int>(win.pads[3]);
    o.groups = static_cast<int>(group);
    y.producer = emit(OpType::kConv2D, {xt, wt, bt}, {yt}, opts(std::move(o)));
    return Status::Ok();
  }

  // ---------------------------------------------------------------- gemm / matmul
  // FullyConnected y = x W^T + b from W in [N, K] order (row n = output n).
  Status emit_fc(Value& a, HostTensor w_nk, const HostTensor* bias, const std::string& out,
                 std::vector<int64_t> out_shape) {
    const int64_t n = w_nk.shape[0], k = w_nk.shape[1];
    if (n < 1 || k < 1) return invalid(fmt::format("the weight [N, K] = {} is empty", shp(w_nk.shape)));
    if (Status s = check_act(out_shape, "output"); !s.ok()) return s;
    if (!a.kperm.empty() && static_cast<int64_t>(a.kperm.size()) != k) {
      return Status{StatusCode::kInternal,
                    fmt::format("{}: the NHWC flattening order has {} entries for K = {}", where(),
                                a.kperm.size(), k)};
    }
    if (!a.kperm.empty()) {
      // `a` is a flattened NHWC tensor: its element j is ONNX element kperm[j].
      HostTensor p = w_nk;
      for (int64_t r = 0; r < n; ++r) {
        for (int64_t j = 0; j < k; ++j) p.v[r * k + j] = w_nk.v[r * k + a.kperm[j]];
      }
      w_nk = std::move(p);
      g_->log.rewrites.push_back(fmt::format(
          "'{}': permuted the weight columns to read the NHWC-flattened input directly", cur_name_));
    }
    const int wt = g_->add_const(g_->unique_tensor_name(cur_name_ + ".weight"), {n, k}, w_nk.floats());
    int bt = -1;
    if (bias) bt = g_->add_const(g_->unique_tensor_name(cur_name_ + ".bias"), {n}, bias->floats());
    int at = a.plain;
    const std::vector<int64_t>& as = g_->tensors[at].shape;
    if (as.size() != 2) at = emit_reshape(at, {shape_size(as) / k, k}, in_name(0) + "_rows");
    int yt = 0;
    const bool rows_only = out_shape.size() == 2;
    Value& y = define_act(rows_only ? out : out + "_rows", {shape_size(out_shape) / n, n}, false, &yt);
    y.producer = emit(OpType::kFullyConnected, {at, wt, bt}, {yt}, opts(fb::FullyConnectedOptionsT{}));
    if (!rows_only) {
      Value copy;
      copy.shape = out_shape;
      copy.plain = emit_reshape(yt, out_shape, out);
      values_[out] = std::move(copy);
    }
    return Status::Ok();
  }

  Status lower_gemm() {
    QUANTA_CONVERT_TRY_ATTRS({"alpha", "beta", "transA", "transB", "broadcast"});
    auto ar = need_act(0, "A");
    if (!ar) return ar.status();
    Value& a = **ar;
    const float alpha = attr_f("alpha", 1.0f), beta = attr_f("beta", 1.0f);
    const bool ta = attr_i("transA", 0) != 0, tb = attr_i("transB", 0) != 0;
    if (a.shape.size() != 2) {
      return invalid(fmt::format("input A has shape {}; Gemm needs a 2-D A", shp(a.shape)));
    }
    Value a_t;
    Value* ap = &a;
    if (ta) {  // A^T as an activation: one Transpose
      a_t.shape = {a.shape[1], a.shape[0]};
      a_t.plain = emit_transpose(get_plain(a, in_name(0)), a.shape, {1, 0}, in_name(0) + "_t");
      ap = &a_t;
    }
    auto bv = need_input(1, "B");
    if (!bv) return bv.status();
    if (!(*bv)->is_const) return lower_gemm_activation_b(*ap, **bv, alpha, beta, tb);
    auto br = need_const(1, "B");
    if (!br) return br.status();
    const HostTensor& b = **br;
    if (b.shape.size() != 2) return invalid(fmt::format("B has shape {}; expected 2-D", shp(b.shape)));
    if (b.shape[0] < 1 || b.shape[1] < 1) {
      return invalid(fmt::format("B has shape {}: a weight with a dimension of size 0 is not "
                                 "supported", shp(b.shape)));
    }
    const int64_t k = ap->shape[1];
    HostTensor w = tb ? b : detail::transpose(b, {1, 0});  // [N, K]
    if (w.shape[1] != k) {
      return invalid(fmt::format("A {} and B {} (transB {}) do not multiply", shp(ap->shape),
                                 shp(b.shape), tb ? 1 : 0));
    }
    const int64_t m = ap->shape[0], n = w.shape[0];
    for (double& v : w.v) v = static_cast<float>(static_cast<float>(v) * alpha);
    HostTensor bias;
    const HostTensor* biasp = nullptr;
    bool bias_as_add = false;
    if (has_input(2) && input(2) != nullptr && !input(2)->is_const) {
      // C is an activation (addmm): FullyConnected, then Add.
      Value& c = *input(2);
      if (beta != 1.0f) return unsupported("beta != 1 with an activation C is not supported");
      std::vector<int64_t> cs;
      if (!detail::broadcast_shapes(c.shape, {m, n}, &cs) || cs != std::vector<int64_t>{m, n}) {
        return invalid(fmt::format("C {} does not broadcast to [{}, {}]", shp(c.shape), m, n));
      }
      const std::string mid = out_name() + "_mm";
      if (Status st = emit_fc(*ap, std::move(w), nullptr, mid, {m, n}); !st.ok()) return st;
      const int mt = values_.at(mid).plain;
      const int ct = get_plain(c, in_name(2));
      int yt = 0;
      define_act(out_name(), {m, n}, false, &yt);
      emit(OpType::kAdd, {mt, ct}, {yt}, opts(fb::ElementwiseOptionsT{}), "/bias");
      return Status::Ok();
    }
    if (has_input(2)) {
      auto cr = need_const(2, "C");
      if (!cr) return cr.status();
      std::vector<int64_t> bs;
      if (!detail::broadcast_shapes((*cr)->shape, {m, n}, &bs) || bs != std::vector<int64_t>{m, n}) {
        return invalid(fmt::format("C {} does not broadcast to [{}, {}]", shp((*cr)->shape), m, n));
      }
      // C is [rows, cols] with rows in {1, M} and cols in {1, N} (or of rank
      // 0 or 1): it is one bias row when its rows are equal. Compared on C's
      // own data, never broadcast to the batch.
      const HostTensor& c = **cr;
      const int64_t rows = c.shape.size() == 2 ? c.shape[0] : 1;
      const int64_t cols = c.shape.empty() ? 1 : c.shape.back();
      bool rows_equal = true;
      for (int64_t r = 1; r < rows && rows_equal; ++r) {
        for (int64_t j = 0; j < cols; ++j) rows_equal = rows_equal && c.v[r * cols + j] == c.v[j];
      }
      HostTensor first;
      first.shape = {cols};
      first.v.assign(c.v.begin(), c.v.begin() + cols);
      bias = detail::broadcast_to(first, {n});
      for (double& v : bias.v) v = static_cast<float>(static_cast<float>(v) * beta);
      if (rows_equal) {
        biasp = &bias;
      } else {
        bias_as_add = true;
      }
    }
    if (!bias_as_add) return emit_fc(*ap, std::move(w), biasp, out_name(), {m, n});
    // A bias that differs per row: FullyConnected, then Add of the [M, N] constant.
    const std::string mid = out_name() + "_mm";
    if (Status s = emit_fc(*ap, std::move(w), nullptr, mid, {m, n}); !s.ok()) return s;
    // The [M, N] constant is new data, bounded like a folded constant.
    if (Status s = budget_.charge(static_cast<double>(m) * static_cast<double>(n), where()); !s.ok()) {
      return s;
    }
    HostTensor full = detail::broadcast_to(values_.at(in_name(2)).c, {m, n});
    for (double& v : full.v) v = static_cast<float>(static_cast<float>(v) * beta);
    const int ct = g_->add_const(g_->unique_tensor_name(in_name(2)), {m, n}, full.floats());
    int yt = 0;
    const int mt = values_.at(mid).plain;
    define_act(out_name(), {m, n}, false, &yt);
    emit(OpType::kAdd, {mt, ct}, {yt}, opts(fb::ElementwiseOptionsT{}), "/bias");
    return Status::Ok();
  }

  // Gemm whose B is an activation: MatMul, then alpha (Mul) and C (Add).
  Status lower_gemm_activation_b(Value& a, Value& b, float alpha, float beta, bool tb) {
    if (b.shape.size() != 2) return invalid(fmt::format("B has shape {}; expected 2-D", shp(b.shape)));
    int bt = get_plain(b, in_name(1));
    std::vector<int64_t> bs = b.shape;
    if (tb) {
      bt = emit_transpose(bt, bs, {1, 0}, in_name(1) + "_t");
      bs = {bs[1], bs[0]};
    }
    if (bs[0] != a.shape[1]) {
      return invalid(fmt::format("A {} and B {} do not multiply", shp(a.shape), shp(b.shape)));
    }
    const std::vector<int64_t> out = {a.shape[0], bs[1]};
    if (Status s = check_act(out, "output"); !s.ok()) return s;
    const int at = get_plain(a, in_name(0));
    const bool more = alpha != 1.0f || has_input(2);
    int yt = more ? g_->add_tensor(g_->unique_tensor_name(out_name() + "_mm"), out) : 0;
    if (!more) define_act(out_name(), out, false, &yt);
    emit(OpType::kMatMul, {at, bt}, {yt}, opts(fb::MatMulOptionsT{}));
    if (alpha != 1.0f) {
      const int c = g_->add_const(g_->unique_tensor_name(cur_name_ + ".alpha"), {1}, {alpha});
      int z = 0;
      if (has_input(2)) {
        z = g_->add_tensor(g_->unique_tensor_name(out_name() + "_scaled"), out);
      } else {
        define_act(out_name(), out, false, &z);
      }
      emit(OpType::kMul, {yt, c}, {z}, opts(fb::ElementwiseOptionsT{}), "/alpha");
      yt = z;
    }
    if (has_input(2)) {
      auto cv = need_input(2, "C");
      if (!cv) return cv.status();
      int ct = 0;
      if ((*cv)->is_const) {
        HostTensor c = (*cv)->c;
        for (double& v : c.v) v = static_cast<float>(static_cast<float>(v) * beta);
        ct = g_->add_const(g_->unique_tensor_name(in_name(2)), c.shape, c.floats());
      } else if (beta == 1.0f) {
        ct = get_plain(**cv, in_name(2));
      } else {
        return unsupported("beta != 1 with an activation C is not supported");
      }
      int z = 0;
      define_act(out_name(), out, false, &z);
      emit(OpType::kAdd, {yt, ct}, {z}, opts(fb::ElementwiseOptionsT{}), "/bias");
    }
    return Status::Ok();
  }

  Status lower_matmul() {
    QUANTA_CONVERT_TRY_ATTRS({});
    auto ar = need_act(0, "A");
    if (!ar) return ar.status();
    Value& a = **ar;
    auto br = need_input(1, "B");
    if (!br) return br.status();
    if (a.shape.size() < 2) {
      return unsupported(fmt::format("input A has shape {}; a 1-D A is not supported", shp(a.shape)));
    }
    if ((*br)->is_const) {
      const HostTensor& b = (*br)->c;
      if (b.shape.size() == 2) {
        if (b.shape[1] < 1) {
          return invalid(fmt::format("B has shape {}: a weight with a dimension of size 0 is not "
                                     "supported", shp(b.shape)));
        }
        if (b.shape[0] != a.shape.back()) {
          return invalid(fmt::format("A {} and B {} do not multiply", shp(a.shape), shp(b.shape)));
        }
        std::vector<int64_t> out = a.shape;
        out.back() = b.shape[1];
        if (a.plain < 0) get_plain(a, in_name(0));
        return emit_fc(a, detail::transpose(b, {1, 0}), nullptr, out_name(), out);
      }
    }
    // General MatMul (batched constant B, or two activations).
    Value& b = **br;
    const std::vector<int64_t> bs = b.is_const ? b.c.shape : b.shape;
    if (bs.size() < 2) return unsupported(fmt::format("B has shape {}; a 1-D B is not supported", shp(bs)));
    if (bs[bs.size() - 2] != a.shape.back()) {
      return invalid(fmt::format("A {} and B {} do not multiply", shp(a.shape), shp(bs)));
    }
    std::vector<int64_t> batch;
    const std::vector<int64_t> ab(a.shape.begin(), a.shape.end() - 2), bb(bs.begin(), bs.end() - 2);
    if (!detail::broadcast_shapes(ab, bb, &batch)) {
      return invalid(fmt::format("batch dimensions of A {} and B {} do not broadcast", shp(a.shape), shp(bs)));
    }
    std::vector<int64_t> out = batch;
    out.push_back(a.shape[a.shape.size() - 2]);
    out.push_back(bs.back());
    if (Status s = check_act(out, "output"); !s.ok()) return s;
    const int at = get_plain(a, in_name(0));
    const int bt = get_plain(b, in_name(1));
    int yt = 0;
    Value& y = define_act(out_name(), out, false, &yt);
    y.producer = emit(OpType::kMatMul, {at, bt}, {yt}, opts(fb::MatMulOptionsT{}));
    return Status::Ok();
  }

  // ---------------------------------------------------------------- elementwise
  // Adds a per-channel constant into the bias of the Conv/FC that produced x,
  // when x has no other reader. Returns true if it did.
  bool try_fold_bias(Value& x, const HostTensor& c, bool negate) {
    if (x.producer < 0 || uses_[in_name(0)] != 1) return false;
    LNode& p = g_->nodes[x.producer];
    if ((p.op != OpType::kConv2D && p.op != OpType::kFullyConnected) ||
        get_activation(p).kind != fb::Activation::NONE) {
      return false;
    }
    const int64_t cout = g_->tensors[p.inputs[1]].shape[0];
    // The constant must vary along the channel axis only.
    std::vector<int64_t> bshape;
    if (!detail::broadcast_shapes(c.shape, x.shape, &bshape) || bshape != x.shape) return false;
    const size_t ch_axis = p.op == OpType::kConv2D ? 1 : x.shape.size() - 1;
    if (x.shape[ch_axis] != cout) return false;
    // Checked on the constant's own values (never broadcast to the image):
    // padded to x's rank, its channel axis has size 1 or cout, and every value
    // must equal the first one of its channel.
    const size_t rank = x.shape.size();
    std::vector<int64_t> cs(rank, 1);
    for (size_t i = 0; i < c.shape.size(); ++i) cs[rank - c.shape.size() + i] = c.shape[i];
    const int64_t channels = cs[ch_axis];  // 1 or cout
    int64_t inner = 1;
    for (size_t d = ch_axis + 1; d < rank; ++d) inner *= cs[d];
    std::vector<float> first(static_cast<size_t>(channels));
    std::vector<bool> seen(static_cast<size_t>(channels), false);
    for (size_t i = 0; i < c.v.size(); ++i) {
      const int64_t ch = (static_cast<int64_t>(i) / inner) % channels;
      const float v = static_cast<float>(c.v[i]);
      if (!seen[ch]) {
        seen[ch] = true;
        first[ch] = v;
      } else if (v != first[ch]) {
        return false;
      }
    }
    std::vector<float> add(static_cast<size_t>(cout));
    for (int64_t ch = 0; ch < cout; ++ch) add[ch] = first[channels == 1 ? 0 : ch];
    if (p.inputs.size() < 3) p.inputs.resize(3, -1);
    if (p.inputs[2] < 0) {
      p.inputs[2] = g_->add_const(g_->unique_tensor_name(p.name + ".bias"), {cout},
                                  std::vector<float>(static_cast<size_t>(cout), 0.0f));
    }
    std::vector<float>& b = g_->tensors[p.inputs[2]].data;
    for (int64_t ch = 0; ch < cout; ++ch) b[ch] += negate ? -add[ch] : add[ch];
    p.source.push_back(cur_name_);
    values_[out_name()] = x;  // an alias of an activation
    g_->log.rewrites.push_back(fmt::format("folded {} '{}' into the bias of {} '{}'",
                                           cur_->op_type(), cur_name_, p.onnx_op, p.name));
    return true;
  }

  Status lower_binary() {
    QUANTA_CONVERT_TRY_ATTRS({"broadcast", "axis"});
    if (attr("axis") != nullptr) {
      return unsupported("attribute 'axis' (legacy broadcasting before opset 7) is not supported");
    }
    std::string op = cur_->op_type() == "Sum" ? "Add" : cur_->op_type();
    auto ar = need_input(0, "A");
    if (!ar) return ar.status();
    auto br = need_input(1, "B");
    if (!br) return br.status();
    Value* a = *ar;
    Value* b = *br;
    size_t a_idx = 0, b_idx = 1;
    HostTensor cval;
    bool has_const = false;
    if (a->is_const || b->is_const) {
      has_const = true;
      if (a->is_const) {
        if (op == "Sub" || op == "Div") {
          return unsupported(fmt::format("{} with a constant first input and an activation second "
                                         "input is not supported", op));
        }
        std::swap(a, b);
        std::swap(a_idx, b_idx);
      }
      cval = b->c;
      if (op == "Sub") {
        for (double& v : cval.v) v = -v;
        op = "Add";
      } else if (op == "Div") {
        for (double& v : cval.v) v = static_cast<float>(1.0 / static_cast<float>(v));
        op = "Mul";
      }
      for (double v : cval.v) {
        if (!std::isfinite(v)) {
          return invalid(fmt::format("constant input '{}' gives the non-finite value {}",
                                     in_name(b_idx), v));
        }
      }
    } else if (op == "Div") {
      return unsupported("Div of two activations is not supported");
    }
    const std::vector<int64_t> bshape = has_const ? cval.shape : b->shape;
    std::vector<int64_t> out;
    if (!detail::broadcast_shapes(a->shape, bshape, &out)) {
      return invalid(fmt::format("input shapes {} and {} do not broadcast", shp(a->shape), shp(bshape)));
    }
    if (Status s = check_act(out, "output"); !s.ok()) return s;
    if (has_const && op == "Add" && a_idx == 0 && try_fold_bias(*a, cval, false)) return Status::Ok();
    if (has_const && op == "Add" && a_idx == 1) {
      // try_fold_bias looks at input 0; keep it simple for the swapped case.
    }
    // Layout: NHWC when both operands can be had in NHWC without a transpose of an activation.
    const bool a_nhwc = a->nhwc >= 0 && a->shape.size() == 4 && out == a->shape;
    bool use_nhwc = false;
    if (a_nhwc) {
      if (has_const) {
        use_nhwc = true;
      } else {
        use_nhwc = b->shape.size() == 4 && b->nhwc >= 0;
        if (!use_nhwc && b->shape.size() == 4 && b->plain >= 0 && a->plain < 0) use_nhwc = true;
      }
    }
    int at = 0, bt = 0;
    if (use_nhwc) {
      at = get_nhwc(*a, in_name(a_idx));
      if (has_const) {
        std::vector<int64_t> s4 = cval.shape;
        while (s4.size() < 4) s4.insert(s4.begin(), 1);
        HostTensor c4 = cval;
        c4.shape = s4;
        const HostTensor t = detail::transpose(c4, {0, 2, 3, 1});
        bt = g_->add_const(g_->unique_tensor_name(in_name(b_idx)), t.shape, t.floats());
      } else {
        bt = get_nhwc(*b, in_name(b_idx));
      }
    } else {
      at = get_plain(*a, in_name(a_idx));
      bt = has_const ? g_->add_const(g_->unique_tensor_name(in_name(b_idx)), cval.shape, cval.floats())
                     : get_plain(*b, in_name(b_idx));
    }
    if (op == "Sub") {
      // a - b = a + (-1) * b
      const int neg = g_->add_const(g_->unique_tensor_name(cur_name_ + ".minus_one"), {1}, {-1.0f});
      const int nb = g_->add_tensor(g_->unique_tensor_name(in_name(b_idx) + "_neg"),
                                    g_->tensors[bt].shape);
      emit(OpType::kMul, {bt, neg}, {nb}, opts(fb::ElementwiseOptionsT{}), "/negate");
      bt = nb;
      op = "Add";
    }
    int yt = 0;
    Value& y = define_act(out_name(), out, use_nhwc, &yt);
    y.producer = emit(op == "Add" ? OpType::kAdd : OpType::kMul, {at, bt}, {yt},
                      opts(fb::ElementwiseOptionsT{}));
    return Status::Ok();
  }

  Status lower_concat() {
    QUANTA_CONVERT_TRY_ATTRS({"axis"});
    std::vector<Value*> ins;
    for (size_t i = 0; i < num_inputs(); ++i) {
      auto v = need_input(i, "input");
      if (!v) return v.status();
      ins.push_back(*v);
    }
    if (ins.empty()) return invalid("Concat has no inputs");
    const Value* first_act = nullptr;
    for (Value* v : ins) {
      if (!v->is_const) first_act = first_act ? first_act : v;
    }
    const std::vector<int64_t> s0 = first_act->shape;
    const int64_t rank = static_cast<int64_t>(s0.size());
    int64_t axis = attr_i("axis", opset_ < 4 ? 1 : 0);
    if (axis < -rank || axis >= rank) return invalid(fmt::format("axis {} is out of range for rank {}", axis, rank));
    if (axis < 0) axis += rank;
    std::vector<int64_t> out = s0;
    out[axis] = 0;
    for (size_t i = 0; i < ins.size(); ++i) {
      const auto& s = ins[i]->is_const ? ins[i]->c.shape : ins[i]->shape;
      if (static_cast<int64_t>(s.size()) != rank) {
        return invalid(fmt::format("input {} has shape {}; input shapes must have rank {}", i, shp(s), rank));
      }
      for (int64_t d = 0; d < rank; ++d) {
        if (d != axis && s[d] != s0[d]) {
          return invalid(fmt::format("input {} has shape {}, which differs from {} outside axis {}",
                                     i, shp(s), shp(s0), axis));
        }
      }
      if (!detail::checked_add(out[axis], s[axis], &out[axis])) {
        return invalid(fmt::format("the sizes of axis {} overflow when added", axis));
      }
    }
    if (Status s = check_act(out, "output"); !s.ok()) return s;
    bool use_nhwc = rank == 4;
    for (Value* v : ins) use_nhwc = use_nhwc && (v->is_const || v->nhwc >= 0);
    std::vector<int> ts;
    for (size_t i = 0; i < ins.size(); ++i) {
      ts.push_back(use_nhwc ? get_nhwc(*ins[i], in_name(i)) : get_plain(*ins[i], in_name(i)));
    }
    static constexpr int kNhwcAxis[4] = {0, 3, 1, 2};
    fb::ConcatOptionsT o;
    o.axis = use_nhwc ? kNhwcAxis[axis] : static_cast<int>(axis);
    int yt = 0;
    define_act(out_name(), out, use_nhwc, &yt);
    emit(OpType::kConcat, ts, {yt}, opts(std::move(o)));
    return Status::Ok();
  }

  // ---------------------------------------------------------------- pooling
  Status lower_pool() {
    const bool is_max = cur_->op_type() == "MaxPool";
    if (is_max) {
      QUANTA_CONVERT_TRY_ATTRS({"auto_pad", "ceil_mode", "dilations", "kernel_shape", "pads",
                                "storage_order", "strides"});
      if (attr_i("storage_order", 0) != 0) return unsupported("storage_order = 1 is not supported");
      if (Status s = only_first_output(); !s.ok()) return s;
    } else {
      QUANTA_CONVERT_TRY_ATTRS({"auto_pad", "ceil_mode", "count_include_pad", "dilations",
                                "kernel_shape", "pads", "strides"});
    }
    auto xr = need_act(0, "X");
    if (!xr) return xr.status();
    Value& x = **xr;
    if (x.shape.size() != 4) {
      return unsupported(fmt::format("input has shape {}; only 2-D pooling (4-D NCHW input) is "
                                     "supported", shp(x.shape)));
    }
    const auto kernel = attr_ints("kernel_shape");
    if (kernel.empty()) return invalid("attribute 'kernel_shape' is required");
    Window win;
    int64_t eh = 0, ew = 0;
    if (Status s = window_attrs({x.shape[2], x.shape[3]}, kernel, &win, true, &eh, &ew); !s.ok()) {
      return s;
    }
    const bool include_pad = !is_max && attr_i("count_include_pad", 0) != 0;
    if (include_pad && (eh > 0 || ew > 0)) {
      return unsupported("ceil_mode = 1 together with count_include_pad = 1 is not supported "
                         "when it extends the window past the explicit pads");
    }
    for (int d = 0; d < 2; ++d) {
      const int64_t ext = win.dilations[d] * (kernel[d] - 1) + 1;
      if (win.pads[d] >= ext || win.pads[d + 2] >= ext) {
        return unsupported(fmt::format("pads {} are not smaller than the window extent {} (the "
                                       "runtime needs every window to overlap the input)",
                                       shp(win.pads), ext));
      }
    }
    const int64_t oh = out_dim(x.shape[2], kernel[0], win.strides[0], win.dilations[0], win.pads[0], win.pads[2]);
    const int64_t ow = out_dim(x.shape[3], kernel[1], win.strides[1], win.dilations[1], win.pads[1], win.pads[3]);
    if (oh < 1 || ow < 1) {
      return invalid(fmt::format("the window {} does not fit the input {}", shp(kernel), shp(x.shape)));
    }
    if (Status s = check_act({x.shape[0], x.shape[1], oh, ow}, "output"); !s.ok()) return s;
    fb::PoolOptionsT o;
    o.kernel_h = static_cast<int>(kernel[0]);
    o.kernel_w = static_cast<int>(kernel[1]);
    o.stride_h = static_cast<int>(win.strides[0]);
    o.stride_w = static_cast<int>(win.strides[1]);
    o.dilation_h = static_cast<int>(win.dilations[0]);
    o.dilation_w = static_cast<int>(win.dilations[1]);
    o.pad_top = static_cast<int>(win.pads[0]);
    o.pad_left = static_cast<int>(win.pads[1]);
    o.pad_bottom = static_cast<int>(win.pads[2]);
    o.pad_right = static_cast<int>(win.pads[3]);
    o.count_include_pad = include_pad;
    const int xt = get_nhwc(x, in_name(0));
    int yt = 0;
    Value& y = define_act(out_name(), {x.shape[0], x.shape[1], oh, ow}, true, &yt);
    y.producer = emit(is_max ? OpType::kMaxPool : OpType::kAveragePool, {xt}, {yt}, opts(std::move(o)));
    return Status::Ok();
  }

  Status lower_global_pool() {
    QUANTA_CONVERT_TRY_ATTRS({});
    auto xr = need_act(0, "X");
    if (!xr) return xr.status();
    Value& x = **xr;
    if (x.shape.size() != 4) {
      return unsupported(fmt::format("input has shape {}; only 4-D NCHW input is supported", shp(x.shape)));
    }
    const int xt = get_nhwc(x, in_name(0));
    int yt = 0;
    define_act(out_name(), {x.shape[0], x.shape[1], 1, 1}, true, &yt);
    if (cur_->op_type() == "GlobalAveragePool") {
      emit(OpType::kGlobalAveragePool, {xt}, {yt});
    } else {
      if (x.shape[2] > INT32_MAX || x.shape[3] > INT32_MAX) {
        return unsupported(fmt::format("input {}: a window of {} x {} is larger than the runtime's "
                                       "int32 kernel size", shp(x.shape), x.shape[2], x.shape[3]));
      }
      fb::PoolOptionsT o;
      o.kernel_h = static_cast<int>(x.shape[2]);
      o.kernel_w = static_cast<int>(x.shape[3]);
      emit(OpType::kMaxPool, {xt}, {yt}, opts(std::move(o)));
    }
    return Status::Ok();
  }

  // Sum of N inputs: a chain of Adds (one input: an identity).
  Status lower_sum() {
    QUANTA_CONVERT_TRY_ATTRS({});
    const int n = cur_->input_size();
    if (n < 1) return invalid("Sum has no inputs");
    if (n == 2) return lower_binary();
    auto first = need_input(0, "data_0");
    if (!first) return first.status();
    if (n == 1) {
      Value copy = **first;
      copy.producer = -1;
      return alias(out_name(), copy);
    }
    const onnx::NodeProto* outer = cur_;
    const std::string outer_name = cur_name_;
    std::string acc = outer->input(0);
    Status st = Status::Ok();
    for (int i = 1; i < n && st.ok(); ++i) {
      onnx::NodeProto add;
      add.set_op_type("Add");
      add.add_input(acc);
      add.add_input(outer->input(i));
      const std::string out = i == n - 1 ? outer->output(0) : fmt::format("{}/partial_{}", outer_name, i);
      add.add_output(out);
      if (i < n - 1) uses_[out] = 1;
      cur_ = &add;
      cur_name_ = fmt::format("{}/add_{}", outer_name, i);
      st = lower_binary();
      acc = out;
    }
    cur_ = outer;
    cur_name_ = outer_name;
    return st;
  }

  // ReduceMean over the spatial axes of a 4-D NCHW tensor is a global average pool.
  Status lower_reduce_mean() {
    QUANTA_CONVERT_TRY_ATTRS({"axes", "keepdims", "noop_with_empty_axes"});
    auto xr = need_act(0, "data");
    if (!xr) return xr.status();
    Value& x = **xr;
    std::vector<int64_t> axes = attr_ints("axes");
    if (opset_ >= 18 && has_input(1)) {
      auto a = const_ints(1, "axes");
      if (!a) return a.status();
      axes = std::move(*a);
    }
    for (int64_t& a : axes) a = a < 0 ? a + static_cast<int64_t>(x.shape.size()) : a;
    std::sort(axes.begin(), axes.end());
    if (x.shape.size() != 4 || axes != std::vector<int64_t>{2, 3}) {
      return unsupported(fmt::format("ReduceMean over axes {} of a {} tensor is not supported (only "
                                     "the spatial axes [2, 3] of a 4-D NCHW tensor, which is a "
                                     "global average pool)", shp(axes), shp(x.shape)));
    }
    const bool keep = attr_i("keepdims", 1) != 0;
    const int xt = get_nhwc(x, in_name(0));
    int yt = 0;
    if (keep) {
      define_act(out_name(), {x.shape[0], x.shape[1], 1, 1}, true, &yt);
      emit(OpType::kGlobalAveragePool, {xt}, {yt});
      return Status::Ok();
    }
    const int pooled = g_->add_tensor(g_->unique_tensor_name(out_name() + "_pooled"),
                                      {x.shape[0], 1, 1, x.shape[1]});
    emit(OpType::kGlobalAveragePool, {xt}, {pooled});
    Value v;
    v.shape = {x.shape[0], x.shape[1]};
    v.plain = emit_reshape(pooled, v.shape, out_name());
    values_[out_name()] = std::move(v);
    return Status::Ok();
  }

  // ---------------------------------------------------------------- unary
  Status lower_unary() {
    const std::string& op = cur_->op_type();
    OpType rt = OpType::kRelu;
    fb::OptionsUnion o;
    if (op == "Relu") {
      QUANTA_CONVERT_TRY_ATTRS({});
    } else if (op == "Sigmoid") {
      QUANTA_CONVERT_TRY_ATTRS({});
      rt = OpType::kSigmoid;
    } else if (op == "Tanh") {
      QUANTA_CONVERT_TRY_ATTRS({});
      rt = OpType::kTanh;
    } else if (op == "HardSwish") {
      QUANTA_CONVERT_TRY_ATTRS({});
      rt = OpType::kHardSwish;
    } else if (op == "HardSigmoid") {
      QUANTA_CONVERT_TRY_ATTRS({"alpha", "beta"});
      rt = OpType::kHardSigmoid;
      fb::HardSigmoidOptionsT h;
      h.alpha = attr_f("alpha", 0.2f);
      h.beta = attr_f("beta", 0.5f);
      if (!std::isfinite(h.alpha) || !std::isfinite(h.beta)) {
        return invalid(fmt::format("alpha {} and beta {} must be finite", h.alpha, h.beta));
      }
      o = opts(std::move(h));
    } else if (op == "LeakyRelu") {
      QUANTA_CONVERT_TRY_ATTRS({"alpha"});
      rt = OpType::kLeakyRelu;
      fb::LeakyReluOptionsT l;
      l.alpha = attr_f("alpha", 0.01f);
      if (!std::isfinite(l.alpha)) return invalid(fmt::format("alpha {} is not finite", l.alpha));
      o = opts(std::move(l));
    } else {  // Clip
      float lo = -INFINITY, hi = INFINITY;
      if (opset_ < 11) {
        QUANTA_CONVERT_TRY_ATTRS({"min", "max"});
        lo = attr_f("min", -INFINITY);
        hi = attr_f("max", INFINITY);
      } else {
        QUANTA_CONVERT_TRY_ATTRS({});
        for (size_t i = 1; i <= 2; ++i) {
          if (!has_input(i)) continue;
          auto c = need_const(i, i == 1 ? "min" : "max");
          if (!c) return c.status();
          if ((*c)->size() != 1) return invalid(fmt::format("Clip bound input {} is not a scalar", i));
          (i == 1 ? lo : hi) = static_cast<float>((*c)->v[0]);
        }
      }
      if (std::isnan(lo) || std::isnan(hi)) return invalid("Clip bounds are NaN");
      rt = OpType::kClip;
      fb::ClipOptionsT c;
      c.min = lo;
      c.max = hi;
      o = opts(std::move(c));
    }
    auto xr = need_act(0, "X");
    if (!xr) return xr.status();
    Value& x = **xr;
    const bool nhwc = x.nhwc >= 0;
    const int xt = nhwc ? x.nhwc : x.plain;
    int yt = 0;
    Value& y = define_act(out_name(), x.shape, nhwc, &yt);
    y.producer = emit(rt, {xt}, {yt}, std::move(o));
    return Status::Ok();
  }

  Status lower_softmax() {
    QUANTA_CONVERT_TRY_ATTRS({"axis"});
    const OpType sm_op = cur_->op_type() == "LogSoftmax" ? OpType::kLogSoftmax : OpType::kSoftmax;
    auto xr = need_act(0, "input");
    if (!xr) return xr.status();
    Value& x = **xr;
    const int64_t rank = static_cast<int64_t>(x.shape.size());
    int64_t axis = attr_i("axis", opset_ < 13 ? 1 : -1);
    if (axis < -rank || axis >= rank) return invalid(fmt::format("axis {} is out of range for rank {}", axis, rank));
    if (axis < 0) axis += rank;
    bool coerce = false;  // before opset 13: softmax over the flattened dims [axis, rank)
    if (opset_ < 13) {
      for (int64_t d = axis + 1; d < rank; ++d) coerce = coerce || x.shape[d] != 1;
    }
    if (coerce) {
      const int xt = get_plain(x, in_name(0));
      int64_t outer = 1;
      for (int64_t d = 0; d < axis; ++d) outer *= x.shape[d];
      const int flat = emit_reshape(xt, {outer, shape_size(x.shape) / outer}, in_name(0) + "_2d");
      const int sm = g_->add_tensor(g_->unique_tensor_name(out_name() + "_2d"), g_->tensors[flat].shape);
      fb::SoftmaxOptionsT o;
      o.axis = -1;
      emit(sm_op, {flat}, {sm}, opts(std::move(o)));
      Value v;
      v.shape = x.shape;
      v.plain = emit_reshape(sm, x.shape, out_name());
      values_[out_name()] = std::move(v);
      return Status::Ok();
    }
    const bool nhwc = x.nhwc >= 0 && rank == 4;
    static constexpr int kNhwcAxis[4] = {0, 3, 1, 2};
    const int xt = nhwc ? x.nhwc : get_plain(x, in_name(0));
    fb::SoftmaxOptionsT o;
    o.axis = nhwc ? kNhwcAxis[axis] : static_cast<int>(axis);
    int yt = 0;
    define_act(out_name(), x.shape, nhwc, &yt);
    emit(sm_op, {xt}, {yt}, opts(std::move(o)));
    return Status::Ok();
  }

  // ---------------------------------------------------------------- shapes
  // True if the only reader of this node's output multiplies it by constant
  // weights with K = k terms (Gemm with transA 0, MatMul with a 2-D constant
  // B): a flattened NHWC tensor can then feed it with the weight rows
  // permuted instead. (A B of another width is refused by the reader.)
  bool feeds_weights_only(int64_t k) const {
    const std::string& out = out_name();
    auto u = uses_.find(out);
    if (u == uses_.end() || u->second != 1) return false;
    for (const auto& node : graph().node()) {
      for (int i = 0; i < node.input_size(); ++i) {
        if (node.input(i) != out) continue;
        if (i != 0) return false;
        if (node.op_type() == "Gemm" || node.op_type() == "MatMul") {
          if (node.input_size() < 2) return false;
          auto it = values_.find(node.input(1));
          // B is an initializer (or already folded): a constant.
          if (it == values_.end() || !it->second.is_const || it->second.c.shape.size() != 2) return false;
          bool trans_b = false;
          if (node.op_type() == "Gemm") {
            for (const auto& a : node.attribute()) {
              if (a.name() == "transA" && a.i() != 0) return false;
              if (a.name() == "transB") trans_b = a.i() != 0;
            }
          }
          return it->second.c.shape[trans_b ? 1 : 0] == k;
        }
        return false;
      }
    }
    return false;
  }

  Status lower_reshape() {
    const std::string& op = cur_->op_type();
    auto xr = need_act(0, "data");
    if (!xr) return xr.status();
    Value& x = **xr;
    std::vector<int64_t> out;
    const int64_t rank = static_cast<int64_t>(x.shape.size());
    if (op == "Reshape") {
      QUANTA_CONVERT_TRY_ATTRS({"allowzero", "shape"});
      std::vector<int64_t> spec;
      if (opset_ < 5 || attr("shape")) {
        spec = attr_ints("shape");
      } else {
        auto s = const_ints(1, "shape");
        if (!s) return s.status();
        spec = std::move(*s);
      }
      const bool allowzero = attr_i("allowzero", 0) != 0;
      int64_t known = 1, infer = -1;
      for (size_t d = 0; d < spec.size(); ++d) {
        int64_t v = spec[d];
        if (v == 0 && !allowzero) {
          if (static_cast<int64_t>(d) >= rank) return invalid(fmt::format("shape {} copies dimension {} that the input {} does not have", shp(spec), d, shp(x.shape)));
          v = x.shape[d];
        }
        if (v == -1) {
          if (infer >= 0) return invalid(fmt::format("shape {} has more than one -1", shp(spec)));
          infer = static_cast<int64_t>(d);
        } else if (v < 0) {
          return invalid(fmt::format("shape {} has the invalid dimension {}", shp(spec), v));
        } else if (!detail::checked_mul(known, v, &known) || known > detail::kMaxTensorElements) {
          return invalid(fmt::format("cannot reshape {} to {}", shp(x.shape), shp(spec)));
        }
        out.push_back(v);
      }
      if (infer >= 0) {
        if (known == 0 || shape_size(x.shape) % known != 0) {
          return invalid(fmt::format("cannot reshape {} to {}", shp(x.shape), shp(spec)));
        }
        out[infer] = shape_size(x.shape) / known;
      }
      if (shape_size(out) != shape_size(x.shape)) {
        return invalid(fmt::format("cannot reshape {} ({} elements) to {}", shp(x.shape),
                                   shape_size(x.shape), shp(out)));
      }
    } else if (op == "Flatten") {
      QUANTA_CONVERT_TRY_ATTRS({"axis"});
      int64_t axis = attr_i("axis", 1);
      if (axis < -rank || axis > rank) return invalid(fmt::format("axis {} is out of range for rank {}", axis, rank));
      if (axis < 0) axis += rank;
      int64_t a = 1;
      for (int64_t d = 0; d < axis; ++d) a *= x.shape[d];
      out = {a, shape_size(x.shape) / a};
    } else {
      std::vector<int64_t> axes;
      if (opset_ < 13) {
        QUANTA_CONVERT_TRY_ATTRS({"axes"});
        axes = attr_ints("axes");
      } else {
        QUANTA_CONVERT_TRY_ATTRS({});
        if (has_input(1)) {
          auto s = const_ints(1, "axes");
          if (!s) return s.status();
          axes = std::move(*s);
        }
      }
      // The shape alone: the activation's data is never needed.
      auto r = detail::squeeze_shape(x.shape, axes, op == "Unsqueeze", where());
      if (!r) return r.status();
      out = std::move(*r);
    }
    if (Status s = check_act(out, "output"); !s.ok()) return s;
    int xt = -1;
    std::vector<int64_t> kperm;
    if (x.plain >= 0) {
      xt = x.plain;
    } else if (memory_identical_nhwc(x.shape)) {
      xt = x.nhwc;  // same bytes in both layouts
    } else if (out.size() == 2 && out[0] == x.shape[0] && feeds_weights_only(out[1])) {
      // Flatten in NHWC order; the consumer's weights are permuted to match.
      xt = x.nhwc;
      const int64_t c = x.shape[1], h = x.shape[2], w = x.shape[3];
      kperm.resize(static_cast<size_t>(c * h * w));
      for (int64_t i = 0; i < h; ++i) {
        for (int64_t j = 0; j < w; ++j) {
          for (int64_t k = 0; k < c; ++k) kperm[(i * w + j) * c + k] = (k * h + i) * w + j;
        }
      }
    } else {
      xt = get_plain(x, in_name(0));
    }
    Value v;
    v.shape = out;
    v.kperm = std::move(kperm);
    v.plain = emit_reshape(xt, out, out_name());
    values_[out_name()] = std::move(v);
    return Status::Ok();
  }

  Status lower_transpose() {
    QUANTA_CONVERT_TRY_ATTRS({"perm"});
    auto xr = need_act(0, "data");
    if (!xr) return xr.status();
    Value& x = **xr;
    const size_t rank = x.shape.size();
    std::vector<int64_t> perm = attr_ints("perm");
    if (perm.empty()) {
      for (size_t d = rank; d-- > 0;) perm.push_back(static_cast<int64_t>(d));
    }
    std::vector<int64_t> sorted = perm;
    std::sort(sorted.begin(), sorted.end());
    for (size_t d = 0; d < sorted.size(); ++d) {
      if (sorted.size() != rank || sorted[d] != static_cast<int64_t>(d)) {
        return invalid(fmt::format("perm {} is not a permutation of the {} axes", shp(perm), rank));
      }
    }
    std::vector<int64_t> out;
    for (int64_t p : perm) out.push_back(x.shape[p]);
    std::vector<int> stored_perm;
    int xt = 0;
    if (x.plain >= 0) {
      xt = x.plain;
      for (int64_t p : perm) stored_perm.push_back(static_cast<int>(p));
    } else {
      // The input is stored NHWC: ONNX axis a lives at stored axis qinv[a].
      static constexpr int kQinv[4] = {0, 3, 1, 2};
      xt = x.nhwc;
      for (int64_t p : perm) stored_perm.push_back(kQinv[p]);
    }
    bool identity = true;
    for (size_t d = 0; d < stored_perm.size(); ++d) identity = identity && stored_perm[d] == static_cast<int>(d);
    Value v;
    v.shape = out;
    // An identity on the stored bytes (e.g. NCHW -> NHWC of a tensor already
    // held in NHWC) needs no node: the value is the same runtime tensor.
    v.plain = identity ? xt : emit_transpose(xt, g_->tensors[xt].shape, stored_perm, out_name());
    values_[out_name()] = std::move(v);
    return Status::Ok();
  }

  Status lower_pad() {
    std::vector<int64_t> pads;
    float value = 0;
    std::string mode;
    if (opset_ < 11) {
      QUANTA_CONVERT_TRY_ATTRS({"mode", "pads", "value"});
      pads = attr_ints("pads");
      value = attr_f("value", 0.0f);
    } else {
      QUANTA_CONVERT_TRY_ATTRS({"mode"});
      auto p = const_ints(1, "pads");
      if (!p) return p.status();
      pads = std::move(*p);
      if (has_input(2)) {
        auto c = need_const(2, "constant_value");
        if (!c) return c.status();
        if ((*c)->size() > 0) value = static_cast<float>((*c)->v[0]);
      }
      if (has_input(3)) return unsupported("input 'axes' is not supported (pads must cover every axis)");
    }
    mode = attr_s("mode", "constant");
    fb::PadOptionsT o;
    if (mode == "constant") o.mode = fb::PadMode::CONSTANT;
    else if (mode == "reflect") o.mode = fb::PadMode::REFLECT;
    else if (mode == "edge") o.mode = fb::PadMode::EDGE;
    else return unsupported(fmt::format("mode '{}' is not supported (constant, reflect, edge)", mode));
    auto xr = need_act(0, "data");
    if (!xr) return xr.status();
    Value& x = **xr;
    const size_t rank = x.shape.size();
    if (pads.size() != 2 * rank) {
      return invalid(fmt::format("pads {} needs {} values for an input of rank {}", shp(pads), 2 * rank, rank));
    }
    for (int64_t p : pads) {
      if (p < 0) return unsupported(fmt::format("negative pads {} (cropping) are not supported", shp(pads)));
    }
    if (std::all_of(pads.begin(), pads.end(), [](int64_t p) { return p == 0; })) {
      // torch exports AvgPool2d as an all-zero Pad + AveragePool: nothing to copy.
      Value copy = x;
      copy.producer = -1;
      if (Status s = alias(out_name(), copy); !s.ok()) return s;
      g_->log.rewrites.push_back(fmt::format("removed Pad '{}' (all pads are 0)", cur_name_));
      return Status::Ok();
    }
    if (std::isnan(value)) return invalid("the constant value is NaN");
    if (o.mode == fb::PadMode::REFLECT) {
      for (size_t d = 0; d < rank; ++d) {
        if (pads[d] >= x.shape[d] || pads[d + rank] >= x.shape[d]) {
          return invalid(fmt::format("reflect pads {} must be smaller than the input's dimensions {}",
                                     shp(pads), shp(x.shape)));
        }
      }
    }
    std::vector<int64_t> out = x.shape;
    for (size_t d = 0; d < rank; ++d) {
      if (!detail::checked_add(out[d], pads[d], &out[d]) ||
          !detail::checked_add(out[d], pads[d + rank], &out[d])) {
        return invalid(fmt::format("pads {} overflow the output shape of input {}", shp(pads),
                                   shp(x.shape)));
      }
    }
    if (Status s = check_act(out, "output"); !s.ok()) return s;
    const bool nhwc = x.nhwc >= 0 && rank == 4;
    int xt = 0;
    if (nhwc) {
      xt = x.nhwc;
      o.pads = {pads[0], pads[2], pads[3], pads[1], pads[4], pads[6], pads[7], pads[5]};
    } else {
      xt = get_plain(x, in_name(0));
      o.pads = pads;
    }
    o.value = value;
    int yt = 0;
    define_act(out_name(), out, nhwc, &yt);
    emit(OpType::kPad, {xt}, {yt}, opts(std::move(o)));
    return Status::Ok();
  }

  // ---------------------------------------------------------------- batchnorm
  Status lower_batchnorm() {
    QUANTA_CONVERT_TRY_ATTRS({"epsilon", "momentum", "spatial", "training_mode", "is_test",
                              "consumed_inputs"});
    if (attr_i("training_mode", 0) != 0) return unsupported("training_mode = 1 is not supported");
    if (attr_i("spatial", 1) != 1) return unsupported("spatial = 0 is not supported");
    for (int i = 1; i < cur_->output_size(); ++i) {
      if (!cur_->output(i).empty()) {
        return unsupported(fmt::format(
            "it has {} outputs (running mean/variance, saved statistics): the model was exported "
            "in training mode, where BatchNormalization normalizes with the batch's statistics. "
            "Export it in inference mode (model.eval() before torch.onnx.export)",
            cur_->output_size()));
      }
    }
    auto xr = need_act(0, "X");
    if (!xr) return xr.status();
    Value& x = **xr;
    const HostTensor* p[4];
    const char* names[4] = {"scale", "B", "input_mean", "input_var"};
    for (size_t i = 0; i < 4; ++i) {
      auto c = need_const(i + 1, names[i]);
      if (!c) return c.status();
      p[i] = *c;
    }
    if (x.shape.size() < 2) return invalid(fmt::format("input X has shape {}; expected at least 2-D", shp(x.shape)));
    const int64_t ch = x.shape[1];
    for (size_t i = 0; i < 4; ++i) {
      if (p[i]->size() != ch) {
        return invalid(fmt::format("{} has {} values for {} channels", names[i], p[i]->size(), ch));
      }
    }
    const double eps = attr_f("epsilon", 1e-5f);
    std::vector<float> scale(static_cast<size_t>(ch)), shift(static_cast<size_t>(ch));
    for (int64_t c = 0; c < ch; ++c) {
      const double var = p[3]->v[c];
      if (var + eps <= 0) {
        return invalid(fmt::format("input_var[{}] + epsilon = {} is not positive", c, var + eps));
      }
      const double s = p[0]->v[c] / std::sqrt(var + eps);
      scale[c] = static_cast<float>(s);
      shift[c] = static_cast<float>(p[1]->v[c] - p[2]->v[c] * s);
    }
    // Fold into the producer (Conv or FullyConnected) when X has no other reader.
    if (x.producer >= 0 && uses_[in_name(0)] == 1) {
      LNode& prod = g_->nodes[x.producer];
      const bool conv = prod.op == OpType::kConv2D && x.shape.size() == 4;
      const bool fc = prod.op == OpType::kFullyConnected && x.shape.size() == 2;
      if ((conv || fc) && get_activation(prod).kind == fb::Activation::NONE) {
        LTensor& w = g_->tensors[prod.inputs[1]];
        const int64_t per = w.num_elements() / ch;
        for (int64_t c = 0; c < ch; ++c) {
          for (int64_t k = 0; k < per; ++k) w.data[c * per + k] *= scale[c];
        }
        if (prod.inputs.size() < 3) prod.inputs.resize(3, -1);
        if (prod.inputs[2] < 0) {
          prod.inputs[2] = g_->add_const(g_->unique_tensor_name(prod.name + ".bias"), {ch},
                                         std::vector<float>(static_cast<size_t>(ch), 0.0f));
        }
        std::vector<float>& b = g_->tensors[prod.inputs[2]].data;
        for (int64_t c = 0; c < ch; ++c) b[c] = b[c] * scale[c] + shift[c];
        prod.source.push_back(cur_name_);
        Value copy = x;
        if (Status s = alias(out_name(), copy); !s.ok()) return s;
        g_->log.rewrites.push_back(fmt::format("folded BatchNormalization '{}' into {} '{}'",
                                               cur_name_, prod.onnx_op, prod.name));
        return Status::Ok();
      }
    }
    // Otherwise: y = x * scale + shift, per channel.
    const bool nhwc = x.nhwc >= 0 && x.shape.size() == 4;
    std::vector<int64_t> cshape;
    if (nhwc) {
      cshape = {ch};
    } else {
      cshape.assign(x.shape.size() - 1, 1);
      cshape[0] = ch;
    }
    const int xt = nhwc ? x.nhwc : get_plain(x, in_name(0));
    const int st = g_->add_const(g_->unique_tensor_name(cur_name_ + ".scale"), cshape, scale);
    const int bt = g_->add_const(g_->unique_tensor_name(cur_name_ + ".shift"), cshape, shift);
    const int mid = g_->add_tensor(g_->unique_tensor_name(out_name() + "_scaled"), g_->tensors[xt].shape);
    emit(OpType::kMul, {xt, st}, {mid}, opts(fb::ElementwiseOptionsT{}), "/scale");
    int yt = 0;
    Value& y = define_act(out_name(), x.shape, nhwc, &yt);
    y.producer = emit(OpType::kAdd, {mid, bt}, {yt}, opts(fb::ElementwiseOptionsT{}), "/shift");
    g_->log.rewrites.push_back(fmt::format(
        "BatchNormalization '{}' has no Conv/Gemm to fold into: lowered to Mul + Add", cur_name_));
    return Status::Ok();
  }

  // ---------------------------------------------------------------- final check
  // What calibration, quantization and the writer rely on: every shape is
  // bounded, every constant holds its shape's element count, and its values
  // are finite as float32 (folds, BatchNormalization folding and Gemm's alpha
  // can take finite inputs past float's range).
  Status check_graph() const {
    const auto readers = g_->consumers();
    for (size_t t = 0; t < g_->tensors.size(); ++t) {
      const LTensor& lt = g_->tensors[t];
      if (std::string p = detail::shape_problem(lt.shape, !lt.is_const); !p.empty()) {
        return Status{StatusCode::kInternal, fmt::format("tensor '{}': shape {} {}", lt.name, shp(lt.shape), p)};
      }
      if (!lt.is_const) continue;
      if (static_cast<int64_t>(lt.data.size()) != lt.num_elements()) {
        return Status{StatusCode::kInternal, fmt::format("constant '{}' of shape {} holds {} values",
                                                         lt.name, shp(lt.shape), lt.data.size())};
      }
      const auto bad = std::find_if(lt.data.begin(), lt.data.end(), [](float v) { return !std::isfinite(v); });
      if (bad == lt.data.end()) continue;
      std::string node = "a graph output";
      if (!readers[t].empty()) {
        const LNode& n = g_->nodes[static_cast<size_t>(readers[t][0])];
        node = fmt::format("node '{}' ({}", n.name, n.onnx_op);
        if (n.source.size() > 1) {
          node += fmt::format("; from the ONNX nodes '{}'", fmt::join(n.source, "', '"));
        }
        node += ")";
      }
      return Status{StatusCode::kInvalidModel,
                    fmt::format("{}: constant '{}' has the non-finite value {} at index {} after "
                                "conversion to float32 (weights must be finite)",
                                node, lt.name, *bad, bad - lt.data.begin())};
    }
    return Status::Ok();
  }

  // ---------------------------------------------------------------- outputs
  Status finish_outputs() {
    cur_ = nullptr;
    std::set<int> used;
    for (const auto& o : graph().output()) {
      auto it = values_.find(o.name());
      if (it == values_.end()) {
        return Status{StatusCode::kInvalidModel,
                      fmt::format("graph output '{}' is not produced by any node", o.name())};
      }
      Value& v = it->second;
      if (v.is_const) {
        return Status{StatusCode::kUnsupported,
                      fmt::format("graph output '{}' is a constant (it does not depend on the "
                                  "inputs); such models are not supported", o.name())};
      }
      int t = -1;
      if (v.plain >= 0) {
        t = v.plain;
      } else {
        onnx::NodeProto fake;
        fake.set_name(o.name());
        fake.set_op_type("Output");
        cur_ = &fake;
        cur_name_ = o.name();
        t = get_plain(v, o.name());
        cur_ = nullptr;
      }
      if (g_->is_graph_input(t) || used.count(t)) {
        // The runtime wants distinct output tensors: copy through a Reshape.
        onnx::NodeProto fake;
        fake.set_op_type("Output");
        cur_ = &fake;
        cur_name_ = o.name();
        t = emit_reshape(t, v.shape, o.name() + "_out");
        cur_ = nullptr;
      }
      used.insert(t);
      // The output keeps its ONNX name.
      if (g_->tensors[t].name != o.name()) {
        for (LTensor& other : g_->tensors) {
          if (other.name == o.name()) other.name = g_->unique_tensor_name(o.name() + "_internal");
        }
        g_->tensors[t].name = o.name();
      }
      g_->outputs.push_back(t);
    }
    if (g_->outputs.empty()) return Status{StatusCode::kInvalidModel, "the graph has no outputs"};
    return Status::Ok();
  }
};

Result<FloatGraphPtr> import_model(const onnx::ModelProto& model, const std::string& base_dir,
                                   const ImportOptions& options, const detail::ImportLimits& limits) {
  if (!model.has_graph()) return Status{StatusCode::kInvalidModel, "the ONNX model has no graph"};
  Importer imp(model, base_dir, options, limits);
  return imp.run();
}

// Parses an ONNX protobuf; `where` prefixes the error ("" or "path: ").
Status parse_model(const void* data, size_t size, const std::string& where, onnx::ModelProto* model) {
  if (size > static_cast<size_t>(INT32_MAX)) {
    return Status{StatusCode::kUnsupported,
                  where + "ONNX models larger than 2 GiB are not supported"};
  }
  google::protobuf::io::CodedInputStream in(static_cast<const uint8_t*>(data), static_cast<int>(size));
  in.SetRecursionLimit(200);
  if (!model->ParseFromCodedStream(&in) || !in.ConsumedEntireMessage()) {
    return Status{StatusCode::kInvalidModel,
                  where + "not a valid ONNX model (the protobuf cannot be parsed: truncated or not "
                          "an ONNX file)"};
  }
  return Status::Ok();
}

}  // namespace

namespace detail {

Result<FloatGraphPtr> import_onnx_bytes_limited(const void* data, size_t size,
                                                const ImportOptions& options,
                                                const ImportLimits& limits) {
  return no_exceptions("import_onnx_bytes", [&]() -> Result<FloatGraphPtr> {
    onnx::ModelProto model;
    if (Status s = parse_model(data, size, "", &model); !s.ok()) return s;
    return import_model(model, "", options, limits);
  });
}

}  // namespace detail

Result<FloatGraphPtr> import_onnx_bytes(const void* data, size_t size, const ImportOptions& options) {
  return detail::import_onnx_bytes_limited(data, size, options, {});
}

Result<FloatGraphPtr> import_onnx(const std::string& path, const ImportOptions& options) {
  return detail::no_exceptions("import_onnx", [&]() -> Result<FloatGraphPtr> {
    std::error_code ec;
    if (!std::filesystem::exists(path, ec)) {
      return Status{StatusCode::kNotFound, fmt::format("{}: no such file", path)};
    }
    if (std::filesystem::is_directory(path, ec)) {
      return Status{StatusCode::kIoError, fmt::format("{}: is a directory, not an ONNX file", path)};
    }
    std::ifstream f(path, std::ios::binary);
    if (!f) return Status{StatusCode::kIoError, fmt::format("{}: cannot be opened", path)};
    std::string bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    if (!f && !f.eof()) return Status{StatusCode::kIoError, fmt::format("{}: read error", path)};
    onnx::ModelProto model;
    if (Status s = parse_model(bytes.data(), bytes.size(), path + ": ", &model); !s.ok()) return s;
    std::string dir = std::filesystem::path(path).parent_path().string();
    if (dir.empty()) dir = ".";
    auto r = import_model(model, dir, options, {});
    if (!r) return Status{r.status().code(), fmt::format("{}: {}", path, r.status().message())};
    return r;
  });
}

}  // namespace quanta::convert
