// Memory planner: lifetimes never share bytes, chains reuse memory, reshape
// outputs alias their input, and graph inputs/outputs are never overwritten.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <random>

#include "planner.hpp"
#include "quanta/model_writer.hpp"
#include "support/model_builders.hpp"

namespace quanta {
namespace {

std::shared_ptr<const Model> load(const ModelWriter& w) {
  const std::vector<uint8_t> bytes = w.finish();
  auto m = Model::load_buffer(bytes.data(), bytes.size(), /*copy=*/true);
  EXPECT_TRUE(m.ok()) << m.status().to_string();
  return m.ok() ? *m : nullptr;
}

// Independent lifetime computation: [first node touching, last node touching],
// graph inputs/outputs span the whole run.
struct Life { int first, last; };
std::vector<Life> lifetimes(const detail::ModelImpl& m) {
  const int n = static_cast<int>(m.nodes.size());
  std::vector<Life> life(m.tensors.size(), {n + 1, -2});
  auto touch = [&](int t, int i) {
    if (t < 0) return;
    life[t].first = std::min(life[t].first, i);
    life[t].last = std::max(life[t].last, i);
  };
  for (int i = 0; i < n; ++i) {
    for (int t : m.nodes[i].inputs) touch(t, i);
    for (int t : m.nodes[i].outputs) touch(t, i);
  }
  for (int t : m.inputs) touch(t, -1), touch(t, n);
  for (int t : m.outputs) touch(t, -1), touch(t, n);
  return life;
}

void expect_no_conflicts(const detail::ModelImpl& m, const detail::MemoryPlan& plan) {
  const std::vector<Life> life = lifetimes(m);
  for (size_t a = 0; a < m.tensors.size(); ++a) {
    if (m.const_data[a]) {
      EXPECT_EQ(plan.offset[a], -1);
      continue;
    }
    ASSERT_GE(plan.offset[a], 0) << m.tensors[a].name;
    EXPECT_EQ(plan.offset[a] % 64, 0);
    EXPECT_LE(static_cast<size_t>(plan.offset[a]) + m.tensors[a].num_bytes, plan.arena_bytes);
    for (size_t b = a + 1; b < m.tensors.size(); ++b) {
      if (m.const_data[b] || plan.offset[a] == plan.offset[b]) continue;  // same = alias
      const bool live_together = life[a].first <= life[b].last && life[b].first <= life[a].last;
      if (!live_together) continue;
      const int64_t a0 = plan.offset[a], a1 = a0 + static_cast<int64_t>(m.tensors[a].num_bytes);
      const int64_t b0 = plan.offset[b], b1 = b0 + static_cast<int64_t>(m.tensors[b].num_bytes);
      EXPECT_TRUE(a1 <= b0 || b1 <= a0)
          << m.tensors[a].name << " and " << m.tensors[b].name << " overlap while both live";
    }
  }
}

TEST(Planner, ChainReusesTwoBuffers) {
  ModelWriter w("test");
  const int n = 10;
  int prev = w.add_tensor("t0", {1, 1000}, DType::kF32);
  const int input = prev;
  for (int i = 1; i <= n; ++i) {
    const int t = w.add_tensor("t" + std::to_string(i), {1, 1000}, DType::kF32);
    w.add_node(OpType::kRelu, {prev}, {t}, {}, "relu" + std::to_string(i));
    prev = t;
  }
  w.set_inputs({input});
  w.set_outputs({prev});
  auto model = load(w);
  ASSERT_TRUE(model);
  const detail::MemoryPlan plan = detail::plan_memory(model->impl());
  expect_no_conflicts(model->impl(), plan);
  const size_t block = 4032;  // 4000 bytes rounded up to 64
  EXPECT_EQ(plan.unplanned_bytes, (n + 1) * block);
  // input + output dedicated, two ping-pong buffers for the intermediates.
  EXPECT_EQ(plan.arena_bytes, 4 * block);
  auto s = Session::create(model);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ((*s)->arena_bytes(), plan.arena_bytes);
}

TEST(Planner, BranchesAndReshapeAlias) {
  ModelWriter w("test");
  const int x = w.add_tensor("x", {2, 8}, DType::kF32);
  const int a = w.add_tensor("a", {2, 8}, DType::kF32);
  const int b = w.add_tensor("b", {2, 8}, DType::kF32);
  const int c = w.add_tensor("c", {2, 8}, DType::kF32);
  const int d = w.add_tensor("d", {2, 8}, DType::kF32);
  const int e = w.add_tensor("e", {16}, DType::kF32);
  const int y = w.add_tensor("y", {16}, DType::kF32);
  w.add_node(OpType::kRelu, {x}, {a}, {}, "n0");
  w.add_node(OpType::kSigmoid, {a}, {b}, {}, "n1");
  w.add_node(OpType::kTanh, {a}, {c}, {}, "n2");
  w.add_node(OpType::kAdd, {b, c}, {d}, {}, "n3");
  fb::OptionsUnion r;
  fb::ReshapeOptionsT ro;
  ro.new_shape = {16};
  r.Set(ro);
  w.add_node(OpType::kReshape, {d}, {e}, std::move(r), "n4");
  w.add_node(OpType::kRelu, {e}, {y}, {}, "n5");
  w.set_inputs({x});
  w.set_outputs({y});
  auto model = load(w);
  ASSERT_TRUE(model);
  const detail::MemoryPlan plan = detail::plan_memory(model->impl());
  expect_no_conflicts(model->impl(), plan);
  EXPECT_EQ(plan.offset[d], plan.offset[e]);  // reshape output aliases its input
  EXPECT_LT(plan.arena_bytes, plan.unplanned_bytes);

  // And the plan computes the right values.
  auto s = Session::create(model);
  ASSERT_TRUE(s.ok()) << s.status().to_string();
  std::vector<float> xv(16), yv(16);
  for (int i = 0; i < 16; ++i) xv[i] = static_cast<float>(i - 8) / 4.f;
  ASSERT_TRUE((*s)->set_input(0, xv).ok());
  ASSERT_TRUE((*s)->run().ok());
  ASSERT_TRUE((*s)->get_output(0, yv).ok());
  for (int i = 0; i < 16; ++i) {
    const double av = std::max(0.0, static_cast<double>(xv[i]));
    const double ref = 1.0 / (1.0 + std::exp(-av)) + std::tanh(av);
    EXPECT_NEAR(yv[i], ref, 1e-5) << i;
  }
}

TEST(Planner, GraphOutputIsNotOverwrittenByLaterNodes) {
  // y1 is a graph output produced early; later nodes must not reuse its bytes.
  ModelWriter w("test");
  const int x = w.add_tensor("x", {64}, DType::kF32);
  const int y1 = w.add_tensor("y1", {64}, DType::kF32);
  const int t1 = w.add_tensor("t1", {64}, DType::kF32);
  const int t2 = w.add_tensor("t2", {64}, DType::kF32);
  const int y2 = w.add_tensor("y2", {64}, DType::kF32);
  w.add_node(OpType::kRelu, {x}, {y1}, {}, "n0");
  w.add_node(OpType::kSigmoid, {x}, {t1}, {}, "n1");
  w.add_node(OpType::kTanh, {t1}, {t2}, {}, "n2");
  w.add_node(OpType::kSigmoid, {t2}, {y2}, {}, "n3");
  w.set_inputs({x});
  w.set_outputs({y1, y2});
  auto model = load(w);
  ASSERT_TRUE(model);
  const detail::MemoryPlan plan = detail::plan_memory(model->impl());
  expect_no_conflicts(model->impl(), plan);
  auto s = Session::create(model);
  ASSERT_TRUE(s.ok());
  std::vector<float> xv(64, -1.5f), out(64);
  xv[5] = 2.0f;
  ASSERT_TRUE((*s)->set_input(0, xv).ok());
  ASSERT_TRUE((*s)->run().ok());
  ASSERT_TRUE((*s)->get_output(0, out).ok());
  EXPECT_EQ(out[0], 0.0f);
  EXPECT_EQ(out[5], 2.0f);
}

// ---------------------------------------------------------------- scaling
// A graph built straight into a ModelImpl (no file, no shape rules): the
// planner reads only tensors' sizes, constness, the nodes' tensor lists and
// the graph inputs and outputs.
struct RawGraph {
  detail::ModelImpl m;
  int add_tensor(size_t bytes) {
    TensorInfo t;
    t.name = "t" + std::to_string(m.tensors.size());
    t.num_bytes = bytes;
    m.tensors.push_back(t);
    m.const_data.push_back(nullptr);
    return static_cast<int>(m.tensors.size()) - 1;
  }
  void add_node(OpType op, std::vector<int> inputs, std::vector<int> outputs) {
    NodeInfo n;
    n.op = op;
    n.inputs = std::move(inputs);
    n.outputs = std::move(outputs);
    m.nodes.push_back(std::move(n));
  }
};

// A chain x -> relu -> ... -> y of `n` nodes.
RawGraph relu_chain(int n, size_t bytes) {
  RawGraph g;
  int prev = g.add_tensor(bytes);
  g.m.inputs = {prev};
  for (int i = 0; i < n; ++i) {
    const int t = g.add_tensor(bytes);
    g.add_node(OpType::kRelu, {prev}, {t});
    prev = t;
  }
  g.m.outputs = {prev};
  return g;
}

// The tensors with an offset, sorted by offset, must not overlap when they
// all live at once (the caller's graph guarantees that they do).
void expect_disjoint(const detail::ModelImpl& m, const detail::MemoryPlan& plan) {
  std::vector<std::pair<int64_t, int64_t>> ranges;
  for (size_t t = 0; t < m.tensors.size(); ++t) {
    ASSERT_GE(plan.offset[t], 0) << t;
    ranges.emplace_back(plan.offset[t], plan.offset[t] + static_cast<int64_t>(m.tensors[t].num_bytes));
  }
  std::sort(ranges.begin(), ranges.end());
  for (size_t i = 1; i < ranges.size(); ++i) {
    ASSERT_LE(ranges[i - 1].second, ranges[i].first) << "ranges " << i - 1 << " and " << i << " overlap";
  }
  ASSERT_LE(static_cast<size_t>(ranges.back().second), plan.arena_bytes);
}

// Placing a block examines only the blocks whose lifetimes meet its own: a
// chain's tensors each meet four (their neighbours, the graph input and
// output), so the work grows linearly with the chain. The straightforward
// loop over every placed block took n^2 / 2 steps (80,000 nodes: 4 s).
TEST(Planner, LongChainPlacementIsLinear) {
  for (int n : {1000, 20000}) {
    const RawGraph g = relu_chain(n, 100);
    const detail::MemoryPlan plan = detail::plan_memory(g.m);
    EXPECT_LE(plan.placement_steps, uint64_t{8} * static_cast<uint64_t>(n)) << n << " nodes";
    EXPECT_EQ(plan.arena_bytes, 4u * 128u) << n << " nodes";  // in, out and two ping-pong buffers
  }
}

// Load + Session::create of a chain of 8N nodes takes about 8 times as long
// as N nodes (the bound is generous: a quadratic step makes it about 64).
// Each time is the best of three, so a busy machine rarely disturbs it.
TEST(Planner, CreateTimeGrowsLinearlyWithNodeCount) {
  const auto best_of_3 = [](int n) {
    ModelWriter w("test");
    const QuantParams q = test::per_tensor(0.05f, 10);
    int prev = w.add_tensor("x", {1, 8}, DType::kU8, q);
    const int x = prev;
    for (int i = 0; i < n; ++i) {
      const int t = w.add_tensor("t" + std::to_string(i), {1, 8}, DType::kU8, q);
      w.add_node(OpType::kRelu, {prev}, {t});
      prev = t;
    }
    w.set_inputs({x});
    w.set_outputs({prev});
    const std::vector<uint8_t> bytes = w.finish();
    double best = 1e30;
    for (int rep = 0; rep < 3; ++rep) {
      const auto t0 = std::chrono::steady_clock::now();
      auto m = Model::load_buffer(bytes.data(), bytes.size());
      EXPECT_TRUE(m.ok()) << m.status().to_string();
      if (!m.ok()) return best;
      auto s = Session::create(*m);
      EXPECT_TRUE(s.ok()) << s.status().to_string();
      best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    }
    return best;
  };
  const double small = best_of_3(5000);
  const double large = best_of_3(40000);
  EXPECT_LT(large, 30 * small) << "5,000 nodes: " << small * 1e3 << " ms, 40,000 nodes: " << large * 1e3
                               << " ms";
}

// Tensors that all live at once (here every one is a graph output) conflict
// pairwise: exact placement would examine n^2 / 2 pairs. Past a fixed budget
// of steps the remaining, smaller blocks are stacked above the arena, so the
// work stays bounded and the plan stays valid.
TEST(Planner, ManyTensorsLiveAtOnceStayWithinTheBudget) {
  RawGraph g;
  const int x = g.add_tensor(64);
  g.m.inputs = {x};
  const int n = 20000;
  for (int i = 0; i < n; ++i) {
    const int t = g.add_tensor(64 + 64 * static_cast<size_t>(i % 7));
    g.add_node(OpType::kRelu, {x}, {t});
    g.m.outputs.push_back(t);
  }
  const detail::MemoryPlan plan = detail::plan_memory(g.m);
  EXPECT_LE(plan.placement_steps, detail::kMaxPlacementSteps + static_cast<uint64_t>(n) + 1);
  EXPECT_GT(plan.stacked_blocks, 0u);
  EXPECT_EQ(plan.arena_bytes, plan.unplanned_bytes);  // nothing could share anyway
  expect_disjoint(g.m, plan);
}

// The same with nested lifetimes: n branches off x all read by one Concat.
TEST(Planner, WideConcatStaysWithinTheBudget) {
  RawGraph g;
  const int x = g.add_tensor(64);
  g.m.inputs = {x};
  const int n = 20000;
  std::vector<int> branches;
  for (int i = 0; i < n; ++i) {
    const int t = g.add_tensor(64);
    g.add_node(OpType::kRelu, {x}, {t});
    branches.push_back(t);
  }
  const int y = g.add_tensor(64 * static_cast<size_t>(n));
  g.add_node(OpType::kConcat, branches, {y});
  g.m.outputs = {y};
  const detail::MemoryPlan plan = detail::plan_memory(g.m);
  EXPECT_LE(plan.placement_steps, detail::kMaxPlacementSteps + static_cast<uint64_t>(n) + 3);
  expect_disjoint(g.m, plan);
}

// The placement is the quadratic definition's (planner.hpp), only faster:
// on random graphs every offset equals the one a plain loop over all placed
// blocks gives. No aliasing here (unary ops only), so blocks are tensors.
TEST(Planner, PlacementMatchesThePlainFirstFitDefinition) {
  std::mt19937 rng(7);
  for (int trial = 0; trial < 40; ++trial) {
    RawGraph g;
    const int num_inputs = 1 + static_cast<int>(rng() % 3);
    for (int i = 0; i < num_inputs; ++i) g.m.inputs.push_back(g.add_tensor(1 + rng() % 5000));
    const int nodes = 5 + static_cast<int>(rng() % 150);
    for (int i = 0; i < nodes; ++i) {
      const int avail = static_cast<int>(g.m.tensors.size());
      std::vector<int> ins;
      for (int k = 0, nk = 1 + static_cast<int>(rng() % 3); k < nk; ++k) {
        // Mostly recent tensors, sometimes an old one (long lifetimes).
        const int back = rng() % 4 == 0 ? static_cast<int>(rng() % avail) : static_cast<int>(rng() % std::min(avail, 4));
        ins.push_back(avail - 1 - back);
      }
      const int t = g.add_tensor(1 + rng() % 5000);
      g.add_node(OpType::kAdd, ins, {t});
    }
    const int nt = static_cast<int>(g.m.tensors.size());
    g.m.outputs = {nt - 1};
    if (rng() % 2 == 0) g.m.outputs.push_back(nt / 2);
    if (std::find(g.m.inputs.begin(), g.m.inputs.end(), g.m.outputs.back()) != g.m.inputs.end()) {
      g.m.outputs.pop_back();
    }
    const detail::MemoryPlan plan = detail::plan_memory(g.m);

    // The definition, written plainly.
    const std::vector<Life> life = lifetimes(g.m);
    const auto aligned = [&](int t) { return (g.m.tensors[t].num_bytes + 63) / 64 * 64; };
    std::vector<int> order;
    for (int t = 0; t < nt; ++t) {
      if (life[t].last >= life[t].first) order.push_back(t);
    }
    std::stable_sort(order.begin(), order.end(), [&](int a, int b) {
      if (aligned(a) != aligned(b)) return aligned(a) > aligned(b);
      return life[a].first < life[b].first;
    });
    std::vector<int64_t> offset(nt, -1);
    std::vector<int> placed;
    size_t arena = 0;
    for (int t : order) {
      std::vector<std::pair<size_t, size_t>> busy;
      for (int p : placed) {
        if (life[p].first <= life[t].last && life[t].first <= life[p].last) {
          busy.emplace_back(static_cast<size_t>(offset[p]), static_cast<size_t>(offset[p]) + aligned(p));
        }
      }
      std::sort(busy.begin(), busy.end());
      size_t candidate = 0;
      for (const auto& [lo, hi] : busy) {
        if (candidate + aligned(t) <= lo) break;
        candidate = std::max(candidate, hi);
      }
      offset[t] = static_cast<int64_t>(candidate);
      arena = std::max(arena, candidate + aligned(t));
      placed.push_back(t);
    }
    ASSERT_EQ(plan.offset, offset) << "trial " << trial;
    ASSERT_EQ(plan.arena_bytes, arena) << "trial " << trial;
    expect_no_conflicts(g.m, plan);
  }
}

}  // namespace
}  // namespace quanta
