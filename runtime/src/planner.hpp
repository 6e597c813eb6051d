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
};

// Lifetimes: a tensor lives from the node that produces it to the last node
// that reads it. Graph inputs and outputs live for the whole run (the caller
// writes and reads them around run()), so they never share memory.
// Outputs of Reshape/Flatten/Squeeze/Unsqueeze share their input's memory
// when neither is a graph input or output.
// Placement: greedy by size (largest first); each tensor takes the lowest
// 64-byte aligned offset that overlaps no already placed tensor whose
// lifetime intersects its own. Deterministic.
MemoryPlan plan_memory(const ModelImpl& m);

}  // namespace quanta::detail
