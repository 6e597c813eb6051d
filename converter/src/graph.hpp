// The converter's float graph: runtime ops (NHWC), float32 tensors, constant
// weights held in memory. Produced by the ONNX import and its rewrites,
// written as a float .quanta (build_fp32), observed by calibration and
// turned into the int8 model (build_int8).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "limits.hpp"
#include "quanta/converter.hpp"
#include "quanta/model_writer.hpp"
#include "quanta/quanta.hpp"
#include "quanta_generated.h"

namespace quanta::convert {

struct LTensor {
  std::string name;
  std::vector<int64_t> shape;
  bool is_const = false;
  std::vector<float> data;  // constants only
  // Shapes are bounded by the import (limits.hpp).
  int64_t num_elements() const { return detail::shape_size(shape); }
};

struct LNode {
  OpType op = OpType::kRelu;
  std::vector<int> inputs;   // -1: omitted optional input
  std::vector<int> outputs;
  fb::OptionsUnion options;
  std::string name;                 // unique runtime node name
  std::vector<std::string> source;  // ONNX node names it came from
  std::string onnx_op;              // ONNX op type of the (first) source node
};

class FloatGraph {
 public:
  std::vector<LTensor> tensors;
  std::vector<LNode> nodes;
  std::vector<int> inputs, outputs;
  std::vector<InputSpec> input_specs;
  ImportLog log;
  // Values of every constant added so far (the import's weight limit).
  int64_t const_values = 0;

  int add_tensor(std::string name, std::vector<int64_t> shape);
  int add_const(std::string name, std::vector<int64_t> shape, std::vector<float> data);
  // Appends a node; returns its index.
  int add_node(OpType op, std::vector<int> inputs, std::vector<int> outputs,
               fb::OptionsUnion options, std::string name, std::vector<std::string> source,
               std::string onnx_op);
  // A name not used by any tensor yet: `base`, else base_1, base_2, ...
  std::string unique_tensor_name(const std::string& base) const;
  std::string unique_node_name(const std::string& base) const;

  // For every tensor, the nodes reading it (recomputed on demand).
  std::vector<std::vector<int>> consumers() const;
  // For every tensor, the node writing it, or -1.
  std::vector<int> producers() const;
  bool is_graph_output(int t) const;
  bool is_graph_input(int t) const;

  // Removes nodes whose outputs nobody needs and tensors nobody references,
  // renumbering what is left.
  void remove_dead();
};

// The activation fields shared by every options table that has them.
struct FusedActivation {
  fb::Activation kind = fb::Activation::NONE;
  float clip_min = 0, clip_max = 6;
};
// The node's fused activation (NONE for ops without one).
FusedActivation get_activation(const LNode& n);
// False if the op cannot carry a fused activation.
bool set_activation(LNode& n, const FusedActivation& a);

// The rewrites that run on the float graph after lowering.
void fuse_activations(FloatGraph& g);

// Writes the graph as a float .quanta into `w`. With `calibration_outputs`,
// every non-constant tensor that is not a graph input or output is appended
// to the outputs (`observed` receives the tensor indices in output order).
void write_float_model(const FloatGraph& g, ModelWriter& w, bool calibration_outputs,
                       std::vector<int>* observed);

std::string producer_string();

}  // namespace quanta::convert
