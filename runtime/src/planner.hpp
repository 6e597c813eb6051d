// Internal: static memory planning of the activation arena.
#pragma once

#include <cstdint>
#include <vector>

#include "model_impl.hpp"

namespace quanta::detail {

inline constexpr size_t kArenaAlignment = 64;

struct MemoryPlan {
  // Per tensor: byte offset in the arena, or -1 for constants (they live in
  // the model bytes) and for tensors no node touches.
  std::vector<int64_t> offset;
  size_t arena_bytes = 0;      // size of the planned arena
  size_t unplanned_bytes = 0;  // sum of every activation's (aligned) size
  // Placed blocks examined while placing the others (the inner loop's
  // steps), and the blocks stacked once kMaxPlacementSteps ran out.
  uint64_t placement_steps = 0;
  uint64_t stacked_blocks = 0;
};

// The work budget of the placement (see plan_memory).
inline constexpr uint64_t kMaxPlacementSteps = uint64_t{1} << 22;

// Lifetimes: a tensor lives from the node that produces it to the last node
// that reads it. Graph inputs and outputs live for the whole run (the caller
// writes and reads them around run()), so they never share memory.
// Outputs of Reshape/Flatten/Squeeze/Unsqueeze share their input's memory
// when neither is a graph input or output.
// Placement: greedy by size (largest first, then earliest start); each
// tensor takes the lowest 64-byte aligned offset that overlaps no already
// placed tensor whose lifetime intersects its own. Deterministic.
// Cost: placing a block examines only the placed blocks whose lifetimes meet
// its own (an index by lifetime start), so a chain of any length plans in
// O(n log n). Graphs where very many tensors live at once (thousands of graph
// outputs, a Concat of thousands of branches) would still need a step per
// conflicting pair; once kMaxPlacementSteps steps are spent, every remaining
// (smaller) block is stacked above the arena instead: still a valid plan,
// with less reuse, and a bounded Session::create time.
MemoryPlan plan_memory(const ModelImpl& m);

}  // namespace quanta::detail
