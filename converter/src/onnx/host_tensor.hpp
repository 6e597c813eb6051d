// Constant tensors inside the ONNX importer, and the constant folding of the
// ops that shape computations use (Shape -> Gather -> Concat -> Reshape, ...).
// Values are held as double: float32 data round-trips exactly and int64 shape
// arithmetic is exact below 2^53 (integers beyond that are rounded; the
// sizes and indices they stand for are bounded far below it).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "limits.hpp"
#include "quanta/quanta.hpp"

namespace onnx {
class TensorProto;
class NodeProto;
}

namespace quanta::convert::detail {

// Invariant (checked where tensors are made): the shape is bounded
// (limits.hpp: bounded_elements(shape) >= 0) and v.size() == size().
struct HostTensor {
  bool is_int = false;          // integer (or bool) data; else floating point
  std::vector<int64_t> shape;
  std::vector<double> v;        // row-major
  int64_t size() const;
  std::vector<float> floats() const;
};

// The values as int64, for inputs used as sizes, axes or indices. Integer data
// saturates at the int64 range (INT64_MAX is stored as 2^63); a floating value
// is truncated and must be finite and inside the int64 range. `what` names the
// tensor in the error ("node 'r' (Reshape): input 1 (shape)").
Result<std::vector<int64_t>> int_values(const HostTensor& t, const std::string& what);

// Reads an ONNX TensorProto. `base_dir` is where external data may be read
// from (empty: external data is refused). `what` names it in messages. The
// stored data must match the shape before anything is allocated for it.
Result<HostTensor> tensor_from_proto(const onnx::TensorProto& t, const std::string& base_dir,
                                     const std::string& what);

// What constant folding may still create, in elements (limits.hpp: ImportLimits).
struct FoldBudget {
  int64_t per_tensor = 0;  // one folded tensor
  int64_t total = 0;       // all folded tensors together
  int64_t used = 0;        // created so far
  // Charges a folded tensor of `elements` values, or refuses it with a
  // message naming `where` and the limit it would pass.
  Status charge(double elements, const std::string& where);
};

// numpy broadcasting of two shapes; false if they do not broadcast.
bool broadcast_shapes(const std::vector<int64_t>& a, const std::vector<int64_t>& b,
                      std::vector<int64_t>* out);
// `t` broadcast to `shape` (which t must broadcast to).
HostTensor broadcast_to(const HostTensor& t, const std::vector<int64_t>& shape);
// Dimensions permuted: out.shape[k] = in.shape[perm[k]].
HostTensor transpose(const HostTensor& t, const std::vector<int64_t>& perm);

// Shape's output for an input of shape `shape` (its start and end attributes).
HostTensor shape_of(const std::vector<int64_t>& shape, const onnx::NodeProto& node);

// The output shape of Squeeze (`unsqueeze` false) or Unsqueeze of a `shape`
// input: axes out of range or repeated, or a squeezed axis whose size is not
// 1, are errors naming `where`. No data is needed.
Result<std::vector<int64_t>> squeeze_shape(const std::vector<int64_t>& shape,
                                           const std::vector<int64_t>& axes, bool unsqueeze,
                                           const std::string& where);

// Evaluates `op` on constant inputs. Returns false in *handled when the op is
// not one the folder knows (the caller then reports it as unsupported).
// Errors name the node through `where`. The output's size is checked against
// `budget` (and charged to it) before it is computed.
Result<std::vector<HostTensor>> fold_constant(const onnx::NodeProto& node, int opset,
                                              const std::vector<const HostTensor*>& inputs,
                                              const std::string& where, FoldBudget& budget,
                                              bool* handled);

}  // namespace quanta::convert::detail
