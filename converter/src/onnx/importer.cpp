// The ONNX importer's pass and lowering context (importer.hpp): the model's
// opset, initializers and graph inputs, the order of the nodes, the dispatch
// on each node's op type, the graph outputs and the final check; then the
// public entry points (import_onnx, import_onnx_bytes).
#include "importer.hpp"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <set>

#include <google/protobuf/io/coded_stream.h>

namespace quanta::convert {
namespace importer {
namespace {

constexpr int kMinOpset = 7;
constexpr int kMaxTestedOpset = 17;

// "1 input", "2 to 3 inputs", "at least 1 input"
std::string count_range(int lo, int hi, const char* noun) {
  const char* plural = (hi == 1 || (hi < 0 && lo == 1)) ? "" : "s";
  if (hi < 0) return fmt::format("at least {} {}{}", lo, noun, plural);
  if (lo == hi) return fmt::format("{} {}{}", lo, noun, plural);
  return fmt::format("{} to {} {}{}", lo, hi, noun, plural);
}

}  // namespace

int64_t first_non_finite(const HostTensor& h) {
  if (h.is_int) return -1;
  for (size_t i = 0; i < h.v.size(); ++i) {
    if (!std::isfinite(static_cast<float>(h.v[i]))) return static_cast<int64_t>(i);
  }
  return -1;
}

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

Result<FloatGraphPtr> Importer::run() {
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

Status Importer::check_arity(const onnx::NodeProto& n, const OpInfo* info) const {
  if (info == nullptr) return Status::Ok();
  const OpInfo& a = *info;
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

Status Importer::check_const_budget() const {
  const int64_t total = g_->const_values;
  if (total <= limits_.const_elements) return Status::Ok();
  return invalid(fmt::format("the converted model's constants would hold {} values ({} as "
                             "float32), above the {} limit",
                             total, detail::byte_size(static_cast<double>(total) * 4.0),
                             detail::limit_size(static_cast<double>(limits_.const_elements) * 4.0)));
}

Status Importer::check_attrs(std::initializer_list<const char*> allowed) const {
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

Result<Value*> Importer::need_input(size_t i, const char* role) {
  if (!has_input(i)) return invalid(fmt::format("input {} ({}) is missing", i, role));
  Value* v = input(i);
  if (!v) {
    return invalid(fmt::format("input {} ({}) '{}' is not produced by any node", i, role,
                               cur_->input(static_cast<int>(i))));
  }
  return v;
}

Result<Value*> Importer::need_act(size_t i, const char* role) {
  auto v = need_input(i, role);
  if (!v) return v;
  if ((*v)->is_const) {
    return unsupported(fmt::format("input {} ({}) is a constant; this op is supported on "
                                   "activations only", i, role));
  }
  return v;
}

Result<const HostTensor*> Importer::need_const(size_t i, const char* role) {
  auto v = need_input(i, role);
  if (!v) return v.status();
  if (!(*v)->is_const) {
    return unsupported(fmt::format("input {} ({}) '{}' must be a constant (an initializer or "
                                   "computed from constants)", i, role,
                                   cur_->input(static_cast<int>(i))));
  }
  return &(*v)->c;
}

Result<std::vector<int64_t>> Importer::const_ints(size_t i, const char* role) {
  auto c = need_const(i, role);
  if (!c) return c.status();
  return int_values(**c, fmt::format("{}: input {} ({})", where(), i, role));
}

bool Importer::output_used(size_t i) const {
  if (static_cast<int>(i) >= cur_->output_size()) return false;
  const std::string& n = cur_->output(static_cast<int>(i));
  if (n.empty()) return false;
  auto it = uses_.find(n);
  return it != uses_.end() && it->second > 0;
}

Status Importer::only_first_output() const {
  for (int i = 1; i < cur_->output_size(); ++i) {
    if (output_used(static_cast<size_t>(i))) {
      return unsupported(fmt::format("output {} ('{}') is used, but only the first output is "
                                     "supported", i, cur_->output(i)));
    }
  }
  return Status::Ok();
}

void Importer::set_const(const std::string& name, HostTensor t) {
  Value v;
  v.is_const = true;
  v.c = std::move(t);
  values_[name] = std::move(v);
}

Value& Importer::define_act(const std::string& name, const std::vector<int64_t>& onnx_shape, bool nhwc,
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

Status Importer::alias(const std::string& name, const Value& from) {
  if (from.is_const) {
    if (Status s = budget_.charge(static_cast<double>(from.c.v.size()), where()); !s.ok()) return s;
  }
  values_[name] = from;
  return Status::Ok();
}

int Importer::emit(OpType op, std::vector<int> in, std::vector<int> out, fb::OptionsUnion o,
                   const std::string& suffix) {
  return g_->add_node(op, std::move(in), std::move(out), std::move(o),
                      g_->unique_node_name(cur_name_ + suffix), {cur_name_}, cur_->op_type());
}

int Importer::emit_reshape(int x, const std::vector<int64_t>& shape, const std::string& name) {
  const int y = g_->add_tensor(g_->unique_tensor_name(name), shape);
  fb::ReshapeOptionsT o;
  o.new_shape = shape;
  emit(OpType::kReshape, {x}, {y}, opts(std::move(o)), "/reshape");
  return y;
}

int Importer::emit_transpose(int x, const std::vector<int64_t>& in_shape, const std::vector<int>& perm,
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

int Importer::get_plain(Value& v, const std::string& name) {
  if (v.plain >= 0) return v.plain;
  if (v.is_const) {
    v.plain = g_->add_const(g_->unique_tensor_name(name), v.c.shape, v.c.floats());
    return v.plain;
  }
  v.plain = emit_transpose(v.nhwc, g_->tensors[v.nhwc].shape, {0, 3, 1, 2}, name + "_nchw");
  return v.plain;
}

int Importer::get_nhwc(Value& v, const std::string& name) {
  if (v.nhwc >= 0) return v.nhwc;
  if (v.is_const) {
    v.nhwc = g_->add_const(g_->unique_tensor_name(name), to_nhwc(v.c.shape),
                           detail::transpose(v.c, {0, 2, 3, 1}).floats());
    return v.nhwc;
  }
  v.nhwc = emit_transpose(v.plain, v.shape, {0, 2, 3, 1}, name + "_nhwc");
  return v.nhwc;
}

Status Importer::read_header() {
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

Status Importer::read_constants_and_inputs() {
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

Result<std::vector<int>> Importer::topo_order() {
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

void Importer::count_uses() {
  for (const auto& node : graph().node()) {
    for (const auto& in : node.input()) {
      if (!in.empty()) ++uses_[in];
    }
  }
  for (const auto& o : graph().output()) ++uses_[o.name()];
}

Status Importer::lower_node(const onnx::NodeProto& n) {
  if (Status s = lower_one(n); !s.ok()) return s;
  return check_const_budget();
}

Status Importer::lower_one(const onnx::NodeProto& n) {
  if (!n.domain().empty() && n.domain() != "ai.onnx") {
    return unsupported(fmt::format("operator domain '{}' is not supported (only the default "
                                   "ONNX domain); supported ops: {}", n.domain(), supported_ops()));
  }
  for (const auto& a : n.attribute()) {
    if (!a.ref_attr_name().empty()) return unsupported("attribute references are not supported");
  }
  const std::string& op = n.op_type();
  // The op's line of the op table (op_table.cpp): its arity, when it is
  // lowered and by which member function; none for an op the importer does
  // not know.
  const OpInfo* info = find_op(op);
  if (Status s = check_arity(n, info); !s.ok()) return s;
  if (info != nullptr && info->kind == OpKind::kDirect) return (this->*info->lower)();
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
  if (info != nullptr && info->kind == OpKind::kConstantOutput) return (this->*info->lower)();
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
  if (info != nullptr && info->lower != nullptr) return (this->*info->lower)();
  return unsupported(fmt::format("op type '{}' is not supported. Supported ops: {}", op,
                                 supported_ops()));
}

// What calibration, quantization and the writer rely on: every shape is
// bounded, every constant holds its shape's element count, and its values
// are finite as float32 (folds, BatchNormalization folding and Gemm's alpha
// can take finite inputs past float's range).
Status Importer::check_graph() const {
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

Status Importer::finish_outputs() {
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

}  // namespace importer

namespace {

Result<FloatGraphPtr> import_model(const onnx::ModelProto& model, const std::string& base_dir,
                                   const ImportOptions& options, const detail::ImportLimits& limits) {
  if (!model.has_graph()) return Status{StatusCode::kInvalidModel, "the ONNX model has no graph"};
  importer::Importer imp(model, base_dir, options, limits);
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
