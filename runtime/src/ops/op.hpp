// Internal: the prepare/run contract between the Session and the operators.
//
// Session::create plans the arena, then calls prepare_op() once per node.
// prepare_op validates what only matters for execution, computes everything
// that can be computed once (folded bias, multipliers, LUTs, broadcast
// strides, packed weights) and returns a PreparedOp. Session::run() then
// calls `run(state)` for each node in order: no allocation, no shape work,
// no failure path (every check happened at load or prepare).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>

#include "model_impl.hpp"
#include "quanta/kernels/config.h"
#include "quanta/op_traits.hpp"
#include "thread_pool.hpp"

namespace quanta::detail {

// What a session's prepared state may take (SessionOptions::
// max_prepared_bytes): prepare code counts each large buffer here before it
// allocates it.
class PrepareBudget {
 public:
  // `limit_text` names the limit in messages ("max_prepared_bytes = ...").
  PrepareBudget(uint64_t limit, std::string limit_text)
      : limit_(limit), limit_text_(std::move(limit_text)) {}
  // Counts `bytes` more for `what` ("the packed weights"), or returns
  // kResourceExhausted, counting nothing, when the total would pass the limit.
  Status take(uint64_t bytes, const std::string& what);
  uint64_t used() const { return used_; }

 private:
  uint64_t limit_;
  std::string limit_text_;
  uint64_t used_ = 0;
};

struct OpContext {
  const ModelImpl& model;
  int node_index = 0;
  // For every tensor of the model: its memory during run(). Constants point
  // into the model bytes; activations into the session arena. Reshape-family
  // outputs may share their input's memory (same pointer).
  void* const* tensor_data = nullptr;
  // The session's kernel table: kernel_config(tier, kInt8PerChannel) for the
  // session's tier (one the CPU supports), chosen once by Session::create.
  // Ops read its slots (an empty slot: the reference kernel); never null.
  const kernels::KernelConfig* kernels = nullptr;
  // The session's workers; nullptr for a single-threaded session.
  ThreadPool* pool = nullptr;
  // Run Conv2D / FullyConnected / MatMul-with-constant-B through oneDNN where
  // it accepts the node (backends/onednn.hpp), with this many threads.
  bool onednn = false;
  int threads = 1;
  // The index of the next node when it is a quantized Add of two tensors of
  // its own shape, one of them this node's output with no other reader (and
  // not a graph output): the node may absorb it (PreparedOp::absorbed_next).
  // -1 otherwise.
  int fuse_add = -1;
  // The session's prepared-state allowance; nullptr: no limit.
  PrepareBudget* budget = nullptr;

  const NodeInfo& node() const { return model.nodes[node_index]; }
  // What the node's check computed for this step (NodeChecker::set_geometry;
  // G is the op's own struct).
  template <class G>
  const G& geometry() const {
    return *static_cast<const G*>(model.geometry[static_cast<size_t>(node_index)].get());
  }
  const fb::Node* fb_node() const { return model.fb_nodes[node_index]; }
  const TensorInfo& tensor(int index) const { return model.tensors[index]; }
  void* data(int index) const { return tensor_data[index]; }
};

using RunFn = void (*)(const void* state);

struct PreparedOp {
  RunFn run = nullptr;            // nullptr: nothing to do (e.g. an aliased reshape)
  std::shared_ptr<void> state;    // owns what run() reads; passed as state.get()
  bool onednn = false;            // run by the oneDNN backend
  // The node was offered to oneDNN (OpContext::onednn and a Conv2D,
  // FullyConnected or MatMul it could take): oneDNN's implementation name(s)
  // when `onednn`, otherwise why Quanta's kernels run it
  // (Session::backend_notes()).
  bool offered_onednn = false;
  std::string onednn_note;
  // The node also computed the next node (the Add of OpContext::fuse_add),
  // which then has nothing to do.
  bool absorbed_next = false;
  // sizeof the state struct (its buffers are counted as they are allocated).
  size_t state_bytes = 0;
};

// One op's implementation (ops/<op>.cpp; an op family sharing one
// implementation shares one OpDef), found by op type in ops/registry.cpp.
struct OpDef {
  // Load time (check_graph_semantics, ops/shape_check.cpp): the op's rules
  // for node `node` of `model`, its static shape inference, NodeInfo::macs.
  Status (*check)(ModelImpl& model, int node);
  // Session creation: the node's prepared state (prepare_op).
  Result<PreparedOp> (*prepare)(const OpContext& ctx);
};

// ops/registry.cpp: the prepare of the node's op (OpDef::prepare).
Result<PreparedOp> prepare_op(const OpContext& ctx);

// True when the op's output may share its input's memory (pure metadata ops:
// Reshape, Flatten, Squeeze, Unsqueeze; kOpAliasesInput in
// quanta/op_list.def). The planner aliases them.
bool op_output_may_alias_input(OpType op);

}  // namespace quanta::detail
