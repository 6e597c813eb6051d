// The ONNX importer's op table (op_table.cpp): every ONNX op type the
// importer knows, with its arity and its lowering. The dispatch, the arity
// check and the list of supported ops in error messages all read it.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "quanta/quanta.hpp"

namespace quanta::convert::importer {

class Importer;

// What the dispatch (Importer::lower_one) does with a node of the op.
enum class OpKind : uint8_t {
  // Folded when every input is a constant (detail::fold_constant, when it
  // knows the op), otherwise lowered.
  kLowered,
  // Lowered before its inputs are looked up: the lowering reads them itself
  // (Constant, If).
  kDirect,
  // Only folded: refused unless every input is a constant. No lowering.
  kFolded,
  // Its output is a constant even for an activation input (Shape): lowered
  // after its inputs are looked up, never folded. Listed with kFolded.
  kConstantOutput,
};

// One line of the op table.
struct OpInfo {
  std::string_view op;                   // the ONNX op type
  int min_in, max_in, min_out, max_out;  // ONNX arity over the opsets read; -1: no maximum
  Status (Importer::*lower)();           // the lowering; nullptr for OpKind::kFolded
  OpKind kind = OpKind::kLowered;
  const char* note = "";                 // follows the op in the supported list
};

// The table, in the order of the supported list.
std::span<const OpInfo> op_table();
// The line of the ONNX op type `op`, or nullptr when the importer does not know it.
const OpInfo* find_op(std::string_view op);
// The supported list error messages give: the lowered ops, then "; folded
// when their inputs are constants: " and the folded ones.
const std::string& supported_ops();

}  // namespace quanta::convert::importer
