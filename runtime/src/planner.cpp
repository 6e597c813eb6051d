#include "planner.hpp"

#include <algorithm>
#include <climits>
#include <numeric>

#include "ops/op.hpp"

namespace quanta::detail {
namespace {

size_t align_up(size_t v) { return (v + kArenaAlignment - 1) / kArenaAlignment * kArenaAlignment; }

int find_root(std::vector<int>& parent, int t) {
  while (parent[t] != t) {
    parent[t] = parent[parent[t]];
    t = parent[t];
  }
  return t;
}

struct Block {
  int root = 0;
  size_t size = 0;
  int first = 0;  // first node index that needs the memory (-1: before the run)
  int last = 0;   // last node index that needs it (num_nodes: after the run)
  int64_t offset = -1;
};

// The placed blocks, indexed by the start of their lifetime: a segment tree
// over start positions whose nodes keep the latest end of any block below
// them. Finding the blocks whose lifetime meets [first, last] (start <= last
// and end >= first) visits only subtrees that hold one, so its cost grows
// with the number found, not with the number placed.
class PlacedIndex {
 public:
  explicit PlacedIndex(int positions) : at_(static_cast<size_t>(positions)) {
    while (leaves_ < positions) leaves_ *= 2;
    max_end_.assign(2 * static_cast<size_t>(leaves_), INT_MIN);
  }

  void insert(int start, int end, size_t block) {
    at_[static_cast<size_t>(start)].push_back(block);
    for (size_t v = static_cast<size_t>(leaves_ + start); v >= 1; v /= 2) {
      max_end_[v] = std::max(max_end_[v], end);
    }
  }

  // Calls fn(block) for each placed block with start <= max_start and
  // end >= min_end; adds the blocks examined to *steps.
  template <class Fn>
  void for_each_meeting(int max_start, int min_end, const std::vector<Block>& blocks,
                        uint64_t* steps, Fn&& fn) const {
    visit(1, 0, leaves_ - 1, max_start, min_end, blocks, steps, fn);
  }

 private:
  template <class Fn>
  void visit(size_t v, int lo, int hi, int max_start, int min_end,
             const std::vector<Block>& blocks, uint64_t* steps, Fn& fn) const {
    if (lo > max_start || max_end_[v] < min_end) return;
    if (lo == hi) {
      for (size_t bi : at_[static_cast<size_t>(lo)]) {
        ++*steps;
        if (blocks[bi].last >= min_end) fn(blocks[bi]);
      }
      return;
    }
    const int mid = lo + (hi - lo) / 2;
    visit(2 * v, lo, mid, max_start, min_end, blocks, steps, fn);
    visit(2 * v + 1, mid + 1, hi, max_start, min_end, blocks, steps, fn);
  }

  int leaves_ = 1;
  std::vector<int> max_end_;               // per tree node
  std::vector<std::vector<size_t>> at_;    // per start position: the blocks
};

}  // namespace

MemoryPlan plan_memory(const ModelImpl& m) {
  const int num_tensors = static_cast<int>(m.tensors.size());
  const int num_nodes = static_cast<int>(m.nodes.size());
  MemoryPlan plan;
  plan.offset.assign(num_tensors, -1);

  std::vector<bool> is_io(num_tensors, false);
  for (int t : m.inputs) is_io[t] = true;
  for (int t : m.outputs) is_io[t] = true;
  auto is_activation = [&](int t) { return t >= 0 && m.const_data[t] == nullptr; };

  // Alias groups (union-find) for metadata-only ops.
  std::vector<int> parent(num_tensors);
  std::iota(parent.begin(), parent.end(), 0);
  for (const NodeInfo& n : m.nodes) {
    if (!op_output_may_alias_input(n.op) || n.inputs.empty() || n.outputs.size() != 1) continue;
    const int in = n.inputs[0];
    const int out = n.outputs[0];
    if (!is_activation(in) || !is_activation(out) || is_io[in] || is_io[out]) continue;
    if (m.tensors[in].num_bytes != m.tensors[out].num_bytes) continue;
    parent[find_root(parent, out)] = find_root(parent, in);
  }

  // Lifetime of each group.
  std::vector<int> first(num_tensors, num_nodes + 1), last(num_tensors, -2);
  std::vector<bool> used(num_tensors, false);
  auto touch = [&](int t, int node) {
    if (!is_activation(t)) return;
    const int r = find_root(parent, t);
    used[r] = true;
    first[r] = std::min(first[r], node);
    last[r] = std::max(last[r], node);
  };
  for (int i = 0; i < num_nodes; ++i) {
    for (int t : m.nodes[i].inputs) touch(t, i);
    for (int t : m.nodes[i].outputs) touch(t, i);
  }
  for (int t : m.inputs) touch(t, -1), touch(t, num_nodes);
  for (int t : m.outputs) touch(t, -1), touch(t, num_nodes);

  std::vector<size_t> group_size(num_tensors, 0);  // a group's size is its largest member
  for (int t = 0; t < num_tensors; ++t) {
    if (!is_activation(t)) continue;
    const size_t bytes = align_up(m.tensors[t].num_bytes);
    plan.unplanned_bytes += bytes;
    size_t& g = group_size[find_root(parent, t)];
    g = std::max(g, bytes);
  }
  std::vector<Block> blocks;
  for (int t = 0; t < num_tensors; ++t) {
    if (!is_activation(t) || find_root(parent, t) != t || !used[t]) continue;
    blocks.push_back({t, group_size[t], first[t], last[t], -1});
  }

  std::vector<size_t> order(blocks.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    if (blocks[a].size != blocks[b].size) return blocks[a].size > blocks[b].size;
    return blocks[a].first < blocks[b].first;
  });

  // Lifetimes run from -1 (before the run) to num_nodes (after it).
  PlacedIndex placed(num_nodes + 2);
  std::vector<std::pair<size_t, size_t>> busy;
  for (size_t bi : order) {
    Block& b = blocks[bi];
    if (plan.placement_steps >= kMaxPlacementSteps) {
      // Out of budget: stack the block above everything placed so far.
      b.offset = static_cast<int64_t>(plan.arena_bytes);
      plan.arena_bytes += b.size;
      ++plan.stacked_blocks;
      continue;
    }
    // Conflicting blocks (lifetimes intersect) sorted by offset; take the
    // first gap that fits.
    busy.clear();
    placed.for_each_meeting(b.last + 1, b.first, blocks, &plan.placement_steps, [&](const Block& p) {
      busy.emplace_back(static_cast<size_t>(p.offset), static_cast<size_t>(p.offset) + p.size);
    });
    std::sort(busy.begin(), busy.end());
    size_t candidate = 0;
    for (const auto& [lo, hi] : busy) {
      if (candidate + b.size <= lo) break;
      candidate = std::max(candidate, hi);
    }
    b.offset = static_cast<int64_t>(candidate);
    plan.arena_bytes = std::max(plan.arena_bytes, candidate + b.size);
    placed.insert(b.first + 1, b.last, bi);
  }

  std::vector<int64_t> root_offset(num_tensors, -1);
  for (const Block& b : blocks) root_offset[b.root] = b.offset;
  for (int t = 0; t < num_tensors; ++t) {
    if (is_activation(t)) plan.offset[t] = root_offset[find_root(parent, t)];
  }
  return plan;
}

}  // namespace quanta::detail
