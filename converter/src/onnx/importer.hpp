// The ONNX importer: protobuf -> FloatGraph (runtime ops, NHWC).
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
//
// The importer is one class, Importer, declared here with the lowering
// context every lowering uses; its member functions live in one file per op
// family:
//   importer.cpp     the pass: opset, initializers, graph inputs, node order,
//                    the dispatch on the op type, graph outputs, the final
//                    check; the lowering context (values, layouts, emit)
//   op_table.cpp     the op table: every ONNX op the importer knows, its
//                    arity and its lowering (op_table.hpp)
//   constants.cpp    Constant, If with a constant condition, Shape, Identity,
//                    Dropout (no runtime node)
//   conv_gemm.cpp    Conv, Gemm, MatMul, BatchNormalization; the window
//                    attributes Conv and pooling share
//   elementwise.cpp  Add, Sub, Mul, Div, Sum, the unary activations, Softmax,
//                    LogSoftmax
//   pool.cpp         MaxPool, AveragePool, GlobalAveragePool, GlobalMaxPool,
//                    ReduceMean
//   shape_ops.cpp    Concat, Reshape, Flatten, Squeeze, Unsqueeze, Transpose, Pad
//   host_tensor.cpp  constant tensors, TensorProto and external data, and the
//                    constant folding of every op whose inputs are constants
#pragma once

#include <cstdint>
#include <fmt/format.h>
#include <initializer_list>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include <onnx/onnx_pb.h>

#include "graph.hpp"
#include "host_tensor.hpp"
#include "limits.hpp"
#include "op_table.hpp"

// Returns the error of check_attrs() (the attributes this op accepts).
#define QUANTA_CONVERT_TRY_ATTRS(...)                                   \
  do {                                                                  \
    if (Status attr_status_ = check_attrs(__VA_ARGS__); !attr_status_.ok()) \
      return attr_status_;                                              \
  } while (0)

namespace quanta::convert::importer {

using detail::HostTensor;
using detail::int_values;
using detail::shape_size;

struct Value {
  bool is_const = false;
  HostTensor c;                    // constant value
  std::vector<int64_t> shape;      // ONNX shape (activations)
  int plain = -1;                  // runtime tensor in the ONNX layout
  int nhwc = -1;                   // runtime tensor in NHWC (rank 4 only)
  std::vector<int64_t> kperm;      // see Flatten: K-order of a flattened NHWC tensor
  int producer = -1;               // runtime node that wrote it (for folding), -1 if none
};

// The index of the first value of a floating-point constant that is not
// finite once stored as float32, or -1.
int64_t first_non_finite(const HostTensor& h);

// An initializer's values must be finite as float32, the type the converted
// model stores (a double initializer of 1e300 is finite only as a double).
Status check_initializer(const HostTensor& h, const std::string& name);

inline bool memory_identical_nhwc(const std::vector<int64_t>& s) {
  return s.size() == 4 && (s[1] == 1 || s[2] * s[3] == 1);
}

inline std::vector<int64_t> to_nhwc(const std::vector<int64_t>& s) { return {s[0], s[2], s[3], s[1]}; }

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

  Result<FloatGraphPtr> run();

 private:
  friend std::span<const OpInfo> op_table();  // names the lowerings

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
  // The inputs and outputs the op has (`info`, its line of the op table; none
  // for an op the importer does not know); a present first output needs a name.
  Status check_arity(const onnx::NodeProto& n, const OpInfo* info) const;
  // Constants of the float graph together stay under limits_.const_elements.
  Status check_const_budget() const;

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
  Status check_attrs(std::initializer_list<const char*> allowed) const;

  // ---------------------------------------------------------------- values
  size_t num_inputs() const { return static_cast<size_t>(cur_->input_size()); }
  bool has_input(size_t i) const { return i < num_inputs() && !cur_->input(static_cast<int>(i)).empty(); }
  Value* input(size_t i) {
    if (!has_input(i)) return nullptr;
    auto it = values_.find(cur_->input(static_cast<int>(i)));
    return it == values_.end() ? nullptr : &it->second;
  }
  Result<Value*> need_input(size_t i, const char* role);
  Result<Value*> need_act(size_t i, const char* role);
  Result<const HostTensor*> need_const(size_t i, const char* role);
  // A constant input used as sizes, axes or indices.
  Result<std::vector<int64_t>> const_ints(size_t i, const char* role);
  std::string out_name(size_t i = 0) const { return cur_->output(static_cast<int>(i)); }
  bool output_used(size_t i) const;
  Status only_first_output() const;
  void set_const(const std::string& name, HostTensor t);
  // A new activation value (the ONNX output `name`) stored in NHWC or plain.
  Value& define_act(const std::string& name, const std::vector<int64_t>& onnx_shape, bool nhwc,
                    int* tensor);
  // An existing runtime tensor becomes the value `name` (aliases: Identity,
  // folds). A constant is copied: the copy counts as folded data.
  Status alias(const std::string& name, const Value& from);
  int emit(OpType op, std::vector<int> in, std::vector<int> out, fb::OptionsUnion o = {},
           const std::string& suffix = "");
  int emit_reshape(int x, const std::vector<int64_t>& shape, const std::string& name);
  int emit_transpose(int x, const std::vector<int64_t>& in_shape, const std::vector<int>& perm,
                     const std::string& name);
  // The value in the ONNX layout (emits NHWC -> NCHW when needed).
  int get_plain(Value& v, const std::string& name);
  int get_nhwc(Value& v, const std::string& name);
  const std::string& in_name(size_t i) const { return cur_->input(static_cast<int>(i)); }

  // ---------------------------------------------------------------- the pass (importer.cpp)
  Status read_header();
  Status read_constants_and_inputs();
  Result<std::vector<int>> topo_order();
  void count_uses();
  Status lower_node(const onnx::NodeProto& n);
  Status lower_one(const onnx::NodeProto& n);
  Status check_graph() const;
  Status finish_outputs();

  // ---------------------------------------------------------------- constants.cpp
  Status lower_constant();
  Status lower_if();
  Status lower_shape();
  Status lower_identity();

  // ---------------------------------------------------------------- conv_gemm.cpp
  struct Window {
    std::vector<int64_t> kernel, strides, dilations, pads;  // pads: begin h, w, end h, w
  };
  Status window_attrs(const std::vector<int64_t>& in_hw, std::vector<int64_t> kernel, Window* w,
                      bool allow_ceil, int64_t* ceil_extra_h, int64_t* ceil_extra_w);
  static int64_t out_dim(int64_t in, int64_t k, int64_t s, int64_t d, int64_t pb, int64_t pe);
  Status lower_conv();
  Status emit_fc(Value& a, HostTensor w_nk, const HostTensor* bias, const std::string& out,
                 std::vector<int64_t> out_shape);
  Status lower_gemm();
  Status lower_gemm_activation_b(Value& a, Value& b, float alpha, float beta, bool tb);
  Status lower_matmul();
  Status lower_batchnorm();

  // ---------------------------------------------------------------- elementwise.cpp
  bool try_fold_bias(Value& x, const HostTensor& c, bool negate);
  Status lower_binary();
  Status lower_sum();
  Status lower_unary();
  Status lower_softmax();

  // ---------------------------------------------------------------- pool.cpp
  Status lower_pool();
  Status lower_global_pool();
  Status lower_reduce_mean();

  // ---------------------------------------------------------------- shape_ops.cpp
  Status lower_concat();
  bool feeds_weights_only(int64_t k) const;
  Status lower_reshape();
  Status lower_transpose();
  Status lower_pad();
};

}  // namespace quanta::convert::importer
