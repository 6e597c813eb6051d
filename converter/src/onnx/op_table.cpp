// The ONNX importer's op table (op_table.hpp).
#include "op_table.hpp"

#include <unordered_map>

#include "importer.hpp"

namespace quanta::convert::importer {

// Every ONNX op the importer knows, one line each, in the order of the
// supported list that error messages give. Adding an op: a line here, and
// its lowering, a member function of Importer declared in importer.hpp and
// defined in the file of its family (constants.cpp, conv_gemm.cpp,
// elementwise.cpp, pool.cpp, shape_ops.cpp). An op that is only folded
// (OpKind::kFolded) has no lowering; detail::fold_constant
// (host_tensor.cpp) computes it.
//
// Arity: inputs min and max, outputs min and max, in the ONNX specification
// over the opsets the importer reads; -1: no maximum. Checked before a node
// is folded or lowered, so no lowering reads an input or output that is not
// there.
std::span<const OpInfo> op_table() {
  using K = OpKind;
  using I = Importer;
  static constexpr OpInfo kOps[] = {
      // op                 inputs  outputs  lowering
      {"Conv",               2, 3,   1, 1,   &I::lower_conv},
      {"Gemm",               2, 3,   1, 1,   &I::lower_gemm},
      {"MatMul",             2, 2,   1, 1,   &I::lower_matmul},
      {"Add",                2, 2,   1, 1,   &I::lower_binary},
      {"Sub",                2, 2,   1, 1,   &I::lower_binary},
      {"Mul",                2, 2,   1, 1,   &I::lower_binary},
      {"Div",                2, 2,   1, 1,   &I::lower_binary},
      {"Sum",                1, -1,  1, 1,   &I::lower_sum},
      {"Concat",             1, -1,  1, 1,   &I::lower_concat},
      {"MaxPool",            1, 1,   1, 2,   &I::lower_pool},
      {"AveragePool",        1, 1,   1, 1,   &I::lower_pool},
      {"GlobalAveragePool",  1, 1,   1, 1,   &I::lower_global_pool},
      {"GlobalMaxPool",      1, 1,   1, 1,   &I::lower_global_pool},
      {"ReduceMean",         1, 2,   1, 1,   &I::lower_reduce_mean, K::kLowered, " (spatial axes)"},
      {"Relu",               1, 1,   1, 1,   &I::lower_unary},
      {"Clip",               1, 3,   1, 1,   &I::lower_unary},
      {"Sigmoid",            1, 1,   1, 1,   &I::lower_unary},
      {"Tanh",               1, 1,   1, 1,   &I::lower_unary},
      {"HardSwish",          1, 1,   1, 1,   &I::lower_unary},
      {"HardSigmoid",        1, 1,   1, 1,   &I::lower_unary},
      {"LeakyRelu",          1, 1,   1, 1,   &I::lower_unary},
      {"Abs",                1, 1,   1, 1,   &I::lower_unary},
      {"Softmax",            1, 1,   1, 1,   &I::lower_softmax},
      {"LogSoftmax",         1, 1,   1, 1,   &I::lower_softmax},
      {"Reshape",            1, 2,   1, 1,   &I::lower_reshape},
      {"Flatten",            1, 1,   1, 1,   &I::lower_reshape},
      {"Squeeze",            1, 2,   1, 1,   &I::lower_reshape},
      {"Unsqueeze",          1, 2,   1, 1,   &I::lower_reshape},
      {"Transpose",          1, 1,   1, 1,   &I::lower_transpose},
      {"Pad",                1, 4,   1, 1,   &I::lower_pad},
      {"BatchNormalization", 5, 5,   1, 5,   &I::lower_batchnorm},
      {"Dropout",            1, 3,   1, 2,   &I::lower_identity},
      {"Identity",           1, 1,   1, 1,   &I::lower_identity},
      {"Constant",           0, 0,   1, 1,   &I::lower_constant, K::kDirect},
      {"If",                 1, 1,   1, -1,  &I::lower_if, K::kDirect, " with a constant condition"},
      // Folded when their inputs are constants.
      {"Shape",              1, 1,   1, 1,   &I::lower_shape, K::kConstantOutput},
      {"Gather",             2, 2,   1, 1,   nullptr, K::kFolded},
      {"Cast",               1, 1,   1, 1,   nullptr, K::kFolded},
      {"Slice",              1, 5,   1, 1,   nullptr, K::kFolded},
      {"ConstantOfShape",    1, 1,   1, 1,   nullptr, K::kFolded},
      {"Range",              3, 3,   1, 1,   nullptr, K::kFolded},
      {"Neg",                1, 1,   1, 1,   nullptr, K::kFolded},
      {"Sqrt",               1, 1,   1, 1,   nullptr, K::kFolded},
      {"Reciprocal",         1, 1,   1, 1,   nullptr, K::kFolded},
      {"Pow",                2, 2,   1, 1,   nullptr, K::kFolded},
      {"Equal",              2, 2,   1, 1,   nullptr, K::kFolded},
      {"Less",               2, 2,   1, 1,   nullptr, K::kFolded},
      {"Greater",            2, 2,   1, 1,   nullptr, K::kFolded},
      {"Min",                1, -1,  1, 1,   nullptr, K::kFolded},
      {"Max",                1, -1,  1, 1,   nullptr, K::kFolded},
      {"Exp",                1, 1,   1, 1,   nullptr, K::kFolded},
      {"Floor",              1, 1,   1, 1,   nullptr, K::kFolded},
      {"Ceil",               1, 1,   1, 1,   nullptr, K::kFolded},
      {"Not",                1, 1,   1, 1,   nullptr, K::kFolded},
      {"Size",               1, 1,   1, 1,   nullptr, K::kFolded},
  };
  return kOps;
}

const OpInfo* find_op(std::string_view op) {
  static const std::unordered_map<std::string_view, const OpInfo*> kIndex = [] {
    std::unordered_map<std::string_view, const OpInfo*> m;
    for (const OpInfo& o : op_table()) m.emplace(o.op, &o);
    return m;
  }();
  auto it = kIndex.find(op);
  return it == kIndex.end() ? nullptr : it->second;
}

const std::string& supported_ops() {
  static const std::string kText = [] {
    std::string lowered, folded;
    for (const OpInfo& o : op_table()) {
      std::string& list =
          o.kind == OpKind::kFolded || o.kind == OpKind::kConstantOutput ? folded : lowered;
      if (!list.empty()) list += ", ";
      list += o.op;
      list += o.note;
    }
    return lowered + "; folded when their inputs are constants: " + folded;
  }();
  return kText;
}

}  // namespace quanta::convert::importer
