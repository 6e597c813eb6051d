// Constant tensors inside the ONNX importer, and the constant folding of the
// ops that shape computations use (Shape -> Gather -> Concat -> Reshape, ...).
// Values are held as double: float32 data round-trips exactly and int64 shape
// arithmetic is exact below 2^53 (larger integers are refused).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "quanta/quanta.hpp"

namespace onnx {
class TensorProto;
class NodeProto;
}

namespace quanta::convert::detail {

struct HostTensor {
  bool is_int = false;          // integer (or bool) data; else floating point
  std::vector<int64_t> shape;
  std::vector<double> v;        // row-major
  int64_t size() const;
  // Values as int64 (is_int tensors; floats are truncated towards zero).
  std::vector<int64_t> ints() const;
  std::vector<float> floats() const;
};

int64_t shape_size(const std::vector<int64_t>& shape);

// Reads an ONNX TensorProto. `base_dir` is where external data may be read
// from (empty: external data is refused). `what` names it in messages.
Result<HostTensor> tensor_from_proto(const onnx::TensorProto& t, const std::string& base_dir,
                                     const std::string& what);

// numpy broadcasting of two shapes; false if they do not broadcast.
bool broadcast_shapes(const std::vector<int64_t>& a, const std::vector<int64_t>& b,
                      std::vector<int64_t>* out);
// `t` broadcast to `shape` (which t must broadcast to).
HostTensor broadcast_to(const HostTensor& t, const std::vector<int64_t>& shape);
// Dimensions permuted: out.shape[k] = in.shape[perm[k]].
HostTensor transpose(const HostTensor& t, const std::vector<int64_t>& perm);

// Evaluates `op` on constant inputs. Returns false in *handled when the op is
// not one the folder knows (the caller then reports it as unsupported).
// Errors name the node through `where`.
Result<std::vector<HostTensor>> fold_constant(const onnx::NodeProto& node, int opset,
                                              const std::vector<const HostTensor*>& inputs,
                                              const std::string& where, bool* handled);

}  // namespace quanta::convert::detail
