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
// FullyConnected and MatMul; every other op counts 0) and the geometry the
// op's prepare step reads (ModelImpl::geometry: output sizes, kernel and
// window parameters, broadcast strides, ... computed once, here).
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
//
// Each op's rules are in its own file (ops/<op>.cpp, the `check` of its
// OpDef), on the helpers of ops/check_util.hpp; this file runs them in order.
#include "ops/check_util.hpp"
#include "ops/registry.hpp"

namespace quanta::detail {

Status check_graph_semantics(ModelImpl& impl) {
  impl.geometry.assign(impl.nodes.size(), nullptr);
  for (size_t j = 0; j < impl.nodes.size(); ++j) {
    impl.nodes[j].macs = 0;
    const int node = static_cast<int>(j);
    const OpDef* def = find_op(impl.nodes[j].op);
    if (def == nullptr) {
      NodeChecker checker(impl, node);
      QUANTA_OPS_TRY(checker.check_common());
      return checker.unknown_op();
    }
    QUANTA_OPS_TRY(def->check(impl, node));
  }
  return Status::Ok();
}

}  // namespace quanta::detail
